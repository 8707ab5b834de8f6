"""The registry list: filters in any combination (「すべて」 = no filter for that select only), active
patients by default, no 赤 0.0h for the deceased, 「機器未登録」 instead of 緑 30日以上, data-quality flags."""
import re

import pytest

pytestmark = pytest.mark.sqlite_smoke


@pytest.fixture
def world(make_region, make_user, client, auth_headers, login):
    make_region("1301")
    user = make_user("hub_staff", scope="1301")
    h = auth_headers(user)

    def add(name, phone, *, battery=None, status="active", code="131016", lat=35.694, lon=139.753, **extra):
        body = {"name": name, "phone": phone, "status": status, "municipality_code": code, "lat": lat, "lon": lon,
                "region_code": "1301", **extra}
        if battery is not None:
            body["devices"] = [{"kind": "ventilator", "mode": "TPPV", "watts": 100, "internal_battery_hours": battery}]
        r = client.post("/api/v1/patients", json=body, headers=h)
        assert r.status_code == 201, r.get_json()
        return r.get_json()

    made = {
        "red": add("試験 赤子", "090-0000-0301", battery=3),
        "yellow": add("試験 黄子", "090-0000-0302", battery=12),
        "yellow_far": add("試験 遠子", "090-0000-0303", battery=12, lat=34.69, lon=135.50),
        "deceased": add("試験 故人", "090-0000-0304", battery=3, status="deceased"),
        "nodevice": add("試験 無機", "090-0000-0305", code=None),
    }
    login(user)
    return made


def _names(html):
    return set(re.findall(r"試験 (?:赤子|黄子|遠子|故人|無機)", html))


def test_filters_combine_and_blank_means_no_filter(client, world):
    html = client.get("/patients?tier=yellow&status=&municipality_code=&q=").get_data(as_text=True)
    assert _names(html) == {"試験 黄子", "試験 遠子"}
    html = client.get("/patients?tier=yellow&status=&municipality_code=&q=遠").get_data(as_text=True)
    assert _names(html) == {"試験 遠子"}
    html = client.get("/patients?tier=red&status=all&municipality_code=131016&q=").get_data(as_text=True)
    assert _names(html) == {"試験 赤子", "試験 故人"}


def test_active_by_default_and_honest_rows(client, world):
    html = client.get("/patients").get_data(as_text=True)
    assert "試験 故人" not in html
    row = re.search(r'<tr[^>]*data-patient-id="%d".*?</tr>' % world["nodevice"]["id"], html, re.S).group(0)
    assert "機器未登録" in row and "30日以上" not in row and "緑" not in row
    assert 'data-flag="municipality_unknown"' in row
    far = re.search(r'<tr[^>]*data-patient-id="%d".*?</tr>' % world["yellow_far"]["id"], html, re.S).group(0)
    assert 'data-flag="far_from_municipality"' in far
    red = re.search(r'<tr[^>]*data-patient-id="%d".*?</tr>' % world["red"]["id"], html, re.S).group(0)
    assert 'data-flag="power_check_overdue"' in red and "電源確認期限切れ" in red
    html = client.get("/patients?status=all").get_data(as_text=True)
    dead = re.search(r'<tr[^>]*data-patient-id="%d".*?</tr>' % world["deceased"]["id"], html, re.S).group(0)
    assert "対象外（死亡）" in dead and "0.0時間" not in dead and "赤" not in dead


def test_bad_filter_is_explained_and_the_others_still_apply(client, world):
    html = client.get("/patients?tier=purple&q=黄").get_data(as_text=True)
    assert "次のいずれかを指定してください" in html and "絞り込みの条件に誤りがあります" in html
    assert _names(html) == {"試験 黄子"}

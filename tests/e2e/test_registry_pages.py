"""Registry pages through the real login and CSRF-protected forms."""
import re

import pytest
from sqlalchemy import func, select

from bcp_service.registry.models import Patient
from tests.conftest import csrf_from


@pytest.fixture
def hub(make_region, make_org, make_user, login):
    make_region("1301")
    clinic = make_org("1301", name="試験クリニック", kind="clinic")
    make_org("1301", name="試験受入病院", kind="hospital", has_generator=True, accepts_ventilator=True,
             ventilator_beds=4)
    user = make_user("hub_staff", scope="1301")
    login(user)
    return {"user": user, "clinic": clinic}


def _form(client, url):
    page = client.get(url)
    assert page.status_code == 200
    return csrf_from(page.get_data(as_text=True))


def test_register_through_form_then_detail_and_plan(client, hub, session):
    token = _form(client, "/patients/new")
    r = client.post("/patients/new", data={
        "csrf_token": token, "name": "試験 太郎", "phone": "090-0000-0101", "status": "active",
        "evacuation_plan_status": "none", "primary_org_id": str(hub["clinic"].id),
        "devices-0-kind": "ventilator", "devices-0-mode": "TPPV", "devices-0-watts": "24",
        "devices-0-hours_per_day": "24", "devices-0-internal_battery_hours": "8",
        "backups-0-kind": "external_battery", "backups-0-hours": "8", "backups-0-count": "2",
        "backups-1-kind": "manual_resuscitator",
        "contacts-0-name": "試験 花子", "contacts-0-relation": "妻", "contacts-0-phone": "03-0000-0101",
        "consent_to_share": "1", "consent_scope": ["medical", "fire_department"],
    })
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    p = session.scalars(select(Patient)).one()
    assert p.runway_hours == 24 and p.consent_scope == ["medical", "fire_department"]
    detail = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "試験 太郎" in detail and "24.0時間" in detail
    sheet = client.get(f"/patients/{p.id}/plan").get_data(as_text=True)
    assert "災害時個別支援計画" in sheet
    assert "外部バッテリー（2個" in sheet and "蘇生バッグ" in sheet and "03-0000-0101" in sheet


def test_form_errors_shown_beside_fields_and_nothing_stored(client, hub, session):
    token = _form(client, "/patients/new")
    r = client.post("/patients/new", data={
        "csrf_token": token, "name": "試験 次郎", "phone": "12", "status": "active",
        "evacuation_plan_status": "none", "lat": "95", "lon": "139",
        "devices-0-kind": "ventilator", "devices-0-internal_battery_hours": "-1",
    })
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert html.count('class="field-error"') >= 3
    assert 'value="試験 次郎"' in html  # what was typed is kept
    assert session.scalar(select(func.count()).select_from(Patient)) == 0


def test_form_without_csrf_is_rejected(client, hub, session):
    r = client.post("/patients/new", data={"name": "x", "phone": "090-0000-0001"})
    assert r.status_code == 400
    assert session.scalar(select(func.count()).select_from(Patient)) == 0


def test_edit_keeps_all_devices(client, hub, session, auth_headers):
    h = auth_headers(hub["user"])
    pid = client.post("/api/v1/patients", headers=h, json={
        "name": "試験 三郎", "phone": "090-0000-0103",
        "devices": [{"kind": "ventilator", "mode": "TPPV", "watts": 24, "internal_battery_hours": 8},
                    {"kind": "oxygen_concentrator", "watts": 300},
                    {"kind": "suction", "watts": 30, "hours_per_day": 2}],
        "backups": [{"kind": "oxygen_cylinder", "hours": 5, "count": 2}]}).get_json()["id"]
    page = client.get(f"/patients/{pid}/edit").get_data(as_text=True)
    form = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page))
    for sel in re.findall(r'<select name="([^"]+)">(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', sel[1])
        form[sel[0]] = chosen.group(1) if chosen else ""
    form["name"] = "試験 三郎（更新）"
    r = client.post(f"/patients/{pid}/edit", data=form)
    assert r.status_code == 302, r.get_data(as_text=True)[:1500]
    p = session.get(Patient, pid)
    session.refresh(p)
    assert p.name == "試験 三郎（更新）"
    assert [d.kind for d in p.devices] == ["ventilator", "oxygen_concentrator", "suction"]
    assert [(b.kind, b.count) for b in p.backups] == [("oxygen_cylinder", 2)]


def test_list_map_and_import_pages(client, hub, auth_headers):
    h = auth_headers(hub["user"])
    client.post("/api/v1/patients", headers=h, json={"name": "試験 四郎", "phone": "090-0000-0104",
                                                     "lat": 35.69, "lon": 139.75,
                                                     "devices": [{"kind": "ventilator", "internal_battery_hours": 3}]})
    lst = client.get("/patients?tier=red").get_data(as_text=True)
    assert "試験 四郎" in lst and "tier-red" in lst
    assert "試験 四郎" not in client.get("/patients?tier=green").get_data(as_text=True)
    mp = client.get("/patients/map").get_data(as_text=True)
    assert "<svg" in mp and "試験受入病院" in mp and "leaflet.js" in mp and "試験 四郎" in mp
    assert client.get("/static/vendor/leaflet/leaflet.js").status_code == 200
    assert "取込用テンプレート" in client.get("/patients/import").get_data(as_text=True)


def test_import_page_shows_row_errors(client, hub, session):
    import io

    token = _form(client, "/patients/import")
    r = client.post("/patients/import", data={"csrf_token": token, "file": (io.BytesIO(
        "name,phone\r\n試験 五郎,090-0000-0105\r\n試験 六郎,abc\r\n".encode("cp932")), "list.csv")},
        content_type="multipart/form-data")
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert "3行目" in html and "phone" in html
    assert session.scalar(select(func.count()).select_from(Patient)) == 0


def test_prefecture_reviewer_gets_403_on_pages(client, make_region, make_user, login):
    make_region("1301")
    login(make_user("prefecture_reviewer", scope="13"))
    assert client.get("/patients").status_code == 403


def test_map_says_when_it_shows_only_the_most_urgent_and_who_has_no_coordinates(app, client, hub, auth_headers):
    h = auth_headers(hub["user"])
    for name, battery, where in [("試験 長時間", 20, (35.69, 139.75)), ("試験 短時間", 2, (35.68, 139.76)),
                                 ("試験 中時間", 8, (35.67, 139.77)), ("試験 座標なし", 1, (None, None))]:
        r = client.post("/api/v1/patients", headers=h, json={
            "name": name, "phone": "090-0000-0106", "lat": where[0], "lon": where[1],
            "devices": [{"kind": "ventilator", "internal_battery_hours": battery}]})
        assert r.status_code == 201, r.get_json()
    app.config["REGISTRY_MAP_LIMIT"] = 2
    mp = client.get("/patients/map").get_data(as_text=True)
    assert "座標のある患者 3名のうち、自立電源時間の短い 2名だけを表示" in mp
    assert "試験 短時間" in mp and "試験 中時間" in mp and "試験 長時間" not in mp
    assert "座標のない患者 1名は地図に出ません" in mp
    app.config["REGISTRY_MAP_LIMIT"] = 5000
    mp = client.get("/patients/map").get_data(as_text=True)
    assert "だけを表示" not in mp and "試験 長時間" in mp

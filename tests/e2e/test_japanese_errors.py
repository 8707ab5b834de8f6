"""Every error a person sees is in Japanese: validation (marshmallow), roles, 403/404/405/410/500 pages
and the API's JSON errors."""
from __future__ import annotations

import pytest
from marshmallow import Schema, ValidationError, fields, validate

pytestmark = pytest.mark.sqlite_smoke


@pytest.fixture
def hub(make_region, make_user):
    make_region("1301")
    return make_user("hub_staff", scope="1301")


@pytest.fixture
def field_user(make_region, make_user):
    make_region("1301")
    return make_user("field_team", scope="1301")


def test_marshmallow_messages_are_japanese(app):
    class S(Schema):
        name = fields.String(required=True)
        born = fields.Date(allow_none=False)
        n = fields.Integer(validate=validate.Range(0, 24))
        kind = fields.String(validate=validate.OneOf(["a", "b"]))
        text = fields.String(validate=validate.Length(max=3))

    with pytest.raises(ValidationError) as e:
        S().load({"born": None, "n": 30, "kind": "c", "text": "abcd", "extra": 1})
    m = e.value.messages
    assert m["name"] == ["必須項目です。入力してください"]
    assert m["born"] == ["空欄にはできません。入力してください"]
    assert m["n"] == ["0以上、24以下で入力してください"]
    assert m["kind"] == ["次のいずれかを指定してください: a, b"]
    assert m["text"] == ["3文字以内で入力してください"]
    assert m["extra"] == ["この項目は受け付けていません"]
    with pytest.raises(ValidationError) as e:
        S().load({"name": "x", "born": "not a date", "n": "x"})
    assert "日付が正しくありません" in e.value.messages["born"][0]
    assert e.value.messages["n"] == ["整数で入力してください"]


def test_api_validation_error_is_japanese(client, auth_headers, hub):
    r = client.post("/api/v1/patients", json={"name": None, "birth_date": "abc"}, headers=auth_headers(hub))
    assert r.status_code == 400
    err = r.get_json()["error"]
    text = str(err)
    assert "Field may not be null" not in text and "Not a valid" not in text and "Missing data" not in text
    assert err["message"].startswith("入力内容に誤りがあります")


def test_role_error_is_japanese(client, login, field_user):
    login(field_user)
    r = client.get("/api/v1/outages")
    assert r.status_code == 403
    err = r.get_json()["error"]
    assert err["code"] == "forbidden" and "field_team" not in err["message"]
    assert "現場チーム" in err["message"]


def test_404_page_and_json_are_japanese(client, login, hub):
    r = client.get("/r/abc")          # a truncated one-tap link, nobody signed in
    assert r.status_code in (404, 410)
    body = r.get_data(as_text=True)
    assert "Not Found" not in body and "The requested URL" not in body
    assert "見つかりません" in body or "終了しました" in body or "無効" in body
    login(hub)
    r = client.get("/no/such/page")
    assert r.status_code == 404
    body = r.get_data(as_text=True)
    assert "見つかりません" in body and "The requested URL" not in body
    r = client.get("/api/v1/no-such-thing")
    assert r.status_code == 404
    err = r.get_json()["error"]
    assert err["code"] == "not_found" and "見つかりません" in err["message"]


def test_500_page_is_japanese(app, client, login, hub):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/boom-for-test")
    def _boom():
        raise RuntimeError("boom")

    login(hub)
    r = client.get("/boom-for-test")
    assert r.status_code == 500
    body = r.get_data(as_text=True)
    assert "エラーが発生しました" in body and "Internal Server Error" not in body and "boom" not in body


def test_plan_history_shows_section_titles_not_keys(client, make_region, make_org, make_user, auth_headers, login):
    from bcp_service.plans.templates import TemplateLibrary

    make_region("1301")
    clinic = make_org(name="試験在宅クリニック", kind="clinic")
    doctor = make_user("institution_staff", organization=clinic)
    h = auth_headers(doctor)
    plan = client.post("/api/v1/plans", json={"type": "kikan", "title": "試験 機関型BCP",
                                              "organization_id": clinic.id}, headers=h).get_json()
    r = client.put(f"/api/v1/plans/{plan['id']}/sections/policy", json={"answers": {"leader": "院長 試験 太郎"}},
                   headers=h)
    assert r.status_code == 200, r.get_json()
    title = TemplateLibrary.load().current("kikan").section("policy").title
    login(doctor)
    html = client.get(f"/plans/{plan['id']}/history").get_data(as_text=True)
    history = html[html.index("履歴（誰がいつ何をしたか）"):]
    assert title in history
    assert ">policy<" not in history and "policy\n" not in history


def test_patient_form_keeps_what_was_typed_and_explains_beside_the_field(client, hub, login):
    import re

    from tests.conftest import csrf_from

    login(hub)
    token = csrf_from(client.get("/patients/new").get_data(as_text=True))
    r = client.post("/patients/new", data={
        "csrf_token": token, "name": "試験 太郎", "phone": "090-0000-0501", "birth_date": "平成31年5月1日",
        "status": "active", "evacuation_plan_status": "none", "devices-0-kind": "ventilator",
        "devices-0-internal_battery_hours": "abc"})
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    birth = re.search(r'<input[^>]*name="birth_date"[^>]*>(.*?)</label>', html, re.S)
    assert 'value="平成31年5月1日"' in birth.group(0)
    assert "平成31年4月30日まで" in birth.group(1)
    battery = re.search(r'<input[^>]*name="devices-0-internal_battery_hours"[^>]*>(.*?)</label>', html, re.S)
    assert 'value="abc"' in battery.group(0) and "数値で入力してください" in battery.group(1)
    assert "Not a valid" not in html


def test_patient_saved_with_wareki_shows_it_back(client, hub, login, auth_headers):
    r = client.post("/api/v1/patients", headers=auth_headers(hub), json={
        "name": "試験 太郎", "phone": "090-0000-0502", "birth_date": "S25.4.1", "region_code": "1301"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["birth_date"] == "1950-04-01"
    login(hub)
    pid = r.get_json()["id"]
    assert "1950年4月1日（昭和25年）" in client.get(f"/patients/{pid}").get_data(as_text=True)
    assert "昭和25年4月1日" in client.get(f"/patients/{pid}/plan").get_data(as_text=True)
    assert 'value="昭和25年4月1日"' in client.get(f"/patients/{pid}/edit").get_data(as_text=True)


def test_expired_form_token_is_explained_in_japanese(client, hub, login):
    login(hub)
    r = client.post("/patients/new", data={"csrf_token": "stale", "name": "試験 太郎"})
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert "再読み込み" in html and "CSRF" not in html

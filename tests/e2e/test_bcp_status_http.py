"""BCP status for the fee rule over HTTP: the organisation flag, the API and the page."""
import pytest


@pytest.fixture
def env(make_region, make_org, make_user, auth_headers):
    make_region("1301")
    clinic = make_org(name="試験在宅クリニック", kind="clinic")
    hospital = make_org(name="試験総合病院", kind="hospital")
    return {"clinic": clinic, "hospital": hospital, "hub": auth_headers(make_user("hub_staff")),
            "doctor": auth_headers(make_user("institution_staff", organization=clinic))}


def test_hub_marks_home_care_support_and_sees_the_status(client, env):
    url = f"/api/v1/organizations/{env['clinic'].id}"
    r = client.patch(url, json={"home_care_support": True}, headers=env["hub"])
    assert r.status_code == 200 and r.get_json()["home_care_support"] is True
    bad = client.patch(url, json={"home_care_support": "たぶん"}, headers=env["hub"])
    assert bad.status_code == 400 and "home_care_support" in bad.get_json()["error"]["fields"]
    assert client.patch(url, json={"home_care_support": False}, headers=env["doctor"]).status_code == 403

    body = client.get("/api/v1/bcp-status?region_code=1301", headers=env["hub"]).get_json()
    (item,) = body["items"]
    assert item["organization_id"] == env["clinic"].id and item["name"] == "試験在宅クリニック"
    assert item["has_approved_kikan"] is False and item["deadline"] == "2027-05-31"
    assert isinstance(item["days_left"], int)
    assert client.get("/api/v1/bcp-status?region_code=1301", headers=env["doctor"]).status_code == 403
    page = client.get("/plans/bcp-status", headers=env["hub"])
    assert page.status_code == 200 and "試験在宅クリニック" in page.get_data(as_text=True)


def test_child_capabilities_are_stored_filtered_and_shown_on_the_map(client, env, make_user, auth_headers):
    r = client.post("/api/v1/organizations", headers=env["hub"], json={
        "name": "試験こども病院", "kind": "hospital", "region_code": "1301", "lat": 35.69, "lon": 139.69,
        "capabilities": {"accepts_ventilator": True, "ventilator_beds": 2, "pediatric_ventilation": True,
                         "medical_care_children": True}})
    assert r.status_code == 201 and r.get_json()["capabilities"]["pediatric_ventilation"] is True
    assert client.post("/api/v1/organizations", headers=env["hub"], json={
        "name": "試験医師会", "kind": "medical_association", "region_code": "1301"}).status_code == 201
    found = client.get("/api/v1/organizations?capability=medical_care_children", headers=env["hub"]).get_json()
    assert [o["name"] for o in found["items"]] == ["試験こども病院"]
    bad = client.get("/api/v1/organizations?capability=adults", headers=env["hub"])
    assert bad.status_code == 400
    page = client.get("/patients/map", headers=env["hub"]).get_data(as_text=True)
    assert "医療的ケア児" in page and "試験こども病院" in page


def test_meeting_records_over_http(client, env):
    body = {"region_code": "1301", "held_on": "2026-11-20", "title": "在宅医療 災害対策協議", "agenda": "停電時の搬送",
            "attendees": [{"organization_id": env["clinic"].id}, {"organization_id": env["hospital"].id}],
            "decisions": [{"text": "搬送協定を結ぶ", "corrective_action": {
                "title": "搬送協定", "owner_org_id": env["clinic"].id, "due": "2027-03-31"}}]}
    r = client.post("/api/v1/meetings", json=body, headers=env["hub"])
    assert r.status_code == 201, r.get_json()
    m = r.get_json()
    assert m["decisions"][0]["corrective_action"]["title"] == "搬送協定"
    assert client.post("/api/v1/meetings", json={**body, "attendees": []}, headers=env["hub"]).status_code == 400
    assert client.post("/api/v1/meetings", json=body, headers=env["doctor"]).status_code == 403
    listed = client.get("/api/v1/meetings", headers=env["doctor"]).get_json()
    assert [x["id"] for x in listed["items"]] == [m["id"]]
    page = client.get(f"/meetings/{m['id']}", headers=env["hub"]).get_data(as_text=True)
    assert "搬送協定を結ぶ" in page and "試験総合病院" in page

"""HTTP contract of the outage desk (API.md, Outages): paths, fields, status codes, scope."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bcp_service.outages import jobs as outage_jobs
from bcp_service.outages.models import Outage, OutagePatient
from bcp_service.registry.models import Patient, PatientDevice

SQUARE = {"type": "Polygon", "coordinates": [[[139.70, 35.60], [139.80, 35.60], [139.80, 35.70],
                                               [139.70, 35.70], [139.70, 35.60]]]}


@pytest.fixture
def desk(session, clock, make_region, make_org, make_user, auth_headers):
    make_region()
    make_region("2701", prefecture_code="27", name="大阪市", municipality_codes=("271004",))
    hospital = make_org(name="試験受入病院", lat=35.69, lon=139.78, has_generator=True, accepts_ventilator=True,
                        ventilator_beds=2)
    fire = make_org(name="試験消防署", kind="fire_department", lat=None, lon=None)
    fire.phone = "090-0000-0119"          # the transport team: field users act on its tasks only
    other_team = make_org(name="試験別チーム", kind="home_nursing", lat=None, lon=None)
    ids = []
    for i, hours in enumerate((12.0, 3.0, 30.0)):
        p = Patient(name=f"試験 太郎{i}", phone_e164=f"+81900000{i:04d}", phone_kind="mobile",
                    municipality_code="131024", lat=35.67 + i * 0.001, lon=139.77, region_code="1301",
                    runway_hours=hours, runway_tier="red", runway_explain="", created_at=clock.now(),
                    updated_at=clock.now())
        p.devices.append(PatientDevice(kind="ventilator", hours_per_day=24, internal_battery_hours=3))
        session.add(p)
        session.flush()
        ids.append(p.id)
    session.commit()
    d = type("Desk", (), {})()
    d.hub = auth_headers(make_user("hub_staff"))
    d.osaka = auth_headers(make_user("hub_staff", scope="2701"))
    d.field = auth_headers(make_user("field_team", organization=fire))
    d.other_field = auth_headers(make_user("field_team", organization=other_team))
    d.reviewer = auth_headers(make_user("prefecture_reviewer", scope="13"))
    d.ids, d.hospital = ids, hospital
    return d


def body(clock, **kw):
    return {"area": {"municipality_codes": ["131024"]}, "started_at": clock.now().isoformat(),
            "expected_restoration_at": (clock.now() + timedelta(hours=6)).isoformat(), "cause": "試験停電", **kw}


@pytest.mark.sqlite_smoke
def test_declare_returns_201_with_id_status_affected(client, clock, desk, session):
    r = client.post("/api/v1/outages", json=body(clock), headers=desk.hub)
    assert r.status_code == 201
    data = r.get_json()
    assert data["status"] == "active" and data["affected"] == 3 and isinstance(data["id"], int)
    assert "試験停電" in r.get_data(as_text=True)                 # Japanese as-is
    assert data["started_at"].endswith("+09:00")


def test_triage_list_is_soonest_first_with_contract_fields(app, client, clock, desk):
    oid = client.post("/api/v1/outages", json=body(clock), headers=desk.hub).get_json()["id"]
    outage_jobs.proposals(app, linger=0.5)      # the clock proposes, woken by the declaration's commit
    clock.advance(hours=1)
    data = client.get(f"/api/v1/outages/{oid}/patients", headers=desk.hub).get_json()
    assert data["total"] == 3
    items = data["items"]
    assert [i["patient_id"] for i in items] == [desk.ids[1], desk.ids[0], desk.ids[2]]
    first = items[0]
    assert set(first) >= {"patient_id", "runs_out_at", "runway_hours_left", "tier", "checkin", "transport_id"}
    assert first["runway_hours_left"] == 2.0 and first["tier"] == "red" and first["checkin"] == "pending"
    assert first["transport_id"] is not None                     # proposed: runs out before restoration
    page = client.get(f"/api/v1/outages/{oid}/patients?limit=1&offset=1", headers=desk.hub).get_json()
    assert page["total"] == 3 and [i["patient_id"] for i in page["items"]] == [desk.ids[0]]


def test_outage_summary_counts_by_checkin_and_tier(client, clock, desk):
    oid = client.post("/api/v1/outages", json=body(clock), headers=desk.hub).get_json()["id"]
    r = client.post(f"/api/v1/outages/{oid}/patients/{desk.ids[2]}/answer", json={"answer": "1"}, headers=desk.hub)
    assert r.status_code == 200 and r.get_json()["checkin"] == "ok"
    data = client.get(f"/api/v1/outages/{oid}", headers=desk.hub).get_json()
    assert data["counts"]["checkin"]["ok"] == 1 and data["counts"]["checkin"]["pending"] == 2
    assert data["counts"]["tier"] == {"red": 1, "yellow": 1, "green": 1}   # 3 h, 12 h, 30 h; restoration in 6 h


@pytest.mark.parametrize("payload, status, field", [
    ({"area": {"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}}}, 400, "area"),
    ({"area": {"center": {"lat": 35.6, "lon": 139.7}, "radius_km": -1}}, 400, "area"),
    ({"area": {"municipality_codes": ["131024"]}, "started_at": "2026-11-24T10:00:00+09:00",
      "expected_restoration_at": "2026-11-24T09:00:00+09:00"}, 400, "expected_restoration_at"),
    ({"area": {"municipality_codes": ["131024"]}, "started_at": "2026-11-24T10:00:00"}, 400, "started_at"),
    ({"area": {"municipality_codes": ["131024"]}, "colour": "red"}, 400, "colour"),
    ({"area": {"geometry": SQUARE}, "region_code": "1301"}, 422, None),
])
def test_bad_declarations_are_refused_and_change_nothing(client, clock, desk, session, payload, status, field):
    # The square (lon 139.70–139.80, lat 35.60–35.70) holds the patients; shift it away for 422.
    if status == 422:
        payload = {"area": {"geometry": {"type": "Polygon", "coordinates": [[[c[0] + 1, c[1]] for c in SQUARE["coordinates"][0]]]}}}
    r = client.post("/api/v1/outages", json=payload, headers=desk.hub)
    assert r.status_code == status, r.get_data(as_text=True)
    err = r.get_json()["error"]
    assert err["message"]
    if field:
        assert field in err["fields"]
    assert session.scalar(select(func.count()).select_from(Outage)) == 0


def test_scope_other_region_and_roles(client, clock, desk):
    assert client.post("/api/v1/outages", json=body(clock, region_code="2701"), headers=desk.hub).status_code == 403
    oid = client.post("/api/v1/outages", json=body(clock), headers=desk.hub).get_json()["id"]
    assert client.get(f"/api/v1/outages/{oid}", headers=desk.osaka).status_code == 403
    assert client.get(f"/api/v1/outages/{oid}/patients", headers=desk.reviewer).status_code == 403
    assert client.get(f"/api/v1/outages/{oid}/patients", headers=desk.field).status_code == 403
    assert client.get("/api/v1/outages/999", headers=desk.hub).status_code == 404
    # Osaka's desk sees none of Tokyo's outages.
    assert client.get("/api/v1/outages", headers=desk.osaka).get_json()["total"] == 0


@pytest.mark.sqlite_smoke
def test_transport_patch_flow_and_wrong_state(client, clock, desk):
    oid = client.post("/api/v1/outages", json=body(clock), headers=desk.hub).get_json()["id"]
    r = client.post(f"/api/v1/outages/{oid}/patients/{desk.ids[2]}/answer", json={"answer": "３"}, headers=desk.hub)
    tid = r.get_json()["transport_id"]
    items = client.get(f"/api/v1/outages/{oid}/transports", headers=desk.hub).get_json()["items"]
    t = next(i for i in items if i["id"] == tid)
    assert (t["status"], t["facility_id"], t["facility_name"]) == ("assigned", desk.hospital.id, "試験受入病院")
    r = client.patch(f"/api/v1/transports/{tid}", json={"status": "en_route"}, headers=desk.other_field)
    assert r.status_code == 403 and "担当ではありません" in r.get_json()["error"]["message"]
    r = client.patch(f"/api/v1/transports/{tid}", json={"status": "en_route"}, headers=desk.field)
    assert r.status_code == 200 and r.get_json()["status"] == "en_route"
    assert client.patch(f"/api/v1/transports/{tid}", json={"status": "arrived"}, headers=desk.hub).status_code == 200
    r = client.patch(f"/api/v1/transports/{tid}", json={"status": "cancelled"}, headers=desk.hub)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "wrong_state"
    assert client.patch(f"/api/v1/transports/{tid}", json={"status": "flying"}, headers=desk.hub).status_code == 400
    assert client.patch("/api/v1/transports/999", json={"status": "arrived"}, headers=desk.hub).status_code == 404


def test_widen_with_patch_and_resolve_twice_is_409(client, clock, desk, session):
    oid = client.post("/api/v1/outages", json=body(clock), headers=desk.hub).get_json()["id"]
    r = client.patch(f"/api/v1/outages/{oid}", json={"area": {"center": {"lat": 35.671, "lon": 139.77},
                                                             "radius_km": 0.05}}, headers=desk.hub)
    assert r.status_code == 200 and r.get_json()["affected"] == 1 and r.get_json()["changes"]["removed"] == 2
    assert client.patch(f"/api/v1/outages/{oid}", json={}, headers=desk.hub).status_code == 400
    r = client.post(f"/api/v1/outages/{oid}/resolve", headers=desk.hub)
    assert r.status_code == 200 and r.get_json()["status"] == "resolved"
    again = client.post(f"/api/v1/outages/{oid}/resolve", headers=desk.hub)
    assert again.status_code == 409
    r = client.post(f"/api/v1/outages/{oid}/patients/{desk.ids[0]}/answer", json={"answer": "1"}, headers=desk.hub)
    assert r.status_code == 410


def test_incident_report_html_and_docx(client, clock, desk):
    oid = client.post("/api/v1/outages", json=body(clock), headers=desk.hub).get_json()["id"]
    clock.advance(minutes=4)
    client.post(f"/api/v1/outages/{oid}/patients/{desk.ids[0]}/answer", json={"answer": "1"}, headers=desk.hub)
    client.post(f"/api/v1/outages/{oid}/resolve", headers=desk.hub)
    html = client.get(f"/api/v1/outages/{oid}/report?format=html", headers=desk.hub)
    assert html.status_code == 200 and "事後報告" in html.get_data(as_text=True)
    assert "試験 太郎" not in html.get_data(as_text=True)          # ids only: the report circulates
    docx = client.get(f"/api/v1/outages/{oid}/report?format=docx", headers=desk.hub)
    assert docx.status_code == 200 and docx.data[:2] == b"PK"
    assert client.get(f"/api/v1/outages/{oid}/report?format=pdf", headers=desk.hub).status_code == 400


def test_desk_pages_dashboard_runsheet(client, clock, desk, make_user, login):
    oid = client.post("/api/v1/outages", json=body(clock), headers=desk.hub).get_json()["id"]
    login(make_user("hub_staff", email="desk@example.invalid"))
    assert "停電対応デスク" in client.get("/outages").get_data(as_text=True)
    assert client.get(f"/outages/{oid}").status_code == 200
    live = client.get(f"/outages/{oid}/live.json").get_json()
    assert [p["patient_id"] for p in live["patients"]] == [desk.ids[1], desk.ids[0], desk.ids[2]]
    sheet = client.get(f"/outages/{oid}/runsheet").get_data(as_text=True)
    assert sheet.index("試験 太郎1") < sheet.index("試験 太郎0") < sheet.index("試験 太郎2")


def test_dashboard_and_runsheet_show_shared_patients_checked_by_the_other_outage(client, clock, desk, make_user,
                                                                                 login):
    circle = {"center": {"lat": 35.671, "lon": 139.77}, "radius_km": 5}      # the same three patients
    first = client.post("/api/v1/outages", json=body(clock), headers=desk.hub).get_json()["id"]
    second = client.post("/api/v1/outages", json=body(clock, area=circle), headers=desk.hub).get_json()["id"]
    login(make_user("hub_staff", email="desk-shared@example.invalid"))
    live = client.get(f"/outages/{second}/live.json").get_json()
    assert {p["round"] for p in live["patients"]} == {1}                  # carried, not 0
    assert {p["covered_by_outage_id"] for p in live["patients"]} == {first}
    assert "dashboard.js" in client.get(f"/outages/{second}").get_data(as_text=True)
    assert "他の停電で確認中" in client.get("/static/outages/dashboard.js").get_data(as_text=True)   # the table's label
    sheet = client.get(f"/outages/{second}/runsheet").get_data(as_text=True)
    assert f"他の停電で確認中（#{first}・第1回）" in sheet


def test_dashboard_offers_charging_points_when_no_transport_is_needed(client, clock, desk, make_user, login):
    oid = client.post("/api/v1/outages", json=body(clock), headers=desk.hub).get_json()["id"]
    r = client.post(f"/api/v1/outages/{oid}/patients/{desk.ids[2]}/answer", json={"answer": "2"}, headers=desk.hub)
    assert r.get_json()["transport_id"] is None                  # 30 h left, restoration in 6 h
    points = client.get(f"/api/v1/outages/{oid}/patients/{desk.ids[2]}/charging-points", headers=desk.hub).get_json()
    assert points["items"][0]["name"] == "試験受入病院"
    login(make_user("hub_staff", email="desk2@example.invalid"))
    live = client.get(f"/outages/{oid}/live.json").get_json()
    assert live["charging"][str(desk.ids[2])][0]["name"] == "試験受入病院"


def test_desk_forms_declare_widen_and_resolve(client, clock, desk, make_user, login, session):
    from tests.conftest import csrf_from

    login(make_user("hub_staff", email="desk3@example.invalid"))
    token = csrf_from(client.get("/outages").get_data(as_text=True))
    r = client.post("/outages", data={"csrf_token": token, "area_kind": "municipality_codes",
                                      "municipality_codes": "131024", "expected_restoration_at": "2026-11-24T20:00",
                                      "cause": "試験 フォーム"})
    assert r.status_code == 302
    outage = session.scalars(select(Outage)).one()
    assert outage.expected_restoration_at.isoformat() == "2026-11-24T11:00:00+00:00"   # 20:00 JST
    r = client.post(f"/outages/{outage.id}/change", data={"csrf_token": token, "area_kind": "circle", "lat": "35.671",
                                                          "lon": "139.77", "radius_km": "0.05"})
    assert r.status_code == 302
    assert session.scalar(select(func.count()).select_from(OutagePatient)
                          .where(OutagePatient.in_area.is_(True))) == 1
    bad = client.post(f"/outages/{outage.id}/change", data={"csrf_token": token, "area_kind": "circle", "lat": "x",
                                                            "lon": "139.77", "radius_km": "1"})
    assert bad.status_code == 400 and "数値" in bad.get_data(as_text=True)
    assert client.post(f"/outages/{outage.id}/resolve", data={}).status_code == 400          # CSRF enforced
    assert client.post(f"/outages/{outage.id}/resolve", data={"csrf_token": token}).status_code == 302
    session.expire_all()
    assert session.get(Outage, outage.id).status == "resolved"


@pytest.fixture
def osaka_transport(client, clock, desk, session, make_org):
    """An Osaka outage whose needs-help patient has a transport (region 2701, another prefecture)."""
    make_org("2701", name="試験大阪病院", lat=34.69, lon=135.50, has_generator=True, accepts_ventilator=True,
             ventilator_beds=2)
    p = Patient(name="試験 次郎", phone_e164="+819000008888", phone_kind="mobile", municipality_code="271004",
                lat=34.68, lon=135.50, region_code="2701", runway_hours=2.0, runway_tier="red", runway_explain="",
                created_at=clock.now(), updated_at=clock.now())
    p.devices.append(PatientDevice(kind="ventilator", hours_per_day=24, internal_battery_hours=3))
    session.add(p)
    session.commit()
    area = {"area": {"municipality_codes": ["271004"]}}
    oid = client.post("/api/v1/outages", json=body(clock, **area), headers=desk.osaka).get_json()["id"]
    r = client.post(f"/api/v1/outages/{oid}/patients/{p.id}/answer", json={"answer": "3"}, headers=desk.osaka)
    return oid, r.get_json()["transport_id"], p.id


def test_desk_page_refuses_a_transport_of_another_outage_or_region(client, clock, desk, osaka_transport, make_user,
                                                                    login, session):
    """Issue 18: the page route checked the outage in the URL, never that the transport belongs to it."""
    from bcp_service.outages.models import Transport
    from tests.conftest import csrf_from

    _, osaka_tid, _ = osaka_transport
    own = client.post("/api/v1/outages", json=body(clock), headers=desk.hub).get_json()["id"]
    other = client.post("/api/v1/outages", json=body(clock, area={"municipality_codes": ["131024"]}),
                        headers=desk.hub).get_json()["id"]
    tokyo_tid = client.post(f"/api/v1/outages/{own}/patients/{desk.ids[1]}/answer", json={"answer": "3"},
                            headers=desk.hub).get_json()["transport_id"]
    login(make_user("hub_staff", email="desk-t@example.invalid"))
    token = csrf_from(client.get(f"/outages/{own}").get_data(as_text=True))
    r = client.post(f"/outages/{own}/transports/{osaka_tid}", data={"csrf_token": token, "status": "cancelled"})
    assert r.status_code == 404
    r = client.post(f"/outages/{other}/transports/{tokyo_tid}", data={"csrf_token": token, "status": "cancelled"})
    assert r.status_code == 404                       # same region, but not this outage's transport
    session.expire_all()
    assert session.get(Transport, osaka_tid).status == "assigned"
    assert session.get(Transport, tokyo_tid).status == "assigned"
    r = client.post(f"/outages/{own}/transports/{tokyo_tid}", data={"csrf_token": token, "status": "en_route"})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(Transport, tokyo_tid).status == "en_route"


def test_charging_points_and_named_beds_stay_in_the_region(client, clock, desk, osaka_transport, session):
    """Issue 18: charging-points answered for any patient id; a bed could be reserved at another region's facility."""
    from bcp_service.orgs.models import Organization

    _, _, osaka_patient = osaka_transport
    own = client.post("/api/v1/outages", json=body(clock), headers=desk.hub).get_json()["id"]
    r = client.get(f"/api/v1/outages/{own}/patients/{osaka_patient}/charging-points", headers=desk.hub)
    assert r.status_code == 404
    assert client.get(f"/api/v1/outages/{own}/patients/{desk.ids[0]}/charging-points",
                      headers=desk.hub).status_code == 200
    osaka_hospital = session.scalars(select(Organization.id).where(Organization.name == "試験大阪病院")).one()
    r = client.post(f"/api/v1/outages/{own}/patients/{desk.ids[0]}/transport", json={"facility_id": osaka_hospital},
                    headers=desk.hub)
    assert r.status_code == 403
    r = client.post(f"/api/v1/outages/{own}/patients/{desk.ids[0]}/transport", json={"facility_id": desk.hospital.id},
                    headers=desk.hub)
    assert r.status_code == 201 and r.get_json()["facility_id"] == desk.hospital.id


def test_outage_lists_page_with_limit_offset_and_the_true_total(client, clock, desk):
    first = client.post("/api/v1/outages", json=body(clock), headers=desk.hub).get_json()["id"]
    second = client.post("/api/v1/outages", json=body(clock), headers=desk.hub).get_json()["id"]
    page = client.get("/api/v1/outages?limit=1&offset=1", headers=desk.hub).get_json()
    assert page["total"] == 2 and [o["id"] for o in page["items"]] == [first]
    assert client.get("/api/v1/outages?limit=0", headers=desk.hub).status_code == 400
    for oid in (first, second):
        client.post(f"/api/v1/outages/{oid}/patients/{desk.ids[1]}/answer", json={"answer": "3"}, headers=desk.hub)
    events = client.get(f"/api/v1/outages/{first}/events", headers=desk.hub).get_json()
    page = client.get(f"/api/v1/outages/{first}/events?limit=1&offset=1", headers=desk.hub).get_json()
    assert events["total"] >= 3 and page["total"] == events["total"] and page["items"] == events["items"][1:2]
    tasks = client.get(f"/api/v1/outages/{first}/tasks?limit=1", headers=desk.hub).get_json()
    assert tasks["total"] >= 1 and len(tasks["items"]) == 1
    transports = client.get(f"/api/v1/outages/{first}/transports?offset=5", headers=desk.hub).get_json()
    assert transports["total"] == 1 and transports["items"] == []

"""Power loans (issue 19 item 4) through the HTTP API, on SQLite and PostgreSQL: the inventory, a loan
recorded at hand-over that lengthens the runway for that outage, the transport it may make unnecessary
flagged for the desk, the timeline and report, and the return after restoration."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bcp_service.clock import iso_local
from bcp_service.outages import jobs
from bcp_service.outages.models import LoanEquipment, OutagePatient, PowerLoan, Transport
from bcp_service.registry.models import Patient, PatientDevice

WARD = "131024"


@pytest.fixture
def world(session, clock, make_region, make_org, make_user, auth_headers):
    make_region()
    make_region("1302", name="区西部", municipality_codes=("131041",))
    w = type("World", (), {})()
    w.hub_org = make_org(name="試験拠点", kind="community_support_center")
    w.other_org = make_org("1302", name="試験他圏域拠点", kind="community_support_center")
    make_org(name="試験近所病院", lat=35.690, lon=139.775, has_generator=True, accepts_ventilator=True,
             ventilator_beds=5)
    p = Patient(name="試験 一郎", phone_e164="+819000000011", phone_kind="mobile", municipality_code=WARD,
                lat=35.670, lon=139.770, region_code="1301", runway_hours=3.0, runway_tier="red",
                runway_explain="", created_at=clock.now(), updated_at=clock.now())
    p.devices.append(PatientDevice(kind="ventilator", mode="TPPV", hours_per_day=24, internal_battery_hours=3))
    session.add(p)
    session.commit()
    w.patient = p.id
    w.hub = auth_headers(make_user("hub_staff"))
    w.admin = auth_headers(make_user("admin"))
    return w


def _outage(client, clock, w):
    r = client.post("/api/v1/outages", headers=w.hub, json={
        "area": {"municipality_codes": [WARD]}, "started_at": iso_local(clock.now()),
        "expected_restoration_at": iso_local(clock.now() + timedelta(hours=8))})
    assert r.status_code == 201
    return r.get_json()["id"]


def test_equipment_inventory_validates_in_japanese_and_is_scoped(client, session, world):
    bad = client.post("/api/v1/equipment", headers=world.hub, json={"kind": "power_station",
                                                                     "organization_id": world.hub_org.id, "count": 0})
    assert bad.status_code == 400
    fields = bad.get_json()["error"]["fields"]
    assert "watt_hours" in fields and "count" in fields and "Wh" in fields["watt_hours"][0]
    assert client.post("/api/v1/equipment", headers=world.hub, json={
        "kind": "external_battery", "organization_id": world.other_org.id, "hours": 8}).status_code == 403
    assert session.scalar(select(func.count()).select_from(LoanEquipment)) == 0
    r = client.post("/api/v1/equipment", headers=world.hub, json={
        "kind": "power_station", "organization_id": world.hub_org.id, "watt_hours": 1000, "count": 1})
    assert r.status_code == 201 and r.get_json()["status"] == "available"
    client.post("/api/v1/equipment", headers=world.admin, json={
        "kind": "generator", "organization_id": world.other_org.id, "hours": 10})
    mine = client.get("/api/v1/equipment", headers=world.hub).get_json()
    assert mine["total"] == 1 and mine["items"][0]["kind"] == "power_station"
    assert client.get("/api/v1/equipment", headers=world.admin).get_json()["total"] == 2


def test_loan_lengthens_the_runway_flags_the_transport_and_comes_back_after_restoration(app, client, session,
                                                                                       clock, world):
    battery = client.post("/api/v1/equipment", headers=world.hub, json={
        "kind": "external_battery", "organization_id": world.hub_org.id, "hours": 8, "count": 1}).get_json()
    foreign = client.post("/api/v1/equipment", headers=world.admin, json={
        "kind": "external_battery", "organization_id": world.other_org.id, "hours": 8}).get_json()
    oid = _outage(client, clock, world)
    jobs.proposals(app, linger=0.5)                          # runs out in 3 h, restoration in 8 h: proposed
    t = session.scalars(select(Transport).where(Transport.patient_id == world.patient)).one()
    assert t.status == "proposed" and t.desk_flag is None

    clock.advance(hours=1)
    r = client.post(f"/api/v1/outages/{oid}/patients/{world.patient}/loans", headers=world.hub,
                    json={"equipment_id": battery["id"]})
    assert r.status_code == 201, r.get_json()
    loan = r.get_json()
    assert loan["added_hours"] == 8.0 and loan["status"] == "lent"
    session.expire_all()
    row = session.scalars(select(OutagePatient).where(OutagePatient.patient_id == world.patient)).one()
    start = clock.now() - timedelta(hours=1)
    assert row.runs_out_at == start + timedelta(hours=11)      # 3 h + the lent 8 h: beyond the 8 h restoration
    assert session.get(Transport, t.id).desk_flag == "loan_covers"
    items = client.get(f"/api/v1/outages/{oid}/transports", headers=world.hub).get_json()["items"]
    assert items[0]["desk_flag_label"].startswith("電源貸出により")
    assert session.get(LoanEquipment, battery["id"]).status == "lent"
    triage = client.get(f"/api/v1/outages/{oid}/patients", headers=world.hub).get_json()["items"]
    assert triage[0]["runway_hours_left"] == 10.0

    # Bad input: already lent (409), another region's (403) — nothing changes.
    again = client.post(f"/api/v1/outages/{oid}/patients/{world.patient}/loans", headers=world.hub,
                        json={"equipment_id": battery["id"]})
    assert again.status_code == 409 and "貸出中" in again.get_json()["error"]["message"]
    other = client.post(f"/api/v1/outages/{oid}/patients/{world.patient}/loans", headers=world.hub,
                        json={"equipment_id": foreign["id"]})
    assert other.status_code == 403
    assert session.scalar(select(func.count()).select_from(PowerLoan)) == 1
    session.expire_all()
    assert row.runs_out_at == start + timedelta(hours=11)

    events = client.get(f"/api/v1/outages/{oid}/events", headers=world.hub).get_json()["items"]
    loan_event = next(e for e in events if e["kind"] == "loan")
    assert "外部バッテリー" in loan_event["detail_text"] and loan_event["detail"]["added_hours"] == 8.0

    # Returned only after restoration, and tracked.
    assert client.post(f"/api/v1/loans/{loan['id']}/return", headers=world.hub).status_code == 409
    assert client.post(f"/api/v1/outages/{oid}/resolve", headers=world.hub).status_code == 200
    report = client.get(f"/api/v1/outages/{oid}/report", headers=world.hub).get_data(as_text=True)
    assert "予備電源の貸出" in report and "未返却 1 件" in report
    back = client.post(f"/api/v1/loans/{loan['id']}/return", headers=world.hub)
    assert back.status_code == 200 and back.get_json()["status"] == "returned"
    assert client.post(f"/api/v1/loans/{loan['id']}/return", headers=world.hub).status_code == 409
    session.expire_all()
    assert session.get(LoanEquipment, battery["id"]).status == "available"
    report = client.get(f"/api/v1/outages/{oid}/report", headers=world.hub).get_data(as_text=True)
    assert "返却済" in report and "未返却 0 件" in report
    listed = client.get(f"/api/v1/outages/{oid}/loans", headers=world.hub).get_json()
    assert listed["total"] == 1 and listed["items"][0]["returned_at"] is not None

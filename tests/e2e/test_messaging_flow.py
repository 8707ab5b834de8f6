"""The whole loop with the console channel, as in the demo: an outage is declared, the dispatcher
"sends" the check-ins, the phone simulator shows them, and answers given there (one tap, SMS reply,
voice digit) reach the outage desk through messaging's answer hooks."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from bcp_service.messaging.dispatcher import dispatcher_for
from bcp_service.messaging.models import OutboxMessage
from bcp_service.outages.models import OutagePatient
from bcp_service.registry.models import Patient, PatientDevice
from tests.conftest import csrf_from


@pytest.fixture
def app_config():
    return {"MESSAGING_SIMULATOR": True}

@pytest.fixture
def world(session, clock, make_region, make_user, auth_headers):
    make_region()
    phones = [("+819000000101", "mobile"), ("+819000000102", "mobile"), ("+81300000103", "landline")]
    ids = []
    for i, (phone, kind) in enumerate(phones):
        p = Patient(name=f"試験 花子{i}", phone_e164=phone, phone_kind=kind, municipality_code="131024",
                    lat=35.67, lon=139.77, region_code="1301", runway_hours=10.0 + i, runway_tier="yellow",
                    runway_explain="", created_at=clock.now(), updated_at=clock.now())
        p.devices.append(PatientDevice(kind="ventilator", hours_per_day=24, internal_battery_hours=8))
        session.add(p)
        session.flush()
        ids.append(p.id)
    session.commit()
    hub = make_user("hub_staff")
    return type("W", (), {"ids": ids, "phones": [p for p, _ in phones], "hub": hub, "headers": auth_headers(hub)})


def _declare(client, clock, world):
    r = client.post("/api/v1/outages", headers=world.headers, json={
        "area": {"municipality_codes": ["131024"]}, "started_at": clock.now().isoformat(),
        "expected_restoration_at": (clock.now() + timedelta(hours=24)).isoformat(), "cause": "試験停電"})
    assert r.status_code == 201
    return r.get_json()["id"]


def _checkin(session, oid, pid):
    session.expire_all()
    return session.scalars(select(OutagePatient.checkin).where(OutagePatient.outage_id == oid,
                                                              OutagePatient.patient_id == pid)).one()


@pytest.mark.sqlite_smoke
def test_checkin_arrives_in_the_simulator_and_answers_flow_back(app, client, session, clock, world, login):
    oid = _declare(client, clock, world)
    stats = dispatcher_for(app).drain()
    assert stats.sent == 3 and stats.failed == 0
    rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert {(r.to, r.channel) for r in rows} == {(world.phones[0], "sms"), (world.phones[1], "sms"),
                                                (world.phones[2], "voice")}

    login(world.hub)
    page = client.get("/messaging/simulator", query_string={"phone": world.phones[0]}).get_data(as_text=True)
    assert "停電の安否確認" in page
    m = re.search(r'href="http://bcp\.test(/r/[^"]+)"', page)
    assert m, page[page.find("<main>"):][:3000]
    link = m.group(1)

    # Patient 0 taps 「1 問題なし」 on the one-tap page.
    assert client.get(link).status_code == 200
    assert client.post(link, data={"answer": "1"}).status_code == 200
    assert _checkin(session, oid, world.ids[0]) == "ok"

    # Patient 1 replies by SMS 「電池が少ない」.
    page = client.get("/messaging/simulator", query_string={"phone": world.phones[1]}).get_data(as_text=True)
    r = client.post("/messaging/simulator/reply", data={"phone": world.phones[1], "body": "電池が少ない",
                                                        "csrf_token": csrf_from(page)})
    assert r.status_code == 302
    assert _checkin(session, oid, world.ids[1]) == "low_battery"

    # Patient 2 (landline) gets a call and presses 3.
    voice = next(r for r in rows if r.channel == "voice")
    page = client.get("/messaging/simulator", query_string={"phone": world.phones[2]}).get_data(as_text=True)
    assert "音声の着信" in page
    client.post(f"/messaging/simulator/voice/{voice.id}", data={"digits": "3", "csrf_token": csrf_from(page)})
    assert _checkin(session, oid, world.ids[2]) == "needs_help"


def test_link_is_gone_once_the_outage_is_resolved(app, client, session, clock, world):
    oid = _declare(client, clock, world)
    dispatcher_for(app).drain()
    body = session.scalars(select(OutboxMessage.body).where(OutboxMessage.to == world.phones[0])).first()
    link = re.search(r"http://bcp\.test(/r/\S+)", body).group(1)
    assert client.post(f"/api/v1/outages/{oid}/resolve", headers=world.headers).status_code == 200
    assert client.get(link).status_code == 410
    assert client.post(link, data={"answer": "3"}).status_code == 410


def test_simulator_is_only_for_staff_and_only_with_the_console_channel(app, client, world, login, make_user):
    assert client.get("/messaging/simulator").status_code in (302, 401)
    login(make_user("field_team"))
    assert client.get("/messaging/simulator").status_code == 403

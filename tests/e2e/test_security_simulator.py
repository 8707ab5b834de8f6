"""Issue 18 (critical): the phone simulator is a development tool — off unless enabled, and scoped like
the desk: hub staff of region A never see or answer region B's patients."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from bcp_service.auth.models import AuditEvent
from bcp_service.messaging.dispatcher import dispatcher_for
from bcp_service.messaging.models import OutboxMessage
from bcp_service.outages.models import OutagePatient
from bcp_service.registry.models import Patient, PatientDevice
from tests.conftest import csrf_from

PHONE_A, PHONE_B = "+819000000301", "+819000000302"


def _patient(session, clock, *, phone, region, municipality, kind="mobile"):
    p = Patient(name="試験 太郎", phone_e164=phone, phone_kind=kind, municipality_code=municipality,
                lat=35.67, lon=139.77, region_code=region, runway_hours=5.0, runway_tier="red",
                runway_explain="", created_at=clock.now(), updated_at=clock.now())
    p.devices.append(PatientDevice(kind="ventilator", hours_per_day=24, internal_battery_hours=5))
    session.add(p)
    session.commit()
    return p


def _declare(client, headers, clock, municipality):
    r = client.post("/api/v1/outages", headers=headers, json={
        "area": {"municipality_codes": [municipality]}, "started_at": clock.now().isoformat(),
        "expected_restoration_at": (clock.now() + timedelta(hours=24)).isoformat(), "cause": "試験停電"})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


@pytest.fixture
def two_regions(app, session, clock, make_region, make_user, auth_headers, client):
    make_region("1301", prefecture_code="13", municipality_codes=("131016",))
    make_region("2701", prefecture_code="27", name="大阪市", municipality_codes=("271004",))
    a = _patient(session, clock, phone=PHONE_A, region="1301", municipality="131016")
    b = _patient(session, clock, phone=PHONE_B, region="2701", municipality="271004", kind="landline")
    hub_a, hub_b = make_user("hub_staff", scope="1301"), make_user("hub_staff", scope="2701")
    oa = _declare(client, auth_headers(hub_a), clock, "131016")
    ob = _declare(client, auth_headers(hub_b), clock, "271004")
    dispatcher_for(app).drain()
    return type("W", (), {"a": a.id, "b": b.id, "hub_a": hub_a, "hub_b": hub_b, "oa": oa, "ob": ob})


def test_the_simulator_is_off_unless_explicitly_enabled(app, client, two_regions, login):
    assert app.config["MESSAGING_CHANNEL"] == "console" and not app.config["MESSAGING_SIMULATOR"]
    login(two_regions.hub_a)
    assert client.get("/messaging/simulator").status_code == 404
    page = client.get("/login").get_data(as_text=True)
    r = client.post("/messaging/simulator/reply", data={"phone": PHONE_A, "body": "1", "csrf_token": csrf_from(page)})
    assert r.status_code == 404


def test_config_enables_it_only_when_asked_and_only_with_the_console_channel():
    from bcp_service import config

    assert not config.load({"BCP_ENV": "demo"})["MESSAGING_SIMULATOR"]
    assert config.load({"BCP_ENV": "demo", "MESSAGING_SIMULATOR": "1"})["MESSAGING_SIMULATOR"]
    twilio = {"SECRET_KEY": "x" * 32, "MESSAGING_CHANNEL": "twilio", "TWILIO_ACCOUNT_SID": "AC1",
              "TWILIO_AUTH_TOKEN": "t", "TWILIO_FROM": "+815000000000", "MESSAGING_SIMULATOR": "1"}
    assert not config.load(twilio)["MESSAGING_SIMULATOR"]


@pytest.fixture
def enabled(app):
    app.config["MESSAGING_SIMULATOR"] = True


def test_hub_staff_see_only_their_regions_messages_and_the_read_is_audited(enabled, client, session,
                                                                           two_regions, login):
    login(two_regions.hub_a)
    page = client.get("/messaging/simulator").get_data(as_text=True)
    assert PHONE_A in page and PHONE_B not in page
    page = client.get("/messaging/simulator", query_string={"phone": PHONE_B}).get_data(as_text=True)
    assert PHONE_B not in page and "音声の着信" not in page
    events = session.scalars(select(AuditEvent).where(AuditEvent.entity == "simulator")).all()
    assert len(events) == 2 and all(e.user_id == two_regions.hub_a.id for e in events)
    ids_a = set(session.scalars(select(OutboxMessage.id).where(OutboxMessage.to == PHONE_A)))
    assert set(events[0].detail["outbox_ids"]) == ids_a


def test_hub_staff_cannot_answer_for_another_regions_patient(enabled, client, session, two_regions, login):
    login(two_regions.hub_a)
    page = client.get("/messaging/simulator").get_data(as_text=True)
    token = csrf_from(page)
    r = client.post("/messaging/simulator/reply", data={"phone": PHONE_B, "body": "1", "csrf_token": token})
    assert r.status_code == 404
    voice_b = session.scalars(select(OutboxMessage).where(OutboxMessage.to == PHONE_B,
                                                          OutboxMessage.channel == "voice")).one()
    r = client.post(f"/messaging/simulator/voice/{voice_b.id}", data={"digits": "1", "csrf_token": token})
    assert r.status_code == 404
    session.expire_all()
    assert session.scalars(select(OutagePatient.checkin).where(OutagePatient.patient_id == two_regions.b)).one() \
        == "pending"
    # Their own patient they can answer for.
    r = client.post("/messaging/simulator/reply", data={"phone": PHONE_A, "body": "1", "csrf_token": token})
    assert r.status_code == 302
    session.expire_all()
    assert session.scalars(select(OutagePatient.checkin).where(OutagePatient.patient_id == two_regions.a)).one() \
        == "ok"


def test_admin_sees_every_region(enabled, client, make_user, two_regions, login):
    login(make_user("admin"))
    page = client.get("/messaging/simulator").get_data(as_text=True)
    assert PHONE_A in page and PHONE_B in page

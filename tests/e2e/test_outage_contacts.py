"""Family contacts in the check-in (issue 19 item 1), over HTTP with the real twilio client against the
loopback fake, on both databases: a patient silent after round 1 has their registered contacts asked in
order (an SMS link to the same one-tap page, a call for a landline) before a field visit is requested;
a contact's answer counts for the patient and is labelled as the contact's on the timeline and the
dashboard."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bcp_service.messaging.models import OutboxMessage
from bcp_service.outages import jobs
from bcp_service.outages.models import ContactCheckin, FieldTask, OutageEvent, OutagePatient
from bcp_service.registry.models import Patient, PatientContact, PatientDevice
from tests.e2e.conftest import BASE, dispatch, post_signed

pytestmark = pytest.mark.sqlite_smoke

PATIENT = "+819000000201"
DAUGHTER = "+819000000202"            # mobile: an SMS with the one-tap link
SON = "+81300000203"                  # landline (03-0000-0203): a call


@pytest.fixture
def app_config(twilio_app_config):
    return twilio_app_config


@pytest.fixture
def world(session, clock, make_region, make_org, make_user, auth_headers):
    make_region()
    station = make_org(name="試験訪問看護ステーション", kind="home_nursing")
    station.phone = "090-0000-0250"
    p = Patient(name="試験 太郎", phone_e164=PATIENT, phone_kind="mobile", municipality_code="131024",
                lat=35.670, lon=139.770, region_code="1301", runway_hours=6.0, runway_tier="red",
                runway_explain="", nursing_org_id=station.id, created_at=clock.now(), updated_at=clock.now())
    p.devices.append(PatientDevice(kind="ventilator", hours_per_day=24, internal_battery_hours=3))
    p.contacts.append(PatientContact(name="試験 花子", relation="長女", phone_e164=DAUGHTER, phone_kind="mobile",
                                     position=0))
    p.contacts.append(PatientContact(name="試験 次郎", relation="長男", phone_e164=SON, phone_kind="landline",
                                     position=1))
    session.add(p)
    session.commit()
    w = type("W", (), {})()
    w.patient, w.station, w.hub = p, station, auth_headers(make_user("hub_staff"))
    return w


def declare(client, clock, world) -> int:
    r = client.post("/api/v1/outages", json={"area": {"municipality_codes": ["131024"]},
                                              "started_at": clock.now().isoformat(),
                                              "expected_restoration_at": (clock.now() + timedelta(hours=12)).isoformat()},
                    headers=world.hub)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()["id"]


def silence(app, clock, minutes=16):
    clock.advance(minutes=minutes)
    jobs.run_due(app, now=clock.now())
    dispatch(app)


def to(fake, number):
    return [m for m in fake.messages if m["to"] == number]


def test_silent_patient_first_contact_gets_the_link_and_her_answer_counts_labelled(app, client, session, clock,
                                                                                 twilio_fake, world):
    oid = declare(client, clock, world)
    dispatch(app)
    assert len(to(twilio_fake, PATIENT)) == 1 and not to(twilio_fake, DAUGHTER)   # round 1: the patient only
    silence(app, clock)                                       # silent after round 1: round 2 and the first contact
    sms = to(twilio_fake, DAUGHTER)
    assert len(sms) == 1 and "ご家族" in sms[0]["body"] and f"{BASE}/r/" in sms[0]["body"]
    assert "試験 太郎" not in sms[0]["body"]                   # no name travels in an SMS
    assert not [c for c in twilio_fake.calls if c["to"] == SON]  # the second contact waits for the next silence
    token = sms[0]["body"].split("/r/")[1].split()[0]
    page = client.get(f"/r/{token}")
    assert page.status_code == 200 and "ご家族" in page.get_data(as_text=True)
    assert client.post(f"/r/{token}", data={"answer": "2"}).status_code == 200

    session.expire_all()
    row = session.scalars(select(OutagePatient).where(OutagePatient.outage_id == oid)).one()
    assert (row.checkin, row.answered_by_contact) == ("low_battery", 1)
    assert row.next_action_at is not None           # answered: a re-check follows on the patient's countdown
    answer = session.scalars(select(OutageEvent).where(OutageEvent.kind == "answer")).one()
    assert answer.detail["contact"] == 1 and answer.detail["relation"] == "長女" and answer.detail["channel"] == "tap"
    events = client.get(f"/api/v1/outages/{oid}/events", headers=world.hub).get_json()["items"]
    shown = next(e for e in events if e["kind"] == "answer")
    assert "続柄=長女" in shown["detail_text"] and "試験 花子" not in str(events)
    live = client.get(f"/outages/{oid}/live.json", headers=world.hub).get_json()
    assert live["patients"][0]["answered_by"] == "連絡先1（長女）"
    # Answered: nothing more goes to the son, and no field team is sent.
    silence(app, clock, minutes=60)
    assert not [c for c in twilio_fake.calls if c["to"] == SON]
    assert not session.scalars(select(FieldTask)).all()


def test_contacts_in_order_then_the_field_team_and_a_landline_contact_answers_by_key(
        app, client, session, clock, twilio_fake, world):
    oid = declare(client, clock, world)
    dispatch(app)
    silence(app, clock)                                       # round 2 + 長女 (SMS)
    silence(app, clock)                                       # still silent: 長男 gets a call (landline)
    calls = [c for c in twilio_fake.calls if c["to"] == SON]
    assert len(calls) == 1 and not to(twilio_fake, SON)
    assert not session.scalars(select(FieldTask)).all()        # contacts come before the field visit
    path = calls[0]["url"][len(BASE):]
    assert path.startswith("/voice/checkin?t=")
    xml = post_signed(client, path, {"CallSid": "CA" + "2" * 32}).get_data(as_text=True)
    assert "<Gather" in xml and "ご登録の方" in xml and 'language="ja-JP"' in xml
    done = post_signed(client, path, {"CallSid": "CA" + "2" * 32, "Digits": "3"}).get_data(as_text=True)
    assert "受け付けました" in done
    session.expire_all()
    row = session.scalars(select(OutagePatient).where(OutagePatient.outage_id == oid)).one()
    assert (row.checkin, row.answered_by_contact, row.answer_channel) == ("needs_help", 2, "voice")
    asked = session.scalars(select(ContactCheckin).order_by(ContactCheckin.position)).all()
    assert [(a.position, a.relation, a.channel, a.answer) for a in asked] == [
        (1, "長女", "sms", None), (2, "長男", "voice", "needs_help")]
    answer = session.scalars(select(OutageEvent).where(OutageEvent.kind == "answer")).one()
    assert (answer.detail["contact"], answer.detail["relation"]) == (2, "長男")


def test_every_contact_silent_then_the_field_visit(app, client, session, clock, twilio_fake, world):
    oid = declare(client, clock, world)
    dispatch(app)
    for _ in range(3):                   # round 2 + 長女, 長男, then the field team
        silence(app, clock)
    task = session.scalars(select(FieldTask).where(FieldTask.outage_id == oid)).one()
    assert task.kind == "visit" and task.organization_id == world.station.id
    kinds = [e.kind for e in session.scalars(select(OutageEvent).order_by(OutageEvent.id))]
    assert kinds.index("contact_checkin") < kinds.index("field_task")
    assert [e.detail["contact"] for e in session.scalars(
        select(OutageEvent).where(OutageEvent.kind == "contact_checkin").order_by(OutageEvent.id))] == [1, 2]


def test_a_contacts_sms_reply_counts_for_the_patient(app, client, session, clock, twilio_fake, world):
    oid = declare(client, clock, world)
    dispatch(app)
    silence(app, clock)
    r = post_signed(client, "/sms/inbound", {"MessageSid": "SM" + "4" * 32, "From": DAUGHTER, "Body": "１"})
    assert r.status_code == 200
    session.expire_all()
    row = session.scalars(select(OutagePatient).where(OutagePatient.outage_id == oid)).one()
    assert (row.checkin, row.answered_by_contact, row.answer_channel) == ("ok", 1, "sms")
    # A queued message to the next contact is pointless now.
    assert not session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "contact_checkin",
                                                           OutboxMessage.status == "queued")).all()
    # The patient answering for themselves later clears the contact label.
    patient_link = to(twilio_fake, PATIENT)[0]["body"].split("/r/")[1].split()[0]
    assert client.post(f"/r/{patient_link}", data={"answer": "1"}).status_code == 200
    session.expire_all()
    assert session.scalars(select(OutagePatient.answered_by_contact)).one() is None


def test_patient_unreachable_asks_the_contact_at_once(app, client, session, clock, twilio_fake, world):
    twilio_fake.fail_number(PATIENT, 400, 21211)              # the patient's own number is invalid
    oid = declare(client, clock, world)
    dispatch(app)
    session.expire_all()
    row = session.scalars(select(OutagePatient).where(OutagePatient.outage_id == oid)).one()
    assert (row.checkin, row.contact_step) == ("unreachable", 1)
    dispatch(app)
    assert len(to(twilio_fake, DAUGHTER)) == 1
    assert not session.scalars(select(FieldTask)).all()
    live = client.get(f"/outages/{oid}/live.json", headers=world.hub).get_json()
    assert [e["kind"] for e in live["events"]][:2] == ["contact_checkin", "unreachable"]

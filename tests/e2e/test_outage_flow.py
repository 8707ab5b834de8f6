"""The whole night over HTTP with the real twilio client against the loopback fake:
declare → messages handed to the provider → answers by one-tap, SMS reply and voice (DTMF) →
transport to the right facility, with the team's one-tap status → resolve → restoration notices,
dead links (410) and the incident report."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from bcp_service.messaging.models import OutboxMessage
from bcp_service.outages.models import FacilityReservation, Transport
from bcp_service.registry.models import Patient, PatientDevice
from tests.e2e.conftest import BASE, dispatch, post_signed


@pytest.fixture
def app_config(twilio_app_config):
    return twilio_app_config


@pytest.mark.sqlite_smoke
def test_declare_answer_by_tap_sms_voice_transport_and_resolve(app, client, session, clock, twilio_fake,
                                                                make_region, make_org, make_user, auth_headers):
    make_region()
    fire = make_org(name="試験消防署", kind="fire_department", lat=35.68, lon=139.77)
    fire.phone = "+819000000119"     # the transport team's duty mobile
    dark = make_org(name="試験停電中病院", lat=35.6705, lon=139.7705, accepts_ventilator=True, ventilator_beds=4)
    dark.municipality_code = "131024"      # inside the outage, no generator
    right = make_org(name="試験発電機病院", lat=35.690, lon=139.780, has_generator=True, accepts_ventilator=True,
                     ventilator_beds=2)
    make_org(name="試験遠い病院", lat=35.800, lon=139.900, has_generator=True, accepts_ventilator=True,
             ventilator_beds=9)
    session.commit()
    people = {}
    for key, phone, kind, hours in (("tap", "+819000000101", "mobile", 20.0),
                                    ("sms", "+819000000102", "mobile", 3.0),
                                    ("voice", "+81300000103", "landline", 6.0)):
        p = Patient(name=f"試験 {key}", phone_e164=phone, phone_kind=kind, municipality_code="131024",
                    lat=35.670, lon=139.770, region_code="1301", runway_hours=hours, runway_tier="red",
                    runway_explain="", created_at=clock.now(), updated_at=clock.now())
        p.devices.append(PatientDevice(kind="ventilator", hours_per_day=24, internal_battery_hours=3))
        session.add(p)
        session.flush()
        people[key] = p.id
    session.commit()
    hub = auth_headers(make_user("hub_staff"))

    r = client.post("/api/v1/outages", json={"area": {"municipality_codes": ["131024"]},
                                              "started_at": clock.now().isoformat(),
                                              "expected_restoration_at": (clock.now() + timedelta(hours=12)).isoformat(),
                                              "cause": "試験: 配電線事故"}, headers=hub)
    assert r.status_code == 201 and r.get_json()["affected"] == 3
    oid = r.get_json()["id"]

    stats = dispatch(app)
    assert stats.sent == 3
    sms = {m["to"]: m for m in twilio_fake.messages}
    assert set(sms) == {"+819000000101", "+819000000102"}            # the landline gets no SMS …
    assert [c["to"] for c in twilio_fake.calls] == ["+81300000103"]  # … but a call
    # Soonest runs-out first: the dispatcher claims by priority = minutes of power left (sends run
    # concurrently, so arrival order at the provider is not asserted).
    prio = dict(session.execute(select(OutboxMessage.patient_id, OutboxMessage.priority)
                                .where(OutboxMessage.outage_id == oid)).all())
    assert prio[people["sms"]] == 180 and prio[people["tap"]] == 1200 and prio[people["voice"]] == 360
    assert "試験拠点" in sms["+819000000101"]["body"]

    # 1) one-tap: open the link in the SMS, press 1.
    link = re.search(r"https?://\S+/r/(\S+)", sms["+819000000101"]["body"])
    token = link.group(1)
    assert client.get(f"/r/{token}").status_code == 200
    assert client.post(f"/r/{token}", data={"answer": "1"}).status_code == 200

    # 2) SMS reply with a full-width digit and words: needs help → transport.
    assert post_signed(client, "/sms/inbound", {"MessageSid": "SM" + "1" * 32, "From": "+819000000102",
                                               "To": "+815000000000", "Body": "３ 助けて"}).status_code == 200

    # 3) voice: the fake recorded the TwiML URL of the call; the patient presses 2.
    call_url = twilio_fake.calls[0]["url"]
    path = call_url[len(BASE):]
    gather = post_signed(client, path, {"CallSid": "CA" + "2" * 32})
    assert gather.status_code == 200 and "<Gather" in gather.get_data(as_text=True)
    assert 'language="ja-JP"' in gather.get_data(as_text=True)
    done = post_signed(client, path, {"CallSid": "CA" + "2" * 32, "Digits": "2"})
    assert done.status_code == 200

    # An answer from a number we never wrote to is logged and changes nothing.
    stranger = post_signed(client, "/sms/inbound", {"MessageSid": "SM" + "9" * 32, "From": "+819099999999",
                                                   "To": "+815000000000", "Body": "3"})
    assert stranger.status_code == 200

    rows = {i["patient_id"]: i for i in client.get(f"/api/v1/outages/{oid}/patients", headers=hub).get_json()["items"]}
    assert rows[people["tap"]]["checkin"] == "ok"
    assert rows[people["sms"]]["checkin"] == "needs_help"
    assert rows[people["voice"]]["checkin"] == "low_battery"

    # Transport: the nearest facility with power and a free bed (not the dark one next door).
    transports = client.get(f"/api/v1/outages/{oid}/transports", headers=hub).get_json()["items"]
    assert {t["patient_id"] for t in transports if t["status"] != "proposed"} == {people["sms"]}
    urgent = next(t for t in transports if t["patient_id"] == people["sms"])
    assert (urgent["status"], urgent["facility_id"]) == ("assigned", right.id)
    assert rows[people["sms"]]["transport_id"] == urgent["id"]
    # Both beds are held: the urgent transport's and the low-battery patient's proposal (issue 19).
    proposal = next(t for t in transports if t["patient_id"] == people["voice"])
    assert (proposal["status"], proposal["facility_id"], proposal["bed_reserved"]) == ("proposed", right.id, True)
    assert session.get(FacilityReservation, right.id).reserved == 2
    # The transport team (fire department) gets an SMS with a one-tap status page.
    dispatch(app)
    task_sms = [m for m in twilio_fake.messages if m["to"] == "+819000000119"]
    assert len(task_sms) == 1 and "試験発電機病院" in task_sms[0]["body"]
    task_token = re.search(r"/t/(\S+)", task_sms[0]["body"]).group(1)
    page = client.get(f"/t/{task_token}")
    assert page.status_code == 200 and "試験 sms" not in page.get_data(as_text=True)   # no names by link alone
    for action in ("ack", "en_route", "arrived"):
        assert client.post(f"/t/{task_token}", data={"action": action}).status_code == 302
    session.expire_all()
    assert session.get(Transport, urgent["id"]).status == "arrived"

    # Resolve: restoration notice to everyone reached by SMS, links die, report exists.
    clock.advance(minutes=30)
    r = client.post(f"/api/v1/outages/{oid}/resolve", headers=hub)
    assert r.status_code == 200
    before, calls_before = len(twilio_fake.messages), len(twilio_fake.calls)
    dispatch(app)
    notices = [m["to"] for m in twilio_fake.messages[before:]]
    assert sorted(notices) == ["+819000000101", "+819000000102"]
    # … and the landline, reached by voice, hears it in a short call (its own TwiML, ja-JP).
    restoration_calls = twilio_fake.calls[calls_before:]
    assert [c["to"] for c in restoration_calls] == ["+81300000103"]
    say_path = restoration_calls[0]["url"][len(BASE):]
    assert say_path.startswith("/outages/voice/restoration?t=")
    spoken = post_signed(client, say_path, {"CallSid": "CA" + "4" * 32})
    xml = spoken.get_data(as_text=True)
    assert spoken.status_code == 200 and "<Say" in xml and 'language="ja-JP"' in xml
    assert "停電は復旧しました" in xml and "<Gather" not in xml and "<Hangup" in xml
    assert client.post(say_path, data={"CallSid": "CA" + "4" * 32}).status_code == 403   # unsigned
    assert "無効" in post_signed(client, "/outages/voice/restoration?t=forged", {}).get_data(as_text=True)
    dispatch(app)                                                   # idempotent: no second notice
    assert len(twilio_fake.calls) == calls_before + 1
    assert client.get(f"/r/{token}").status_code == 410
    assert client.post(f"/r/{token}", data={"answer": "3"}).status_code == 410
    assert client.get(f"/t/{task_token}").status_code == 410
    late = post_signed(client, "/sms/inbound", {"MessageSid": "SM" + "3" * 32, "From": "+819000000101",
                                               "To": "+815000000000", "Body": "1"})
    assert late.status_code == 200                                  # logged, changes nothing
    report = client.get(f"/api/v1/outages/{oid}/report?format=html", headers=hub).get_data(as_text=True)
    assert "100% 到達まで" in report
    assert client.get(f"/api/v1/outages/{oid}/report?format=docx", headers=hub).data[:2] == b"PK"


def test_sms_answer_2_with_hours_over_the_webhook_recomputes_the_runway(app, client, session, clock, twilio_fake,
                                                                        make_region, make_user, auth_headers):
    make_region()
    ids = {}
    for phone, hours in (("+819000000201", 20.0), ("+819000000202", 20.0)):
        p = Patient(name="試験 報告", phone_e164=phone, phone_kind="mobile", municipality_code="131024",
                    lat=35.670, lon=139.770, region_code="1301", runway_hours=hours, runway_tier="yellow",
                    runway_explain="", created_at=clock.now(), updated_at=clock.now())
        p.devices.append(PatientDevice(kind="ventilator", hours_per_day=24, internal_battery_hours=3))
        session.add(p)
        session.flush()
        ids[phone] = p.id
    session.commit()
    hub = auth_headers(make_user("hub_staff"))
    oid = client.post("/api/v1/outages", json={"area": {"municipality_codes": ["131024"]},
                                                "started_at": clock.now().isoformat(),
                                                "expected_restoration_at": (clock.now() + timedelta(hours=12)).isoformat()},
                      headers=hub).get_json()["id"]
    dispatch(app)
    assert post_signed(client, "/sms/inbound", {"MessageSid": "SM" + "5" * 32, "From": "+819000000201",
                                               "To": "+815000000000", "Body": "２ 残り1.5時間"}).status_code == 200
    assert post_signed(client, "/sms/inbound", {"MessageSid": "SM" + "6" * 32, "From": "+819000000202",
                                               "To": "+815000000000", "Body": "２"}).status_code == 200
    rows = {i["patient_id"]: i for i in client.get(f"/api/v1/outages/{oid}/patients", headers=hub).get_json()["items"]}
    told, plain = rows[ids["+819000000201"]], rows[ids["+819000000202"]]
    assert told["checkin"] == "low_battery" and told["reported_hours"] == 1.5
    assert told["runway_hours_left"] == 1.5 and told["tier"] == "red"       # before the 12 h restoration
    assert plain["checkin"] == "low_battery" and plain["reported_hours"] is None
    assert plain["runway_hours_left"] == 20.0

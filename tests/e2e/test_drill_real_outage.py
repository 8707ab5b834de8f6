"""A functional drill while a real outage is on (issue 12, item 4): nobody in an active real outage gets
a drill message at any stage — round 1, the re-check, the call, the field visit, the restoration message —
including a patient whose real outage begins after the drill started; they are listed on the drill page
(「実災害対応中のため対象外」); starting needs ``"confirm_overlap": true`` (409 without it); and every
drill contact says 訓練 (SMS, the check-in call's TwiML, the one-tap page).

Area: municipality 131016 (drill only), 131024 (a real outage from the start), 131032 (a real
outage that begins during the drill). Every patient is an opted-in patient of the participating clinic.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bcp_service.db import db
from bcp_service.messaging.models import OutboxMessage
from bcp_service.messaging.tokens import TapClaims, make_token
from bcp_service.outages import jobs as outages_jobs
from bcp_service.outages.models import FieldTask, Outage, OutagePatient
from bcp_service.registry.models import Patient, PatientDevice
from tests.e2e.conftest import post_signed
from tests.e2e.drill_helpers import drill_body, later
from tests.e2e.twilio_fake import AUTH_TOKEN

pytestmark = pytest.mark.sqlite_smoke


@pytest.fixture
def app_config():
    return {"TWILIO_AUTH_TOKEN": AUTH_TOKEN, "PUBLIC_BASE_URL": "http://bcp.test", "HUB_NAME": "試験拠点"}


@pytest.fixture
def world(session, clock, make_region, make_org, make_user, auth_headers):
    make_region("1301")
    clinic = make_org(name="試験クリニック", kind="clinic")
    n = iter(range(1, 100))

    def patient(name, municipality, kind="mobile"):
        p = Patient(name=name, phone_e164=f"+8190000{next(n):05d}2", phone_kind=kind, municipality_code=municipality,
                    lat=35.69, lon=139.75, region_code="1301", primary_org_id=clinic.id, runway_hours=8.0,
                    runway_tier="yellow", runway_explain="", drill_opt_in=True, address="東京都千代田区（架空）",
                    created_at=clock.now(), updated_at=clock.now())
        p.devices.append(PatientDevice(kind="ventilator", mode="TPPV", hours_per_day=24, internal_battery_hours=8))
        session.add(p)
        return p

    ps = {"drill_sms": patient("試験 一郎", "131016"), "drill_tel": patient("試験 二郎", "131016", "landline"),
          "real_sms": patient("試験 三郎", "131024"), "real_tel": patient("試験 四郎", "131024", "landline"),
          "later": patient("試験 五郎", "131032")}
    session.commit()
    hub = make_user("hub_staff")
    return {"clinic": clinic, "p": ps, "h": auth_headers(hub), "hub": hub}


def _declare_real(client, world, clock, code):
    r = client.post("/api/v1/outages", headers=world["h"], json={
        "area": {"municipality_codes": [code]}, "started_at": clock.now().isoformat(),
        "expected_restoration_at": (clock.now() + timedelta(hours=6)).isoformat(), "cause": "試験 停電",
        "drill": False, "region_code": "1301"})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def _book(client, world, clock):
    body = drill_body([world["clinic"]], when=later(clock, hours=1), mode="functional", scenario="planned_outage")
    d = client.post("/api/v1/drills", json=body, headers=world["h"])
    assert d.status_code == 201, d.get_json()
    clock.advance(hours=1)
    return d.get_json()["id"]


def _drill_rows(session):
    session.expire_all()
    return session.scalars(select(OutboxMessage).where(OutboxMessage.drill.is_(True),
                                                      OutboxMessage.patient_id.is_not(None))).all()


def test_starting_a_drill_during_a_real_outage_needs_confirmation(client, world, clock, session, login):
    real = _declare_real(client, world, clock, "131024")
    drill_id = _book(client, world, clock)
    before = session.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1))

    r = client.post(f"/api/v1/drills/{drill_id}/start", headers=world["h"])
    assert r.status_code == 409, r.get_json()
    body = r.get_json()
    assert body["error"]["code"] == "real_outage_active" and body["error"]["real_outage_ids"] == [real]
    assert f"No.{real}" in body["error"]["message"] and "実際の停電" in body["error"]["message"]
    r = client.post(f"/api/v1/drills/{drill_id}/start", headers=world["h"], json={"confirm_overlap": "yes"})
    assert r.status_code == 400 and "confirm_overlap" in r.get_data(as_text=True)
    # Nothing happened: still scheduled, no drill outage, no message queued.
    assert client.get(f"/api/v1/drills/{drill_id}", headers=world["h"]).get_json()["status"] == "scheduled"
    session.expire_all()
    assert session.scalars(select(Outage).where(Outage.drill.is_(True))).all() == []
    assert session.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1)) == before

    # The page asks with a confirmation form; without the box ticked the start is refused with the message.
    login(world["hub"])
    page = client.get(f"/drills/{drill_id}").get_data(as_text=True)
    assert 'id="real-outage-warning"' in page and 'name="confirm_overlap"' in page and f"No.{real}" in page
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    r = client.post(f"/drills/{drill_id}/start", data={"csrf_token": token}, follow_redirects=True)
    assert "実際の停電" in r.get_data(as_text=True)
    assert client.get(f"/api/v1/drills/{drill_id}", headers=world["h"]).get_json()["status"] == "scheduled"
    r = client.post(f"/drills/{drill_id}/start", data={"csrf_token": token, "confirm_overlap": "1"},
                    follow_redirects=True)
    assert r.status_code == 200
    assert client.get(f"/api/v1/drills/{drill_id}", headers=world["h"]).get_json()["status"] == "running"


def test_no_real_outage_no_confirmation_needed(client, world, clock, session):
    drill_id = _book(client, world, clock)
    r = client.post(f"/api/v1/drills/{drill_id}/start", headers=world["h"])
    assert r.status_code == 200, r.get_json()


def test_a_patient_in_a_real_outage_gets_no_drill_message_at_any_stage(app, client, world, clock, session, login):
    p = {k: v.id for k, v in world["p"].items()}
    real = _declare_real(client, world, clock, "131024")
    drill_id = _book(client, world, clock)
    r = client.post(f"/api/v1/drills/{drill_id}/start", headers=world["h"], json={"confirm_overlap": True})
    assert r.status_code == 200, r.get_json()
    drill_outage = r.get_json()["outage_id"]
    in_real = {p["real_sms"], p["real_tel"]}

    # Round 1: the drill-only patients and the one whose outage has not begun yet; nobody in the real one.
    assert {m.patient_id for m in _drill_rows(session)} == {p["drill_sms"], p["drill_tel"], p["later"]}

    # The page lists who was left out, and why.
    login(world["hub"])
    page = client.get(f"/drills/{drill_id}").get_data(as_text=True)
    assert 'id="excluded-real-outage"' in page and "実災害対応中のため対象外（2名）" in page
    for key in ("real_sms", "real_tel"):
        assert f"患者ID {p[key]}：実災害対応中のため対象外（実際の停電 No.{real}）" in page
    log = client.get(f"/api/v1/drills/{drill_id}/log", headers=world["h"]).get_json()
    assert "確認済み" in str(log)

    # During the drill a second real outage begins over 131032: that patient is withdrawn from the drill.
    clock.advance(minutes=1)
    later_real = _declare_real(client, world, clock, "131032")
    session.expire_all()
    assert {m.status for m in _drill_rows(session) if m.patient_id == p["later"]} == {"cancelled"}
    row = session.scalars(select(OutagePatient).where(OutagePatient.outage_id == drill_outage,
                                                      OutagePatient.patient_id == p["later"])).one()
    assert row.covered_by_outage_id == later_real and row.next_action_at is None
    in_real.add(p["later"])
    assert f"患者ID {p['later']}：実災害対応中のため対象外（実際の停電 No.{later_real}）" in \
        client.get(f"/drills/{drill_id}").get_data(as_text=True)

    # Nobody answers: the re-check (round 2, SMS + call) and the field visit follow for the drill only.
    # The first real outage is resolved meanwhile: its patients still get nothing from the drill.
    db.session.remove()
    for minutes in (20, 45):
        clock.advance(minutes=minutes)
        outages_jobs.run_due(app)
        if minutes == 20:
            assert client.post(f"/api/v1/outages/{real}/resolve", headers=world["h"]).status_code == 200
    clock.advance(minutes=30)
    outages_jobs.run_due(app)
    session.expire_all()
    rounds = {(m.patient_id, m.round, m.channel) for m in _drill_rows(session) if m.purpose == "checkin"}
    assert (p["drill_sms"], 2, "voice") in rounds and (p["drill_tel"], 2, "voice") in rounds
    visits = session.scalars(select(FieldTask).where(FieldTask.outage_id == drill_outage)).all()
    assert {t.patient_id for t in visits} == {p["drill_sms"], p["drill_tel"]}
    # The visit's one-tap page for the field team says 訓練 too.
    task_link = make_token(app.config["SECRET_KEY"], TapClaims("field_task", visits[0].id, drill_outage))
    assert 'id="drill-banner"' in client.get(f"/t/{task_link}").get_data(as_text=True)

    # The drill ends: the restoration message goes to the drill's patients only.
    assert client.post(f"/api/v1/drills/{drill_id}/finish", headers=world["h"]).status_code == 200
    rows = _drill_rows(session)
    restored = {m.patient_id for m in rows if m.purpose == "restoration"}
    assert restored == {p["drill_sms"], p["drill_tel"]}
    assert all(m.body.startswith("【訓練】") for m in rows if m.channel == "sms")
    # At no stage: nothing to the real-outage patients but what was cancelled before it went out.
    assert not [m.key for m in rows if m.patient_id in in_real and m.status != "cancelled"]
    assert not [m.key for m in rows if m.patient_id in in_real - {p["later"]}]


def test_every_drill_contact_says_it_is_a_drill(app, client, world, clock, session):
    p = world["p"]
    drill_id = _book(client, world, clock)
    drill_outage = client.post(f"/api/v1/drills/{drill_id}/start", headers=world["h"]).get_json()["outage_id"]
    real = _declare_real(client, world, clock, "131024")
    secret = app.config["SECRET_KEY"]

    def tap(patient, outage_id):
        return make_token(secret, TapClaims("checkin", patient.id, outage_id))

    # The one-tap page: a drill link shows the banner, a real one does not.
    drill_page = client.get(f"/r/{tap(p['drill_sms'], drill_outage)}").get_data(as_text=True)
    assert 'id="drill-banner"' in drill_page and "これは訓練です" in drill_page
    real_page = client.get(f"/r/{tap(p['real_sms'], real)}").get_data(as_text=True)
    assert "drill-banner" not in real_page and "これは訓練です" not in real_page
    done = client.post(f"/r/{tap(p['drill_sms'], drill_outage)}", data={"answer": "1"}).get_data(as_text=True)
    assert 'id="drill-banner"' in done

    # The check-in call: 「これは訓練です」 first for a drill, never for the real outage.
    def twiml(patient, outage_id):
        r = post_signed(client, f"/voice/checkin?t={tap(patient, outage_id)}", {"CallSid": "CA1"})
        assert r.status_code == 200
        return r.get_data(as_text=True)

    drill_call = twiml(p["drill_tel"], drill_outage)
    assert drill_call.split("<Say", 1)[1].split(">", 1)[1].startswith("これは訓練です")
    assert "これは訓練です" not in twiml(p["real_tel"], real)

    # The restoration call and message of the drill say it too.
    assert client.post(f"/api/v1/drills/{drill_id}/finish", headers=world["h"]).status_code == 200
    session.expire_all()
    voice = session.scalars(select(OutboxMessage).where(OutboxMessage.outage_id == drill_outage,
                                                       OutboxMessage.purpose == "restoration",
                                                       OutboxMessage.channel == "voice")).one()
    path = voice.twiml_url.replace("http://bcp.test", "")
    said = post_signed(client, path, {"CallSid": "CA2"}).get_data(as_text=True)
    assert "これは訓練です" in said.split("<Say", 1)[1]
    # A drill check-in call answered after the drill ended: the goodbye says 訓練 too.
    late = post_signed(client, f"/voice/checkin?t={tap(p['drill_tel'], drill_outage)}", {"CallSid": "CA3"})
    assert late.get_data(as_text=True).split("<Say", 1)[1].split(">", 1)[1].startswith("これは訓練です")
    sms = session.scalars(select(OutboxMessage).where(OutboxMessage.outage_id == drill_outage,
                                                     OutboxMessage.purpose == "restoration",
                                                     OutboxMessage.channel == "sms")).all()
    assert sms and all(m.body.startswith("【訓練】") for m in sms)


def test_a_drill_call_queued_after_the_real_outage_began_is_held_by_the_dispatcher(app, client, world, clock,
                                                                                  session):
    """The drill's SMS went out before the real outage; its 'undelivered' callback arrives after, and the
    messaging layer queues the usual voice fallback. The dispatcher holds it: no drill call to that patient."""
    from tests.e2e.conftest import dispatch

    pid = world["p"]["real_sms"].id
    drill_id = _book(client, world, clock)
    drill_outage = client.post(f"/api/v1/drills/{drill_id}/start", headers=world["h"]).get_json()["outage_id"]
    assert dispatch(app).sent >= 1
    sms = session.scalars(select(OutboxMessage).where(OutboxMessage.outage_id == drill_outage,
                                                     OutboxMessage.patient_id == pid)).one()
    assert sms.status == "sent"
    _declare_real(client, world, clock, "131024")
    r = post_signed(client, f"/sms/status?o={sms.id}", {"MessageSid": sms.provider_id,
                                                        "MessageStatus": "undelivered", "ErrorCode": "30005"})
    assert r.status_code == 204
    session.expire_all()
    fallback = session.scalars(select(OutboxMessage).where(OutboxMessage.key == f"{sms.key}:fallback:voice")).one()
    assert fallback.status == "queued" and fallback.drill
    channel = app.extensions["messaging.channel"]
    calls_before = [c for c in channel.records if c.kind == "voice" and c.to == sms.to]
    dispatch(app)
    session.expire_all()
    assert session.get(OutboxMessage, fallback.id).status == "cancelled"
    assert [c for c in channel.records if c.kind == "voice" and c.to == sms.to] == calls_before == []
    # A real check-in to the same patient is not held.
    real_rows = session.scalars(select(OutboxMessage).where(OutboxMessage.patient_id == pid,
                                                           OutboxMessage.drill.is_(False))).all()
    assert real_rows and all(m.status == "sent" for m in real_rows)

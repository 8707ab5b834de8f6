"""A field team whose phone is a landline (Japanese SMS cannot reach it) is called instead: the real
twilio client places the call at the loopback fake, our TwiML reads the request in Japanese, and 1 on
the keypad accepts it as the SMS link's 受諾 would. Team phones are stored as typed (「03-…」)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bcp_service.outages import jobs
from bcp_service.outages.models import FieldTask, OutageEvent
from bcp_service.registry.models import Patient, PatientDevice
from tests.e2e.conftest import BASE, dispatch, post_signed


@pytest.fixture
def app_config(twilio_app_config):
    return twilio_app_config


@pytest.fixture
def silent_patient(session, clock, make_region, make_org):
    make_region()
    station = make_org(name="試験訪問看護ステーション", kind="home_nursing")
    station.phone = "03-0000-0150"                     # the station's landline, as typed
    p = Patient(name="試験 静香", phone_e164="+819000000151", phone_kind="mobile", municipality_code="131024",
                lat=35.670, lon=139.770, region_code="1301", runway_hours=6.0, runway_tier="red",
                runway_explain="", nursing_org_id=station.id, created_at=clock.now(), updated_at=clock.now())
    p.devices.append(PatientDevice(kind="ventilator", hours_per_day=24, internal_battery_hours=3))
    session.add(p)
    session.commit()
    return p


def test_landline_team_is_called_hears_the_request_and_accepts_with_1(app, client, session, clock, twilio_fake,
                                                                       silent_patient, make_user, auth_headers):
    hub = auth_headers(make_user("hub_staff"))
    r = client.post("/api/v1/outages", json={"area": {"municipality_codes": ["131024"]},
                                              "started_at": clock.now().isoformat(),
                                              "expected_restoration_at": (clock.now() + timedelta(hours=12)).isoformat()},
                    headers=hub)
    oid = r.get_json()["id"]
    for _ in range(2):                                 # silence: round 2, then the field task
        clock.advance(minutes=16)
        jobs.run_due(app, now=clock.now())
    dispatch(app)
    task = session.scalars(select(FieldTask).where(FieldTask.outage_id == oid)).one()
    calls = [c for c in twilio_fake.calls if c["to"] == "+81300000150"]
    assert len(calls) == 1 and not [m for m in twilio_fake.messages if m["to"] == "+81300000150"]
    path = calls[0]["url"][len(BASE):]
    assert path.startswith("/outages/voice/task?t=")
    assert not session.scalars(select(OutageEvent).where(OutageEvent.kind == "task_unsent")).all()

    xml = post_signed(client, path, {"CallSid": "CA" + "5" * 32}).get_data(as_text=True)
    assert "<Gather" in xml and 'language="ja-JP"' in xml and "訪問依頼" in xml
    assert f"ID {silent_patient.id}" in xml and "試験 静香" not in xml      # ids only, never a name
    answer_path = xml.split('action="')[1].split('"')[0].replace("&amp;", "&")
    again = post_signed(client, answer_path, {"CallSid": "CA" + "5" * 32, "Digits": "9"}).get_data(as_text=True)
    assert "<Redirect" in again
    assert client.post(answer_path, data={"Digits": "1"}).status_code == 403          # unsigned
    session.expire_all()
    assert session.get(FieldTask, task.id).status == "open"
    done = post_signed(client, answer_path, {"CallSid": "CA" + "5" * 32, "Digits": "1"}).get_data(as_text=True)
    assert "受諾を記録しました" in done
    session.expire_all()
    assert session.get(FieldTask, task.id).status == "acknowledged"

    assert client.post(f"/api/v1/outages/{oid}/resolve", headers=hub).status_code == 200
    closed = post_signed(client, path, {"CallSid": "CA" + "6" * 32}).get_data(as_text=True)
    assert "終了しています" in closed and "<Gather" not in closed
    forged = post_signed(client, "/outages/voice/task?t=forged", {}).get_data(as_text=True)
    assert "終了しています" in forged

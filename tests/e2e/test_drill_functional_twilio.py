"""A functional drill end to end with the real twilio client against the loopback provider fake:
book → start (a drill outage) → every SMS handed to the provider carries 【訓練】 and goes only to
opted-in patients of the participating organisations and to their staff contacts → patients answer
by one-tap → metrics → finish (the 訓練 all-clear) → after-action report."""
from __future__ import annotations

import re

import pytest

from bcp_service.registry.models import Patient, PatientDevice
from tests.e2e.conftest import dispatch
from tests.e2e.drill_helpers import drill_body, later


@pytest.fixture
def app_config(twilio_app_config):
    return twilio_app_config


def test_functional_drill_over_the_provider_fake(app, client, session, clock, twilio_fake, make_region, make_org,
                                                 make_user, auth_headers):
    make_region("1301")
    clinic = make_org(name="試験クリニック", kind="clinic")
    elsewhere = make_org(name="試験不参加クリニック", kind="clinic")
    phones = {}
    for key, org, opt_in, phone in (("p1", clinic, True, "+819000000201"), ("p2", clinic, True, "+819000000202"),
                                    ("p3", clinic, False, "+819000000203"), ("p4", elsewhere, True, "+819000000204")):
        p = Patient(name=f"試験 {key}", phone_e164=phone, phone_kind="mobile", municipality_code="131016",
                    lat=35.69, lon=139.75, region_code="1301", primary_org_id=org.id, runway_hours=12.0,
                    runway_tier="yellow", runway_explain="", drill_opt_in=opt_in, created_at=clock.now(),
                    updated_at=clock.now())
        p.devices.append(PatientDevice(kind="ventilator", hours_per_day=24, internal_battery_hours=8))
        session.add(p)
        phones[key] = phone
    session.commit()
    hub = auth_headers(make_user("hub_staff"))

    body = drill_body([], when=later(clock, hours=2), mode="functional", scenario="planned_outage",
                      participants=[{"organization_id": clinic.id, "contact_name": "試験 担当",
                                     "contact_phone": "090-0000-3101"}])
    d = client.post("/api/v1/drills", json=body, headers=hub).get_json()
    clock.advance(hours=2)
    r = client.post(f"/api/v1/drills/{d['id']}/start", headers=hub)
    assert r.status_code == 200, r.get_json()

    dispatch(app)
    sent = {m["to"]: m["body"] for m in twilio_fake.messages}
    assert set(sent) == {phones["p1"], phones["p2"], "+819000003101"}
    assert all(b.startswith("【訓練】") for b in sent.values())
    assert twilio_fake.calls == []
    staff = [m["body"] for m in twilio_fake.messages if m["to"] == "+819000003101"]
    assert len(staff) == 2 and "訓練のご案内" in staff[0] and "機能訓練" in staff[1]   # invitation, start notice

    # Both patients tap "1" in their link; one 4 minutes in, one 9 minutes in.
    for key, minutes in (("p1", 4), ("p2", 9)):
        clock.advance(minutes=minutes - (4 if key == "p2" else 0))
        token = re.search(r"/r/(\S+)", sent[phones[key]]).group(1)
        assert client.post(f"/r/{token}", data={"answer": "1"}).status_code == 200
    m = client.get(f"/api/v1/drills/{d['id']}/metrics", headers=hub).get_json()["metrics"]
    assert (m["targets"], m["responded"], m["minutes_to_50"], m["minutes_to_100"]) == (2, 2, 4, 9)

    clock.advance(minutes=20)
    assert client.post(f"/api/v1/drills/{d['id']}/finish", headers=hub).status_code == 200
    before = len(twilio_fake.messages)
    dispatch(app)
    notices = twilio_fake.messages[before:]
    assert sorted(n["to"] for n in notices) == [phones["p1"], phones["p2"]]
    assert all(n["body"].startswith("【訓練】") for n in notices)
    report = client.get(f"/api/v1/drills/{d['id']}/report?format=docx", headers=hub)
    assert report.status_code == 200 and report.data[:2] == b"PK"

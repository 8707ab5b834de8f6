"""A functional drill runs the real outage pipeline in 訓練 mode: only opted-in patients of the
participating organisations are contacted, every text carries 【訓練】, real outages are untouched,
and the metrics come from the check-in answers."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bcp_service.drills import adapters
from bcp_service.messaging.models import OutboxMessage
from bcp_service.outages import checkins
from bcp_service.outages.access import SYSTEM
from bcp_service.outages.models import Outage, OutagePatient
from bcp_service.outages.notify import notifier_for
from bcp_service.registry.models import Patient, PatientDevice
from tests.e2e.drill_helpers import drill_body, later

pytestmark = pytest.mark.skipif(adapters.outage_desk() is None, reason="outage desk not installed")


@pytest.fixture
def world(session, clock, make_region, make_org, make_user, auth_headers):
    make_region("1301")
    clinic = make_org(name="試験クリニック", kind="clinic")
    nursing = make_org(name="試験訪問看護ステーション", kind="home_nursing")
    outsider_org = make_org(name="試験よその診療所", kind="clinic")
    n = iter(range(1, 100))

    def patient(name, org, *, opt_in=True, hours=8.0):
        p = Patient(name=name, phone_e164=f"+8190000{next(n):05d}1", phone_kind="mobile", municipality_code="131016",
                    lat=35.69, lon=139.75, region_code="1301", primary_org_id=org.id, runway_hours=hours,
                    runway_tier="yellow", runway_explain="", drill_opt_in=opt_in, address="東京都千代田区（架空）",
                    created_at=clock.now(), updated_at=clock.now())
        p.devices.append(PatientDevice(kind="ventilator", mode="TPPV", hours_per_day=24, internal_battery_hours=8))
        session.add(p)
        return p

    ps = {
        "a": patient("試験 一郎", clinic), "b": patient("試験 二郎", clinic), "c": patient("試験 三郎", nursing),
        "d": patient("試験 四郎", nursing), "no_opt": patient("試験 五郎", clinic, opt_in=False),
        "other_org": patient("試験 六郎", outsider_org),
    }
    session.commit()
    hub = make_user("hub_staff")
    return {"clinic": clinic, "nursing": nursing, "patients": ps, "h": auth_headers(hub), "hub": hub,
            "make_user": make_user,
            "auth_headers": auth_headers}


def test_functional_drill_contacts_only_opted_in_patients_of_participants_with_drill_marking(
        client, world, clock, session, login):
    body = drill_body([world["clinic"], world["nursing"]], when=later(clock, hours=1), mode="functional",
                      scenario="planned_outage",
                      participants=[{"organization_id": world["clinic"].id, "contact_name": "試験 担当",
                                     "contact_phone": "090-0000-3001"}])
    body["participant_org_ids"] = [world["nursing"].id]
    d = client.post("/api/v1/drills", json=body, headers=world["h"]).get_json()
    clock.advance(hours=1)
    r = client.post(f"/api/v1/drills/{d['id']}/start", headers=world["h"])
    assert r.status_code == 200, r.get_json()
    outage_id = r.get_json()["outage_id"]
    outage = session.get(Outage, outage_id)
    assert outage.drill is True and "【訓練】" in outage.cause

    contacted = set(session.scalars(select(OutagePatient.patient_id).where(OutagePatient.outage_id == outage_id)))
    ps = world["patients"]
    assert contacted == {ps["a"].id, ps["b"].id, ps["c"].id, ps["d"].id}

    rows = session.scalars(select(OutboxMessage)).all()
    sms = [m for m in rows if m.channel == "sms"]
    assert sms and all(m.body.startswith("【訓練】") for m in sms)
    staff = [m for m in rows if m.purpose == "drill"]
    # The participant's contact got the invitation when the drill was booked and a notice at the start.
    assert sorted(m.key.rsplit(":", 2)[-2] if m.key.endswith(":0") else m.key.rsplit(":", 1)[-1] for m in staff) \
        == ["invite", "start"]
    assert {m.to for m in staff} == {"+819000003001"} and all(m.drill and m.body.startswith("【訓練】") for m in staff)
    assert {m.patient_id for m in rows if m.patient_id} <= contacted
    # Nothing real was declared.
    assert session.scalars(select(Outage).where(Outage.drill.is_(False))).all() == []

    # Answers arrive over time through the desk's own use case; one patient never answers.
    notifier = notifier_for(client.application)
    for key, minutes in (("a", 2), ("b", 5), ("c", 11)):
        clock.set(outage.declared_at + timedelta(minutes=minutes))
        checkins.record_answer(session, SYSTEM, outage_id=outage_id, patient_id=ps[key].id, answer="ok",
                                      channel="tap", now=clock.now(), notifier=notifier)
        session.commit()
    clock.set(outage.declared_at + timedelta(minutes=30))
    m = client.get(f"/api/v1/drills/{d['id']}/metrics", headers=world["h"]).get_json()["metrics"]
    assert m["targets"] == 4 and m["responded"] == 3 and m["unreachable"] == 1
    assert m["minutes_to_50"] == 5 and m["minutes_to_90"] is None and m["minutes_to_100"] is None
    assert m["response_rate"] == pytest.approx(0.75)

    report = client.get(f"/api/v1/drills/{d['id']}/report?format=html", headers=world["h"]).get_data(as_text=True)
    assert "75.0%（3/4）" in report and 'src="data:image/png;base64,' in report
    login(world["hub"])
    page = client.get(f"/drills/{d['id']}").get_data(as_text=True)
    assert 'id="checkin-chart"' in page and f"/outages/{outage_id}" in page

    clock.set(outage.declared_at + timedelta(minutes=40))
    checkins.record_answer(session, SYSTEM, outage_id=outage_id, patient_id=ps["d"].id, answer="2",
                                  channel="tap", now=clock.now(), notifier=notifier)
    session.commit()
    r = client.post(f"/api/v1/drills/{d['id']}/finish", headers=world["h"])
    assert r.status_code == 200
    session.expire_all()
    assert session.get(Outage, outage_id).status == "resolved"
    m = client.get(f"/api/v1/drills/{d['id']}/metrics", headers=world["h"]).get_json()["metrics"]
    assert m["minutes_to_100"] == 40 and m["unreachable"] == 0
    # The prefecture sees the drill as held, with its time to 100 %, and nothing else.
    reviewer = world["make_user"]("prefecture_reviewer", scope="13")
    agg = client.get("/api/v1/reports/prefecture/13", headers=world["auth_headers"](reviewer)).get_json()
    [region] = agg["regions"]
    assert region["drills_held"] == 1 and region["median_checkin_minutes"] == 40


def test_a_functional_drill_with_no_opted_in_patient_is_refused_and_changes_nothing(client, world, clock, session):
    for p in world["patients"].values():
        p.drill_opt_in = False
    session.commit()
    d = client.post("/api/v1/drills", json=drill_body([world["clinic"]], when=later(clock, hours=1),
                                                      mode="functional"), headers=world["h"]).get_json()
    r = client.post(f"/api/v1/drills/{d['id']}/start", headers=world["h"])
    assert r.status_code == 422
    assert client.get(f"/api/v1/drills/{d['id']}", headers=world["h"]).get_json()["status"] == "scheduled"
    assert session.scalars(select(Outage)).all() == []
    assert session.scalars(select(OutboxMessage)).all() == []

"""Issue 13 item 4 on SQLite and PostgreSQL: ``runs_out_at`` at declaration follows daily device
schedules from the outage start; a night-only user without a battery is not first at 09:00."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bcp_service.outages import checkins, declare as declaring, queries
from bcp_service.outages.access import SYSTEM
from bcp_service.outages.models import OutagePatient
from bcp_service.outages.notify import notifier_for
from bcp_service.registry.models import Patient, PatientBackup, PatientDevice
from bcp_service.registry.services import RunwayPolicy, refresh_runway

WARD = "131024"
JST = timezone(timedelta(hours=9))
START = datetime(2026, 11, 24, 9, 0, tzinfo=JST)       # 09:00 in Tokyo (the clock fixture says 10:00)


@pytest.fixture
def people(session, clock, make_region):
    make_region()
    n = [0]

    def patient(name, device, backups=()):
        n[0] += 1
        p = Patient(name=name, phone_e164=f"+8190000{n[0]:06d}", phone_kind="mobile", municipality_code=WARD,
                    lat=35.670, lon=139.770, region_code="1301", address="東京都中央区（架空）",
                    created_at=clock.now(), updated_at=clock.now())
        p.devices.append(device)
        p.backups.extend(backups)
        refresh_runway(p, RunwayPolicy(), clock.now().date())   # the stored worst-case runway, as on save
        session.add(p)
        session.flush()
        return p

    night = patient("試験 夜子", PatientDevice(kind="ventilator", mode="NPPV", watts=30, hours_per_day=10,
                                             internal_battery_hours=0,
                                             daily_schedule={"start": "21:00", "end": "07:00"}))
    tppv = patient("試験 終日", PatientDevice(kind="ventilator", mode="TPPV", watts=24, hours_per_day=24,
                                            internal_battery_hours=4))
    night_bat = patient("試験 夜電池", PatientDevice(kind="ventilator", mode="NPPV", watts=30, hours_per_day=10,
                                                 internal_battery_hours=4,
                                                 daily_schedule={"start": "21:00", "end": "07:00"}),
                        [PatientBackup(kind="external_battery", hours=8, count=1)])
    session.commit()
    return type("People", (), {"night": night, "tppv": tppv, "night_bat": night_bat})


def declare(session, clock, app, started_at=START):
    cmd = declaring.DeclareOutage(area={"municipality_codes": [WARD]}, started_at=started_at,
                                  expected_restoration_at=started_at + timedelta(hours=48), region_code="1301")
    r = declaring.declare_outage(session, SYSTEM, cmd, now=clock.now(), notifier=notifier_for(app))
    session.commit()
    return r


def test_stored_registry_runway_is_still_the_worst_case(session, people):
    assert people.night.runway_hours == 0                      # no start known: the night begins at the cut
    assert people.tppv.runway_hours == 4
    assert "使用時間帯21:00〜07:00" in people.night.runway_explain


def test_night_only_user_at_0900_runs_out_at_2100_and_is_not_first(app, session, clock, people):
    r = declare(session, clock, app)
    rows = queries.triage_rows(session, r.outage, now=clock.now())
    by_id = {x["patient_id"]: x for x in rows}
    assert [x["patient_id"] for x in rows] == [people.tppv.id, people.night.id, people.night_bat.id]
    assert datetime.fromisoformat(by_id[people.night.id]["runs_out_at"]) == START.replace(hour=21)
    # The 24 h device is unchanged: start + its 4 h.
    assert datetime.fromisoformat(by_id[people.tppv.id]["runs_out_at"]) == START + timedelta(hours=4)
    # 4 h + 8 h of battery at night: 21:00–07:00 (10 h), then 2 h the next night → 23:00 a day later.
    assert datetime.fromisoformat(by_id[people.night_bat.id]["runs_out_at"]) == START.replace(hour=23) + timedelta(days=1)
    stored = dict(session.execute(select(OutagePatient.patient_id, OutagePatient.runway_hours)
                                  .where(OutagePatient.outage_id == r.outage.id)).all())
    assert stored[people.night.id] == 12                     # hours from this outage's start


def test_outage_at_night_the_night_user_is_first(app, session, clock, people):
    r = declare(session, clock, app, started_at=START.replace(hour=1))
    rows = queries.triage_rows(session, r.outage, now=clock.now())
    assert rows[0]["patient_id"] == people.night.id
    assert datetime.fromisoformat(rows[0]["runs_out_at"]) == START.replace(hour=1)   # out at once


def test_reported_hours_replace_the_scheduled_runway(app, session, clock, people):
    r = declare(session, clock, app)
    now = clock.now()                                        # 10:00 Tokyo
    checkins.record_answer(session, SYSTEM, outage_id=r.outage.id, patient_id=people.night.id, answer="2",
                           channel="sms", now=now, notifier=notifier_for(app), reported_hours=20)
    session.commit()
    row = session.scalars(select(OutagePatient).where(OutagePatient.outage_id == r.outage.id,
                                                      OutagePatient.patient_id == people.night.id)).one()
    # The family's figure replaces the estimate (issue 13 item 2): 10:00 + 20 h = 06:00 the next day,
    # however the schedule-based runway (21:00) had it.
    assert row.runs_out_at == now + timedelta(hours=20) and row.reported_hours == 20

"""Transport that follows the plan (issue 19 item 3), on SQLite and PostgreSQL: the designated
facility first, beds held from the proposal on and counted across active outages, one live
transport per patient and outage, OK patients who run out still proposed, transport needs carried."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bcp_service.errors import Conflict
from bcp_service.outages import checkins, declare as declaring, transport
from bcp_service.outages.access import SYSTEM
from bcp_service.outages.models import FacilityReservation, FieldTask, Transport
from bcp_service.outages.notify import notifier_for
from bcp_service.registry.models import Patient, PatientDevice

WARD, OTHER_WARD = "131024", "131032"


@pytest.fixture
def world(session, clock, make_region, make_org):
    make_region()
    w = type("World", (), {})()
    w.near = make_org(name="試験近所病院", lat=35.690, lon=139.775, has_generator=True, accepts_ventilator=True,
                      ventilator_beds=2)
    w.planned = make_org(name="試験指定病院", lat=35.760, lon=139.800, has_generator=True, accepts_ventilator=True,
                         ventilator_beds=1)
    w.dark = make_org(name="試験停電病院", lat=35.672, lon=139.772, accepts_ventilator=True, ventilator_beds=9)
    w.dark.municipality_code = WARD
    w.n = 0

    def patient(name, hours, *, ward=WARD, designated=None, needs=None):
        w.n += 1
        p = Patient(name=name, phone_e164=f"+8190000{w.n:06d}", phone_kind="mobile", municipality_code=ward,
                    lat=35.670, lon=139.770, region_code="1301", runway_hours=hours, runway_tier="red",
                    runway_explain="", designated_facility_id=designated, transport_needs=needs,
                    created_at=clock.now(), updated_at=clock.now())
        p.devices.append(PatientDevice(kind="ventilator", mode="TPPV", hours_per_day=24, internal_battery_hours=3))
        session.add(p)
        session.flush()
        return p

    w.patient = patient
    session.commit()
    return w


def declare(session, clock, app, ward=WARD, hours=8):
    cmd = declaring.DeclareOutage(area={"municipality_codes": [ward]}, started_at=clock.now(),
                                  expected_restoration_at=clock.now() + timedelta(hours=hours), region_code="1301")
    r = declaring.declare_outage(session, SYSTEM, cmd, now=clock.now(), notifier=notifier_for(app))
    session.commit()
    return r.outage


def answer(session, app, clock, outage, p, code):
    row = checkins.record_answer(session, SYSTEM, outage_id=outage.id, patient_id=p.id, answer=code, channel="sms",
                                 now=clock.now(), notifier=notifier_for(app))
    session.commit()
    return row


def held(session, facility):
    r = session.get(FacilityReservation, facility.id)
    session.refresh(r) if r else None
    return r.reserved if r else 0


def live(session, outage, p):
    return session.scalars(select(Transport).where(Transport.outage_id == outage.id, Transport.patient_id == p.id,
                                                   Transport.status != "cancelled")).all()


def test_answer_three_goes_to_the_designated_facility_with_needs_on_transport_and_task(app, session, clock, world):
    p = world.patient("試験 一郎", 40.0, designated=world.planned.id, needs="stretcher")
    outage = declare(session, clock, app)
    answer(session, app, clock, outage, p, "3")
    [t] = live(session, outage, p)
    assert (t.facility_id, t.status, t.bed_reserved, t.transport_needs) == (world.planned.id, "assigned", True,
                                                                            "stretcher")
    task = session.scalars(select(FieldTask).where(FieldTask.transport_id == t.id)).one()
    assert task.details["transport_needs"] == "stretcher" and task.details["facility_id"] == world.planned.id
    assert held(session, world.planned) == 1


def test_designated_facility_full_or_dark_falls_back_to_the_nearest(app, session, clock, world):
    a = world.patient("試験 一郎", 40.0, designated=world.planned.id)
    b = world.patient("試験 二郎", 40.0, designated=world.planned.id)     # planned has one bed only
    c = world.patient("試験 三郎", 40.0, designated=world.dark.id)        # dark: no generator, in the outage
    outage = declare(session, clock, app)
    for p in (a, b, c):
        answer(session, app, clock, outage, p, "3")
    assert [live(session, outage, p)[0].facility_id for p in (a, b, c)] == [world.planned.id, world.near.id,
                                                                           world.near.id]
    assert held(session, world.planned) == 1 and held(session, world.near) == 2


def test_proposals_hold_beds_across_outages_and_release_them_when_declined_or_resolved(app, session, clock, world):
    short = [world.patient(f"試験 短{i}", 1.0) for i in range(2)]
    other = world.patient("試験 別区", 1.0, ward=OTHER_WARD)
    first = declare(session, clock, app)
    assert transport.propose_transports(session, SYSTEM, first.id, now=clock.now()) == 2
    session.commit()
    assert held(session, world.near) == 2          # both proposals hold a bed at the nearest
    # A second outage: the near hospital is full, so its red patient is proposed the planned one.
    second = declare(session, clock, app, ward=OTHER_WARD)
    transport.propose_transports(session, SYSTEM, second.id, now=clock.now())
    session.commit()
    assert live(session, second, other)[0].facility_id == world.planned.id
    # A green patient who presses 3 can no longer be the 3rd patient of a 2-bed hospital.
    green = world.patient("試験 元気", 100.0)
    session.commit()
    declaring.change_area(session, SYSTEM, first.id, {"municipality_codes": [WARD]}, now=clock.now(),
                          notifier=notifier_for(app))
    session.commit()
    answer(session, app, clock, first, green, "3")
    assert live(session, first, green)[0].facility_id is None and live(session, first, green)[0].status == "proposed"
    assert held(session, world.near) == 2
    # The desk declines one proposal: its bed is free again and the green patient gets it.
    declined = live(session, first, short[0])[0]
    transport.update_transport(session, SYSTEM, declined.id, status="cancelled", facility_id=None, now=clock.now(),
                               notifier=notifier_for(app))
    session.commit()
    assert held(session, world.near) == 1
    transport.update_transport(session, SYSTEM, live(session, first, green)[0].id, status="assigned",
                               facility_id=None, now=clock.now(), notifier=notifier_for(app))
    session.commit()
    assert live(session, first, green)[0].facility_id == world.near.id and held(session, world.near) == 2
    # Resolving the first outage gives back every bed it held; the second keeps its own.
    declaring.resolve_outage(session, SYSTEM, first.id, now=clock.now(), notifier=notifier_for(app))
    session.commit()
    assert held(session, world.near) == 0 and held(session, world.planned) == 1
    assert live(session, first, short[1]) == []


def test_confirming_a_proposal_keeps_its_bed_and_sends_the_task(app, session, clock, world):
    p = world.patient("試験 一郎", 1.0, needs="wheelchair")
    outage = declare(session, clock, app)
    transport.propose_transports(session, SYSTEM, outage.id, now=clock.now())
    session.commit()
    [t] = live(session, outage, p)
    assert (t.status, t.bed_reserved, t.facility_id) == ("proposed", True, world.near.id)
    transport.update_transport(session, SYSTEM, t.id, status="assigned", facility_id=None, now=clock.now(),
                               notifier=notifier_for(app))
    session.commit()
    assert held(session, world.near) == 1
    task = session.scalars(select(FieldTask).where(FieldTask.transport_id == t.id)).one()
    assert task.details["transport_needs"] == "wheelchair"


def test_one_live_transport_per_patient_whoever_proposes(app, session, clock, world):
    p = world.patient("試験 一郎", 1.0)
    outage = declare(session, clock, app)
    transport.propose_transports(session, SYSTEM, outage.id, now=clock.now())
    session.commit()
    assert transport.propose_transports(session, SYSTEM, outage.id, now=clock.now()) == 0
    answer(session, app, clock, outage, p, "3")            # confirms the proposal, no second row
    answer(session, app, clock, outage, p, "2")
    assert len(live(session, outage, p)) == 1 and live(session, outage, p)[0].status == "assigned"
    # The database itself refuses a second live transport.
    session.add(Transport(outage_id=outage.id, patient_id=p.id, status="proposed", reason="desk",
                          bed_reserved=False, created_at=clock.now(), updated_at=clock.now()))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Transport)) == 1


def test_patient_who_answered_ok_but_runs_out_before_restoration_still_gets_a_proposal(app, session, clock, world):
    p = world.patient("試験 一郎", 2.0)
    outage = declare(session, clock, app)
    answer(session, app, clock, outage, p, "1")       # the answer itself proposes (issue 13: the desk decides)
    assert transport.propose_transports(session, SYSTEM, outage.id, now=clock.now()) == 0   # never a second
    session.commit()
    assert [t.status for t in live(session, outage, p)] == ["proposed"]


def test_named_facility_without_power_or_bed_is_409_and_changes_nothing(app, session, clock, world):
    p = world.patient("試験 一郎", 40.0)
    outage = declare(session, clock, app)
    with pytest.raises(Conflict) as e:
        transport.request_transport(session, SYSTEM, outage_id=outage.id, patient_id=p.id, reason="desk",
                                    now=clock.now(), notifier=notifier_for(app), facility_id=world.dark.id)
    assert e.value.code == "no_power"
    session.rollback()
    assert held(session, world.dark) == 0 and live(session, outage, p) == []


def test_beds_are_held_all_or_none_per_facility_in_one_statement(app, session, world):
    from bcp_service.outages import beds
    assert beds.hold_many(session, [world.near.id] * 3) == set()         # 2 beds: none taken
    assert beds.hold_many(session, [world.near.id, world.near.id, world.planned.id]) == {world.near.id,
                                                                                        world.planned.id}
    assert beds.hold_many(session, [world.planned.id]) == set()           # full now
    session.commit()
    assert held(session, world.near) == 2 and held(session, world.planned) == 1


def test_a_drills_proposals_never_hold_real_beds(app, session, clock, world):
    p = world.patient("試験 訓練", 1.0)
    p.drill_opt_in = True
    session.commit()
    cmd = declaring.DeclareOutage(area={"municipality_codes": [WARD]}, started_at=clock.now(), drill=True,
                                  expected_restoration_at=clock.now() + timedelta(hours=8), region_code="1301")
    drill = declaring.declare_outage(session, SYSTEM, cmd, now=clock.now(), notifier=notifier_for(app)).outage
    session.commit()
    assert transport.propose_transports(session, SYSTEM, drill.id, now=clock.now()) == 1
    session.commit()
    [t] = live(session, drill, p)
    # A drill darkens nothing: the nearest hospital is proposed, and no bed anywhere is held.
    assert t.facility_id == world.dark.id and t.bed_reserved is False
    assert held(session, world.dark) == 0 and held(session, world.near) == 0

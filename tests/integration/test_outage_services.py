"""Outage desk services on SQLite and PostgreSQL (the ``app`` fixture runs every test on both)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bcp_service.errors import Conflict, Gone, Invalid, NotFound, Unprocessable
from bcp_service.messaging.models import OutboxMessage
from bcp_service.outages import checkins, declare as declaring, jobs, queries, report, restorations, transport
from bcp_service.outages.access import SYSTEM
from bcp_service.outages.ports import Recipient
from bcp_service.outages.models import FacilityReservation, FieldTask, Outage, OutageEvent, OutagePatient, Transport
from bcp_service.outages.notify import notifier_for
from bcp_service.registry.models import Patient, PatientContact, PatientDevice

WARD = "131024"
OTHER_WARD = "131032"


@pytest.fixture
def world(session, clock, make_region, make_org):
    """A 圏域 with a nursing station, two hospitals with generators and a dark one, and patients."""
    make_region()
    nursing = make_org(name="試験訪問看護ステーション", kind="home_nursing", lat=35.671, lon=139.771)
    nursing.phone = "090-0000-0001"      # as typed on the organisation; texted as +819000000001
    near = make_org(name="試験近所病院", lat=35.690, lon=139.775, has_generator=True, accepts_ventilator=True,
                    ventilator_beds=1)
    far = make_org(name="試験遠方病院", lat=35.760, lon=139.800, has_generator=True, accepts_ventilator=True,
                   ventilator_beds=5)
    dark = make_org(name="試験停電病院", lat=35.672, lon=139.772, accepts_ventilator=True, ventilator_beds=9)
    dark.municipality_code = WARD
    charge = make_org(name="試験給電所", kind="shelter", lat=35.673, lon=139.770, power_supply_point=True)
    session.commit()

    def patient(name, hours, *, ward=WARD, lat=35.670, lon=139.770, phone_kind="mobile", tppv=True,
                drill=False, n=[0]):
        n[0] += 1
        p = Patient(name=name, phone_e164=f"+8190000{n[0]:06d}", phone_kind=phone_kind, municipality_code=ward,
                    lat=lat, lon=lon, region_code="1301", nursing_org_id=nursing.id, runway_hours=hours,
                    runway_tier="red", runway_explain="", drill_opt_in=drill, address="東京都中央区（架空）",
                    created_at=clock.now(), updated_at=clock.now())
        p.devices.append(PatientDevice(kind="ventilator", mode="TPPV" if tppv else "NPPV",
                                       hours_per_day=24 if tppv else 10, internal_battery_hours=3))
        p.contacts.append(PatientContact(name="試験 花子", relation="妻", phone_e164="+819000009999"))
        session.add(p)
        session.flush()
        return p

    w = type("World", (), {})()
    w.nursing, w.near, w.far, w.dark, w.charge = nursing, near, far, dark, charge
    w.short = patient("試験 一郎", 2.0)                  # runs out in 2 h
    w.long = patient("試験 二郎", 40.0, tppv=False)      # lasts beyond restoration
    w.mid = patient("試験 三郎", 10.0, phone_kind="landline", drill=True, tppv=False)
    w.mid24 = patient("試験 四郎", 10.0, tppv=True)       # same runway, 24 h-dependent: before 三郎
    w.away = patient("試験 五郎", 1.0, ward=OTHER_WARD, lat=35.658, lon=139.751)
    inactive = patient("試験 六郎", 1.0)
    inactive.status = "hospitalised"
    session.commit()
    return w


def declare(session, clock, app, **kw):
    cmd = declaring.DeclareOutage(**{"area": {"municipality_codes": [WARD]}, "started_at": clock.now(),
                                    "expected_restoration_at": clock.now() + timedelta(hours=8),
                                    "region_code": "1301", **kw})
    result = declaring.declare_outage(session, SYSTEM, cmd, now=clock.now(), notifier=notifier_for(app))
    session.commit()
    return result


def test_declare_selects_active_patients_in_area_and_queues_round_one(app, session, clock, world):
    r = declare(session, clock, app)
    assert r.affected == 4 and r.messaged == 4
    keys = outbox_keys(session)
    o = r.outage.id
    assert keys == {f"outage:{o}:patient:{world.short.id}:round:1:sms",
                    f"outage:{o}:patient:{world.long.id}:round:1:sms",
                    f"outage:{o}:patient:{world.mid.id}:round:1:voice",      # landline: voice, not SMS
                    f"outage:{o}:patient:{world.mid24.id}:round:1:sms"}
    assert session.scalar(select(func.count()).select_from(OutageEvent)) == 1


def test_triage_orders_by_runs_out_then_24h_dependency_with_live_tiers(app, session, clock, world):
    r = declare(session, clock, app)
    rows = queries.triage_rows(session, r.outage, now=clock.now())
    assert [x["patient_id"] for x in rows] == [world.short.id, world.mid24.id, world.mid.id, world.long.id]
    # Restoration in 8 h: 2 h is red; 10 h outlasts it (yellow, within 24 h); 40 h is green.
    assert [x["tier"] for x in rows] == ["red", "yellow", "yellow", "green"]
    clock.advance(hours=1)
    later = queries.triage_rows(session, r.outage, now=clock.now())
    assert later[0]["runway_hours_left"] == 1.0


def test_bad_input_changes_nothing(app, session, clock, world):
    with pytest.raises(Invalid):
        declare(session, clock, app, area={"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}})
    with pytest.raises(Invalid):
        declare(session, clock, app, expected_restoration_at=clock.now() - timedelta(hours=1))
    with pytest.raises(Invalid, match="999999"):     # a malformed code is refused, not "nobody affected"
        declare(session, clock, app, area={"municipality_codes": ["999999"]})
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Outage)) == 0
    assert outbox_keys(session) == set()


def test_overlapping_outage_does_not_message_twice_and_shares_answers(app, session, clock, world):
    first = declare(session, clock, app)
    second = declare(session, clock, app, area={"center": {"lat": 35.670, "lon": 139.770}, "radius_km": 5})
    assert second.affected == 5 and second.messaged == 1 and second.covered == 4   # only 五郎 is new
    checkins.record_answer(session, SYSTEM, outage_id=first.outage.id, patient_id=world.short.id, answer="1",
                           channel="sms", now=clock.now(), notifier=notifier_for(app))
    session.commit()
    states = dict(session.execute(select(OutagePatient.outage_id, OutagePatient.checkin)
                                  .where(OutagePatient.patient_id == world.short.id)).all())
    assert states == {first.outage.id: "ok", second.outage.id: "ok"}
    # When the first outage ends, the second carries on with the patients it had left to the first.
    declaring.resolve_outage(session, SYSTEM, first.outage.id, now=clock.now(), notifier=notifier_for(app))
    session.commit()
    row = session.scalars(select(OutagePatient).where(OutagePatient.outage_id == second.outage.id,
                                                      OutagePatient.patient_id == world.long.id)).one()
    assert row.covered_by_outage_id is None and row.round == 1 and row.next_action_at == clock.now()


def test_shared_patients_show_the_round_and_state_of_the_outage_messaging_them(app, session, clock, world):
    first = declare(session, clock, app)
    second = declare(session, clock, app, area={"center": {"lat": 35.670, "lon": 139.770}, "radius_km": 5})

    def listed():
        rows = queries.triage_rows(session, session.get(Outage, second.outage.id), now=clock.now())
        return {r["patient_id"]: r for r in rows}

    rows = listed()
    # Covered by the first outage: its round 1, not this outage's stored round 0.
    assert rows[world.long.id]["round"] == 1 and rows[world.long.id]["covered_by_outage_id"] == first.outage.id
    assert rows[world.long.id]["next_action_at"] is not None
    assert rows[world.away.id]["round"] == 1 and rows[world.away.id]["covered_by_outage_id"] is None
    # Silence: the first outage sends round 2, then a field task; this outage's list follows it.
    clock.advance(minutes=16)
    jobs.run_due(app, now=clock.now())
    rows = listed()
    assert rows[world.long.id]["round"] == 2 and rows[world.long.id]["checkin"] == "pending"
    clock.advance(minutes=16)
    jobs.run_due(app, now=clock.now())
    rows = listed()
    assert rows[world.long.id]["round"] == 3 and rows[world.long.id]["checkin"] == "no_answer"
    assert queries.counts(list(rows.values()), second.outage)["checkin"]["no_answer"] >= 1
    # Stored rows are untouched: the second outage never messages them itself.
    mine = session.scalars(select(OutagePatient).where(OutagePatient.outage_id == second.outage.id,
                                                       OutagePatient.patient_id == world.long.id)).one()
    assert mine.round == 0 and mine.covered_by_outage_id == first.outage.id
    # Once the first outage resolves, the second carries on and shows its own round again.
    declaring.resolve_outage(session, SYSTEM, first.outage.id, now=clock.now(), notifier=notifier_for(app))
    session.commit()
    rows = listed()
    assert rows[world.long.id]["covered_by_outage_id"] is None and rows[world.long.id]["round"] == 3


def test_drill_contacts_only_opted_in_patients_and_never_covers_real_outages(app, session, clock, world):
    real = declare(session, clock, app)
    drill = declare(session, clock, app, drill=True)
    # 三郎 is the only opted-in patient, and he is in the real outage: left out of the drill, not
    # messaged (issue 12: a drill never contacts a patient in an active real outage).
    assert drill.affected == 1 and drill.messaged == 0 and drill.covered == 1
    assert real.outage.drill is False and drill.outage.drill is True
    with pytest.raises(Unprocessable):     # 二郎 did not opt in to drills
        declare(session, clock, app, drill=True, patient_filter={"patient_ids": [world.long.id]})
    session.rollback()
    again = declare(session, clock, app, drill=True, patient_filter={"patient_ids": [world.mid.id]})
    assert again.affected == 1 and again.covered == 1       # in the real outage: left out again
    with pytest.raises(Invalid):
        declare(session, clock, app, drill=True, patient_filter={"bogus": [1]})


def test_widen_and_narrow_never_send_a_second_round_one(app, session, clock, world):
    r = declare(session, clock, app)
    n = notifier_for(app)
    out = declaring.change_area(session, SYSTEM, r.outage.id, {"municipality_codes": [WARD, OTHER_WARD]}, now=clock.now(),
                               notifier=n)
    session.commit()
    assert out["added"] == 1 and out["messaged"] == 1
    out = declaring.change_area(session, SYSTEM, r.outage.id, {"municipality_codes": [OTHER_WARD]}, now=clock.now(), notifier=n)
    session.commit()
    assert out["removed"] == 4
    out = declaring.change_area(session, SYSTEM, r.outage.id, {"municipality_codes": [WARD, OTHER_WARD]}, now=clock.now(),
                               notifier=n)
    session.commit()
    assert out["returned"] == 4 and out["messaged"] == 0
    round1 = [k for k in outbox_keys(session) if ":round:1:" in k]
    assert len(round1) == 5


def test_silence_escalates_round_two_then_field_task_and_resumes_after_clock_restart(app, session, clock, world):
    r = declare(session, clock, app)
    o = r.outage.id
    clock.advance(minutes=14)
    assert jobs.run_due(app, now=clock.now()) == 0
    clock.advance(minutes=1)
    assert jobs.run_due(app, now=clock.now()) == 4
    keys = outbox_keys(session)
    assert f"outage:{o}:patient:{world.short.id}:round:2:sms" in keys
    assert f"outage:{o}:patient:{world.short.id}:round:2:voice" in keys
    assert f"outage:{o}:patient:{world.mid.id}:round:2:voice" in keys
    assert f"outage:{o}:patient:{world.mid.id}:round:2:sms" not in keys
    # The clock is down for an hour: on restart every overdue escalation happens at once.
    checkins.record_answer(session, SYSTEM, outage_id=o, patient_id=world.long.id, answer="1", channel="one_tap",
                           now=clock.now(), notifier=notifier_for(app))
    session.commit()
    clock.advance(hours=1)
    assert jobs.run_due(app, now=clock.now()) == 3
    tasks = session.scalars(select(FieldTask).where(FieldTask.kind == "visit")).all()
    assert {t.patient_id for t in tasks} == {world.short.id, world.mid.id, world.mid24.id}
    t = next(t for t in tasks if t.patient_id == world.short.id)
    assert t.organization_id == world.nursing.id
    assert t.details["address"] and t.details["devices"][0]["kind"] == "ventilator"
    assert t.details["contacts"][0]["relation"] == "妻"
    assert f"outage:{o}:task:{t.id}:sms" in outbox_keys(session)
    task_sms = session.scalars(select(OutboxMessage).where(OutboxMessage.key == f"outage:{o}:task:{t.id}:sms")).one()
    assert task_sms.to == "+819000000001"                  # the organisation's 090-… as E.164
    assert jobs.run_due(app, now=clock.now()) == 0        # nothing left, nothing doubled


def test_contacts_are_asked_with_round_two_but_never_in_a_drill(app, session, clock, world):
    real = declare(session, clock, app)
    clock.advance(minutes=15)
    jobs.run_due(app, now=clock.now())
    asked = set(session.scalars(select(OutboxMessage.patient_id).where(OutboxMessage.purpose == "contact_checkin")))
    assert asked == {world.short.id, world.long.id, world.mid.id, world.mid24.id}
    declaring.resolve_outage(session, SYSTEM, real.outage.id, now=clock.now(), notifier=notifier_for(app))
    session.commit()
    drill = declare(session, clock, app, drill=True)          # only 三郎 opted in to drills
    clock.advance(minutes=15)
    jobs.run_due(app, now=clock.now())
    assert not session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "contact_checkin",
                                                           OutboxMessage.outage_id == drill.outage.id)).all()
    assert f"outage:{drill.outage.id}:patient:{world.mid.id}:round:2:voice" in outbox_keys(session)


def test_a_team_that_cannot_be_reached_leaves_its_task_on_the_desk_with_a_timeline_entry(app, session, clock,
                                                                                         world):
    world.nursing.phone = "電話なし"                        # not a number: nothing can be sent
    session.commit()
    r = declare(session, clock, app, area={"municipality_codes": [WARD]})
    clock.advance(hours=2)
    jobs.run_due(app, now=clock.now())
    jobs.run_due(app, now=clock.now())
    tasks = session.scalars(select(FieldTask).where(FieldTask.outage_id == r.outage.id)).all()
    assert tasks and not [k for k in outbox_keys(session) if ":task:" in k]
    unsent = session.scalars(select(OutageEvent).where(OutageEvent.kind == "task_unsent")).all()
    assert {e.detail["task_id"] for e in unsent} == {t.id for t in tasks}
    assert {e.detail["reason"] for e in unsent} == {"invalid_phone"}
    from bcp_service.outages.report import detail_text
    assert "電話番号が不正" in detail_text(unsent[0].detail)


def test_a_landline_team_gets_a_call_instead_of_an_sms(app, session, clock, world):
    world.nursing.phone = "03-0000-0001"                   # Japanese SMS cannot reach a landline
    session.commit()
    r = declare(session, clock, app, area={"municipality_codes": [WARD]})
    clock.advance(hours=2)
    jobs.run_due(app, now=clock.now())
    jobs.run_due(app, now=clock.now())
    task = session.scalars(select(FieldTask).where(FieldTask.outage_id == r.outage.id,
                                                   FieldTask.patient_id == world.short.id)).one()
    call = session.scalars(select(OutboxMessage).where(
        OutboxMessage.key == f"outage:{r.outage.id}:task:{task.id}:voice")).one()
    assert (call.channel, call.to, call.purpose) == ("voice", "+81300000001", "field_task")
    assert "/outages/voice/task?t=" in call.twiml_url
    assert not session.scalars(select(OutageEvent).where(OutageEvent.kind == "task_unsent")).all()


def test_one_patients_failed_escalation_does_not_stop_the_others(app, session, clock, world):
    from bcp_service.outages.notify import OutboxNotifier, notifier_for

    class BrokenForOnePatient(OutboxNotifier):
        """Messaging fails while the short-runway patient's field task is sent (an injected fault of the
        port the clock is given, as a provider outage would be), and works for everyone else."""

        def field_task(self, session_, outage, task, **kw):
            if task.patient_id == world.short.id:
                raise RuntimeError("the outbox could not take this task")
            return super().field_task(session_, outage, task, **kw)

    real = notifier_for(app)
    broken = BrokenForOnePatient(secret=real.secret, base_url=real.base_url, hub_name=real.hub_name)
    r = declare(session, clock, app)
    clock.advance(minutes=15)
    jobs.run_due(app, now=clock.now())                    # round 2 for everyone
    clock.advance(hours=1)
    jobs.run_due(app, now=clock.now(), notifier=broken)
    tasks = {t.patient_id for t in session.scalars(select(FieldTask).where(FieldTask.outage_id == r.outage.id))}
    assert world.mid.id in tasks and world.mid24.id in tasks and world.short.id not in tasks
    clock.advance(minutes=1)                               # retried at the next beat, messaging works again
    jobs.run_due(app, now=clock.now())
    tasks = {t.patient_id for t in session.scalars(select(FieldTask).where(FieldTask.outage_id == r.outage.id))}
    assert world.short.id in tasks


def test_short_runway_shrinks_the_timers(app, session, clock, world):
    r = declare(session, clock, app)
    row = session.scalars(select(OutagePatient).where(OutagePatient.patient_id == world.short.id)).one()
    # 2 h of power, 60 min margin: 60 min for two steps → but never more than 15 min each.
    assert row.next_action_at == clock.now() + timedelta(minutes=15)
    away = declare(session, clock, app, area={"municipality_codes": [OTHER_WARD]}, safety_margin_minutes=50)
    row = session.scalars(select(OutagePatient).where(OutagePatient.patient_id == world.away.id)).one()
    assert row.next_action_at == clock.now() + timedelta(minutes=5)     # (60 − 50) / 2


def test_answer_three_transports_to_nearest_facility_with_power_and_bed(app, session, clock, world):
    r = declare(session, clock, app)
    checkins.record_answer(session, SYSTEM, outage_id=r.outage.id, patient_id=world.long.id, answer="3", channel="sms",
                           now=clock.now(), notifier=notifier_for(app))
    session.commit()
    t = session.scalars(select(Transport).where(Transport.patient_id == world.long.id)).one()
    # The dark hospital in the outage area is nearer but has no generator.
    assert (t.facility_id, t.status, t.bed_reserved) == (world.near.id, "assigned", True)
    assert session.get(FacilityReservation, world.near.id).reserved == 1
    # The only bed is taken: the next urgent patient goes further.
    checkins.record_answer(session, SYSTEM, outage_id=r.outage.id, patient_id=world.mid24.id, answer="3", channel="sms",
                           now=clock.now(), notifier=notifier_for(app))
    session.commit()
    t2 = session.scalars(select(Transport).where(Transport.patient_id == world.mid24.id)).one()
    assert t2.facility_id == world.far.id
    # Cancel releases the bed; arrived is final.
    transport.update_transport(session, SYSTEM, t.id, status="cancelled", facility_id=None, now=clock.now(),
                              notifier=notifier_for(app))
    session.commit()
    assert session.get(FacilityReservation, world.near.id).reserved == 0
    with pytest.raises(Conflict):
        transport.update_transport(session, SYSTEM, t.id, status="en_route", facility_id=None, now=clock.now(),
                                  notifier=notifier_for(app))
    session.rollback()
    for status in ("en_route", "arrived"):
        transport.update_transport(session, SYSTEM, t2.id, status=status, facility_id=None, now=clock.now(),
                                  notifier=notifier_for(app))
        session.commit()
    assert session.get(Transport, t2.id).status == "arrived"


def test_runs_out_before_restoration_gets_a_proposal_and_low_battery_report_recomputes(app, session, clock, world):
    r = declare(session, clock, app)
    n = transport.propose_transports(session, SYSTEM, r.outage.id, now=clock.now())
    session.commit()
    assert n == 1                                         # only 一郎 (2 h) runs out before 8 h restoration
    # The proposal holds its bed while proposed (beds are counted across active outages).
    assert session.scalar(select(func.count()).select_from(Transport).where(Transport.bed_reserved)) == 1
    assert session.get(FacilityReservation, world.near.id).reserved == 1
    row = checkins.record_answer(session, SYSTEM, outage_id=r.outage.id, patient_id=world.long.id, answer="２",
                                 channel="sms", now=clock.now(), notifier=notifier_for(app), reported_hours=3)
    session.commit()
    assert row.runs_out_at == clock.now() + timedelta(hours=3)
    assert session.scalars(select(Transport).where(Transport.patient_id == world.long.id)).one().status == "proposed"
    assert transport.propose_transports(session, SYSTEM, r.outage.id, now=clock.now()) == 0


def test_sms_answer_2_with_hours_replaces_the_registry_estimate(app, session, clock, world):
    from bcp_service.messaging import answers
    from bcp_service.messaging.answers import AnswerReceived
    from bcp_service.messaging.tokens import TapClaims
    from bcp_service.outages import hooks

    r = declare(session, clock, app)
    o, start = r.outage.id, clock.now()
    clock.advance(minutes=10)
    hooks.on_checkin(AnswerReceived(session, "checkin", context_id=o, subject_id=world.long.id, answer="low_battery",
                                    channel="sms", now=clock.now(), text="２ 残り1.5時間"))
    # 一郎: registry says 2 h from the start; the family looks at the battery and says 5 h: that stands.
    hooks.on_checkin(AnswerReceived(session, "checkin", context_id=o, subject_id=world.short.id, answer="low_battery",
                                    channel="sms", now=clock.now(), text="2 あと5時間"))
    # No text (one-tap / DTMF, or messaging not passing it yet): nothing but the state changes.
    assert answers.deliver(session, TapClaims("checkin", world.mid24.id, o), answer="low_battery",
                           channel="sms", now=clock.now())
    session.commit()
    rows = {x.patient_id: x for x in session.scalars(select(OutagePatient).where(OutagePatient.outage_id == o))}
    assert rows[world.long.id].runs_out_at == clock.now() + timedelta(hours=1.5)
    assert rows[world.long.id].reported_hours == 1.5
    assert rows[world.short.id].runs_out_at == clock.now() + timedelta(hours=5)
    assert rows[world.short.id].reported_hours == 5.0
    assert rows[world.mid24.id].runs_out_at == start + timedelta(hours=10)
    assert rows[world.mid24.id].reported_hours is None and rows[world.mid24.id].checkin == "low_battery"
    # The desk shows what the family said, and the list is re-ordered by it.
    listed = queries.triage_rows(session, session.get(Outage, o), now=clock.now())
    by_id = {x["patient_id"]: x for x in listed}
    assert by_id[world.long.id]["reported_hours"] == 1.5 and by_id[world.long.id]["reported_at"]
    assert by_id[world.mid24.id]["reported_hours"] is None
    assert (by_id[world.long.id]["runs_out_source"], by_id[world.mid24.id]["runs_out_source"]) == ("reported", "registry")
    assert [x["patient_id"] for x in listed][:3] == [world.long.id, world.short.id, world.mid24.id]
    # 1.5 h is before the 8 h restoration: a transport is proposed for 二郎.
    assert session.scalars(select(Transport).where(Transport.patient_id == world.long.id)).one().status == "proposed"


def test_charging_points_need_only_power(app, session, clock, world):
    r = declare(session, clock, app)
    points = transport.charging_points(session, SYSTEM, r.outage.id, world.long.id)
    names = [p["name"] for p in points]
    assert "試験給電所" in names and "試験停電病院" not in names


def test_resolve_notifies_reached_kills_answers_and_reports(app, session, clock, world):
    r = declare(session, clock, app)
    o = r.outage.id
    clock.advance(minutes=3)
    checkins.record_answer(session, SYSTEM, outage_id=o, patient_id=world.long.id, answer="1", channel="one_tap",
                           now=clock.now(), notifier=notifier_for(app))
    clock.advance(minutes=5)
    checkins.record_answer(session, SYSTEM, outage_id=o, patient_id=world.short.id, answer="3", channel="voice",
                           now=clock.now(), notifier=notifier_for(app))
    session.commit()
    declaring.resolve_outage(session, SYSTEM, o, now=clock.now(), notifier=notifier_for(app))
    session.commit()
    keys = outbox_keys(session)
    assert f"outage:{o}:patient:{world.long.id}:restoration:sms" in keys
    assert f"outage:{o}:patient:{world.mid.id}:restoration:sms" not in keys      # landline: no SMS …
    voice = session.scalars(select(OutboxMessage).where(
        OutboxMessage.key == f"outage:{o}:patient:{world.mid.id}:restoration:voice")).one()   # … a call
    assert voice.channel == "voice" and voice.purpose == "restoration" and voice.body is None
    assert voice.twiml_url.startswith("http") and "/outages/voice/restoration?t=" in voice.twiml_url
    # A second pass over the same people (a retried resolve) adds nothing: idempotent keys.
    n = session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.purpose == "restoration"))
    notifier_for(app).restoration(session, session.get(Outage, o),
                                  [Recipient(world.mid.id, world.mid.phone_e164, "landline")],
                                  now=clock.now())
    session.commit()
    assert session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.purpose == "restoration")) == n
    with pytest.raises(Conflict):
        declaring.resolve_outage(session, SYSTEM, o, now=clock.now(), notifier=notifier_for(app))
    session.rollback()
    with pytest.raises(Gone):
        checkins.record_answer(session, SYSTEM, outage_id=o, patient_id=world.mid24.id, answer="1", channel="sms",
                               now=clock.now(), notifier=notifier_for(app))
    session.rollback()
    assert jobs.run_due(app, now=clock.now() + timedelta(hours=2)) == 0
    rep = report.build(session, session.get(Outage, o), now=clock.now())
    assert rep.figures.affected == 4 and rep.figures.reached == 2
    assert rep.figures.minutes_to[50] == 8.0 and rep.figures.minutes_to[100] is None
    assert rep.unreachable == sorted([world.mid.id, world.mid24.id])
    assert rep.transports["assigned"] == 1
    assert report.to_docx(rep)[:2] == b"PK"


def test_unknown_outage_or_patient_is_not_found(app, session, clock, world):
    r = declare(session, clock, app)
    with pytest.raises(NotFound):
        checkins.record_answer(session, SYSTEM, outage_id=r.outage.id + 99, patient_id=world.short.id, answer="1",
                               channel="sms", now=clock.now(), notifier=notifier_for(app))
    with pytest.raises(NotFound):
        checkins.record_answer(session, SYSTEM, outage_id=r.outage.id, patient_id=world.away.id, answer="1",
                               channel="sms", now=clock.now(), notifier=notifier_for(app))
    with pytest.raises(Invalid):
        checkins.record_answer(session, SYSTEM, outage_id=r.outage.id, patient_id=world.short.id, answer="9",
                               channel="sms", now=clock.now(), notifier=notifier_for(app))


def outbox_keys(session):
    from bcp_service.messaging.models import OutboxMessage
    return set(session.scalars(select(OutboxMessage.key)))


def test_metronome_tick_advances_due_rows_and_the_task_link_acknowledges(app, session, clock, world, client):
    from bcp_service.scheduler import run_metronome_once

    r = declare(session, clock, app)
    clock.advance(minutes=15)
    assert run_metronome_once(app)["outages.rounds"] == "ok"
    assert f"outage:{r.outage.id}:patient:{world.short.id}:round:2:voice" in outbox_keys(session)
    clock.advance(minutes=15)
    run_metronome_once(app)
    task = session.scalars(select(FieldTask).where(FieldTask.patient_id == world.short.id)).one()
    from bcp_service.messaging.models import OutboxMessage
    body = session.scalars(select(OutboxMessage.body).where(OutboxMessage.key == f"outage:{r.outage.id}:task:{task.id}:sms")).one()
    token = body.split("/t/")[1].split()[0]
    page = client.get(f"/t/{token}")
    assert page.status_code == 200 and "試験 一郎" not in page.get_data(as_text=True)
    assert client.post(f"/t/{token}", data={"action": "bogus"}).status_code == 400
    # Signed-in field staff of this region see what they need at the door; another region's do not.
    from tests.conftest import TEST_PASSWORD, csrf_from
    from bcp_service.auth import services as auth_services

    def sign_in(scope, email, org_id=None):
        auth_services.create_user(session, email=email, password=TEST_PASSWORD, role="field_team", scope=scope,
                                  organization_id=org_id, display_name="試験 現場")
        session.commit()
        c = app.test_client()
        c.post("/login", data={"email": email, "password": TEST_PASSWORD,
                               "csrf_token": csrf_from(c.get("/login").get_data(as_text=True))})
        return c
    assert "試験 一郎" in sign_in("1301", "f1@example.invalid", world.nursing.id).get(f"/t/{token}").get_data(as_text=True)
    # Another organisation's field user of the same region: 403, the page included.
    assert sign_in("1301", "f3@example.invalid", world.near.id).get(f"/t/{token}").status_code == 403
    from bcp_service.orgs.models import Region
    session.add(Region(code="2701", name="大阪市", prefecture_code="27", kind="municipality",
                       municipality_codes=[], created_at=clock.now()))
    session.commit()
    assert "試験 一郎" not in sign_in("2701", "f2@example.invalid").get(f"/t/{token}").get_data(as_text=True)
    assert client.post(f"/t/{token}", data={"action": "report_transport"}).status_code == 302
    session.expire_all()
    assert session.get(FieldTask, task.id).status == "done"
    t = session.scalars(select(Transport).where(Transport.patient_id == world.short.id)).one()
    assert (t.reason, t.status) == ("field_report", "assigned")
    assert client.get("/t/not-a-token").status_code == 404


def test_undeliverable_checkin_sends_the_field_team_at_once(app, session, clock, world):
    from bcp_service.messaging import answers
    from bcp_service.messaging.models import OutboxMessage

    r = declare(session, clock, app)
    msg = session.scalars(select(OutboxMessage).where(
        OutboxMessage.key == f"outage:{r.outage.id}:patient:{world.long.id}:round:1:sms")).one()
    answers.escalate(session, msg, "21211 invalid number", clock.now())
    session.commit()
    row = session.scalars(select(OutagePatient).where(OutagePatient.patient_id == world.long.id)).one()
    # The registered contact (妻) is asked first, at once; the field team after the contact's silence.
    assert (row.checkin, row.contact_step) == ("unreachable", 1) and row.next_action_at is not None
    assert session.scalars(select(OutboxMessage.purpose).where(
        OutboxMessage.patient_id == world.long.id, OutboxMessage.to == "+819000009999")).all() == ["contact_checkin"]
    assert not session.scalars(select(FieldTask).where(FieldTask.patient_id == world.long.id)).all()
    answers.escalate(session, msg, "again", clock.now())          # a second failure adds nothing
    session.commit()
    clock.advance(minutes=16)
    jobs.run_due(app, now=clock.now())
    row = session.scalars(select(OutagePatient).where(OutagePatient.patient_id == world.long.id)).one()
    # The field team goes now; the service tries again later (channels may come back): a next step.
    assert (row.checkin, row.round) == ("unreachable", 3)
    assert clock.now() < row.next_action_at <= row.runs_out_at - timedelta(minutes=60)
    assert session.scalars(select(FieldTask).where(FieldTask.patient_id == world.long.id)).one().kind == "visit"
    answers.escalate(session, msg, "once more", clock.now())
    session.commit()
    assert len(session.scalars(select(FieldTask).where(FieldTask.patient_id == world.long.id)).all()) == 1


def test_demo_seed_declares_a_ready_scenario(app, session, clock):
    from bcp_service.demo import seed

    seed(patients=40)
    outage = session.scalars(select(Outage)).one()
    assert outage.status == "active" and outage.cause
    rows = session.scalars(select(OutagePatient).where(OutagePatient.outage_id == outage.id)).all()
    assert len(rows) > 0 and any(r.checkin == "ok" for r in rows) and any(r.checkin == "pending" for r in rows)
    assert any(k.startswith(f"outage:{outage.id}:patient:") for k in outbox_keys(session))


def test_drawn_area_includes_patients_without_coordinates_in_the_municipalities_it_reaches(app, session, clock,
                                                                                           world):
    def unplaced(name, ward):
        p = Patient(name=name, phone_e164=f"+81900001{len(name):04d}{ward[-2:]}", phone_kind="mobile",
                    municipality_code=ward, lat=None, lon=None, region_code="1301", runway_hours=5.0,
                    runway_tier="red", runway_explain="", created_at=clock.now(), updated_at=clock.now())
        session.add(p)
        session.flush()
        return p

    here = unplaced("試験 座標なし", WARD)
    elsewhere = unplaced("試験 座標なし別区", "131016")       # no located patient of 131016 inside the circle
    session.commit()
    r = declare(session, clock, app, area={"center": {"lat": 35.670, "lon": 139.770}, "radius_km": 1})
    rows = {op.patient_id for op in session.scalars(select(OutagePatient).where(OutagePatient.outage_id == r.outage.id))}
    assert here.id in rows and elsewhere.id not in rows
    assert world.short.id in rows and world.away.id not in rows          # 五郎 is 2.3 km away
    assert f"outage:{r.outage.id}:patient:{here.id}:round:1:sms" in outbox_keys(session)
    declared = session.scalars(select(OutageEvent).where(OutageEvent.outage_id == r.outage.id,
                                                         OutageEvent.kind == "declared")).one()
    assert declared.detail["without_coordinates"] == 1


def test_patients_without_a_nursing_station_go_to_the_on_call_team_that_can_be_texted(app, session, clock, world,
                                                                                       make_org):
    landline = make_org(name="試験当番病院", on_call_24h=True)
    landline.phone = "03-0000-0002"
    hub = make_org(name="試験連携拠点", kind="community_support_center", on_call_24h=True)
    hub.phone = "090-0000-0003"
    world.short.nursing_org_id = None
    session.commit()
    r = declare(session, clock, app)
    clock.advance(hours=2)
    jobs.run_due(app, now=clock.now())
    jobs.run_due(app, now=clock.now())
    task = session.scalars(select(FieldTask).where(FieldTask.outage_id == r.outage.id,
                                                   FieldTask.patient_id == world.short.id)).one()
    assert task.organization_id == hub.id
    assert session.scalars(select(OutboxMessage.to).where(
        OutboxMessage.key == f"outage:{r.outage.id}:task:{task.id}:sms")).one() == "+819000000003"


def test_services_check_role_and_region_themselves(app, session, clock, world, make_region):
    """Authorization lives in the service layer: no view is needed to refuse another region or role."""
    from bcp_service.auth.roles import Actor, Role
    from bcp_service.errors import OutOfScope
    from bcp_service.outages import field_tasks

    make_region("2701", prefecture_code="27", name="大阪市", municipality_codes=("271004",))
    world.nursing.on_call_24h = True          # the region's on-call team: it gets the transport task
    session.commit()
    r = declare(session, clock, app)
    osaka = Actor(user_id=None, role=Role.HUB_STAFF, scope="2701")
    field = Actor(user_id=None, role=Role.FIELD_TEAM, scope="1301", organization_id=world.nursing.id)
    stranger = Actor(user_id=None, role=Role.FIELD_TEAM, scope="1301", organization_id=world.near.id)
    tokyo = Actor(user_id=None, role=Role.HUB_STAFF, scope="1301")
    n = notifier_for(app)
    with pytest.raises(OutOfScope):
        checkins.record_answer(session, osaka, outage_id=r.outage.id, patient_id=world.short.id, answer="1",
                               channel="desk", now=clock.now(), notifier=n)
    with pytest.raises(OutOfScope):
        declaring.resolve_outage(session, osaka, r.outage.id, now=clock.now(), notifier=n)
    with pytest.raises(OutOfScope):
        restorations.change_restoration(session, field, r.outage.id, clock.now() + timedelta(hours=9), now=clock.now())
    with pytest.raises(OutOfScope):
        declaring.declare_outage(session, tokyo, declaring.DeclareOutage(
            area={"municipality_codes": [WARD]}, started_at=clock.now(), region_code="2701"),
            now=clock.now(), notifier=n)
    with pytest.raises(OutOfScope):
        transport.charging_points(session, osaka, r.outage.id, world.short.id)
    row = checkins.record_answer(session, tokyo, outage_id=r.outage.id, patient_id=world.short.id, answer="3",
                                 channel="desk", now=clock.now(), notifier=n)
    session.commit()
    task = session.scalars(select(FieldTask).where(FieldTask.transport_id == row.transport_id)).one()
    with pytest.raises(OutOfScope):
        field_tasks.acknowledge_task(session, osaka, task.id, now=clock.now())
    with pytest.raises(OutOfScope, match="担当ではありません"):      # another organisation's field user
        field_tasks.acknowledge_task(session, stranger, task.id, now=clock.now())
    with pytest.raises(OutOfScope):
        transport.update_transport(session, stranger, row.transport_id, status="en_route", facility_id=None,
                                   now=clock.now(), notifier=n)
    session.rollback()
    assert session.get(FieldTask, task.id).status == "open"
    with pytest.raises(OutOfScope):
        transport.update_transport(session, osaka, row.transport_id, status="en_route", facility_id=None,
                                   now=clock.now(), notifier=n)
    assert field_tasks.acknowledge_task(session, field, task.id, now=clock.now()).status == "acknowledged"
    t = transport.update_transport(session, field, row.transport_id, status="en_route", facility_id=None,
                                   now=clock.now(), notifier=n)
    assert t.status == "en_route"
    with pytest.raises(NotFound):      # a transport named under another outage is not found
        transport.update_transport(session, tokyo, row.transport_id, status="arrived", facility_id=None,
                                   now=clock.now(), notifier=n, outage_id=r.outage.id + 1)

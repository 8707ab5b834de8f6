"""Issue 13 (items 1, 2, 3, 5): an outage as a process that runs until the last patient is safe.
Every test runs on SQLite and PostgreSQL (the ``app`` fixture); time moves through the FrozenClock."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bcp_service.messaging.models import OutboxMessage
from bcp_service.messaging.tokens import TapClaims, make_token
from bcp_service.outages import checkins, jobs, queries, transport
from bcp_service.outages.access import SYSTEM
from bcp_service.outages.models import FieldTask, Outage, OutageEvent, OutagePatient, Transport
from bcp_service.outages.notify import notifier_for
from tests.integration.test_outage_services import OTHER_WARD, WARD, declare, outbox_keys, world  # noqa: F401

MARGIN = timedelta(minutes=60)       # the outage's default safety margin


def answer(app, session, clock, outage_id, patient_id, code, **kw):
    row = checkins.record_answer(session, SYSTEM, outage_id=outage_id, patient_id=patient_id, answer=code,
                                 channel="tap", now=clock.now(), notifier=notifier_for(app), **kw)
    session.commit()
    return row


def rows_by_id(session, outage_id, clock):
    outage = session.get(Outage, outage_id)
    return {r["patient_id"]: r for r in queries.triage_rows(session, outage, now=clock.now())}


def recheck_keys(session, outage_id, patient_id):
    prefix = f"outage:{outage_id}:patient:{patient_id}:recheck:"
    return sorted(k for k in outbox_keys(session) if k.startswith(prefix))


# --- 1. every affected patient always has a next step ------------------------------------------------

def test_ok_at_hour_0_is_rechecked_before_runout_and_gets_a_transport_proposal(app, session, clock, world):
    """四郎: 24 h ventilator, 10 h of power, a 72-hour outage. He answers 「1」 at hour 0."""
    r = declare(session, clock, app, expected_restoration_at=clock.now() + timedelta(hours=72))
    o, pid, start = r.outage.id, world.mid24.id, clock.now()
    runs_out = start + timedelta(hours=10)
    row = answer(app, session, clock, o, pid, "1")
    assert row.checkin == "ok"
    listed = rows_by_id(session, o, clock)[pid]
    assert listed["next_contact_at"] is not None and listed["runs_out_source"] == "registry"
    assert row.next_action_at <= runs_out - MARGIN
    # He runs out long before restoration: a proposal for the desk right away; the desk decides to
    # wait (a charging plan, say) and cancels it.
    first = session.scalars(select(Transport).where(Transport.patient_id == pid)).one()
    assert (first.status, first.reason) == ("proposed", "runs_out_before_restoration")
    transport.update_transport(session, SYSTEM, first.id, status="cancelled", facility_id=None, now=clock.now(),
                               notifier=notifier_for(app))
    session.commit()
    # Hour by hour: every re-check is answered 「1」 again; none comes after runs_out − margin.
    sent_at = []
    while clock.now() < runs_out - MARGIN:
        clock.advance(minutes=15)
        before = set(recheck_keys(session, o, pid))
        jobs.run_due(app, now=clock.now())
        new = set(recheck_keys(session, o, pid)) - before
        if new:
            sent_at.append(clock.now())
            answer(app, session, clock, o, pid, "1")
    assert sent_at, "an OK patient who runs out before restoration must be checked again"
    assert max(sent_at) <= runs_out - MARGIN
    assert any(at >= runs_out - MARGIN - timedelta(hours=2) for at in sent_at)   # one close to runout
    # The re-check proposed transport again (the situation has not changed): the desk sees it.
    again = session.scalars(select(Transport).where(Transport.patient_id == pid, Transport.status == "proposed")).one()
    assert first.created_at < again.created_at <= sent_at[0]
    assert session.scalar(select(func.count()).select_from(OutageEvent).where(
        OutageEvent.kind == "recheck", OutageEvent.patient_id == pid)) == len(sent_at)
    # Beside the proposal the desk sees where the family could charge instead (its choice).
    live = transport.charging_suggestions(session, queries.triage_rows(
        session, session.get(Outage, o), now=clock.now(), with_people=True))
    assert live[str(pid)] and all(c["distance_km"] is not None for c in live[str(pid)])


def test_a_silent_recheck_escalates_to_round_two_and_the_field_team_once(app, session, clock, world):
    r = declare(session, clock, app, expected_restoration_at=clock.now() + timedelta(hours=72))
    o, pid = r.outage.id, world.mid24.id
    answer(app, session, clock, o, pid, "1")
    due = session.scalars(select(OutagePatient).where(OutagePatient.patient_id == pid)).one().next_action_at
    clock.advance(seconds=(due - clock.now()).total_seconds())
    jobs.run_due(app, now=clock.now())
    assert recheck_keys(session, o, pid) == [f"outage:{o}:patient:{pid}:recheck:1:round:1:sms"]
    clock.advance(minutes=15)
    jobs.run_due(app, now=clock.now())
    assert f"outage:{o}:patient:{pid}:recheck:1:round:2:voice" in outbox_keys(session)
    clock.advance(minutes=15)
    jobs.run_due(app, now=clock.now())
    row = session.scalars(select(OutagePatient).where(OutagePatient.patient_id == pid)).one()
    assert row.checkin == "no_answer" and row.next_action_at is not None    # the service tries again later
    assert len(session.scalars(select(FieldTask).where(FieldTask.patient_id == pid)).all()) == 1
    # The next cycle meets silence too while the visit is still open: no second team is sent.
    for _ in range(3):
        clock.advance(seconds=max(60, (row.next_action_at - clock.now()).total_seconds()))
        jobs.run_due(app, now=clock.now())
        session.refresh(row)
    assert row.cycle == 2
    assert len(session.scalars(select(FieldTask).where(FieldTask.patient_id == pid)).all()) == 1


def test_next_contact_is_null_only_when_safe_at_a_facility_restored_or_resolved(app, session, clock, world, client,
                                                                                make_user, auth_headers):
    r = declare(session, clock, app)
    o = r.outage.id
    answer(app, session, clock, o, world.long.id, "1")          # green, fine: a re-check all the same
    answer(app, session, clock, o, world.short.id, "3")         # transport assigned to the near hospital
    listed = rows_by_id(session, o, clock)
    assert all(x["next_contact_at"] for x in listed.values()), listed
    t = session.scalars(select(Transport).where(Transport.patient_id == world.short.id)).one()
    transport.update_transport(session, SYSTEM, t.id, status="arrived", facility_id=None, now=clock.now(),
                               notifier=notifier_for(app))
    session.commit()
    listed = rows_by_id(session, o, clock)
    assert listed[world.short.id]["next_contact_at"] is None                 # safe at a facility
    assert listed[world.long.id]["next_contact_at"] is not None
    body = client.get(f"/api/v1/outages/{o}/patients", headers=auth_headers(make_user("hub_staff"))).get_json()
    assert {"next_contact_at", "runs_out_source"} <= set(body["items"][0])
    from bcp_service.outages import declare as declaring
    declaring.resolve_outage(session, SYSTEM, o, now=clock.now(), notifier=notifier_for(app))
    session.commit()
    assert all(x["next_contact_at"] is None for x in rows_by_id(session, o, clock).values())


# --- 2. reported hours replace the estimate ----------------------------------------------------------

def test_one_tap_hours_left_sets_runs_out_and_bad_hours_change_nothing(app, session, clock, world, client):
    r = declare(session, clock, app)
    o, pid = r.outage.id, world.long.id                          # registry: 40 h
    token = make_token(app.config["SECRET_KEY"], TapClaims("checkin", pid, o))
    page = client.get(f"/r/{token}").get_data(as_text=True)
    assert 'name="hours_left"' in page
    for bad in ("abc", "100", "-1", "nan"):
        res = client.post(f"/r/{token}", data={"answer": "2", "hours_left": bad})
        assert res.status_code == 400
        html = res.get_data(as_text=True)
        assert "残り時間は 0〜72 の数字（時間）で入力してください。" in html and 'name="hours_left"' in html
    session.expire_all()
    row = session.scalars(select(OutagePatient).where(OutagePatient.patient_id == pid)).one()
    assert (row.checkin, row.reported_hours) == ("pending", None)
    clock.advance(minutes=20)
    done = client.post(f"/r/{token}", data={"answer": "２", "hours_left": "３"})
    assert done.status_code == 400            # the answer itself must be 1, 2 or 3 (as typed by the button)
    done = client.post(f"/r/{token}", data={"answer": "2", "hours_left": "３"})
    assert done.status_code == 200
    session.expire_all()
    row = session.scalars(select(OutagePatient).where(OutagePatient.patient_id == pid)).one()
    assert (row.checkin, row.reported_hours, row.runs_out_at) == ("low_battery", 3.0, clock.now() + timedelta(hours=3))
    listed = rows_by_id(session, o, clock)[pid]
    assert listed["runs_out_source"] == "reported" and listed["tier"] == "red"
    # Power now runs out before the 8 h restoration: a proposal, and the next check before runout.
    assert session.scalars(select(Transport).where(Transport.patient_id == pid)).one().status == "proposed"
    assert row.next_action_at <= row.runs_out_at - MARGIN
    # 「2」 without a figure: the page offers the field afterwards; the figure stays as reported.
    clock.advance(minutes=5)
    again = client.post(f"/r/{token}", data={"answer": "2"})
    assert again.status_code == 200 and 'name="hours_left"' in again.get_data(as_text=True)
    session.expire_all()
    assert session.get(OutagePatient, row.id).reported_hours == 3.0


def test_hours_left_counts_only_with_answer_2(app, session, clock, world, client):
    r = declare(session, clock, app)
    token = make_token(app.config["SECRET_KEY"], TapClaims("checkin", world.mid24.id, r.outage.id))
    # hours_left only counts with 「2」: with 「1」 the field is ignored.
    assert client.post(f"/r/{token}", data={"answer": "1", "hours_left": "5"}).status_code == 200
    session.expire_all()
    row = session.scalars(select(OutagePatient).where(OutagePatient.patient_id == world.mid24.id)).one()
    assert (row.checkin, row.reported_hours) == ("ok", None)


# --- 3. urgent first ---------------------------------------------------------------------------------

def test_needs_help_rows_come_first_oldest_request_first(app, session, clock, world, client, make_user,
                                                          auth_headers):
    r = declare(session, clock, app)
    o = r.outage.id
    answer(app, session, clock, o, world.long.id, "3")          # green (40 h) but asks for help first
    clock.advance(minutes=5)
    answer(app, session, clock, o, world.mid.id, "3")
    clock.advance(minutes=5)
    answer(app, session, clock, o, world.long.id, "3")          # asking again keeps the older request
    body = client.get(f"/api/v1/outages/{o}/patients", headers=auth_headers(make_user("hub_staff"))).get_json()
    order = [x["patient_id"] for x in body["items"]]
    assert order == [world.long.id, world.mid.id, world.short.id, world.mid24.id]
    assert [x["checkin"] for x in body["items"][:2]] == ["needs_help", "needs_help"]
    # An answer 「1」 ends the request: back to the runway order.
    answer(app, session, clock, o, world.long.id, "1")
    order = [x["patient_id"] for x in rows_by_id(session, o, clock).values()]
    assert order == [world.mid.id, world.short.id, world.mid24.id, world.long.id]


# --- 5. restoration changes --------------------------------------------------------------------------

def test_patch_restoration_retriages_at_once_and_flags_proposals_no_longer_needed(app, session, clock, world,
                                                                                  client, make_user, auth_headers):
    headers = auth_headers(make_user("hub_staff"))
    r = declare(session, clock, app)                              # restoration in 8 h
    o = r.outage.id
    answer(app, session, clock, o, world.mid24.id, "1")          # 10 h: fine, outlasts the 8 h restoration
    assert transport.propose_transports(session, SYSTEM, o, now=clock.now()) == 1   # 一郎 (2 h)
    session.commit()
    before_next = session.scalars(select(OutagePatient).where(OutagePatient.patient_id == world.mid24.id)).one().next_action_at
    # Restoration slips to 30 h: 四郎 (ok), 三郎 (pending, 10 h) now run out first. Within the request:
    res = client.patch(f"/api/v1/outages/{o}", json={"expected_restoration_at": (clock.now() + timedelta(hours=30)).isoformat()},
                       headers=headers)
    assert res.status_code == 200, res.get_json()
    proposed = {t.patient_id for t in session.scalars(select(Transport).where(Transport.status == "proposed"))}
    assert proposed == {world.short.id, world.mid.id, world.mid24.id}
    row = session.scalars(select(OutagePatient).where(OutagePatient.patient_id == world.mid24.id)).one()
    assert row.next_action_at <= min(before_next, clock.now() + timedelta(hours=10) - MARGIN)
    assert res.get_json()["counts"]["tier"]["red"] == 3
    # Restoration moves to 3 h from now: only 一郎 (2 h) still runs out first; the others' proposals
    # are flagged for the desk, not dropped.
    res = client.patch(f"/api/v1/outages/{o}", json={"expected_restoration_at": (clock.now() + timedelta(hours=3)).isoformat()},
                       headers=headers)
    assert res.status_code == 200
    assert res.get_json()["changes"]["retriage"]["flagged_not_needed"] == 2
    ts = {t.patient_id: t for t in session.scalars(select(Transport))}
    assert {p: (t.status, t.flag) for p, t in ts.items()} == {
        world.short.id: ("proposed", None), world.mid.id: ("proposed", "not_needed"),
        world.mid24.id: ("proposed", "not_needed")}
    listed = client.get(f"/api/v1/outages/{o}/transports", headers=headers).get_json()["items"]
    assert sorted(t["flag"] or "" for t in listed) == ["", "not_needed", "not_needed"]
    # Bad input: a restoration before the start → 400 with fields, nothing changed.
    res = client.patch(f"/api/v1/outages/{o}", json={"expected_restoration_at": (clock.now() - timedelta(hours=1)).isoformat()},
                       headers=headers)
    assert res.status_code == 400 and "expected_restoration_at" in res.get_json()["error"]["fields"]
    session.expire_all()
    assert session.get(Outage, o).expected_restoration_at == clock.now() + timedelta(hours=3)


def test_restorations_restore_part_of_the_area_then_resolve_the_outage(app, session, clock, world, client,
                                                                       make_user, auth_headers):
    headers = auth_headers(make_user("hub_staff"))
    r = declare(session, clock, app, area={"municipality_codes": [WARD, OTHER_WARD]})
    o = r.outage.id
    assert r.affected == 5
    url = f"/api/v1/outages/{o}/restorations"
    # An area that reaches no patient of this outage: 400 with fields, nothing changed.
    res = client.post(url, json={"area": {"municipality_codes": ["131016"]}}, headers=headers)
    assert res.status_code == 400 and "area" in res.get_json()["error"]["fields"]
    res = client.post(url, json={"area": {"center": {"lat": 35.0, "lon": 135.0}, "radius_km": 1}}, headers=headers)
    assert res.status_code == 400
    assert session.scalar(select(func.count()).select_from(OutagePatient).where(OutagePatient.restored_at.is_not(None))) == 0
    # 五郎's ward comes back (a circle around him).
    res = client.post(url, json={"area": {"center": {"lat": 35.658, "lon": 139.751}, "radius_km": 0.5}}, headers=headers)
    assert res.status_code == 200 and res.get_json()["restored"] == 1
    keys = outbox_keys(session)
    assert f"outage:{o}:patient:{world.away.id}:restoration:sms" in keys
    assert sum(1 for k in keys if k.endswith(":restoration:sms")) == 1            # only him
    summary = client.get(f"/api/v1/outages/{o}", headers=headers).get_json()
    assert (summary["affected"], summary["restored"], summary["status"]) == (4, 1, "active")
    listed = client.get(f"/api/v1/outages/{o}/patients", headers=headers).get_json()["items"]
    assert world.away.id not in {x["patient_id"] for x in listed}
    # No more check-ins for him: silence timers pass, nothing new is sent to him.
    clock.advance(hours=1)
    jobs.run_due(app, now=clock.now())
    assert not [k for k in outbox_keys(session) if f":patient:{world.away.id}:" in k and ":round:2:" in k]
    assert session.scalars(select(OutageEvent).where(OutageEvent.kind == "area_restored")).one().detail["count"] == 1
    # His 1 h runway no longer matters: the clock's proposals pass him by.
    transport.propose_transports(session, SYSTEM, o, now=clock.now())
    session.commit()
    assert world.away.id not in set(session.scalars(select(Transport.patient_id)))
    # Again: idempotent, no second message.
    res = client.post(url, json={"area": {"center": {"lat": 35.658, "lon": 139.751}, "radius_km": 0.5}}, headers=headers)
    assert res.get_json()["restored"] == 0
    assert sum(1 for k in outbox_keys(session) if k.endswith(":restoration:sms")) == 1
    # The rest comes back: the outage resolves itself, each patient told once.
    res = client.post(url, json={"area": {"municipality_codes": [WARD]}}, headers=headers)
    assert res.get_json() == {"restored": 4, "outage_resolved": True}
    session.expire_all()
    assert session.get(Outage, o).status == "resolved"
    notices = [k for k in outbox_keys(session) if ":restoration:" in k]
    assert len(notices) == 5 and len(set(notices)) == 5
    res = client.post(url, json={"area": {"municipality_codes": [WARD]}}, headers=headers)
    assert res.status_code == 409


def test_an_answered_patient_handed_over_from_a_resolved_overlapping_outage_keeps_a_next_step(app, session, clock,
                                                                                             world):
    from bcp_service.outages import declare as declaring

    first = declare(session, clock, app)
    second = declare(session, clock, app, area={"center": {"lat": 35.670, "lon": 139.770}, "radius_km": 5})
    answer(app, session, clock, first.outage.id, world.long.id, "1")
    mine = session.scalars(select(OutagePatient).where(OutagePatient.outage_id == second.outage.id,
                                                       OutagePatient.patient_id == world.long.id)).one()
    assert mine.checkin == "ok" and rows_by_id(session, second.outage.id, clock)[world.long.id]["next_contact_at"]
    declaring.resolve_outage(session, SYSTEM, first.outage.id, now=clock.now(), notifier=notifier_for(app))
    session.commit()
    session.refresh(mine)
    assert mine.covered_by_outage_id is None and mine.next_action_at is not None
    assert rows_by_id(session, second.outage.id, clock)[world.long.id]["next_contact_at"] is not None

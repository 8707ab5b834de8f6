"""Declaring an outage: the area, who is in it, round 1; changing the area; resolving it (a new
expected restoration and restored parts of the area: ``restorations``). Each function does one use case in the caller's transaction (the caller
commits) and checks the actor's role and region scope itself (``access``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bcp_service.auth.roles import Actor
from bcp_service.db import bulk_insert
from bcp_service.errors import Conflict, Invalid, Unprocessable
from bcp_service.geo.area import Point, area_from
from bcp_service.messaging import outbox
from bcp_service.outages import access, drill_overlap, rounds, states, transport, triage, wakeup
from bcp_service.outages.models import Outage, OutagePatient
from bcp_service.outages.ports import Notifier, Recipient, priority
from bcp_service.outages.states import OutageStatus
from bcp_service.outages.timeline import event
from bcp_service.clock import to_local
from bcp_service.registry.models import Patient, dependent_24h_clause
from bcp_service.registry.schedules import scheduled_runways
from bcp_service.registry.services import municipality_regions

@dataclass(frozen=True)
class DeclareOutage:
    area: dict
    started_at: datetime
    expected_restoration_at: datetime | None = None
    cause: str | None = None
    drill: bool = False
    region_code: str | None = None
    silence_minutes: float = 15.0
    safety_margin_minutes: float = 60.0
    # For drills (and the drills engineer): contact only these organisations' / these patients.
    patient_filter: dict | None = None


@dataclass
class DeclareResult:
    outage: Outage
    affected: int
    messaged: int
    covered: int



def escalation_policy(outage: Outage) -> rounds.EscalationPolicy:
    return rounds.EscalationPolicy(outage.silence_minutes, outage.safety_margin_minutes)


def _dependent_24h_clause():
    # One owner of the rule: registry.runway.is_dependent_24h, in SQL as registry.models.dependent_24h_clause.
    return dependent_24h_clause()


@dataclass(frozen=True)
class _Candidate:
    id: int
    lat: float | None
    lon: float | None
    municipality_code: str | None
    runway_hours: float | None
    phone_e164: str | None
    phone_kind: str | None
    dependent_24h: bool
    located: bool = True        # False: no coordinates; included because the area reaches their municipality


def _validate_filter(pf: dict | None) -> dict | None:
    if pf is None:
        return None
    if not isinstance(pf, dict) or set(pf) - {"organization_ids", "patient_ids"}:
        raise Invalid("patient_filter は organization_ids / patient_ids だけを持てます。",
                      fields={"patient_filter": ["organization_ids または patient_ids の配列です"]})
    out = {}
    for key in ("organization_ids", "patient_ids"):
        if key in pf and pf[key] is not None:
            ids = pf[key]
            if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                raise Invalid(f"{key} は整数の配列です。", fields={f"patient_filter.{key}": ["整数の配列です"]})
            out[key] = sorted(set(ids))
    return out


def affected_candidates(session: Session, area_spec: dict, *, region_code: str | None, drill: bool,
                        patient_filter: dict | None) -> list[_Candidate]:
    """Active, contactable patients inside the area (drills: only those who opted in).

    A drawn area (polygon, circle) cannot place a patient registered without coordinates. Leaving
    them out is the dangerous mistake for someone on a ventilator, so those registered in a
    municipality the area reaches (one where a located patient falls inside) are included, marked
    ``located=False``; a check-in they did not need costs one message.
    """
    area = area_from(area_spec)
    stmt = select(Patient.id, Patient.lat, Patient.lon, Patient.municipality_code, Patient.runway_hours,
                  Patient.phone_e164, Patient.phone_kind, _dependent_24h_clause().label("dep")).where(
        Patient.status == "active", Patient.deleted_at.is_(None))
    if region_code is not None:
        stmt = stmt.where(Patient.region_code == region_code)
    if drill:
        stmt = stmt.where(Patient.drill_opt_in.is_(True))
    if patient_filter:
        if patient_filter.get("organization_ids") is not None:
            ids = patient_filter["organization_ids"]
            stmt = stmt.where(or_(Patient.primary_org_id.in_(ids), Patient.nursing_org_id.in_(ids)))
        if patient_filter.get("patient_ids") is not None:
            stmt = stmt.where(Patient.id.in_(patient_filter["patient_ids"]))

    def candidates(query, *, located: bool = True) -> list[_Candidate]:
        return [_Candidate(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), located)
                for r in session.execute(query)]

    if area.kind == "municipality_codes":
        # Patients whose municipality is unknown: the region's (or, without one, those of the regions
        # covering the codes), unless their coordinates place them clearly elsewhere (issue 12).
        by_code = municipality_regions(session) if region_code is None else {}
        regions = [region_code] if region_code is not None else sorted(
            {r for c in area.codes for r in by_code.get(c, ())})
        unknown = candidates(stmt.where(Patient.municipality_code.is_(None), Patient.region_code.in_(regions)))
        return (candidates(stmt.where(Patient.municipality_code.in_(sorted(area.codes))))
                + [c for c in unknown if area.takes_in_unknown(c.lat, c.lon)])
    s, w, n, e = area.bbox()  # the database prefilters by box; exact shape test below
    rows = candidates(stmt.where(Patient.lat.between(s, n), Patient.lon.between(w, e)))
    inside = set(area.select([Point(r.id, r.lat, r.lon, r.municipality_code) for r in rows]))
    found = [r for r in rows if r.id in inside]
    reached = sorted({r.municipality_code for r in found if r.municipality_code})
    if reached:
        found += candidates(stmt.where(or_(Patient.lat.is_(None), Patient.lon.is_(None)),
                                       Patient.municipality_code.in_(reached)), located=False)
    return found


def _active_coverage(session: Session, *, drill: bool, exclude_outage: int | None = None) -> dict[int, int]:
    """patient id → the active outage (same kind: drill or real) already checking in with them."""
    stmt = (select(OutagePatient.patient_id, OutagePatient.outage_id)
            .join(Outage, Outage.id == OutagePatient.outage_id)
            .where(Outage.status == OutageStatus.ACTIVE.value, Outage.drill.is_(drill), OutagePatient.in_area.is_(True),
                   OutagePatient.covered_by_outage_id.is_(None), OutagePatient.round >= 1))
    if exclude_outage is not None:
        stmt = stmt.where(OutagePatient.outage_id != exclude_outage)
    return {pid: oid for pid, oid in session.execute(stmt)}


def _add_patients(session: Session, outage: Outage, candidates: Sequence[_Candidate], *, now: datetime,
                  notifier: Notifier) -> tuple[int, int]:
    """Insert rows for new affected patients and queue their round 1 (one bulk statement each)."""
    if not candidates:
        return 0, 0
    coverage = _active_coverage(session, drill=outage.drill, exclude_outage=outage.id)
    if outage.drill:   # in an active real outage: never a drill message (listed on the drill page)
        coverage.update(drill_overlap.real_outage_patients(session))
    policy = escalation_policy(outage)
    to_message: list[Recipient] = []
    columns = ("outage_id", "patient_id", "in_area", "runway_hours", "dependent_24h", "runs_out_at", "checkin",
               "round", "round_sent_at", "first_sent_at", "next_action_at", "covered_by_outage_id", "added_at")

    # Daily device schedules followed from this outage's start (issue 13); others: the stored worst case.
    scheduled = scheduled_runways(session, [c.id for c in candidates], outage.started_at,
                                  today=to_local(now).date())

    def rows():
        # A generator: triage runs while the database writes the rows before (COPY on PostgreSQL).
        for c in candidates:
            hours = scheduled.get(c.id, c.runway_hours)
            out = triage.runs_out_at(outage.started_at, hours)
            covered = coverage.get(c.id)
            if not covered:
                to_message.append(Recipient(c.id, c.phone_e164, c.phone_kind, priority(out, now)))
            yield (outage.id, c.id, True, hours, c.dependent_24h, out, "pending",
                   0 if covered else 1, None if covered else now, None if covered else now,
                   None if covered else rounds.next_action_at(round_sent=1, sent_at=now, runs_out_at=out,
                                                              policy=policy),
                   covered, now)

    bulk_insert(session, OutagePatient.__table__, columns, rows())
    notifier.checkin(session, outage, to_message, round_no=1, now=now)
    if not outage.drill:
        drill_overlap.withdraw_from_drills(session, outage, now=now)
    return len(to_message), len(candidates) - len(to_message)




def _check_times(started_at: datetime, expected: datetime | None) -> None:
    if expected is not None and expected <= started_at:
        raise Invalid("復旧見込み時刻は停電開始より後にしてください。",
                      fields={"expected_restoration_at": ["停電開始より後の時刻を指定してください"]})



def declare_outage(session: Session, actor: Actor, cmd: DeclareOutage, *, now: datetime,
                   notifier: Notifier) -> DeclareResult:
    """Desk staff declare in their own region (an admin in any, or none); round 1 is queued here."""
    region_code = access.declaring_region(session, actor, cmd.region_code)
    area = area_from(cmd.area)                                   # InvalidArea → 400, nothing written
    _check_times(cmd.started_at, cmd.expected_restoration_at)
    pf = _validate_filter(cmd.patient_filter)
    policy = rounds.EscalationPolicy(cmd.silence_minutes, cmd.safety_margin_minutes) \
        if cmd.silence_minutes > 0 and cmd.safety_margin_minutes >= 0 else None
    if policy is None:
        raise Invalid("silence_minutes は正、safety_margin_minutes は 0 以上です。",
                      fields={"silence_minutes": ["正の数を指定してください"]})
    candidates = affected_candidates(session, area.to_json(), region_code=region_code, drill=cmd.drill,
                                     patient_filter=pf)
    if not candidates:
        raise Unprocessable("この範囲に該当する在宅患者がいません（範囲・圏域・訓練参加の設定を確認してください）。",
                            code="no_patients_in_area")
    outage = Outage(status=OutageStatus.ACTIVE.value, drill=cmd.drill, region_code=region_code, cause=cmd.cause,
                    area=area.to_json(), area_kind=area.kind, patient_filter=pf, started_at=cmd.started_at,
                    expected_restoration_at=cmd.expected_restoration_at, declared_at=now,
                    declared_by=actor.user_id, silence_minutes=policy.silence_minutes,
                    safety_margin_minutes=policy.safety_margin_minutes)
    session.add(outage)
    session.flush()
    messaged, covered = _add_patients(session, outage, candidates, now=now, notifier=notifier)
    event(session, outage.id, "declared", at=now, actor_user_id=actor.user_id, affected=len(candidates),
          messaged=messaged, covered_by_other_outage=covered, drill=cmd.drill, area_kind=area.kind,
          without_coordinates=sum(not c.located for c in candidates))
    wakeup.request(session)        # transport proposals: the clock, the moment this commits
    return DeclareResult(outage, len(candidates), messaged, covered)


def change_area(session: Session, actor: Actor, outage_id: int, area_spec: dict, *, now: datetime,
                notifier: Notifier) -> dict:
    """Widen or narrow: newcomers get round 1; people who leave the area get no more messages;
    anyone who already had round 1 (even if they left and came back) never gets it again."""
    outage = access.outage_for(session, actor, outage_id, for_update=True)
    area = area_from(area_spec)
    if not states.may_change(outage.status):
        raise Conflict("復旧済みの停電の範囲は変更できません。")
    candidates = affected_candidates(session, area.to_json(), region_code=outage.region_code,
                                     drill=outage.drill, patient_filter=outage.patient_filter)
    if not candidates:
        raise Unprocessable("新しい範囲に該当する在宅患者がいません。", code="no_patients_in_area")
    wanted = {c.id for c in candidates}
    existing = {pid: (rid, in_area) for rid, pid, in_area in session.execute(
        select(OutagePatient.id, OutagePatient.patient_id, OutagePatient.in_area)
        .where(OutagePatient.outage_id == outage.id))}
    leaving = [rid for pid, (rid, inside) in existing.items() if inside and pid not in wanted]
    returning = [rid for pid, (rid, inside) in existing.items() if not inside and pid in wanted]
    if leaving:
        session.execute(update(OutagePatient).where(OutagePatient.id.in_(leaving))
                        .values(in_area=False, next_action_at=None))
        _hand_over_coverage(session, outage, now=now,
                            patient_ids=[pid for pid, (rid, inside) in existing.items() if rid in set(leaving)])
    if returning:
        # Back inside: resume escalation from where it stood (no second round 1).
        session.execute(update(OutagePatient).where(OutagePatient.id.in_(returning))
                        .values(in_area=True, next_action_at=None))
        for op in session.scalars(select(OutagePatient).where(OutagePatient.id.in_(returning))):
            if op.checkin == "pending" and op.covered_by_outage_id is None and op.round_sent_at is not None:
                op.next_action_at = rounds.next_action_at(round_sent=op.round, sent_at=op.round_sent_at,
                                                          runs_out_at=op.runs_out_at, policy=escalation_policy(outage))
            elif op.covered_by_outage_id is None and op.restored_at is None:
                op.next_action_at = _recheck_at(op, outage, now)      # answered before: follow-up resumes
    new = [c for c in candidates if c.id not in existing]
    messaged, covered = _add_patients(session, outage, new, now=now, notifier=notifier)
    # Keep the *original* kind of description: a changed area replaces the old one.
    outage.area, outage.area_kind = area.to_json(), area.kind
    event(session, outage.id, "area_changed", at=now, actor_user_id=actor.user_id, added=len(new),
          removed=len(leaving), returned=len(returning), messaged=messaged, area_kind=area.kind,
          without_coordinates=sum(not c.located for c in candidates))
    wakeup.request(session)
    return {"added": len(new), "removed": len(leaving), "returned": len(returning), "messaged": messaged,
            "affected": len(wanted)}


def resolve_outage(session: Session, actor: Actor, outage_id: int, *, now: datetime,
                   notifier: Notifier) -> Outage:
    outage = access.outage_for(session, actor, outage_id, for_update=True)
    if not states.may_resolve(outage.status):
        raise Conflict("この停電はすでに復旧済みです。", code="already_resolved")
    outage.status, outage.resolved_at = OutageStatus.RESOLVED.value, now
    session.execute(update(OutagePatient).where(OutagePatient.outage_id == outage.id)
                    .values(next_action_at=None))
    outbox.cancel_pending(session, outage_id=outage.id, purpose="checkin", now=now)
    # Everyone we checked in with hears that the power is back.
    reached = session.execute(
        select(Patient.id, Patient.phone_e164, Patient.phone_kind)
        .join(OutagePatient, OutagePatient.patient_id == Patient.id)
        .where(OutagePatient.outage_id == outage.id, OutagePatient.round >= 1,
               OutagePatient.covered_by_outage_id.is_(None))).all()
    sent = notifier.restoration(session, outage, [Recipient(*r) for r in reached], now=now)
    # Proposals that nobody confirmed are void now; every bed this outage held is given back.
    proposals_cancelled = transport.release_on_resolve(session, outage, now=now)
    _hand_over_coverage(session, outage, now=now)
    event(session, outage.id, "resolved", at=now, actor_user_id=actor.user_id, restoration_notices=sent,
          proposals_cancelled=proposals_cancelled)
    return outage


def _hand_over_coverage(session: Session, outage: Outage, *, now: datetime,
                        patient_ids: Sequence[int] | None = None) -> None:
    """Patients of other still-active outages were checked through this one (resolved, or they
    left its area): their own outage carries on from the same round and state."""
    stmt = (select(OutagePatient).join(Outage, Outage.id == OutagePatient.outage_id)
            .where(OutagePatient.covered_by_outage_id == outage.id, Outage.status == OutageStatus.ACTIVE.value,
                   Outage.drill.is_(outage.drill)))   # a drill never takes over from a real outage
    if patient_ids is not None:
        if not patient_ids:
            return
        stmt = stmt.where(OutagePatient.patient_id.in_(list(patient_ids)))
    rows = session.scalars(stmt).all()
    if not rows:
        return
    mine = {op.patient_id: op for op in session.scalars(
        select(OutagePatient).where(OutagePatient.outage_id == outage.id,
                                    OutagePatient.patient_id.in_([r.patient_id for r in rows])))}
    for r in rows:
        src = mine.get(r.patient_id)
        r.covered_by_outage_id = None
        r.round = src.round if src else 1
        r.round_sent_at = src.round_sent_at if src else now
        r.first_sent_at = src.first_sent_at if src else now
        if src is not None and r.checkin == "pending":
            r.checkin = src.checkin
        if r.checkin == "pending" and r.in_area and r.round < rounds.LAST_ROUND:
            r.next_action_at = now   # continue escalating in the outage that is still going on
        elif r.in_area and r.restored_at is None:
            # Answered (or the field team went): the follow-up continues in the outage still going on.
            r.next_action_at = _recheck_at(r, session.get(Outage, r.outage_id), now)
        event(session, r.outage_id, "coverage_handed_over", at=now, patient_id=r.patient_id,
              from_outage=outage.id)


def _recheck_at(r: OutagePatient, outage: Outage, now: datetime) -> datetime | None:
    from bcp_service.outages.checkins import schedule_recheck      # checkins builds on this module

    return schedule_recheck(r, outage, now=now)

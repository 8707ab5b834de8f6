"""Outage desk use cases. Each function takes a session and does one use case in the caller's
transaction (the caller commits); nothing here commits halfway.

Sending goes through a ``Notifier`` port (``notify.py``): the real one writes outbox rows with
idempotent keys, so a declared outage always has its messages and a retry never sends twice.
"""
from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable, Protocol, Sequence

from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bcp_service.clock import iso_local
from bcp_service.db import copy_rows
from bcp_service.errors import Conflict, Gone, Invalid, NotFound, Unprocessable
from bcp_service.geo.area import Point, area_from
from bcp_service.messaging import outbox
from bcp_service.orgs.models import Organization
from bcp_service.outages import rounds, triage
from bcp_service.outages.matching import FacilityInfo, Matcher
from bcp_service.outages.models import (
    FacilityReservation, FieldTask, Outage, OutageEvent, OutagePatient, Transport,
)
from bcp_service.registry.models import Patient, PatientDevice
from bcp_service.registry.phones import route as phone_route
from bcp_service.registry.services import municipality_regions

log = logging.getLogger(__name__)

ANSWER_CODES = {"1": "ok", "2": "low_battery", "3": "needs_help"}
ANSWERS = frozenset(ANSWER_CODES.values())
BED_STATUSES = frozenset({"assigned", "en_route", "arrived"})
TERMINAL_TRANSPORT = frozenset({"arrived", "cancelled"})
# Answers for which hours reported by the family re-compute ``runs_out_at``.
REPORTS_HOURS = frozenset({"low_battery", "needs_help"})


# --- the port to messaging ----------------------------------------------------------------------

@dataclass(frozen=True)
class Recipient:
    patient_id: int
    phone_e164: str | None
    phone_kind: str | None
    priority: int = 100          # minutes of power left: the outbox sends the lowest first


def _priority(runs_out: datetime, now: datetime) -> int:
    return max(0, min(100_000, int((runs_out - now).total_seconds() // 60)))


class Notifier(Protocol):
    def checkin(self, session: Session, outage: Outage, recipients: Sequence[Recipient], *,
                round_no: int, now: datetime) -> int: ...

    # The task messages return None when queued, or why the team cannot be texted (no_phone,
    # invalid_phone, not_mobile): the task then waits on the desk's list for a phone call.
    def field_task(self, session: Session, outage: Outage, task: FieldTask, *, to: str | None,
                   now: datetime) -> str | None: ...

    def transport_task(self, session: Session, outage: Outage, task: FieldTask, *, to: str | None,
                       facility_name: str, now: datetime) -> str | None: ...

    def restoration(self, session: Session, outage: Outage, recipients: Sequence[Recipient], *,
                    now: datetime) -> int: ...


# --- commands -----------------------------------------------------------------------------------

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
    declared_by: int | None = None


@dataclass
class DeclareResult:
    outage: Outage
    affected: int
    messaged: int
    covered: int


# --- small helpers ------------------------------------------------------------------------------

def event(session: Session, outage_id: int, kind: str, *, at: datetime, patient_id: int | None = None,
          actor_user_id: int | None = None, **detail) -> None:
    session.add(OutageEvent(outage_id=outage_id, at=at, kind=kind, patient_id=patient_id,
                            actor_user_id=actor_user_id, detail=detail or None))


def get_outage(session: Session, outage_id: int, *, for_update: bool = False) -> Outage:
    stmt = select(Outage).where(Outage.id == outage_id)
    if for_update:
        stmt = stmt.with_for_update()
    outage = session.scalars(stmt).first()
    if outage is None:
        raise NotFound(f"outage {outage_id} not found")
    return outage


def _policy(outage: Outage) -> rounds.EscalationPolicy:
    return rounds.EscalationPolicy(outage.silence_minutes, outage.safety_margin_minutes)


def _dependent_24h_clause():
    # A life-sustaining device used around the clock: nobody can breathe unaided between uses.
    return exists().where(
        PatientDevice.patient_id == Patient.id,
        PatientDevice.hours_per_day >= 24,
        or_(PatientDevice.life_sustaining.is_(True),
            and_(PatientDevice.life_sustaining.is_(None),
                 PatientDevice.kind.in_(("ventilator", "oxygen_concentrator")))),
    )


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
            .where(Outage.status == "active", Outage.drill.is_(drill), OutagePatient.in_area.is_(True),
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
    policy = _policy(outage)
    to_message: list[Recipient] = []
    columns = ("outage_id", "patient_id", "in_area", "runway_hours", "dependent_24h", "runs_out_at", "checkin",
               "round", "round_sent_at", "first_sent_at", "next_action_at", "covered_by_outage_id", "added_at")

    def rows():
        # A generator: triage runs while the database writes the rows before (COPY on PostgreSQL).
        for c in candidates:
            out = triage.runs_out_at(outage.started_at, c.runway_hours)
            covered = coverage.get(c.id)
            if not covered:
                to_message.append(Recipient(c.id, c.phone_e164, c.phone_kind, _priority(out, now)))
            yield (outage.id, c.id, True, c.runway_hours, c.dependent_24h, out, "pending",
                   0 if covered else 1, None if covered else now, None if covered else now,
                   None if covered else rounds.next_action_at(round_sent=1, sent_at=now, runs_out_at=out,
                                                              policy=policy),
                   covered, now)

    bulk_insert(session, OutagePatient.__table__, columns, rows())
    notifier.checkin(session, outage, to_message, round_no=1, now=now)
    return len(to_message), len(candidates) - len(to_message)


def bulk_insert(session: Session, table, columns: Sequence[str], rows: Iterable[tuple]) -> None:
    """Many rows (tuples in ``columns`` order) in the caller's transaction. On PostgreSQL through
    binary COPY, consumed as the server writes (an executemany costs one round trip per row: 20,000
    rows took over a second); elsewhere a plain executemany."""
    if session.get_bind().dialect.name != "postgresql":
        batch = [dict(zip(columns, r)) for r in rows]
        if batch:
            session.execute(insert(table), batch)
        return
    copy_rows(session, table.name, columns, rows)


def _check_times(started_at: datetime, expected: datetime | None) -> None:
    if expected is not None and expected <= started_at:
        raise Invalid("復旧見込み時刻は停電開始より後にしてください。",
                      fields={"expected_restoration_at": ["停電開始より後の時刻を指定してください"]})


# --- declare / change area / resolve --------------------------------------------------------------

def declare_outage(session: Session, cmd: DeclareOutage, *, now: datetime, notifier: Notifier) -> DeclareResult:
    area = area_from(cmd.area)                                   # InvalidArea → 400, nothing written
    _check_times(cmd.started_at, cmd.expected_restoration_at)
    pf = _validate_filter(cmd.patient_filter)
    policy = rounds.EscalationPolicy(cmd.silence_minutes, cmd.safety_margin_minutes) \
        if cmd.silence_minutes > 0 and cmd.safety_margin_minutes >= 0 else None
    if policy is None:
        raise Invalid("silence_minutes は正、safety_margin_minutes は 0 以上です。",
                      fields={"silence_minutes": ["正の数を指定してください"]})
    candidates = affected_candidates(session, area.to_json(), region_code=cmd.region_code, drill=cmd.drill,
                                     patient_filter=pf)
    if not candidates:
        raise Unprocessable("この範囲に該当する在宅患者がいません（範囲・圏域・訓練参加の設定を確認してください）。",
                            code="no_patients_in_area")
    outage = Outage(status="active", drill=cmd.drill, region_code=cmd.region_code, cause=cmd.cause,
                    area=area.to_json(), area_kind=area.kind, patient_filter=pf, started_at=cmd.started_at,
                    expected_restoration_at=cmd.expected_restoration_at, declared_at=now,
                    declared_by=cmd.declared_by, silence_minutes=policy.silence_minutes,
                    safety_margin_minutes=policy.safety_margin_minutes)
    session.add(outage)
    session.flush()
    messaged, covered = _add_patients(session, outage, candidates, now=now, notifier=notifier)
    event(session, outage.id, "declared", at=now, actor_user_id=cmd.declared_by, affected=len(candidates),
          messaged=messaged, covered_by_other_outage=covered, drill=cmd.drill, area_kind=area.kind,
          without_coordinates=sum(not c.located for c in candidates))
    return DeclareResult(outage, len(candidates), messaged, covered)


def change_area(session: Session, outage_id: int, area_spec: dict, *, now: datetime, notifier: Notifier,
                actor_user_id: int | None = None) -> dict:
    """Widen or narrow: newcomers get round 1; people who leave the area get no more messages;
    anyone who already had round 1 (even if they left and came back) never gets it again."""
    area = area_from(area_spec)
    outage = get_outage(session, outage_id, for_update=True)
    if outage.status != "active":
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
                                                          runs_out_at=op.runs_out_at, policy=_policy(outage))
    new = [c for c in candidates if c.id not in existing]
    messaged, covered = _add_patients(session, outage, new, now=now, notifier=notifier)
    # Keep the *original* kind of description: a changed area replaces the old one.
    outage.area, outage.area_kind = area.to_json(), area.kind
    event(session, outage.id, "area_changed", at=now, actor_user_id=actor_user_id, added=len(new),
          removed=len(leaving), returned=len(returning), messaged=messaged, area_kind=area.kind,
          without_coordinates=sum(not c.located for c in candidates))
    return {"added": len(new), "removed": len(leaving), "returned": len(returning), "messaged": messaged,
            "affected": len(wanted)}


def change_restoration(session: Session, outage_id: int, expected: datetime, *, now: datetime,
                       actor_user_id: int | None = None) -> Outage:
    outage = get_outage(session, outage_id, for_update=True)
    if outage.status != "active":
        raise Conflict("復旧済みの停電は変更できません。")
    _check_times(outage.started_at, expected)
    before = outage.expected_restoration_at
    outage.expected_restoration_at = expected
    event(session, outage.id, "restoration_changed", at=now, actor_user_id=actor_user_id,
          before=before.isoformat() if before else None, after=expected.isoformat())
    return outage


def resolve_outage(session: Session, outage_id: int, *, now: datetime, notifier: Notifier,
                   actor_user_id: int | None = None) -> Outage:
    outage = get_outage(session, outage_id, for_update=True)
    if outage.status == "resolved":
        raise Conflict("この停電はすでに復旧済みです。", code="already_resolved")
    outage.status, outage.resolved_at = "resolved", now
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
    # Proposals that nobody confirmed are void now.
    proposed = session.scalars(select(Transport).where(Transport.outage_id == outage.id,
                                                       Transport.status == "proposed")).all()
    for t in proposed:
        t.status, t.updated_at = "cancelled", now
    _hand_over_coverage(session, outage, now=now)
    event(session, outage.id, "resolved", at=now, actor_user_id=actor_user_id, restoration_notices=sent,
          proposals_cancelled=len(proposed))
    return outage


def _hand_over_coverage(session: Session, outage: Outage, *, now: datetime,
                        patient_ids: Sequence[int] | None = None) -> None:
    """Patients of other still-active outages were checked through this one (resolved, or they
    left its area): their own outage carries on from the same round and state."""
    stmt = (select(OutagePatient).join(Outage, Outage.id == OutagePatient.outage_id)
            .where(OutagePatient.covered_by_outage_id == outage.id, Outage.status == "active"))
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
        event(session, r.outage_id, "coverage_handed_over", at=now, patient_id=r.patient_id,
              from_outage=outage.id)


# --- answers ------------------------------------------------------------------------------------

def answer_from_code(code: str) -> str:
    """'1'/'2'/'3' (full-width too) or the state name itself."""
    raw = unicodedata.normalize("NFKC", str(code)).strip()
    answer = ANSWER_CODES.get(raw, raw)
    if answer not in ANSWERS:
        raise Invalid("answer は 1・2・3 のいずれかです。", fields={"answer": ["1・2・3 のいずれかです"]})
    return answer


def record_answer(session: Session, *, outage_id: int, patient_id: int, answer: str, channel: str,
                  now: datetime, notifier: Notifier, reported_hours: float | None = None,
                  actor_user_id: int | None = None) -> OutagePatient:
    """A check-in answer (one-tap, SMS reply, DTMF or the desk). Applies to the person: every
    active outage of the same kind that includes them gets the same state."""
    answer = answer_from_code(answer)
    outage = get_outage(session, outage_id)
    if outage.status != "active":
        raise Gone("この停電は復旧済みです。ご協力ありがとうございました。")
    if reported_hours is not None and not (0 <= reported_hours <= 24 * 31):
        raise Invalid("残り時間は 0〜744 時間で入力してください。", fields={"reported_hours": ["0〜744"]})
    row = session.scalars(select(OutagePatient).where(OutagePatient.outage_id == outage_id,
                                                      OutagePatient.patient_id == patient_id)
                          .with_for_update()).first()
    if row is None:
        raise NotFound("この停電の対象者ではありません。")
    rows = [row] + list(session.scalars(
        select(OutagePatient).join(Outage, Outage.id == OutagePatient.outage_id)
        .where(OutagePatient.patient_id == patient_id, OutagePatient.outage_id != outage_id,
               Outage.status == "active", Outage.drill.is_(outage.drill))))
    started = {outage.id: outage.started_at}
    if reported_hours is not None and len(rows) > 1:
        started.update(session.execute(select(Outage.id, Outage.started_at).where(
            Outage.id.in_({r.outage_id for r in rows[1:]}))).all())
    for r in rows:
        r.checkin = answer
        r.answered_at = r.answered_at or now
        r.answer_channel = channel
        r.next_action_at = None
        # Hours the family reports (answer 2, or 3 with a figure) re-compute the runway: the earlier
        # of report time + hours and what the registry runway gives from that outage's start.
        if answer in REPORTS_HOURS and reported_hours is not None:
            r.reported_hours, r.reported_at = reported_hours, now
            r.runs_out_at = triage.runs_out_at(started[r.outage_id], r.runway_hours,
                                               reported_at=now, reported_hours=reported_hours)
    for r in rows:   # a queued round-2 call is pointless once they have answered
        outbox.cancel_pending(session, outage_id=r.outage_id, patient_id=patient_id, purpose="checkin", now=now)
    event(session, outage_id, "answer", at=now, patient_id=patient_id, actor_user_id=actor_user_id,
          answer=answer, channel=channel, reported_hours=reported_hours)
    if answer == "needs_help":
        request_transport(session, outage_id=outage_id, patient_id=patient_id, reason="answer", now=now,
                          notifier=notifier)
    elif answer == "low_battery" and triage.needs_transport_before_restoration(
            row.runs_out_at, outage.expected_restoration_at, now=now):
        propose_transport(session, outage, row, now=now)
    # Drop all open visit tasks for someone who has now answered? No: a visit already on its way
    # still goes; the field team sees the answer on the task page.
    return row


# --- rounds (the clock) ---------------------------------------------------------------------------

FIELD_TASK_RETRY = timedelta(minutes=1)


def advance_due(session: Session, *, now: datetime, notifier: Notifier, limit: int = 500) -> int:
    """Take the next step for every patient whose ``next_action_at`` has come. Rows are claimed with
    FOR UPDATE SKIP LOCKED on PostgreSQL, so a second clock never doubles a round."""
    stmt = (select(OutagePatient).join(Outage, Outage.id == OutagePatient.outage_id)
            .where(OutagePatient.next_action_at <= now, Outage.status == "active")
            .order_by(OutagePatient.next_action_at).limit(limit)
            .with_for_update(skip_locked=True, of=OutagePatient))
    due = session.scalars(stmt).all()
    if not due:
        return 0
    outages = {o.id: o for o in session.scalars(select(Outage).where(
        Outage.id.in_({r.outage_id for r in due})))}
    patients = {p.id: p for p in session.scalars(select(Patient).where(
        Patient.id.in_({r.patient_id for r in due})))}
    round2: dict[int, list[Recipient]] = {}
    for r in due:
        outage, patient = outages[r.outage_id], patients.get(r.patient_id)
        if r.checkin != "pending" or not r.in_area or r.covered_by_outage_id is not None:
            r.next_action_at = None
            continue
        if r.round <= 1:
            r.round, r.round_sent_at = 2, now
            r.next_action_at = rounds.next_action_at(round_sent=2, sent_at=now, runs_out_at=r.runs_out_at,
                                                     policy=_policy(outage))
            if patient is not None:
                round2.setdefault(outage.id, []).append(
                    Recipient(patient.id, patient.phone_e164, patient.phone_kind, _priority(r.runs_out_at, now)))
            event(session, outage.id, "round_2", at=now, patient_id=r.patient_id)
        else:
            try:
                with session.begin_nested():      # one patient's failure must not stop the others'
                    r.round, r.round_sent_at, r.next_action_at = rounds.ROUND_FIELD, now, None
                    r.checkin = "no_answer"
                    create_field_task(session, outage, r, patient, now=now, notifier=notifier)
            except Exception:  # noqa: BLE001 - logged; the row is as before and retried shortly
                log.exception("outage %s patient %s: field task failed; retrying", outage.id, r.patient_id)
                r.next_action_at = now + FIELD_TASK_RETRY
    for oid, recipients in round2.items():
        notifier.checkin(session, outages[oid], recipients, round_no=2, now=now)
    return len(due)


def mark_unreachable(session: Session, r: OutagePatient, *, reason: str, now: datetime,
                     notifier: Notifier) -> FieldTask:
    """Every channel failed for this patient (e.g. invalid number): field task at once."""
    outage = get_outage(session, r.outage_id)
    patient = session.get(Patient, r.patient_id)
    r.checkin, r.round, r.round_sent_at, r.next_action_at = "unreachable", rounds.ROUND_FIELD, now, None
    event(session, outage.id, "unreachable", at=now, patient_id=r.patient_id, reason=reason[:100])
    return create_field_task(session, outage, r, patient, now=now, notifier=notifier)


def _task_details(outage: Outage, r: OutagePatient, patient: Patient | None, *, now: datetime) -> dict:
    """What the field team needs at the door. Stored on the task (shown only to signed-in staff)."""
    if patient is None:
        return {"patient_id": r.patient_id}
    return {
        "patient_id": patient.id,
        "name": patient.name,
        "address": patient.address,
        "phone": patient.phone_e164,
        "lat": patient.lat, "lon": patient.lon,
        "devices": [{"kind": d.kind, "label": d.label, "mode": d.mode, "model": d.model} for d in patient.devices],
        "runway_hours_left": round(triage.hours_left(r.runs_out_at, now), 1),
        "runs_out_at": iso_local(r.runs_out_at),
        "contacts": [{"name": c.name, "relation": c.relation, "phone": c.phone_e164} for c in patient.contacts],
        "transport_needs": patient.transport_needs,
    }


def _textable(org: Organization) -> bool:
    return phone_route(org.phone)[1] == "sms"


def _hub_on_call(session: Session, region_code: str | None) -> Organization | None:
    """The team on call for the 圏域: one that can be texted first, the 拠点 itself before other
    on-call organisations; failing that, any on-call organisation (the desk then phones it)."""
    if region_code is None:
        return None
    on_call = session.scalars(select(Organization).where(
        Organization.region_code == region_code, Organization.on_call_24h.is_(True),
        Organization.phone.is_not(None)).order_by(Organization.id)).all()
    if not on_call:
        return None
    return min(on_call, key=lambda o: (not _textable(o), o.kind != "community_support_center", o.id))


def create_field_task(session: Session, outage: Outage, r: OutagePatient, patient: Patient | None, *,
                      now: datetime, notifier: Notifier) -> FieldTask:
    """Silent after round 2: the patient's nursing station goes, or the 拠点 on call."""
    org = patient.nursing_org if patient is not None and patient.nursing_org is not None else None
    if org is None or not org.phone:
        org = _hub_on_call(session, outage.region_code or (patient.region_code if patient else None)) or org
    task = FieldTask(outage_id=outage.id, patient_id=r.patient_id, organization_id=org.id if org else None,
                     kind="visit", status="open", details=_task_details(outage, r, patient, now=now),
                     created_at=now)
    session.add(task)
    session.flush()
    unsent = notifier.field_task(session, outage, task, to=org.phone if org else None, now=now)
    event(session, outage.id, "field_task", at=now, patient_id=r.patient_id, task_id=task.id,
          organization_id=org.id if org else None)
    if unsent:
        event(session, outage.id, "task_unsent", at=now, patient_id=r.patient_id, task_id=task.id,
              organization_id=org.id if org else None, reason=unsent)
    return task


def acknowledge_task(session: Session, task_id: int, *, now: datetime, actor_user_id: int | None = None) -> FieldTask:
    task = session.get(FieldTask, task_id)
    if task is None:
        raise NotFound("task not found")
    outage = get_outage(session, task.outage_id)
    if outage.status != "active" and task.status == "open":
        raise Gone("この停電は復旧済みです。")
    if task.status == "open":
        task.status, task.acknowledged_at = "acknowledged", now
        event(session, task.outage_id, "task_acknowledged", at=now, patient_id=task.patient_id,
              task_id=task.id, actor_user_id=actor_user_id)
    return task


def field_report(session: Session, task_id: int, *, needs_transport: bool, now: datetime,
                 notifier: Notifier, actor_user_id: int | None = None) -> Transport | None:
    """The field team is at the door: either fine (ok) or transport needed."""
    task = acknowledge_task(session, task_id, now=now, actor_user_id=actor_user_id)
    task.status = "done"
    outage = get_outage(session, task.outage_id)
    row = session.scalars(select(OutagePatient).where(OutagePatient.outage_id == outage.id,
                                                      OutagePatient.patient_id == task.patient_id)).one()
    row.checkin = "needs_help" if needs_transport else "ok"
    row.answered_at = row.answered_at or now
    row.answer_channel, row.next_action_at = "field", None
    event(session, outage.id, "field_report", at=now, patient_id=task.patient_id, task_id=task.id,
          needs_transport=needs_transport, actor_user_id=actor_user_id)
    if needs_transport:
        return request_transport(session, outage_id=outage.id, patient_id=task.patient_id,
                                 reason="field_report", now=now, notifier=notifier)
    return None


# --- transport ----------------------------------------------------------------------------------

def _facility_infos(session: Session, *, count_proposed: bool = True) -> list[FacilityInfo]:
    """Facilities with their reservations applied and whether an active real outage darkens them."""
    orgs = session.execute(select(
        Organization.id, Organization.name, Organization.lat, Organization.lon, Organization.has_generator,
        Organization.power_supply_point, Organization.accepts_ventilator, Organization.ventilator_beds,
        Organization.municipality_code, func.coalesce(FacilityReservation.reserved, 0),
    ).outerjoin(FacilityReservation, FacilityReservation.facility_id == Organization.id)
        .where(Organization.lat.is_not(None))).all()
    active = session.scalars(select(Outage).where(Outage.status == "active", Outage.drill.is_(False))).all()
    areas = [area_from(o.area) for o in active]
    infos = [FacilityInfo(id=o[0], name=o[1], lat=o[2], lon=o[3], has_generator=o[4],
                          power_supply_point=o[5], accepts_ventilator=o[6], ventilator_beds=o[7] or 0,
                          reserved=o[9]) for o in orgs]
    if areas:
        points = [Point(f.id, f.lat, f.lon, m) for f, m in zip(infos, (o[8] for o in orgs))]
        dark: set[int] = set()
        for a in areas:
            dark.update(a.select(points))
        for f in infos:
            f.in_outage = f.id in dark
    if not count_proposed:
        return infos
    # Count beds already promised to unconfirmed proposals so one run does not over-propose.
    pending = dict(session.execute(select(Transport.facility_id, func.count()).where(
        Transport.status == "proposed", Transport.facility_id.is_not(None)).group_by(Transport.facility_id)).all())
    for f in infos:
        f.reserved += pending.get(f.id, 0)
    return infos


def _reserve_bed(session: Session, facility_id: int) -> bool:
    """Atomically take one ventilator bed if one is free (a conditional UPDATE: no lost updates)."""
    if session.get(FacilityReservation, facility_id) is None:
        try:
            with session.begin_nested():
                session.add(FacilityReservation(facility_id=facility_id, reserved=0))
        except IntegrityError:
            pass  # another transaction created it first
    beds = select(Organization.ventilator_beds).where(Organization.id == facility_id).scalar_subquery()
    result = session.execute(update(FacilityReservation)
                             .where(FacilityReservation.facility_id == facility_id,
                                    FacilityReservation.reserved < beds)
                             .values(reserved=FacilityReservation.reserved + 1)
                             .execution_options(synchronize_session=False))
    return result.rowcount == 1


def _release_bed(session: Session, facility_id: int) -> None:
    session.execute(update(FacilityReservation)
                    .where(FacilityReservation.facility_id == facility_id, FacilityReservation.reserved > 0)
                    .values(reserved=FacilityReservation.reserved - 1)
                    .execution_options(synchronize_session=False))


def _open_transport(session: Session, outage_id: int, patient_id: int) -> Transport | None:
    return session.scalars(select(Transport).where(
        Transport.outage_id == outage_id, Transport.patient_id == patient_id,
        Transport.status.not_in(("cancelled",))).order_by(Transport.id.desc())).first()


def request_transport(session: Session, *, outage_id: int, patient_id: int, reason: str, now: datetime,
                      notifier: Notifier, facility_id: int | None = None,
                      actor_user_id: int | None = None) -> Transport:
    """Transport now (answer 3, field report, desk): nearest facility with power and a free bed,
    bed reserved, task to the transport team. Idempotent per patient and outage."""
    outage = get_outage(session, outage_id)
    if outage.status != "active":
        raise Conflict("復旧済みの停電では搬送を手配できません。")
    row = session.scalars(select(OutagePatient).where(OutagePatient.outage_id == outage_id,
                                                      OutagePatient.patient_id == patient_id)).first()
    if row is None:
        raise NotFound("この停電の対象者ではありません。")
    existing = _open_transport(session, outage_id, patient_id)
    if existing is not None and existing.status != "proposed":
        return existing
    patient = session.get(Patient, patient_id)
    transport = existing or Transport(outage_id=outage_id, patient_id=patient_id, status="proposed",
                                      reason=reason, created_at=now, updated_at=now, bed_reserved=False)
    if existing is None:
        session.add(transport)
    transport.reason = reason      # a confirmed proposal takes the reason it was confirmed for
    _assign(session, outage, transport, patient, now=now, notifier=notifier, facility_id=facility_id)
    session.flush()
    row.transport_id = transport.id
    event(session, outage_id, "transport", at=now, patient_id=patient_id, transport_id=transport.id,
          status=transport.status, facility_id=transport.facility_id, reason=reason,
          actor_user_id=actor_user_id)
    return transport


def _assign(session: Session, outage: Outage, transport: Transport, patient: Patient | None, *,
            now: datetime, notifier: Notifier, facility_id: int | None = None) -> None:
    """Reserve a bed at the given facility, or at the nearest one that can receive; assigned on success."""
    tried: list[int] = []
    while True:
        if facility_id is not None:
            target, km = session.get(Organization, facility_id), None
            if target is None:
                raise NotFound(f"facility {facility_id} not found", fields={"facility_id": ["存在しません"]})
            if patient is not None and target.lat is not None and patient.lat is not None:
                from geopy.distance import geodesic
                km = round(geodesic((patient.lat, patient.lon), (target.lat, target.lon)).km, 2)
            if not _reserve_bed(session, target.id):
                raise Conflict(f"{target.name} に空きベッドがありません。", code="no_free_bed")
            chosen = (target.id, target.name, km)
        else:
            # A real request outranks unconfirmed proposals: only reserved beds count as taken.
            infos = [f for f in _facility_infos(session, count_proposed=False) if f.id not in tried]
            match = Matcher(infos).transport_target(patient.lat if patient else None,
                                                    patient.lon if patient else None)
            if match is None:
                transport.status, transport.facility_id, transport.updated_at = "proposed", None, now
                transport.note = "受入可能な施設が見つかりません（電源・人工呼吸器受入・空床）"
                return
            if not _reserve_bed(session, match.facility_id):
                tried.append(match.facility_id)     # taken meanwhile: try the next nearest
                continue
            chosen = (match.facility_id, match.facility_name, match.km)
        transport.facility_id, transport.distance_km = chosen[0], chosen[2]
        transport.status, transport.bed_reserved, transport.updated_at, transport.note = "assigned", True, now, None
        session.flush()
        _transport_task(session, outage, transport, patient, facility_name=chosen[1], now=now, notifier=notifier)
        return


def _transport_team(session: Session, outage: Outage, patient: Patient | None) -> Organization | None:
    region = outage.region_code or (patient.region_code if patient else None)
    if region is None:
        return None
    fire = session.scalars(select(Organization).where(
        Organization.region_code == region, Organization.kind == "fire_department",
        Organization.phone.is_not(None)).order_by(Organization.id)).all()
    textable = [f for f in fire if _textable(f)]
    hub = _hub_on_call(session, region)
    if textable:
        return textable[0]
    if hub is not None and _textable(hub):
        return hub
    return fire[0] if fire else hub          # nobody can be texted: the desk phones them


def _transport_task(session: Session, outage: Outage, transport: Transport, patient: Patient | None, *,
                    facility_name: str, now: datetime, notifier: Notifier) -> None:
    team = _transport_team(session, outage, patient)
    row = session.scalars(select(OutagePatient).where(OutagePatient.outage_id == outage.id,
                                                      OutagePatient.patient_id == transport.patient_id)).first()
    details = _task_details(outage, row, patient, now=now) if row else {"patient_id": transport.patient_id}
    details.update(facility_id=transport.facility_id, facility_name=facility_name,
                   distance_km=transport.distance_km)
    task = FieldTask(outage_id=outage.id, patient_id=transport.patient_id, transport_id=transport.id,
                     organization_id=team.id if team else None, kind="transport", status="open",
                     details=details, created_at=now)
    session.add(task)
    session.flush()
    unsent = notifier.transport_task(session, outage, task, to=team.phone if team else None,
                                     facility_name=facility_name, now=now)
    if unsent:
        event(session, outage.id, "task_unsent", at=now, patient_id=transport.patient_id, task_id=task.id,
              organization_id=team.id if team else None, reason=unsent)


def propose_transport(session: Session, outage: Outage, row: OutagePatient, *, now: datetime) -> Transport | None:
    """A suggestion for the desk (no bed reserved until it is confirmed as ``assigned``)."""
    if _open_transport(session, outage.id, row.patient_id) is not None:
        return None
    patient = session.get(Patient, row.patient_id)
    match = Matcher(_facility_infos(session)).transport_target(patient.lat, patient.lon) if patient else None
    t = Transport(outage_id=outage.id, patient_id=row.patient_id, status="proposed",
                  reason="runs_out_before_restoration", facility_id=match.facility_id if match else None,
                  distance_km=match.km if match else None, bed_reserved=False, created_at=now, updated_at=now,
                  note=None if match else "受入可能な施設が見つかりません")
    session.add(t)
    session.flush()
    row.transport_id = t.id
    event(session, outage.id, "transport_proposed", at=now, patient_id=row.patient_id, transport_id=t.id,
          facility_id=t.facility_id)
    return t


def propose_transports(session: Session, outage_id: int, *, now: datetime) -> int:
    """For everyone in the outage who will run out before restoration and has no transport yet:
    one matching run (facilities indexed once) so proposals spread over free beds."""
    outage = get_outage(session, outage_id)
    if outage.status != "active":
        return 0
    rows = session.execute(
        select(OutagePatient, Patient.lat, Patient.lon)
        .join(Patient, Patient.id == OutagePatient.patient_id)
        .where(OutagePatient.outage_id == outage.id, OutagePatient.in_area.is_(True),
               OutagePatient.transport_id.is_(None), OutagePatient.checkin != "ok")
        .order_by(OutagePatient.runs_out_at)).all()
    due = [(r, lat, lon) for r, lat, lon in rows
           if triage.needs_transport_before_restoration(r.runs_out_at, outage.expected_restoration_at, now=now)]
    if not due:
        return 0
    matcher = Matcher(_facility_infos(session))
    made = []
    for r, lat, lon in due:
        m = matcher.assign(lat, lon)
        made.append({"outage_id": outage.id, "patient_id": r.patient_id, "status": "proposed",
                     "reason": "runs_out_before_restoration", "facility_id": m.facility_id if m else None,
                     "distance_km": m.km if m else None, "bed_reserved": False, "created_at": now,
                     "updated_at": now, "note": None if m else "受入可能な施設が見つかりません"})
    session.execute(insert(Transport), made)
    ids = dict(session.execute(select(Transport.patient_id, Transport.id).where(
        Transport.outage_id == outage.id, Transport.status == "proposed")).all())
    for r, _, _ in due:
        r.transport_id = ids.get(r.patient_id)
    event(session, outage.id, "transports_proposed", at=now, count=len(made),
          without_facility=sum(1 for m in made if m["facility_id"] is None))
    return len(made)


ALLOWED = {
    "proposed": {"assigned", "cancelled"},
    "assigned": {"en_route", "arrived", "cancelled"},
    "en_route": {"arrived", "cancelled", "assigned"},
}


def update_transport(session: Session, transport_id: int, *, status: str | None, facility_id: int | None,
                     now: datetime, notifier: Notifier, actor_user_id: int | None = None,
                     via: str = "desk") -> Transport:
    """One-tap status from the team (assigned → en_route → arrived / cancelled) or the desk's override
    (any step back or forward from a non-final state, or another facility)."""
    t = session.scalars(select(Transport).where(Transport.id == transport_id).with_for_update()).first()
    if t is None:
        raise NotFound(f"transport {transport_id} not found")
    if status is not None and status not in ("assigned", "en_route", "arrived", "cancelled"):
        raise Invalid("status が不正です。", fields={"status": ["assigned|en_route|arrived|cancelled"]})
    if status is None and facility_id is None:
        raise Invalid("status か facility_id を指定してください。", fields={"status": ["必須です"]})
    if t.status in TERMINAL_TRANSPORT:
        if status == t.status and facility_id in (None, t.facility_id):
            return t   # the same tap twice
        raise Conflict(f"搬送はすでに「{t.status}」です。", code="wrong_state")
    if status is not None and status != t.status and status not in ALLOWED[t.status]:
        raise Conflict(f"{t.status} から {status} には変更できません。", code="wrong_state")
    outage = get_outage(session, t.outage_id)
    patient = session.get(Patient, t.patient_id)
    before = (t.status, t.facility_id)
    if facility_id is not None and facility_id != t.facility_id or (
            status in BED_STATUSES and not t.bed_reserved):
        if outage.status != "active" and not t.bed_reserved:
            raise Conflict("復旧済みの停電では新たに搬送を手配できません。")
        if t.bed_reserved and t.facility_id is not None:
            _release_bed(session, t.facility_id)
            t.bed_reserved = False
        # An explicit facility is strict (409 when full); otherwise the nearest with a free bed.
        _assign(session, outage, t, patient, now=now, notifier=notifier, facility_id=facility_id)
        if t.status == "proposed":
            raise Conflict("受入可能な施設がありません。", code="no_free_bed")
    if status == "cancelled" and t.bed_reserved and t.facility_id is not None:
        _release_bed(session, t.facility_id)
        t.bed_reserved = False
    if status is not None:
        t.status = status
    t.updated_at = now
    if t.status == "cancelled":
        session.execute(update(OutagePatient).where(OutagePatient.outage_id == t.outage_id,
                                                    OutagePatient.patient_id == t.patient_id,
                                                    OutagePatient.transport_id == t.id)
                        .values(transport_id=None))
        session.execute(update(FieldTask).where(FieldTask.transport_id == t.id, FieldTask.status != "done")
                        .values(status="cancelled"))
    elif t.status == "arrived":
        session.execute(update(FieldTask).where(FieldTask.transport_id == t.id).values(status="done"))
    event(session, t.outage_id, "transport_status", at=now, patient_id=t.patient_id, transport_id=t.id,
          before=before[0], status=t.status, facility_id=t.facility_id, via=via, actor_user_id=actor_user_id)
    return t


def charging_points(session: Session, outage_id: int, patient_id: int, *, k: int = 3) -> list[dict]:
    """Where a family can charge batteries when transport is not needed."""
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound("patient not found")
    matcher = Matcher(_facility_infos(session))
    return [{"facility_id": m.facility_id, "name": m.facility_name, "distance_km": m.km}
            for m in matcher.charging_points(patient.lat, patient.lon, k=k)]

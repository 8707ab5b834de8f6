"""A functional drill while a real outage is on: the drill never contacts a patient in an active real outage.

Such a patient keeps a row in the drill outage with ``covered_by_outage_id`` set to the real outage
(round 0, nothing scheduled): no check-in, re-check, call, visit or restoration message from the
drill, and the drill page lists them (「実災害対応中のため対象外」). A patient who joins a real outage
after the drill started is withdrawn the same way, and what the drill still had queued for them is
cancelled. They stay out of the drill until it ends, even if the real outage is resolved first: a
drill message right after a real outage would be the confusion this module exists to prevent.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, aliased

from bcp_service.messaging import outbox
from bcp_service.outages.models import FieldTask, Outage, OutagePatient
from bcp_service.outages.states import OutageStatus, TaskStatus
from bcp_service.outages.timeline import event

EXCLUDED_LABEL = "実災害対応中のため対象外"


def active_real_outages(session: Session, region_code: str | None) -> list[int]:
    """Ids of the real (not drill) outages active in ``region_code`` (every region when None)."""
    stmt = select(Outage.id).where(Outage.status == OutageStatus.ACTIVE.value, Outage.drill.is_(False))
    if region_code is not None:
        stmt = stmt.where(Outage.region_code == region_code)
    return list(session.scalars(stmt.order_by(Outage.id)))


def real_outage_patients(session: Session, patient_ids: Iterable[int] | None = None) -> dict[int, int]:
    """patient id → an active real outage they are in (covered there by another real outage or not)."""
    stmt = (select(OutagePatient.patient_id, func.min(OutagePatient.outage_id))
            .join(Outage, Outage.id == OutagePatient.outage_id)
            .where(Outage.status == OutageStatus.ACTIVE.value, Outage.drill.is_(False),
                   OutagePatient.in_area.is_(True))
            .group_by(OutagePatient.patient_id))
    if patient_ids is not None:
        ids = sorted(set(patient_ids))
        if not ids:
            return {}
        stmt = stmt.where(OutagePatient.patient_id.in_(ids))
    return {pid: oid for pid, oid in session.execute(stmt)}


def withdraw_from_drills(session: Session, real: Outage, *, now: datetime) -> int:
    """The patients of the real outage ``real`` who are in an active drill get nothing more from it."""
    mine = aliased(OutagePatient)
    in_real = select(mine.patient_id).where(mine.outage_id == real.id, mine.in_area.is_(True))
    rows = session.scalars(
        select(OutagePatient).join(Outage, Outage.id == OutagePatient.outage_id)
        .where(Outage.status == OutageStatus.ACTIVE.value, Outage.drill.is_(True),
               OutagePatient.patient_id.in_(in_real))
        .with_for_update(of=OutagePatient)).all()
    real_ids = set(active_real_outages(session, None))
    withdrawn = 0
    for r in rows:
        if r.covered_by_outage_id in real_ids:
            continue                                   # already out of this drill
        r.covered_by_outage_id, r.next_action_at = real.id, None
        outbox.cancel_pending(session, outage_id=r.outage_id, patient_id=r.patient_id, now=now)
        session.execute(update(FieldTask).where(
            FieldTask.outage_id == r.outage_id, FieldTask.patient_id == r.patient_id,
            FieldTask.status.in_((TaskStatus.OPEN.value, TaskStatus.ACKNOWLEDGED.value)))
            .values(status=TaskStatus.CANCELLED.value).execution_options(synchronize_session=False))
        event(session, r.outage_id, "withdrawn_real_outage", at=now, patient_id=r.patient_id, real_outage=real.id)
        withdrawn += 1
    return withdrawn


def excluded_patients(session: Session, drill_outage_id: int) -> list[tuple[int, int]]:
    """(patient id, real outage id) for the drill outage's patients left out for a real outage."""
    real = aliased(Outage)
    return [(pid, oid) for pid, oid in session.execute(
        select(OutagePatient.patient_id, OutagePatient.covered_by_outage_id)
        .join(real, real.id == OutagePatient.covered_by_outage_id)
        .where(OutagePatient.outage_id == drill_outage_id, real.drill.is_(False))
        .order_by(OutagePatient.patient_id))]

"""Restoration changes while an outage goes on (issue 13, item 5).

* ``change_restoration``: a new expected restoration re-triages at once. Patients who now run out
  before power returns get a transport proposal in the same transaction (the desk sees it within
  seconds); proposals no longer needed are *flagged* for the desk (``Transport.flag`` =
  ``"not_needed"``), never dropped; a flag that no longer holds is cleared. Re-checks are brought
  forward where the new time makes a patient's countdown matter.
* ``restore_area``: part of the area has power again. Its patients get one 「復旧」 message, no more
  check-ins, leave the active counts, and the timeline records it; open proposals for them are
  flagged. When nobody is left active the outage resolves itself.

Both check the actor's role and region scope (``access``) and change nothing on bad input.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bcp_service.auth.roles import Actor
from bcp_service.errors import Conflict, Invalid
from bcp_service.geo.area import Point, area_from
from bcp_service.messaging import outbox
from bcp_service.outages import access, checkins, declare, followup, states, transport, triage
from bcp_service.outages.models import Outage, OutagePatient, Transport
from bcp_service.outages.ports import Notifier, Recipient
from bcp_service.outages.states import OutageStatus, TransportStatus
from bcp_service.outages.timeline import event
from bcp_service.registry.models import Patient

NOT_NEEDED = "not_needed"
PROPOSED = TransportStatus.PROPOSED.value


def _active_rows(session: Session, outage: Outage, *, for_update: bool = False) -> list[OutagePatient]:
    stmt = select(OutagePatient).where(OutagePatient.outage_id == outage.id, OutagePatient.in_area.is_(True),
                                       OutagePatient.restored_at.is_(None))
    return list(session.scalars(stmt.with_for_update() if for_update else stmt))


def change_restoration(session: Session, actor: Actor, outage_id: int, expected: datetime, *,
                       now: datetime) -> dict:
    """Move the expected restoration and re-triage at once; returns what changed."""
    outage = access.outage_for(session, actor, outage_id, for_update=True)
    if not states.may_change(outage.status):
        raise Conflict("復旧済みの停電は変更できません。")
    declare._check_times(outage.started_at, expected)              # before the start → 400, nothing changed
    before = outage.expected_restoration_at
    outage.expected_restoration_at = expected
    result = retriage(session, actor, outage, now=now)
    event(session, outage.id, "restoration_changed", at=now, actor_user_id=actor.user_id,
          before=before.isoformat() if before else None, after=expected.isoformat(), **result)
    return result


def retriage(session: Session, actor: Actor, outage: Outage, *, now: datetime) -> dict:
    """Proposals for everyone who now runs out before restoration; flags on proposals no longer
    needed; re-checks brought forward where the countdown now matters."""
    rows = _active_rows(session, outage)
    needs = {r.patient_id: triage.needs_transport_before_restoration(
        r.runs_out_at, outage.expected_restoration_at, now=now) for r in rows}
    flagged = unflagged = 0
    for t in session.scalars(select(Transport).where(Transport.outage_id == outage.id, Transport.status == PROPOSED)):
        if t.reason != "runs_out_before_restoration":
            continue       # asked for by the family, a field team or the desk: still wanted
        still = needs.get(t.patient_id, False)
        if not still and t.flag != NOT_NEEDED:
            t.flag, t.updated_at = NOT_NEEDED, now
            flagged += 1
            event(session, outage.id, "transport_not_needed", at=now, patient_id=t.patient_id, transport_id=t.id)
        elif still and t.flag == NOT_NEEDED:
            t.flag, t.updated_at = None, now
            unflagged += 1
    # One matching run over free beds, families who said 「1」 included: fine for now, but the power
    # runs out before it returns — the desk decides (transport, or the charging points beside it).
    proposed = transport.propose_transports(session, actor, outage.id, now=now, include_ok=True)
    rechecks = 0
    for r in rows:
        if r.next_action_at is None or followup.awaiting_answer(
                round_no=r.round, round_sent_at=r.round_sent_at, last_answer_at=r.last_answer_at):
            continue
        sooner = checkins.schedule_recheck(r, outage, now=now)
        if sooner is not None and sooner < r.next_action_at:
            r.next_action_at = sooner
            rechecks += 1
    return {"proposed": proposed, "flagged_not_needed": flagged, "unflagged": unflagged,
            "rechecks_sooner": rechecks}


def restore_area(session: Session, actor: Actor, outage_id: int, area_spec: dict, *, now: datetime,
                 notifier: Notifier) -> dict:
    """Power is back in part of the area. A drawn area marks only patients whose coordinates fall
    inside it (someone registered without coordinates stays active until a municipality code or the
    outage's end covers them: restoring them by mistake would stop their check-ins)."""
    outage = access.outage_for(session, actor, outage_id, for_update=True)
    if not states.may_change(outage.status):
        raise Conflict("この停電はすでに復旧済みです。", code="already_resolved")
    area = area_from(area_spec)                                     # InvalidArea → 400
    rows = session.execute(
        select(OutagePatient, Patient.lat, Patient.lon, Patient.municipality_code, Patient.phone_e164,
               Patient.phone_kind)
        .join(Patient, Patient.id == OutagePatient.patient_id)
        .where(OutagePatient.outage_id == outage.id, OutagePatient.in_area.is_(True))).all()
    inside = set(area.select([Point(r[0].patient_id, r[1], r[2], r[3]) for r in rows]))
    reached = [r for r in rows if r[0].patient_id in inside]
    if not reached:
        raise Invalid("この範囲にはこの停電の対象者がいません。範囲を確認してください。",
                      fields={"area": ["この停電の対象者に当たりません"]})
    newly = [r for r in reached if r[0].restored_at is None]
    ids = [r[0].patient_id for r in newly]
    for op, *_ in newly:
        op.restored_at, op.next_action_at = now, None
        outbox.cancel_pending(session, outage_id=outage.id, patient_id=op.patient_id, purpose="checkin", now=now)
    still_dark = _in_other_active_outage(session, outage, ids)
    notices = notifier.restoration(session, outage, [
        Recipient(op.patient_id, phone, kind) for op, _, _, _, phone, kind in newly
        if op.round >= 1 and op.covered_by_outage_id is None and op.patient_id not in still_dark], now=now)
    flagged = 0
    for t in session.scalars(select(Transport).where(Transport.outage_id == outage.id, Transport.status == PROPOSED,
                                                     Transport.patient_id.in_(ids or [-1]))):
        if t.flag != NOT_NEEDED:
            t.flag, t.updated_at = NOT_NEEDED, now
            flagged += 1
    declare._hand_over_coverage(session, outage, now=now, patient_ids=ids)
    event(session, outage.id, "area_restored", at=now, actor_user_id=actor.user_id, area_kind=area.kind,
          count=len(ids), restoration_notices=notices, flagged_not_needed=flagged)
    resolved = False
    if ids and not _active_rows(session, outage):
        declare.resolve_outage(session, actor, outage.id, now=now, notifier=notifier)
        resolved = True
    return {"restored": len(ids), "resolved": resolved}


def _in_other_active_outage(session: Session, outage: Outage, patient_ids: list[int]) -> set[int]:
    """Patients still dark in another active outage of the same kind: no 「復旧」 message for them."""
    if not patient_ids:
        return set()
    return set(session.scalars(select(OutagePatient.patient_id).join(Outage, Outage.id == OutagePatient.outage_id)
                               .where(OutagePatient.patient_id.in_(patient_ids), OutagePatient.outage_id != outage.id,
                                      Outage.status == OutageStatus.ACTIVE.value, Outage.drill.is_(outage.drill),
                                      OutagePatient.in_area.is_(True), OutagePatient.restored_at.is_(None))))

"""Check-ins: a family's answer, the clock's next round or re-check, and the patient no channel reaches.

An answer never ends the contact (issue 13): ``followup`` plans the next re-check from the patient's
own countdown, and the clock starts a new contact cycle then (round 1 again, with round 2 and the
field team behind it if the re-check meets silence), until the patient is safe at a facility, their
power is back, or the outage ends.

``record_answer`` is a use case (the desk, or messaging acting as ``access.SYSTEM`` on a family's
signed answer) and checks the actor's role and region scope; ``advance_due`` and
``mark_unreachable`` are the clock's and messaging's own work on rows they claimed.
"""
from __future__ import annotations

import logging
import unicodedata
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bcp_service.auth.roles import Actor
from bcp_service.errors import Gone, Invalid, NotFound
from bcp_service.messaging import outbox, replies
from bcp_service.outages import access, contacts, followup, rounds, transport, triage
from bcp_service.outages.declare import escalation_policy
from bcp_service.outages.field_tasks import create_field_task
from bcp_service.outages.models import FieldTask, Outage, OutagePatient, Transport
from bcp_service.outages.ports import Notifier, Recipient, priority
from bcp_service.outages.states import OutageStatus, TaskStatus, TransportStatus
from bcp_service.outages.timeline import event
from bcp_service.registry.models import Patient

log = logging.getLogger(__name__)

# Answers for which hours reported by the family re-compute ``runs_out_at``.
REPORTS_HOURS = frozenset({"low_battery", "needs_help"})
FIELD_TASK_RETRY = timedelta(minutes=1)


def answer_from_code(code: str) -> str:
    """'1'/'2'/'3' (full-width too) or the state name itself; digits and names come from the reply
    vocabulary (``alerts/replies.yaml``)."""
    raw = unicodedata.normalize("NFKC", str(code)).strip()
    answer = replies.answer_digits().get(raw, raw)
    if answer not in replies.ANSWERS:
        raise Invalid("answer は 1・2・3 のいずれかです。", fields={"answer": ["1・2・3 のいずれかです"]})
    return answer


def record_answer(session: Session, actor: Actor, *, outage_id: int, patient_id: int, answer: str,
                  channel: str, now: datetime, notifier: Notifier,
                  reported_hours: float | None = None, via_contact: dict | None = None) -> OutagePatient:
    """A check-in answer (one-tap, SMS reply, DTMF or the desk). Applies to the person: every
    active outage of the same kind that includes them gets the same state. ``via_contact``
    (``{"contact": position, "relation": …}``) when a registered family contact answered for them."""
    outage = access.outage_for(session, actor, outage_id)
    answer = answer_from_code(answer)
    if outage.status != OutageStatus.ACTIVE:
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
               Outage.status == OutageStatus.ACTIVE.value, Outage.drill.is_(outage.drill))))
    outages = {outage.id: outage}
    if len(rows) > 1:
        outages.update({o.id: o for o in session.scalars(select(Outage).where(
            Outage.id.in_({r.outage_id for r in rows[1:]})))})
    safe = _arrived(session, [(r.outage_id, patient_id) for r in rows])
    for r in rows:
        r.checkin = answer
        r.answered_at = r.answered_at or now
        r.last_answer_at = now
        r.answer_channel = channel
        r.answered_by_contact = via_contact["contact"] if via_contact else None
        r.contact_step = 0              # a later silence asks the contacts again from the first
        if answer == "needs_help":
            r.help_requested_at = r.help_requested_at or now      # the oldest request is served first
        else:
            r.help_requested_at = None
        # Hours the family reports (answer 2, or 3 with a figure) replace the registry estimate.
        if answer in REPORTS_HOURS and reported_hours is not None:
            r.reported_hours, r.reported_at = reported_hours, now
            r.runs_out_at = triage.runs_out_at(outages[r.outage_id].started_at, r.runway_hours,
                                               reported_at=now, reported_hours=reported_hours)
        r.next_action_at = schedule_recheck(r, outages[r.outage_id], now=now,
                                            safe=(r.outage_id, patient_id) in safe)
    for r in rows:   # a queued round-2 call is pointless once they have answered
        outbox.cancel_pending(session, outage_id=r.outage_id, patient_id=patient_id, purpose="checkin", now=now)
        outbox.cancel_pending(session, outage_id=r.outage_id, patient_id=patient_id, purpose="contact_checkin",
                              now=now)
    event(session, outage_id, "answer", at=now, patient_id=patient_id, actor_user_id=actor.user_id,
          answer=answer, channel=channel, reported_hours=reported_hours, **(via_contact or {}))
    if answer == "needs_help":
        transport.arrange(session, actor, outage, patient_id, reason="answer", now=now, notifier=notifier)
    elif row.restored_at is None and triage.needs_transport_before_restoration(
            row.runs_out_at, outage.expected_restoration_at, now=now):
        # Low battery, or fine for now but the power runs out before it returns: a proposal for the
        # desk (transport, or the charging points shown beside it) — the desk decides.
        transport.propose_transport(session, outage, row, now=now)
    # Drop all open visit tasks for someone who has now answered? No: a visit already on its way
    # still goes; the field team sees the answer on the task page.
    return row


def advance_due(session: Session, *, now: datetime, notifier: Notifier, limit: int = 500) -> int:
    """Take the next step for every patient whose ``next_action_at`` has come. Rows are claimed with
    FOR UPDATE SKIP LOCKED on PostgreSQL, so a second clock never doubles a round."""
    stmt = (select(OutagePatient).join(Outage, Outage.id == OutagePatient.outage_id)
            .where(OutagePatient.next_action_at <= now, Outage.status == OutageStatus.ACTIVE.value)
            .order_by(OutagePatient.next_action_at).limit(limit)
            .with_for_update(skip_locked=True, of=OutagePatient))
    due = session.scalars(stmt).all()
    if not due:
        return 0
    outages = {o.id: o for o in session.scalars(select(Outage).where(
        Outage.id.in_({r.outage_id for r in due})))}
    patients = {p.id: p for p in session.scalars(select(Patient).where(
        Patient.id.in_({r.patient_id for r in due})))}
    safe = _arrived(session, [(r.outage_id, r.patient_id) for r in due])
    sends: dict[tuple[int, int, int], list[Recipient]] = {}     # (outage, round, cycle) → recipients
    for r in due:
        outage, patient = outages[r.outage_id], patients.get(r.patient_id)
        if r.restored_at is not None or not r.in_area or r.covered_by_outage_id is not None:
            r.next_action_at = None
            continue
        recipient = Recipient(patient.id, patient.phone_e164, patient.phone_kind,
                              priority(r.runs_out_at, now)) if patient is not None else None
        if not followup.awaiting_answer(round_no=r.round, round_sent_at=r.round_sent_at,
                                        last_answer_at=r.last_answer_at):
            _recheck(session, outage, r, recipient, sends, now=now, safe=(r.outage_id, r.patient_id) in safe)
        elif r.round <= 1:
            r.round, r.round_sent_at = 2, now
            r.next_action_at = rounds.next_action_at(round_sent=2, sent_at=now, runs_out_at=r.runs_out_at,
                                                     policy=escalation_policy(outage))
            if recipient is not None:
                sends.setdefault((outage.id, 2, r.cycle), []).append(recipient)
            event(session, outage.id, "round_2", at=now, patient_id=r.patient_id)
            # Silent after round 1: the first registered family contact is asked too.
            contacts.ask_next(session, outage, r, patient, now=now, notifier=notifier,
                              policy=escalation_policy(outage))
        elif contacts.ask_next(session, outage, r, patient, now=now, notifier=notifier,
                               policy=escalation_policy(outage)) is not None:
            continue                              # the next contact before the field team
        else:
            try:
                with session.begin_nested():      # one patient's failure must not stop the others'
                    r.round, r.round_sent_at = rounds.ROUND_FIELD, now
                    r.checkin = r.checkin if r.checkin == "unreachable" else "no_answer"
                    r.next_action_at = schedule_recheck(r, outage, now=now)
                    if _open_visit(session, r) is None:
                        create_field_task(session, outage, r, patient, now=now, notifier=notifier)
            except Exception:  # noqa: BLE001 - logged; the row is as before and retried shortly
                log.exception("outage %s patient %s: field task failed; retrying", outage.id, r.patient_id)
                r.next_action_at = now + FIELD_TASK_RETRY
    for (oid, round_no, cycle), recipients in sends.items():
        notifier.checkin(session, outages[oid], recipients, round_no=round_no, now=now, cycle=cycle)
    return len(due)


def schedule_recheck(r: OutagePatient, outage: Outage, *, now: datetime, safe: bool = False) -> datetime | None:
    """The next re-check for a row whose contact cycle is closed (answered, or the field team sent)."""
    state = followup.FollowupState(
        checkin=r.checkin, runs_out_at=r.runs_out_at,
        tier=triage.tier_for(r.runs_out_at, now=now, expected_restoration_at=outage.expected_restoration_at),
        in_area=r.in_area, restored=r.restored_at is not None, safe_at_facility=safe,
        covered=r.covered_by_outage_id is not None)
    return followup.next_recheck_at(state, now=now, safety_margin_minutes=outage.safety_margin_minutes,
                                    policy=followup.load_policy())


def _recheck(session: Session, outage: Outage, r: OutagePatient, recipient: Recipient | None,
             sends: dict, *, now: datetime, safe: bool) -> None:
    """A re-check is due: a new contact cycle (round 1 again; silence escalates as at the start).
    Someone who still runs out before restoration gets a transport proposal if none is open."""
    if safe:
        r.next_action_at = None          # at a facility with power: nothing more to ask
        return
    r.cycle, r.round, r.round_sent_at = r.cycle + 1, rounds.ROUND_SMS, now
    r.contact_step = 0               # this cycle's silence asks the family contacts again from the first
    r.next_action_at = rounds.next_action_at(round_sent=rounds.ROUND_SMS, sent_at=now, runs_out_at=r.runs_out_at,
                                             policy=escalation_policy(outage))
    if recipient is not None:
        sends.setdefault((outage.id, rounds.ROUND_SMS, r.cycle), []).append(recipient)
    event(session, outage.id, "recheck", at=now, patient_id=r.patient_id, cycle=r.cycle, answer=r.checkin)
    if r.checkin != "needs_help" and triage.needs_transport_before_restoration(
            r.runs_out_at, outage.expected_restoration_at, now=now):
        transport.propose_transport(session, outage, r, now=now)


def _arrived(session: Session, pairs: list[tuple[int, int]]) -> set[tuple[int, int]]:
    """(outage, patient) pairs whose transport has arrived: safe at a facility."""
    if not pairs:
        return set()
    found = session.execute(select(Transport.outage_id, Transport.patient_id).where(
        Transport.outage_id.in_({o for o, _ in pairs}), Transport.patient_id.in_({p for _, p in pairs}),
        Transport.status == TransportStatus.ARRIVED.value)).all()
    return {(o, p) for o, p in found} & set(pairs)


def _open_visit(session: Session, r: OutagePatient) -> FieldTask | None:
    """A visit already asked for and not finished: a silent re-check does not send a second team."""
    return session.scalars(select(FieldTask).where(
        FieldTask.outage_id == r.outage_id, FieldTask.patient_id == r.patient_id, FieldTask.kind == "visit",
        FieldTask.status.in_((TaskStatus.OPEN.value, TaskStatus.ACKNOWLEDGED.value)))).first()


def mark_unreachable(session: Session, r: OutagePatient, *, reason: str, now: datetime,
                     notifier: Notifier) -> FieldTask | None:
    """Every channel failed for this patient (e.g. invalid number): their registered contacts are
    asked first, one per silence; with none left, a field task at once."""
    outage = access.get_outage(session, r.outage_id)
    patient = session.get(Patient, r.patient_id)
    r.checkin, r.round_sent_at = "unreachable", now
    event(session, outage.id, "unreachable", at=now, patient_id=r.patient_id, reason=reason[:100])
    if r.round < rounds.ROUND_FIELD:
        r.round = max(r.round, rounds.ROUND_SMS_VOICE)      # the next silence asks the next contact
        if contacts.ask_next(session, outage, r, patient, now=now, notifier=notifier,
                             policy=escalation_policy(outage)) is not None:
            return None
    r.round = rounds.ROUND_FIELD
    r.next_action_at = schedule_recheck(r, outage, now=now)     # channels may come back; the team goes now
    return create_field_task(session, outage, r, patient, now=now, notifier=notifier)



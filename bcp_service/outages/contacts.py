"""Family contacts in the check-in (issue 19).

When the patient's own phone stays silent after round 1 (or cannot be reached at all), the patient's
registered ``contacts`` are asked in their registered order — an SMS with a link to the same one-tap
page, or a call for a landline (``registry.phones.route``) — one per silence, before the field team
is sent. Each contact asked is a ``ContactCheckin`` row; the one-tap token (purpose
``contact_checkin``) and the outbox row (``ref_id``) name that row, so an answer by link, SMS reply
or keypad is known to be contact N's: it counts for the patient (``checkins.record_answer``) and is
labelled as the contact's on the timeline and the dashboard. Timeline details carry the contact's
position and relation (続柄), never a name or number. Drills never message contacts (only patients
opt in to drills).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bcp_service.errors import NotFound
from bcp_service.outages import rounds
from bcp_service.outages.models import ContactCheckin, Outage, OutagePatient
from bcp_service.outages.ports import Notifier, priority
from bcp_service.outages.states import OutageStatus
from bcp_service.outages.timeline import event
from bcp_service.registry.models import Patient
from bcp_service.registry.phones import route as phone_route

# Check-in states in which the clock still escalates: pending, or the patient's own phone cannot be
# reached while the contacts are being asked.
AWAITING = frozenset({"pending", "unreachable"})


def label(position: int, relation: str | None) -> str:
    """「連絡先1（長女）」: how the desk sees a contact's answer."""
    return f"連絡先{position}" + (f"（{relation}）" if relation else "")


def ask_next(session: Session, outage: Outage, r: OutagePatient, patient: Patient | None, *, now: datetime,
             notifier: Notifier, policy: rounds.EscalationPolicy) -> ContactCheckin | None:
    """Ask the patient's next registered contact (skipping numbers that cannot be reached); sets the
    row's next step. None when no contact is left: the field team is next."""
    if outage.drill:
        return None         # families agreed to nothing for drills: a drill goes from round 2 to the field team
    contacts = list(patient.contacts) if patient is not None else []
    step = r.contact_step or 0
    while step < len(contacts):
        c = contacts[step]
        step += 1
        number, channel, unsent = phone_route(c.phone_e164)
        if unsent:
            event(session, outage.id, "contact_unsent", at=now, patient_id=r.patient_id, contact=step,
                  relation=c.relation, reason=unsent)
            continue
        asked = ContactCheckin(outage_id=outage.id, patient_id=r.patient_id, position=step, relation=c.relation,
                               channel=channel, sent_at=now)
        session.add(asked)
        session.flush()
        notifier.contact_checkin(session, outage, asked, to=number, channel=channel,
                                 priority=priority(r.runs_out_at, now), round_no=r.round, now=now)
        r.contact_step = step
        # Still to go after this one: the remaining contacts, then the field team.
        r.next_action_at = rounds.wait_until(steps=len(contacts) - step + 1, sent_at=now,
                                             runs_out_at=r.runs_out_at, policy=policy)
        event(session, outage.id, "contact_checkin", at=now, patient_id=r.patient_id, contact=step,
              relation=c.relation, channel=channel)
        return asked
    r.contact_step = step
    return None


def contact_for_answer(session: Session, contact_id: int, outage_id: int) -> ContactCheckin:
    """The contact row a token or reply names; 404 when it does not belong to that outage."""
    asked = session.get(ContactCheckin, contact_id)
    if asked is None or asked.outage_id != outage_id:
        raise NotFound("リンクが正しくありません。")
    return asked


def answered(asked: ContactCheckin, answer: str, *, now: datetime) -> dict:
    """Mark the contact's answer; returns what the patient's answer event carries about the contact."""
    asked.answered_at, asked.answer = now, answer
    return {"contact": asked.position, "relation": asked.relation}


def on_undeliverable(session: Session, message, reason: str, now: datetime) -> None:
    """A contact's message could not be delivered: take the next step (next contact or the field
    team) on the clock's next beat instead of waiting out the silence."""
    if getattr(message, "purpose", None) != "contact_checkin" or not message.outage_id or not message.ref_id:
        return
    asked = session.get(ContactCheckin, message.ref_id)
    if asked is None:
        return
    row = session.scalars(select(OutagePatient).join(Outage, Outage.id == OutagePatient.outage_id).where(
        OutagePatient.outage_id == asked.outage_id, OutagePatient.patient_id == asked.patient_id,
        Outage.status == OutageStatus.ACTIVE.value)).first()
    if row is None or row.checkin not in AWAITING or row.contact_step != asked.position \
            or row.round >= rounds.ROUND_FIELD:
        return          # answered meanwhile, or already moved on
    event(session, asked.outage_id, "contact_unreachable", at=now, patient_id=asked.patient_id,
          contact=asked.position, relation=asked.relation, reason=reason[:100])
    row.next_action_at = now


def answer_labels(session: Session, outage: Outage) -> dict[int, str]:
    """{patient_id: 「連絡先1（長女）」} for patients whose current answer came from a contact."""
    rows = session.execute(select(OutagePatient.patient_id, OutagePatient.answered_by_contact).where(
        OutagePatient.outage_id == outage.id, OutagePatient.answered_by_contact.is_not(None))).all()
    if not rows:
        return {}
    relations = {(p, pos): rel for p, pos, rel in session.execute(
        select(ContactCheckin.patient_id, ContactCheckin.position, ContactCheckin.relation)
        .where(ContactCheckin.outage_id == outage.id))}
    return {p: label(pos, relations.get((p, pos))) for p, pos in rows}



"""What the outage desk plugs into messaging (``messaging.answers``): answer handlers for check-ins
and tasks, the validity check that makes one-tap links die (410) once an outage is resolved, and the
escalation handler for messages no channel could deliver. ``bcp_service/wiring.py`` lists them
(``ANSWER_HANDLERS``, ``TOKEN_CHECKS``, ``ESCALATIONS``); nothing here registers itself.
"""
from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from bcp_service.errors import NotFound
from bcp_service.messaging.answers import AnswerReceived
from bcp_service.messaging.tokens import TapClaims
from bcp_service.outages import checkins, contacts, field_tasks, triage
from bcp_service.outages.access import SYSTEM
from bcp_service.outages.models import FieldTask, Outage, OutagePatient
from bcp_service.outages.notify import notifier_for

log = logging.getLogger(__name__)
OUR_PURPOSES = ("checkin", "contact_checkin", "field_task", "transport_task")


def on_checkin(received: AnswerReceived) -> None:
    """A family's answer to a check-in (the token's context is the outage, its subject the patient).
    ``text`` is the family's own words (SMS body); None for one-tap and DTMF. Hours in it
    (「2 あと3時間」), or the one-tap page's ``hours_left``, replace the runway estimate; without a
    figure only the state changes."""
    text, answer = received.text, received.answer
    reported = received.hours_left if answer in checkins.REPORTS_HOURS else None    # the one-tap field
    if reported is None and text and answer in checkins.REPORTS_HOURS:
        reported = triage.parse_reported_hours(text)                               # 「2 あと3時間」
    checkins.record_answer(received.session, SYSTEM, outage_id=received.context_id, patient_id=received.subject_id,
                           answer=answer, channel=received.channel, now=received.now,
                           notifier=notifier_for(current_app), reported_hours=reported)


def on_contact_checkin(received: AnswerReceived) -> None:
    """A registered family contact answered for the patient (the token's subject is the contact row):
    it counts for the patient, labelled as the contact's."""
    asked = contacts.contact_for_answer(received.session, received.subject_id, received.context_id)
    text, answer = received.text, received.answer
    reported = triage.parse_reported_hours(text) if text and answer in checkins.REPORTS_HOURS else None
    checkins.record_answer(received.session, SYSTEM, outage_id=asked.outage_id, patient_id=asked.patient_id,
                           answer=answer, channel=received.channel, now=received.now,
                           notifier=notifier_for(current_app), reported_hours=reported,
                           via_contact=contacts.answered(asked, answer, now=received.now))


def on_task(received: AnswerReceived) -> None:
    """A task answered by SMS reply or messaging's page (the token's subject is the task): 「2」
    declines it (the next team is asked), any other answer acknowledges it."""
    task = received.session.get(FieldTask, received.subject_id)
    if task is None or task.outage_id != received.context_id:
        raise NotFound("task not found")
    if received.answer == "low_battery":          # the digit 2
        field_tasks.decline_task(received.session, SYSTEM, task.id, now=received.now,
                                 notifier=notifier_for(current_app))
    else:
        field_tasks.acknowledge_task(received.session, SYSTEM, task.id, now=received.now)


def still_open(session: Session, claims: TapClaims) -> bool:
    if claims.purpose not in OUR_PURPOSES:
        return True
    status = session.scalar(select(Outage.status).where(Outage.id == claims.context_id))
    return status == "active"


def on_undeliverable(session: Session, message, reason: str, now: datetime) -> None:
    """No channel reached a patient: do not wait for silence timers, ask their contacts or send the
    field team now. A contact's message that cannot arrive moves on to the next step."""
    if getattr(message, "purpose", None) == "contact_checkin":
        contacts.on_undeliverable(session, message, reason, now)
        return
    if getattr(message, "purpose", None) != "checkin" or not message.outage_id or not message.patient_id:
        return
    row = session.scalars(select(OutagePatient).join(Outage, Outage.id == OutagePatient.outage_id).where(
        OutagePatient.outage_id == message.outage_id, OutagePatient.patient_id == message.patient_id,
        Outage.status == "active")).first()
    if row is None or row.checkin != "pending" or row.round >= 3 or row.covered_by_outage_id is not None:
        return
    checkins.mark_unreachable(session, row, reason=reason, now=now, notifier=notifier_for(current_app))


def hold_drill_contacts(session: Session, rows) -> set[int]:
    """Dispatcher hold (wiring ``SEND_HOLDS``): a drill check-in or restoration to a patient who is in an
    active real outage is not sent, however it was queued (e.g. a voice fallback after they were withdrawn)."""
    drill = [r for r in rows if r.drill and r.patient_id and r.purpose in ("checkin", "restoration")]
    if not drill:
        return set()
    from bcp_service.outages.drill_overlap import real_outage_patients

    busy = real_outage_patients(session, [r.patient_id for r in drill])
    return {r.id for r in drill if r.patient_id in busy}


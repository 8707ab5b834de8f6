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
from bcp_service.outages import checkins, field_tasks, triage
from bcp_service.outages.access import SYSTEM
from bcp_service.outages.models import FieldTask, Outage, OutagePatient
from bcp_service.outages.notify import notifier_for

log = logging.getLogger(__name__)
OUR_PURPOSES = ("checkin", "field_task", "transport_task")


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


def on_task(received: AnswerReceived) -> None:
    """A task link answered through messaging's page or a reply (the token's subject is the task):
    any answer acknowledges the task."""
    task = received.session.get(FieldTask, received.subject_id)
    if task is None or task.outage_id != received.context_id:
        raise NotFound("task not found")
    field_tasks.acknowledge_task(received.session, SYSTEM, task.id, now=received.now)


def still_open(session: Session, claims: TapClaims) -> bool:
    if claims.purpose not in OUR_PURPOSES:
        return True
    status = session.scalar(select(Outage.status).where(Outage.id == claims.context_id))
    return status == "active"


def on_undeliverable(session: Session, message, reason: str, now: datetime) -> None:
    """No channel reached a patient: do not wait for silence timers, send the field team now."""
    if getattr(message, "purpose", None) != "checkin" or not message.outage_id or not message.patient_id:
        return
    row = session.scalars(select(OutagePatient).join(Outage, Outage.id == OutagePatient.outage_id).where(
        OutagePatient.outage_id == message.outage_id, OutagePatient.patient_id == message.patient_id,
        Outage.status == "active")).first()
    if row is None or row.checkin != "pending" or row.round >= 3:
        return
    checkins.mark_unreachable(session, row, reason=reason, now=now, notifier=notifier_for(current_app))


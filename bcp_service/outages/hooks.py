"""What the outage desk plugs into messaging (``messaging.answers``): answer handlers for check-ins
and tasks, the validity check that makes one-tap links die (410) once an outage is resolved, and the
escalation handler for messages no channel could deliver. Imported by ``views`` and ``jobs`` so
every process (web, clock) registers them.
"""
from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from bcp_service.errors import Gone, NotFound
from bcp_service.messaging import answers
from bcp_service.messaging.tokens import TapClaims
from bcp_service.outages import checkins, field_tasks, triage
from bcp_service.outages.access import SYSTEM
from bcp_service.outages.models import FieldTask, Outage, OutagePatient
from bcp_service.outages.notify import notifier_for

log = logging.getLogger(__name__)
OUR_PURPOSES = ("checkin", "field_task", "transport_task")


def on_checkin(session: Session, *, outage_id: int, patient_id: int, answer: str, channel: str,
               now: datetime, text: str | None = None) -> None:
    """``text`` is the family's own words (SMS body) when messaging passes it; None for one-tap and
    DTMF. Hours in it (「2 あと3時間」) re-compute the runway; without a figure nothing changes."""
    reported = triage.parse_reported_hours(text) if text and answer in checkins.REPORTS_HOURS else None
    checkins.record_answer(session, SYSTEM, outage_id=outage_id, patient_id=patient_id, answer=answer,
                           channel=channel, now=now, notifier=notifier_for(current_app), reported_hours=reported)


def on_task(session: Session, *, outage_id: int, patient_id: int, answer: str, channel: str, now: datetime,
            subject_id: int | None = None) -> None:
    """A task link answered through messaging's page or a reply: any answer acknowledges the task."""
    task_id = subject_id if subject_id is not None else patient_id
    task = session.get(FieldTask, task_id)
    if task is None or task.outage_id != outage_id:
        raise NotFound("task not found")
    field_tasks.acknowledge_task(session, SYSTEM, task_id, now=now)


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


def register() -> None:
    answers.register_answer_handler("checkin", on_checkin)
    answers.register_answer_handler("field_task", on_task)
    answers.register_answer_handler("transport_task", on_task)
    answers.register_token_validity_check(still_open)
    answers.register_escalation_handler(on_undeliverable)


register()

"""Field tasks: a visit when a patient stays silent after round 2 (or no channel reaches them), the
team's acknowledgement and its report from the door. The use cases check the actor's role and
region scope (``access``); ``create_field_task`` is the clock's and messaging's own work.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bcp_service.auth.roles import Actor
from bcp_service.errors import Gone, NotFound
from bcp_service.outages import access, states, transport
from bcp_service.outages.models import FieldTask, Outage, OutagePatient, Transport
from bcp_service.outages.ports import Notifier
from bcp_service.outages.states import OutageStatus, TaskStatus
from bcp_service.outages.teams import hub_on_call, task_details
from bcp_service.outages.timeline import event
from bcp_service.registry.models import Patient


def create_field_task(session: Session, outage: Outage, r: OutagePatient, patient: Patient | None, *,
                      now: datetime, notifier: Notifier) -> FieldTask:
    """Silent after round 2: the patient's nursing station goes, or the 拠点 on call."""
    org = patient.nursing_org if patient is not None and patient.nursing_org is not None else None
    if org is None or not org.phone:
        org = hub_on_call(session, outage.region_code or (patient.region_code if patient else None)) or org
    task = FieldTask(outage_id=outage.id, patient_id=r.patient_id, organization_id=org.id if org else None,
                     kind="visit", status=TaskStatus.OPEN.value, details=task_details(outage, r, patient, now=now),
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


def task_for(session: Session, actor: Actor, task_id: int) -> FieldTask:
    """The task if the actor is on a team (or the desk) of its outage's region; 403/404 otherwise."""
    task = session.get(FieldTask, task_id)
    if task is None:
        raise NotFound("task not found")
    access.outage_for(session, actor, task.outage_id, roles=access.TEAM)
    return task


def acknowledge_task(session: Session, actor: Actor, task_id: int, *, now: datetime) -> FieldTask:
    task = task_for(session, actor, task_id)
    outage = access.get_outage(session, task.outage_id)
    if outage.status != OutageStatus.ACTIVE and task.status == TaskStatus.OPEN:
        raise Gone("この停電は復旧済みです。")
    if task.status == TaskStatus.OPEN:
        task.status, task.acknowledged_at = states.acknowledged(task.status).value, now
        event(session, task.outage_id, "task_acknowledged", at=now, patient_id=task.patient_id,
              task_id=task.id, actor_user_id=actor.user_id)
    return task


def field_report(session: Session, actor: Actor, task_id: int, *, needs_transport: bool, now: datetime,
                 notifier: Notifier) -> Transport | None:
    """The field team is at the door: either fine (ok) or transport needed."""
    task = acknowledge_task(session, actor, task_id, now=now)
    task.status = TaskStatus.DONE.value
    outage = access.get_outage(session, task.outage_id)
    row = session.scalars(select(OutagePatient).where(OutagePatient.outage_id == outage.id,
                                                      OutagePatient.patient_id == task.patient_id)).one()
    row.checkin = "needs_help" if needs_transport else "ok"
    row.answered_at = row.answered_at or now
    row.answer_channel, row.next_action_at = "field", None
    event(session, outage.id, "field_report", at=now, patient_id=task.patient_id, task_id=task.id,
          needs_transport=needs_transport, actor_user_id=actor.user_id)
    if needs_transport:
        return transport.arrange(session, actor, outage, task.patient_id, reason="field_report", now=now,
                                 notifier=notifier)
    return None

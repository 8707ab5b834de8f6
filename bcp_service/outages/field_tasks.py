"""Field tasks: a visit when a patient stays silent after round 2 and their registered contacts (or no
channel reaches them), the team's acknowledgement or decline, the deadline that moves an
unacknowledged task to the next team, and the team's report from the door.

Every task has an acknowledgement deadline from the patient's countdown (``teams.ack_deadline``). A
decline, or no acknowledgement by then, closes the row as ``reassigned`` and opens a new row for the
next team in the on-call order (``teams.visit_order`` / ``transport_order``), so each team's link and
SMS reply names its own row; the desk sees both on the timeline and the dashboard.

The use cases check the actor's role and region scope (``access``) and, for a field user, that the
task is their organisation's; ``create_field_task`` and ``expire_due`` are the clock's own work.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bcp_service.auth.roles import Actor, Role
from bcp_service.errors import Conflict, Gone, NotFound
from bcp_service.orgs.models import Organization
from bcp_service.outages import access, states, teams, transport
from bcp_service.outages.models import FieldTask, Outage, OutagePatient, Transport
from bcp_service.outages.ports import Notifier
from bcp_service.outages.states import OutageStatus, TaskStatus
from bcp_service.outages.timeline import event
from bcp_service.registry.models import Patient

LIVE = (TaskStatus.OPEN.value, TaskStatus.ACKNOWLEDGED.value)


def create_field_task(session: Session, outage: Outage, r: OutagePatient, patient: Patient | None, *,
                      now: datetime, notifier: Notifier) -> FieldTask:
    """Silent after round 2 and the contacts: the patient's nursing station goes, or the 拠点 on call."""
    order = teams.visit_order(session, outage, patient)
    org = order[0] if order else None
    task = FieldTask(outage_id=outage.id, patient_id=r.patient_id, organization_id=org.id if org else None,
                     kind="visit", status=TaskStatus.OPEN.value, details=teams.task_details(outage, r, patient, now=now),
                     created_at=now, ack_deadline_at=teams.ack_deadline(
                         "visit", r.runs_out_at, now=now, safety_margin_minutes=outage.safety_margin_minutes))
    session.add(task)
    session.flush()
    event(session, outage.id, "field_task", at=now, patient_id=r.patient_id, task_id=task.id,
          organization_id=org.id if org else None, deadline=_hhmm(task.ack_deadline_at))
    _send(session, outage, task, org, now=now, notifier=notifier)
    return task


def _hhmm(at: datetime | None) -> str | None:
    from bcp_service.clock import to_local

    return to_local(at).strftime("%H:%M") if at else None


def _send(session: Session, outage: Outage, task: FieldTask, org: Organization | None, *, now: datetime,
          notifier: Notifier) -> None:
    to = org.phone if org else None
    if task.kind == "transport":
        unsent = notifier.transport_task(session, outage, task, to=to,
                                         facility_name=(task.details or {}).get("facility_name") or "受入先", now=now)
    else:
        unsent = notifier.field_task(session, outage, task, to=to, now=now)
    if unsent:
        event(session, outage.id, "task_unsent", at=now, patient_id=task.patient_id, task_id=task.id,
              organization_id=org.id if org else None, reason=unsent)


def task_for(session: Session, actor: Actor, task_id: int, *, for_update: bool = False) -> FieldTask:
    """The task if the actor is on its team (or the desk) of its outage's region; 403/404 otherwise."""
    stmt = select(FieldTask).where(FieldTask.id == task_id)
    task = session.scalars(stmt.with_for_update() if for_update else stmt).first()
    if task is None:
        raise NotFound("依頼が見つかりません。")
    access.outage_for(session, actor, task.outage_id, roles=access.TEAM)
    access.check_task_team(actor, task.organization_id)
    return task


def acknowledge_task(session: Session, actor: Actor, task_id: int, *, now: datetime) -> FieldTask:
    task = task_for(session, actor, task_id, for_update=True)
    outage = access.get_outage(session, task.outage_id)
    if outage.status != OutageStatus.ACTIVE and task.status == TaskStatus.OPEN:
        raise Gone("この停電は復旧済みです。")
    if task.status == TaskStatus.REASSIGNED:
        raise Conflict("この依頼は別のチームに移りました（辞退または受諾期限切れ）。", code="wrong_state")
    if task.status == TaskStatus.OPEN:
        task.status, task.acknowledged_at = states.acknowledged(task.status).value, now
        event(session, task.outage_id, "task_acknowledged", at=now, patient_id=task.patient_id,
              task_id=task.id, organization_id=task.organization_id, actor_user_id=actor.user_id)
    return task


def decline_task(session: Session, actor: Actor, task_id: int, *, now: datetime,
                 notifier: Notifier) -> FieldTask | None:
    """The team cannot go (SMS 「2」, key 2, the page's button): the next team in the on-call order is
    asked. Returns the new task (None when nobody is left and the desk must arrange it)."""
    task = task_for(session, actor, task_id, for_update=True)
    outage = access.get_outage(session, task.outage_id)
    if outage.status != OutageStatus.ACTIVE:
        raise Gone("この停電は復旧済みです。")
    if task.status == TaskStatus.REASSIGNED:
        return None          # the same decline twice, or the deadline moved it first
    if not states.may_hand_off(task.status):
        raise Conflict("完了・取消済みの依頼は辞退できません。", code="wrong_state")
    return hand_off(session, outage, task, reason="declined", now=now, notifier=notifier,
                    actor_user_id=actor.user_id)


def hand_off(session: Session, outage: Outage, task: FieldTask, *, reason: str, now: datetime,
             notifier: Notifier, actor_user_id: int | None = None) -> FieldTask | None:
    """Close ``task`` as reassigned and ask the next team that has not had it yet."""
    task.status, task.handoff_reason = TaskStatus.REASSIGNED.value, reason
    event(session, outage.id, "task_declined" if reason == "declined" else "task_expired", at=now,
          patient_id=task.patient_id, task_id=task.id, organization_id=task.organization_id,
          actor_user_id=actor_user_id)
    tried = _teams_tried(session, task)
    patient = session.get(Patient, task.patient_id)
    order = (teams.transport_order if task.kind == "transport" else teams.visit_order)(session, outage, patient)
    nxt = next((o for o in order if o.id not in tried), None)
    if nxt is None:
        event(session, outage.id, "task_no_team", at=now, patient_id=task.patient_id, task_id=task.id)
        return None
    row = session.scalars(select(OutagePatient).where(OutagePatient.outage_id == outage.id,
                                                      OutagePatient.patient_id == task.patient_id)).first()
    details = dict(task.details or {})
    if row is not None and patient is not None:
        details.update(teams.task_details(outage, row, patient, now=now))   # hours left as of now
    new = FieldTask(outage_id=outage.id, patient_id=task.patient_id, organization_id=nxt.id, kind=task.kind,
                    transport_id=task.transport_id, status=TaskStatus.OPEN.value, details=details, created_at=now,
                    handoff_of_id=task.id, ack_deadline_at=teams.ack_deadline(
                        task.kind, row.runs_out_at if row else None, now=now,
                        safety_margin_minutes=outage.safety_margin_minutes))
    session.add(new)
    session.flush()
    event(session, outage.id, "task_reassigned", at=now, patient_id=task.patient_id, task_id=new.id,
          from_task_id=task.id, organization_id=nxt.id, deadline=_hhmm(new.ack_deadline_at))
    _send(session, outage, new, nxt, now=now, notifier=notifier)
    return new


def _teams_tried(session: Session, task: FieldTask) -> set[int]:
    """Organisations that already had this task (the chain of hand-offs back to the first row)."""
    tried, at, seen = set(), task, set()
    while at is not None and at.id not in seen:
        seen.add(at.id)
        if at.organization_id is not None:
            tried.add(at.organization_id)
        at = session.get(FieldTask, at.handoff_of_id) if at.handoff_of_id else None
    return tried


def expire_due(session: Session, *, now: datetime, notifier: Notifier, limit: int = 200) -> int:
    """Open tasks past their acknowledgement deadline move to the next team (rows claimed with FOR
    UPDATE SKIP LOCKED on PostgreSQL, so a second clock never moves a task twice)."""
    due = session.scalars(
        select(FieldTask).join(Outage, Outage.id == FieldTask.outage_id)
        .where(FieldTask.status == TaskStatus.OPEN.value, FieldTask.ack_deadline_at <= now,
               Outage.status == OutageStatus.ACTIVE.value)
        .order_by(FieldTask.ack_deadline_at).limit(limit).with_for_update(skip_locked=True, of=FieldTask)).all()
    for task in due:
        if task.transport_id is not None:
            t = session.get(Transport, task.transport_id)
            if t is not None and states.transport_is_final(t.status):
                task.ack_deadline_at = None       # nothing left to move: never picked up again
                continue
        hand_off(session, access.get_outage(session, task.outage_id), task, reason="no_ack", now=now,
                 notifier=notifier)
    return len(due)


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


# --- read side: the tasks a user may see -----------------------------------------------------------

def tasks_stmt_for(actor: Actor, outage_id: int):
    """An outage's tasks as this actor may see them: a field user only their organisation's."""
    stmt = select(FieldTask).where(FieldTask.outage_id == outage_id).order_by(FieldTask.id)
    if actor.role is Role.FIELD_TEAM:
        stmt = stmt.where(FieldTask.organization_id == actor.organization_id,
                          FieldTask.organization_id.is_not(None))
    return stmt


def open_tasks_of_team(session: Session, actor: Actor) -> list[FieldTask]:
    """A field user's live tasks (open or acknowledged) in active outages of their region, soonest
    deadline first: their home page, so a lost SMS is never a lost task."""
    if actor.role is not Role.FIELD_TEAM or actor.organization_id is None:
        return []
    stmt = (select(FieldTask).join(Outage, Outage.id == FieldTask.outage_id)
            .where(FieldTask.organization_id == actor.organization_id, FieldTask.status.in_(LIVE),
                   Outage.status == OutageStatus.ACTIVE.value, Outage.region_code == actor.scope)
            .order_by(FieldTask.ack_deadline_at.is_(None), FieldTask.ack_deadline_at, FieldTask.id))
    return list(session.scalars(stmt))

"""Clock jobs: drill reminders (7 days, 1 day, 1 hour before) and overdue corrective actions.

Scheduled by ``bcp_service/wiring.py``: ``run_reminders`` on every metronome beat, ``run_overdue`` daily
at 09:00 Tokyo; each runs its due work in ``db.run_in_transaction``.

Due work is in our rows (``Drill.next_reminder_at``; ``CorrectiveAction.due`` + ``last_reminded_on``),
claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so a second clock never sends twice; the outbox
keys make a retried send a no-op as well.
"""
from __future__ import annotations

import logging
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bcp_service.appclock import get_clock
from bcp_service.clock import to_local
from bcp_service.db import run_in_transaction
from bcp_service.drills.models import CorrectiveAction, Drill, DrillParticipant
from bcp_service.drills.reminders import (REMINDER_LABEL_JA, drill_reminder, next_drill_reminder_at,
                                          overdue_reminder_due)
from bcp_service.drills.notices import reminder_text
from bcp_service.drills.ports import Notifier
from bcp_service.drills.running import log_entry as _log

log = logging.getLogger(__name__)
OVERDUE_HOUR = 9          # 09:00 Tokyo: a working-hours nudge, never at night


def send_due_reminders(session: Session, *, now: datetime, notifier: Notifier, base_url: str,
                       limit: int = 100) -> int:
    """Send every drill reminder that is due; returns the number of messages queued."""
    drills = session.scalars(
        select(Drill).options(selectinload(Drill.participants))
        .where(Drill.next_reminder_at <= now, Drill.status == "scheduled")
        .order_by(Drill.next_reminder_at).limit(limit).with_for_update(skip_locked=True)
    ).all()
    queued = 0
    for drill in drills:
        done = list(drill.reminders_done or [])
        decision = drill_reminder(drill.scheduled_at, now=now, created_at=drill.created_at, done=done)
        if decision.send:
            label = REMINDER_LABEL_JA[decision.send]
            sent = 0
            for p in drill.participants:
                if p.contact_phone_e164 and notifier.send(
                        session, to_e164=p.contact_phone_e164, body=reminder_text(drill, label, base_url),
                        key=f"drill:{drill.id}:org:{p.organization_id}:reminder:{decision.send}:{drill.sequence}",
                        now=now):
                    sent += 1
            _log(session, drill, now=now, kind="event", text=f"{label}のリマインダーを送信しました（{sent}件）")
            queued += sent
        done = done + list(decision.skip) + ([decision.send] if decision.send else [])
        drill.reminders_done = done
        drill.next_reminder_at = next_drill_reminder_at(drill.scheduled_at, created_at=drill.created_at, done=done)
        if drill.next_reminder_at is not None and drill.next_reminder_at <= now:
            # Never leave a row due in the past: it would be claimed on every beat.
            drill.next_reminder_at = None if drill.scheduled_at <= now else drill.scheduled_at
    return queued


def _owner_phone(session: Session, action: CorrectiveAction) -> str | None:
    """The owner's contact for this drill, else a staff user of the owner organisation with a mobile."""
    phone = session.scalar(select(DrillParticipant.contact_phone_e164).where(
        DrillParticipant.drill_id == action.drill_id, DrillParticipant.organization_id == action.owner_org_id))
    if phone:
        return phone
    from bcp_service.auth.models import User

    return session.scalar(select(User.phone_e164).where(
        User.organization_id == action.owner_org_id, User.active.is_(True), User.phone_e164.is_not(None))
        .order_by(User.id).limit(1))


def remind_overdue_actions(session: Session, *, today: date, now: datetime, notifier: Notifier,
                           base_url: str) -> int:
    actions = session.scalars(
        select(CorrectiveAction).options(selectinload(CorrectiveAction.drill))
        .where(CorrectiveAction.status.in_(("open", "in_progress")), CorrectiveAction.due < today)
        .order_by(CorrectiveAction.due, CorrectiveAction.id).with_for_update(skip_locked=True)
    ).all()
    sent = 0
    for a in actions:
        if not overdue_reminder_due(a.due, a.status, today=today, last_reminded_on=a.last_reminded_on):
            continue
        phone = _owner_phone(session, a)
        if phone:
            source, link = (("訓練", f"drills/{a.drill_id}") if a.drill_id is not None
                            else ("協議の場", f"meetings/{a.meeting_id}"))
            body = (f"【{source}】是正措置の期限（{a.due.month}/{a.due.day}）を過ぎています:「{a.title}」"
                    f" {base_url}/{link}")
            key = (f"drill:{a.drill_id}:action:{a.id}:overdue:{today.isoformat()}" if a.drill_id is not None
                   else f"meeting:{a.meeting_id}:action:{a.id}:overdue:{today.isoformat()}")
            if notifier.send(session, to_e164=phone, body=body, key=key, now=now):
                sent += 1
        else:
            log.warning("corrective action %s is overdue but its owner organisation %s has no mobile contact",
                        a.id, a.owner_org_id)
        a.last_reminded_on = today
    return sent


def run_reminders(app, *, now: datetime | None = None, notifier: Notifier | None = None) -> None:
    """Metronome tick ``drills.reminders`` (listed in ``wiring.TICKS``)."""
    from bcp_service.drills import adapters

    notifier = notifier or adapters.notifier()
    if notifier is None:
        return  # no outbox to send through: the rows stay due
    at = now or get_clock().now()
    base = app.config.get("PUBLIC_BASE_URL", "").rstrip("/")
    run_in_transaction(app, "drills.reminders",
                       lambda s: send_due_reminders(s, now=at, notifier=notifier, base_url=base))


def run_overdue(app, *, now: datetime | None = None, notifier: Notifier | None = None) -> None:
    """Daily job ``drills.overdue_actions`` at ``OVERDUE_HOUR`` (listed in ``wiring.JOBS``)."""
    from bcp_service.drills import adapters

    notifier = notifier or adapters.notifier()
    if notifier is None:
        return
    base = app.config.get("PUBLIC_BASE_URL", "").rstrip("/")

    def work(session: Session) -> int:
        at = now or get_clock().now()
        return remind_overdue_actions(session, today=to_local(at).date(), now=at, notifier=notifier,
                                      base_url=base)

    run_in_transaction(app, "drills.overdue_actions", work)

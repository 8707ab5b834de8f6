"""Claiming due outbox rows for sending (one statement, safe with concurrent dispatchers) and recovering
rows whose sender died mid-send. See ``messaging.dispatcher`` for the whole pass."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bcp_service.messaging.models import QUEUED, SENDING, OutboxMessage


@dataclass(frozen=True)
class Claimed:
    """A claimed row as plain data: worker threads never touch the ORM session."""

    id: int
    key: str
    channel: str
    to: str
    body: str | None
    twiml_url: str | None
    purpose: str
    priority: int
    patient_id: int | None
    outage_id: int | None
    attempts: int
    unknown_since: datetime | None = None    # set: ask the provider before sending again
    drill: bool = False


_CLAIM_COLUMNS = (OutboxMessage.id, OutboxMessage.key, OutboxMessage.channel, OutboxMessage.to,
                  OutboxMessage.body, OutboxMessage.twiml_url, OutboxMessage.purpose,
                  OutboxMessage.priority, OutboxMessage.patient_id, OutboxMessage.outage_id,
                  OutboxMessage.attempts, OutboxMessage.unknown_since, OutboxMessage.drill)
# Our clock and the provider's may disagree by a little; look this much further back.
PROVIDER_CLOCK_SKEW = timedelta(seconds=30)


def unknown_since():
    """For a row in ``sending``, ``updated_at`` is the moment it was claimed: the attempt began then.
    An earlier unknown attempt keeps its (earlier) time."""
    return func.coalesce(OutboxMessage.unknown_since, OutboxMessage.updated_at)


def recover_expired(session: Session, *, now: datetime) -> int:
    stmt = (update(OutboxMessage)
            .where(OutboxMessage.status == SENDING, OutboxMessage.lease_until < now)
            .values(status=QUEUED, lease_until=None, next_attempt_at=now, updated_at=now,
                    unknown_since=unknown_since())
            .execution_options(synchronize_session=False))
    return session.execute(stmt).rowcount or 0


def recover_orphaned(session: Session, *, now: datetime) -> int:
    """Every row still ``sending``, lease or not: called once when a clock takes the leader lock. Only the
    leader dispatches, so a claim still held then is the replaced (dead) dispatcher's; waiting out its
    lease would hold a check-in back for up to two minutes. Marked ``unknown_since`` like an expired
    lease: the dispatcher asks the provider before sending any of them again (never twice)."""
    stmt = (update(OutboxMessage)
            .where(OutboxMessage.status == SENDING)
            .values(status=QUEUED, lease_until=None, next_attempt_at=now, updated_at=now,
                    unknown_since=unknown_since())
            .execution_options(synchronize_session=False))
    return session.execute(stmt).rowcount or 0


def claim_due(session: Session, *, now: datetime, limit: int, lease_seconds: float) -> list[Claimed]:
    due = (select(OutboxMessage.id)
           .where(OutboxMessage.status == QUEUED, OutboxMessage.next_attempt_at <= now)
           .order_by(OutboxMessage.priority, OutboxMessage.id)
           .limit(limit))
    values = dict(status=SENDING, lease_until=now + timedelta(seconds=lease_seconds),
                  attempts=OutboxMessage.attempts + 1, updated_at=now)
    if session.get_bind().dialect.name == "postgresql":
        # A CTE, not "WHERE id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)": PostgreSQL may run such a
        # subquery more than once inside the UPDATE and then claims far more than n rows (seen in
        # tests/integration/test_dispatch_claim.py). A locking CTE is evaluated exactly once.
        picked = due.with_for_update(skip_locked=True).cte("due")
        stmt = (update(OutboxMessage).where(OutboxMessage.id == picked.c.id).values(**values)
                .returning(*_CLAIM_COLUMNS).execution_options(synchronize_session=False))
    else:
        # SQLite: one writer at a time, and a single statement is atomic.
        stmt = (update(OutboxMessage)
                .where(OutboxMessage.id.in_(due.scalar_subquery()), OutboxMessage.status == QUEUED)
                .values(**values).returning(*_CLAIM_COLUMNS).execution_options(synchronize_session=False))
    rows = [Claimed(*r) for r in session.execute(stmt).all()]
    rows.sort(key=lambda c: (c.priority, c.id))
    return rows

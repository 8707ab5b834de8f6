"""Wake the clock's transport proposer the moment a declaration (or a change of area or expected
restoration) commits: the proposals are made by the clock, never inside the desk's request.

The same mechanism as the dispatcher's (``messaging.wakeup``), on a channel of its own: on PostgreSQL
the declaring transaction runs ``NOTIFY bcp_proposals``, delivered only if it commits, and the clock
process LISTENs (``listen``); in-process (demo, SQLite) the session's ``after_commit`` sets
``committed``. A lost wake-up only delays proposals to the metronome's next beat (``jobs.tick``).
"""
from __future__ import annotations

import threading

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from bcp_service.messaging import wakeup as messaging_wakeup

CHANNEL = "bcp_proposals"
_PENDING = "bcp_proposals_wakeup"

committed = threading.Event()


def request(session: Session) -> None:
    """Called inside the transaction whose commit should wake the proposer."""
    if session.info.get(_PENDING):
        return
    session.info[_PENDING] = True
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {CHANNEL}"))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_PENDING, False):
        committed.set()


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous_transaction) -> None:
    session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def listen(database_url: str, stop: threading.Event, *, wake: threading.Event = committed) -> None:
    """Clock process on PostgreSQL: ``NOTIFY bcp_proposals`` from any process → ``wake.set()``."""
    messaging_wakeup.listen(database_url, stop, wake=wake, channel=CHANNEL)

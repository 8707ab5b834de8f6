"""Wake the dispatcher the moment a transaction that enqueued messages commits.

The dispatcher still polls (``jobs.DISPATCH_SECONDS``); a wake-up only removes the wait, so a lost
wake-up delays a message by one poll and never loses it. Two paths, both fired only by a commit:

* **PostgreSQL, across processes.** The enqueuing transaction runs ``NOTIFY bcp_outbox``; PostgreSQL
  delivers it when, and only if, that transaction commits (a rolled-back declaration wakes nobody).
  The clock process ``listen``\\ s on a connection of its own and sets ``committed``.
* **In-process** (``bcp-service demo`` / ``serve --with-clock``, SQLite included): the session's
  ``after_commit`` event sets ``committed`` directly.

One NOTIFY per transaction, however many messages it enqueues; PostgreSQL folds repeats anyway.
"""
from __future__ import annotations

import logging
import threading

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_PENDING = "bcp_wakeups"       # session.info: the wake channels this transaction asked for
RECONNECT_SECONDS = 5


class WakeChannel:
    """One NOTIFY channel and the in-process event its commits set. The outbox uses ``OUTBOX``; the
    outage desk's transport proposer has its own (``outages.wakeup.PROPOSALS``), same mechanism."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.committed = threading.Event()

    def request(self, session: Session) -> None:
        """Called inside the transaction whose commit should wake this channel's worker."""
        pending = session.info.setdefault(_PENDING, set())
        if self in pending:
            return
        pending.add(self)
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text(f"NOTIFY {self.name}"))


OUTBOX = WakeChannel("bcp_outbox")
CHANNEL = OUTBOX.name
committed = OUTBOX.committed             # set after a commit that enqueued; the dispatcher job waits on it


def request(session: Session) -> None:
    """Called by the outbox after it added rows to ``session``'s transaction."""
    OUTBOX.request(session)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    for channel in session.info.pop(_PENDING, ()):
        channel.committed.set()


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous_transaction) -> None:
    # The NOTIFY may have gone with the rollback (a savepoint's included): the next request sends another.
    session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction) -> None:
    # session.close() ends the transaction without a rollback event; a commit has popped it already.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def listen(database_url: str, stop: threading.Event, *, wake: threading.Event = committed,
           channel: str = CHANNEL) -> None:
    """Clock process on PostgreSQL: turn ``NOTIFY bcp_outbox`` into ``wake.set()`` until ``stop``.

    A dedicated autocommit connection (not from the pool: it stays in LISTEN for the clock's life).
    When it drops, it reconnects after ``RECONNECT_SECONDS`` and wakes the dispatcher once, since a
    commit may have happened while nobody was listening; meanwhile the dispatcher's poll covers.
    """
    import psycopg

    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    while not stop.is_set():
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f"LISTEN {channel}")
                log.info("dispatcher wake-up: listening on %s", channel)
                wake.set()
                while not stop.is_set():
                    for _ in conn.notifies(timeout=1.0, stop_after=1):
                        wake.set()
        except psycopg.Error as exc:
            log.warning("dispatcher wake-up: LISTEN connection lost (%s); polling until it is back",
                        type(exc).__name__)
            stop.wait(RECONNECT_SECONDS)

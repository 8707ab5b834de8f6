"""Clock work for outages: advance due check-in rounds and escalations; transport proposals.

Due work lives in ``outage_patients.next_action_at``; the metronome (``bcp_service.scheduler``) calls
``tick`` every few seconds (listed in ``bcp_service/wiring.py``). A clock that was down simply finds
overdue rows and acts on them at once, so rounds and escalations resume on time after a restart. Each
batch is its own transaction (``db.run_in_transaction``), and rows are claimed with FOR UPDATE SKIP
LOCKED (PostgreSQL), so a stand-by clock is harmless.

Transport proposals are the clock's alone (never inside the desk's request): ``proposals`` is a job
of its own that lingers on ``outages.wakeup.committed`` and runs the moment a declaration, a change
of area or of the expected restoration commits (NOTIFY on PostgreSQL, ``listen_proposals`` in the
clock's background); the metronome's ``tick`` proposes again on every beat for what time brings.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from sqlalchemy import select

from bcp_service.appclock import get_clock
from bcp_service.db import db, run_in_transaction
from bcp_service.outages import checkins, field_tasks, transport, wakeup
from bcp_service.outages.access import SYSTEM
from bcp_service.outages.models import Outage
from bcp_service.outages.notify import notifier_for

log = logging.getLogger(__name__)
BATCH = 500
MAX_BATCHES = 40   # one beat handles at most 20,000 rows; the next beat continues
PROPOSE_SECONDS = 2
LINGER_SECONDS = PROPOSE_SECONDS - 0.25


def run_due(app, *, now=None, notifier=None) -> int:
    """Advance every due row (in batches); returns how many rows were handled."""
    notifier = notifier or notifier_for(app)
    total = 0
    for _ in range(MAX_BATCHES):
        at = now or get_clock().now()
        n = run_in_transaction(app, "outages.rounds",
                               lambda s: checkins.advance_due(s, now=at, notifier=notifier, limit=BATCH))
        total += n
        if n < BATCH:
            break
    return total


def run_proposals(app, *, now=None) -> int:
    """Transport proposals for every active outage, each in its own transaction."""
    made = 0
    for oid in db.session.scalars(select(Outage.id).where(Outage.status == "active")).all():
        try:
            made += run_in_transaction(app, f"outages.proposals outage {oid}",
                                       lambda s: transport.propose_transports(s, SYSTEM, oid, now=now or get_clock().now()))
        except Exception:  # noqa: BLE001 - one outage's failure must not stop the others
            log.exception("outage %s: transport proposals failed", oid)
    return made


def tick(app) -> None:
    """Metronome tick ``outages.rounds``."""
    handled = run_due(app)
    run_proposals(app)
    if handled:
        log.info("outages: %d due check-in steps handled", handled)


def run_task_deadlines(app, *, now=None, notifier=None) -> int:
    """Metronome tick ``outages.task_deadlines``: open field and transport tasks past their
    acknowledgement deadline move to the next team in the on-call order."""
    notifier = notifier or notifier_for(app)
    at = now or get_clock().now()
    moved = run_in_transaction(app, "outages.task_deadlines",
                               lambda s: field_tasks.expire_due(s, now=at, notifier=notifier))
    if moved:
        log.info("outages: %d unacknowledged tasks moved to the next team", moved)
    return moved


def proposals(app, *, wake: threading.Event = wakeup.committed, linger: float = LINGER_SECONDS,
              monotonic: Callable[[], float] = time.monotonic) -> int:
    """Job ``outages.proposals``: wait (until just before the next run) for a committed declaration
    or change, then propose at once; returns how many proposals were made."""
    deadline = monotonic() + linger
    stopping = app.extensions.get("clock.stopping")
    made = 0
    with app.app_context():
        while True:
            remaining = deadline - monotonic()
            if remaining <= 0 or (stopping is not None and stopping.is_set()) or not wake.wait(remaining):
                return made
            wake.clear()
            made += run_proposals(app)
            if made:
                log.info("outages: %d transport proposals made", made)


def listen_proposals(app, stop: threading.Event) -> None:
    """Background ``outages.proposals``: LISTEN for committed declarations (PostgreSQL)."""
    wakeup.listen(app.config["DATABASE_URL"], stop)

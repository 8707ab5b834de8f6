"""Clock work for outages: advance due check-in rounds and escalations.

Due work lives in ``outage_patients.next_action_at``; the metronome (``bcp_service.scheduler``) calls
``tick`` every few seconds (listed in ``bcp_service/wiring.py``). A clock that was down simply finds
overdue rows and acts on them at once, so rounds and escalations resume on time after a restart. Each
batch is its own transaction (``db.run_in_transaction``), and rows are claimed with FOR UPDATE SKIP
LOCKED (PostgreSQL), so a stand-by clock is harmless.
"""
from __future__ import annotations

import logging

from sqlalchemy import select

from bcp_service.appclock import get_clock
from bcp_service.db import db, run_in_transaction
from bcp_service.outages import checkins, field_tasks, transport
from bcp_service.outages.access import SYSTEM
from bcp_service.outages.models import Outage
from bcp_service.outages.notify import notifier_for

log = logging.getLogger(__name__)
BATCH = 500
MAX_BATCHES = 40   # one beat handles at most 20,000 rows; the next beat continues


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
    """Retry transport proposals for active outages (declare proposes at once; this catches failures)."""
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

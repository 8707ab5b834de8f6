"""Clock jobs for messaging: the dispatcher, woken by commits, polling every 2 seconds as a fallback.

Its own APScheduler job (not the 10 s metronome), listed in ``bcp_service/wiring.py``. Each run drains
what is due, then lingers until just before its next run, draining again whenever ``wakeup.committed`` fires — so a declaration's
first check-in leaves as soon as the declaration commits, not at the next poll. ``max_instances=1``
+ ``coalesce`` keep one run at a time in this process; more clock or worker processes are safe
because rows are claimed with FOR UPDATE SKIP LOCKED.

The dispatcher keeps its own short transactions (claim, send, record: see ``dispatcher.py``), so this
job does not use ``db.run_in_transaction``.

``background`` runs for the clock's whole life: on PostgreSQL it LISTENs for the NOTIFY that a
committing enqueue sends from any process (web workers included).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from bcp_service.messaging import wakeup

log = logging.getLogger(__name__)
DISPATCH_SECONDS = 2
LINGER_SECONDS = DISPATCH_SECONDS - 0.25    # leave the next scheduled run room to start on time
PASS_BUDGET_SECONDS = 30     # one job run drains the backlog for at most this long, then yields


def dispatch(app, *, wake: threading.Event = wakeup.committed, linger: float = LINGER_SECONDS,
             monotonic: Callable[[], float] = time.monotonic) -> None:
    from bcp_service.messaging.dispatcher import dispatcher_for

    deadline = monotonic() + linger
    stopping = app.extensions.get("clock.stopping")     # set by scheduler.run_clock on SIGTERM
    with app.app_context():
        dispatcher = dispatcher_for(app)
        while True:
            wake.clear()                # before draining: a commit during the drain wakes the next loop
            stats = dispatcher.drain(time_budget=PASS_BUDGET_SECONDS, stop=stopping)
            if stats.claimed:
                log.info("dispatcher: claimed=%d sent=%d retried=%d failed=%d fallbacks=%d recovered=%d",
                         stats.claimed, stats.sent, stats.retried, stats.failed, stats.fallbacks,
                         stats.recovered)
            remaining = deadline - monotonic()
            if remaining <= 0 or (stopping is not None and stopping.is_set()) or not wake.wait(remaining):
                return


JOB_ID = "messaging.dispatch"


def background(app, stop: threading.Event) -> None:
    wakeup.listen(app.config["DATABASE_URL"], stop)

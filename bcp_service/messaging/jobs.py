"""Clock jobs for messaging: the dispatcher, woken by commits, polling every 2 seconds as a fallback.

Its own APScheduler job (not the 10 s metronome). Each run drains what is due, then lingers until
just before its next run, draining again whenever ``wakeup.committed`` fires — so a declaration's
first check-in leaves as soon as the declaration commits, not at the next poll. ``max_instances=1``
+ ``coalesce`` keep one run at a time in this process; more clock or worker processes are safe
because rows are claimed with FOR UPDATE SKIP LOCKED.

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
    stopping = app.extensions.get("clock.stopping")     # set by run_clock on SIGTERM
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


class ExpectedOverlap(logging.Filter):
    """A dispatcher run that is sending a backlog outlasts its 2 s interval by design, and APScheduler
    warns at every run it skips meanwhile; that is not news for whoever reads the log at 3 a.m."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        job = args[0] if args else None
        return not (getattr(job, "id", None) == JOB_ID and "maximum number of running" in str(record.msg))


def register(scheduler, app) -> None:
    scheduler.add_job(dispatch, "interval", args=[app], seconds=DISPATCH_SECONDS, id=JOB_ID,
                      max_instances=1, coalesce=True, misfire_grace_time=DISPATCH_SECONDS * 5,
                      replace_existing=True)
    scheduler_log = getattr(scheduler, "_logger", None) or logging.getLogger("apscheduler.scheduler")
    if not any(isinstance(f, ExpectedOverlap) for f in scheduler_log.filters):
        scheduler_log.addFilter(ExpectedOverlap())


def background(app, stop: threading.Event) -> None:
    wakeup.listen(app.config["DATABASE_URL"], stop)

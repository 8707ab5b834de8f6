"""Clock jobs for messaging: the dispatcher runs every 2 seconds in the clock process.

Its own APScheduler job (not the 10 s metronome) so a check-in goes out within seconds of being
enqueued. ``max_instances=1`` + ``coalesce`` keep one pass at a time in this process; more clock or
worker processes are safe because rows are claimed with FOR UPDATE SKIP LOCKED.
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)
DISPATCH_SECONDS = 2
PASS_BUDGET_SECONDS = 30     # one job run drains the backlog for at most this long, then yields


def dispatch(app) -> None:
    from bcp_service.messaging.dispatcher import dispatcher_for

    with app.app_context():
        stats = dispatcher_for(app).drain(time_budget=PASS_BUDGET_SECONDS)
        if stats.claimed:
            log.info("dispatcher: claimed=%d sent=%d retried=%d failed=%d fallbacks=%d recovered=%d",
                     stats.claimed, stats.sent, stats.retried, stats.failed, stats.fallbacks, stats.recovered)


def register(scheduler, app) -> None:
    scheduler.add_job(dispatch, "interval", args=[app], seconds=DISPATCH_SECONDS, id="messaging.dispatch",
                      max_instances=1, coalesce=True, misfire_grace_time=DISPATCH_SECONDS * 5,
                      replace_existing=True)

"""The clock process (``bcp-service clock``): one leader, a metronome, and the jobs the wiring lists.

The database is the source of truth for due work (rows with ``next_action_at``, ``next_reminder_at``…),
so the scheduler only needs a short metronome (``Tick``s, every ``METRONOME_SECONDS``) plus a few
APScheduler jobs with their own trigger (``Job``s) and long-running helpers (``Background``). Which ones
run is ``bcp_service/wiring.py`` (``TICKS``, ``JOBS``, ``BACKGROUND``), stored on the app as
``app.extensions["schedule"]``. A job only schedules: its due work runs in
``db.run_in_transaction``.
"""
from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Mapping

from bcp_service.clock import TOKYO

log = logging.getLogger(__name__)

METRONOME_SECONDS = 10
EXTENSION = "schedule"


@dataclass(frozen=True)
class Tick:
    """Runs on every metronome beat with the app (inside an app context)."""

    name: str
    run: Callable[[object], object]


@dataclass(frozen=True)
class Job:
    """An APScheduler job of its own: ``trigger`` ("interval" | "cron") with ``options`` (its arguments).
    ``overlap_expected``: a run that outlasts its interval is normal (skipped runs are not warned about)."""

    name: str
    run: Callable[[object], object]
    trigger: str
    options: Mapping[str, object]
    misfire_grace_time: int
    overlap_expected: bool = False


@dataclass(frozen=True)
class Background:
    """Runs in a daemon thread for the clock's whole life: ``run(app, stopping)`` returns once set."""

    name: str
    run: Callable[[object, threading.Event], None]


@dataclass(frozen=True)
class Schedule:
    ticks: tuple[Tick, ...] = ()
    jobs: tuple[Job, ...] = ()
    background: tuple[Background, ...] = field(default=())
    # Run once, in order, when this clock takes the leader lock and before any job starts (e.g. the
    # dispatcher recovering the claims of the clock it replaces instead of waiting for their leases).
    on_leader: tuple[Tick, ...] = field(default=())


def schedule_of(app) -> Schedule:
    return app.extensions.get(EXTENSION, Schedule())


def run_metronome_once(app) -> dict[str, str]:
    """One beat: run every tick; one failing tick never stops the others."""
    results: dict[str, str] = {}
    for tick in schedule_of(app).ticks:
        with app.app_context():
            try:
                tick.run(app)
                results[tick.name] = "ok"
            except Exception:  # noqa: BLE001 - the metronome must keep beating
                log.exception("tick %s failed", tick.name)
                results[tick.name] = "error"
    return results


class ExpectedOverlap(logging.Filter):
    """A run that outlasts its interval by design (the dispatcher sending a backlog) makes APScheduler
    warn at every run it skips meanwhile; that is not news for whoever reads the log at 3 a.m."""

    def __init__(self, job_ids) -> None:
        super().__init__()
        self.job_ids = frozenset(job_ids)

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        job = args[0] if args else None
        return not (getattr(job, "id", None) in self.job_ids and "maximum number of running" in str(record.msg))


def build_scheduler(app, scheduler_class=None):
    """An APScheduler with the wiring's jobs and the metronome (not started)."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    schedule = schedule_of(app)
    scheduler = (scheduler_class or BlockingScheduler)(timezone=TOKYO)
    for job in schedule.jobs:
        scheduler.add_job(job.run, job.trigger, args=[app], id=job.name, max_instances=1, coalesce=True,
                          misfire_grace_time=job.misfire_grace_time, replace_existing=True, **job.options)
    quiet = [job.name for job in schedule.jobs if job.overlap_expected]
    if quiet:
        scheduler_log = getattr(scheduler, "_logger", None) or logging.getLogger("apscheduler.scheduler")
        for old in [f for f in scheduler_log.filters if isinstance(f, ExpectedOverlap)]:
            scheduler_log.removeFilter(old)
        scheduler_log.addFilter(ExpectedOverlap(quiet))
    scheduler.add_job(
        run_metronome_once, "interval", args=[app], seconds=METRONOME_SECONDS,
        id="metronome", max_instances=1, coalesce=True, misfire_grace_time=METRONOME_SECONDS,
        next_run_time=datetime.now(TOKYO),
    )
    return scheduler


def start_background(app, stop: threading.Event) -> list[threading.Thread]:
    """Start each ``Background`` helper in a daemon thread; they return once ``stop`` is set."""
    threads = []
    for helper in schedule_of(app).background:
        thread = threading.Thread(target=_background, args=(helper, app, stop), daemon=True,
                                  name=f"clock-{helper.name}")
        thread.start()
        threads.append(thread)
    return threads


def _background(helper: Background, app, stop: threading.Event) -> None:
    try:
        helper.run(app, stop)
    except Exception:  # noqa: BLE001 - a helper failing must not take the clock down; polling remains
        log.exception("clock: background helper %s failed", helper.name)


def run_clock(app, *, stop_event: threading.Event | None = None) -> None:
    """The ``clock`` process: hold the single-clock lock, then run the scheduler until SIGTERM."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from bcp_service.leader import ClockLock

    stop = stop_event or threading.Event()

    def _stop(signum, _frame):
        log.info("clock: signal %s, stopping", signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)

    with app.app_context():
        lock = ClockLock(app.extensions["db"].engine)
    while not stop.is_set():
        if lock.acquire():
            break
        log.info("clock: another clock holds the lock; standing by")
        stop.wait(5)
    if stop.is_set():
        return

    for hook in schedule_of(app).on_leader:
        with app.app_context():
            try:
                hook.run(app)
            except Exception:  # noqa: BLE001 - the leases still recover what a failed hook left
                log.exception("clock: leader hook %s failed", hook.name)
    # Set when this clock stops: background helpers return, and long jobs (the dispatcher's drain)
    # finish the step in hand instead of running to their budget while the process is asked to go.
    stopping = app.extensions["clock.stopping"] = threading.Event()
    scheduler = build_scheduler(app, BackgroundScheduler)
    scheduler.start()
    helpers = start_background(app, stopping)
    schedule = schedule_of(app)
    log.info("clock: running (%s)", ", ".join([t.name for t in schedule.ticks] + [j.name for j in schedule.jobs])
             or "no ticks")
    try:
        while not stop.wait(1):
            if not lock.still_held():
                log.error("clock: lost the lock; stopping so the stand-by clock takes over")
                break
    finally:
        stopping.set()
        scheduler.shutdown(wait=True)
        for thread in helpers:
            thread.join(timeout=5)
        lock.release()

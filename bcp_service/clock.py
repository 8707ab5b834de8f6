"""Time, and the clock process.

Logic never calls ``datetime.now()``: it receives ``now`` from a ``Clock`` so tests move time by hand.
The clock *process* (``bcp-service clock``) runs APScheduler; the database is the source of truth for
due work (rows with ``next_action_at``), so the scheduler only needs a short metronome job.
"""
from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime, timedelta, timezone
from typing import Callable, Protocol
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

TOKYO = ZoneInfo("Asia/Tokyo")
log = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FrozenClock:
    """A clock that only moves when told to (tests, benchmarks)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = start.astimezone(timezone.utc)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | None = None, **kwargs) -> datetime:
        self._now += delta if delta is not None else timedelta(**kwargs)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when.astimezone(timezone.utc)


_SYSTEM = SystemClock()


def get_clock() -> Clock:
    if has_app_context():
        return current_app.extensions.get("clock", _SYSTEM)
    return _SYSTEM


def now() -> datetime:
    return get_clock().now()


def to_local(value: datetime | None) -> datetime | None:
    """UTC → Asia/Tokyo for display and API output."""
    if value is None:
        return None
    return value.astimezone(TOKYO)


def iso_local(value: datetime | None) -> str | None:
    local = to_local(value)
    return local.isoformat() if local else None


# --- the clock process ---------------------------------------------------------------------------

METRONOME_SECONDS = 10
Tick = Callable[[object], None]   # called with the Flask app inside an app context
_ticks: list[tuple[str, Tick]] = []


def on_tick(name: str) -> Callable[[Tick], Tick]:
    """Register a function to run on every metronome beat (due rows: rounds, retries, reminders)."""

    def decorator(fn: Tick) -> Tick:
        if all(existing != name for existing, _ in _ticks):
            _ticks.append((name, fn))
        return fn

    return decorator


def registered_ticks() -> list[str]:
    return [name for name, _ in _ticks]


def run_metronome_once(app) -> dict[str, str]:
    """One beat: run every registered tick; one failing tick never stops the others."""
    results: dict[str, str] = {}
    for name, fn in list(_ticks):
        with app.app_context():
            try:
                fn(app)
                results[name] = "ok"
            except Exception:  # noqa: BLE001 - the metronome must keep beating
                log.exception("tick %s failed", name)
                results[name] = "error"
    return results


def load_jobs(scheduler, app) -> None:
    """Let each subpackage add its jobs: ``bcp_service.<pkg>.jobs.register(scheduler, app)``."""
    from bcp_service.plugins import subpackage_modules

    for jobs in subpackage_modules("jobs"):
        register = getattr(jobs, "register", None)
        if register:
            register(scheduler, app)


def start_background(app, stop: threading.Event) -> list[threading.Thread]:
    """Start each subpackage's ``jobs.background(app, stop)`` in a daemon thread (e.g. messaging's
    LISTEN for dispatcher wake-ups); they return once ``stop`` is set."""
    from bcp_service.plugins import subpackage_modules

    threads = []
    for jobs in subpackage_modules("jobs"):
        run = getattr(jobs, "background", None)
        if run:
            thread = threading.Thread(target=_background, args=(run, app, stop), daemon=True,
                                      name=f"clock-{jobs.__name__.split('.')[-2]}")
            thread.start()
            threads.append(thread)
    return threads


def _background(run, app, stop: threading.Event) -> None:
    try:
        run(app, stop)
    except Exception:  # noqa: BLE001 - a helper failing must not take the clock down; polling remains
        log.exception("clock: background helper %s failed", getattr(run, "__module__", run))


def build_scheduler(app, scheduler_class=None):
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = (scheduler_class or BlockingScheduler)(timezone=TOKYO)
    load_jobs(scheduler, app)
    scheduler.add_job(
        run_metronome_once, "interval", args=[app], seconds=METRONOME_SECONDS,
        id="metronome", max_instances=1, coalesce=True, misfire_grace_time=METRONOME_SECONDS,
        next_run_time=datetime.now(TOKYO),
    )
    return scheduler


def run_clock(app, *, stop_event: threading.Event | None = None) -> None:
    """The ``clock`` process: hold the single-clock lock, then run the scheduler until SIGTERM."""
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
    from apscheduler.schedulers.background import BackgroundScheduler

    # Set when this clock stops: background helpers return, and long jobs (the dispatcher's drain)
    # finish the step in hand instead of running to their budget while the process is asked to go.
    stopping = app.extensions["clock.stopping"] = threading.Event()
    scheduler = build_scheduler(app, BackgroundScheduler)
    scheduler.start()
    helpers = start_background(app, stopping)
    log.info("clock: running (%s)", ", ".join(registered_ticks()) or "no ticks")
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

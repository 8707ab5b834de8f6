"""The provider's rate limit, shared by every dispatcher process: a token bucket kept in PostgreSQL.

A Twilio sender (number or Messaging Service) accepts so many messages per second *in total*; the
in-process :class:`~bcp_service.messaging.policy.TokenBucket` only holds it while one dispatcher runs.
:class:`SharedTokenBucket` has the same interface (``acquire()``, ``try_acquire()``) and keeps the
bucket in one row of ``messaging_rate_limit``, so two or more clock/dispatcher processes together
send at most ``rate`` per second (plus one second's burst after a quiet spell).

**How.** The row holds the bucket as a *theoretical arrival time* ``tat`` (GCRA; seconds since the
epoch on the database's clock). Reserving ``n`` tokens is one atomic statement, one round trip::

    INSERT … ON CONFLICT (name) DO UPDATE
       SET tat = GREATEST(tat, now - burst) + n/rate  RETURNING tat, now

The process may then use one token at each of ``tat_new - n/rate + i/rate`` (``i < n``): a global
schedule, handed out in slices. The row lock lasts for that one statement only. Sender threads of a
process take slots from a local list; only when it is empty does one of them reserve the next slice
(``chunk`` tokens, 5 at 100 msg/s: 20 short updates a second in total whatever the number of
dispatchers). Times come from the database (``clock_timestamp()``), so processes on hosts whose
clocks disagree still share one schedule; each reply is turned into local ``monotonic`` time.

**Why PostgreSQL and not Redis or an advisory lock.** PostgreSQL is already the one shared service
(Procfile: web + clock, no Redis); Redis at 100 msg/s would be faster per call but adds a service to
run, secure and monitor for a few dozen tiny writes a second. An advisory-lock-guarded read-modify-
write is three statements where the upsert is one and takes the same row lock. The single row is
updated HOT (no indexed column changes), so at 20 updates/s it stays a page or two.

**Safety.** A reserved slot not used within ``STALE_SECONDS`` of its time is dropped, never used
later (a late slot adds to a later second's sends: at most ``rate × STALE_SECONDS`` extra in any
second); unused slots only lower the rate, never raise it. If the database cannot be reached the
bucket falls back, for ``FALLBACK_SECONDS``, to a local bucket at ``rate / fallback_share`` (set
that to the number of dispatchers you run) and logs it.

SQLite (the embedded demo, one process) gets the plain local bucket: :func:`provider_bucket`.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Callable

from sqlalchemy import text
from sqlalchemy.engine import Engine

from bcp_service.messaging.policy import TokenBucket

log = logging.getLogger(__name__)

STALE_SECONDS = 0.1           # a slot this late is dropped, not used (at most rate × this extra in a second)
FALLBACK_SECONDS = 10.0       # after a database error, use the local fallback this long


_RESERVE = text(
    "INSERT INTO messaging_rate_limit (name, tat) "
    "VALUES (:name, extract(epoch FROM clock_timestamp()) - :burst + :span) "
    "ON CONFLICT (name) DO UPDATE SET tat = GREATEST(messaging_rate_limit.tat, "
    "extract(epoch FROM clock_timestamp()) - :burst) + :span "
    "RETURNING tat, extract(epoch FROM clock_timestamp())")


def slot_times(tat: float, n: int, rate: float) -> list[float]:
    """The ``n`` token times a reservation returning ``tat`` grants (pure; database clock)."""
    start = tat - n / rate
    return [start + i / rate for i in range(n)]


def default_chunk(rate: float) -> int:
    """Tokens per reservation: 50 ms of sending, between 1 and 20."""
    return max(1, min(20, int(rate * 0.05)))


class SharedTokenBucket:
    """``rate`` operations per second across every process using ``name`` on this database."""

    def __init__(self, engine: Engine, rate: float, capacity: float | None = None, *, name: str = "sms",
                 chunk: int | None = None, fallback_share: int = 2,
                 monotonic: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        if rate <= 0:
            raise ValueError("rate must be positive")
        if engine.dialect.name != "postgresql":
            raise ValueError("SharedTokenBucket needs PostgreSQL; use provider_bucket() for SQLite")
        self.engine = engine
        self.rate = float(rate)
        self.capacity = float(capacity if capacity is not None else max(1.0, rate))
        self.name = name
        self.chunk = int(chunk or default_chunk(rate))
        self._monotonic = monotonic
        self._sleep = sleep
        self._slots: deque[float] = deque()           # local monotonic times, ascending
        self._lock = threading.Lock()
        self._fallback = TokenBucket(self.rate / max(1, fallback_share), monotonic=monotonic, sleep=sleep)
        self._fallback_until = 0.0
        self.reservations = 0                         # round trips made (benchmark / tests)
        self.dropped = 0                              # slots dropped as stale

    def _reserve(self) -> None:
        """One round trip: the next ``chunk`` slots of the global schedule, in local monotonic time."""
        params = {"name": self.name, "burst": self.capacity / self.rate, "span": self.chunk / self.rate}
        with self.engine.connect() as conn:
            tat, db_now = conn.execute(_RESERVE, params).one()
            conn.commit()
        local_now = self._monotonic()
        self.reservations += 1
        offset = local_now - float(db_now)
        # Slots before now are the burst a quiet bucket allows: due at once, not stale.
        self._slots.extend(max(local_now, t + offset) for t in slot_times(float(tat), self.chunk, self.rate))

    def try_acquire(self) -> float:
        """Take a token if one is due and return 0.0; otherwise return seconds until the next is."""
        with self._lock:
            now = self._monotonic()
            if now < self._fallback_until:
                return self._fallback.try_acquire()
            while self._slots and now - self._slots[0] > STALE_SECONDS:
                self._slots.popleft()
                self.dropped += 1
            if not self._slots:
                try:
                    self._reserve()
                except Exception as exc:  # noqa: BLE001 - a database hiccup must not stop sending
                    log.warning("rate limit: shared bucket unavailable (%s); local share of %.1f/s for %.0f s",
                                type(exc).__name__, self._fallback.rate, FALLBACK_SECONDS)
                    self._fallback_until = now + FALLBACK_SECONDS
                    return self._fallback.try_acquire()
                now = self._monotonic()
            wait = self._slots[0] - now
            if wait <= 0:
                self._slots.popleft()
                return 0.0
            return max(wait, 1e-6)

    def acquire(self) -> None:
        while True:
            wait = self.try_acquire()
            if wait == 0.0:
                return
            self._sleep(wait)


def provider_bucket(engine: Engine, rate: float, *, name: str = "sms", **kw):
    """The bucket for this database: shared on PostgreSQL, in-process on SQLite (one process)."""
    if engine.dialect.name == "postgresql":
        return SharedTokenBucket(engine, rate, name=name, **kw)
    return TokenBucket(rate, monotonic=kw.get("monotonic", time.monotonic), sleep=kw.get("sleep", time.sleep))

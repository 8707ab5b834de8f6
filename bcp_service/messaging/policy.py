"""Pure sending policy: retry backoff with jitter, and a token bucket for the provider rate limit.

No clock of their own: callers pass ``now`` (datetimes for backoff, a monotonic float for the bucket),
so tests move time by hand.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

BASE_DELAY_S = 5.0
MAX_DELAY_S = 300.0
MAX_ATTEMPTS = 12          # ~ half an hour of trying before a row is given up to escalation


def backoff_delay(attempt: int, *, base: float = BASE_DELAY_S, cap: float = MAX_DELAY_S,
                  rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    "Full jitter" exponential backoff: uniform in [d/2, d] with d = min(cap, base·2^(attempt−1)).
    The lower half-bound keeps a retry storm from collapsing into the same second after an outage
    of the provider, while the upper bound keeps a 3 a.m. retry from waiting longer than ``cap``.
    """
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    d = min(cap, base * (2 ** (attempt - 1)))
    return d / 2 + (d / 2) * rand()


def next_attempt_at(now: datetime, attempt: int, **kw) -> datetime:
    return now + timedelta(seconds=backoff_delay(attempt, **kw))


class TokenBucket:
    """Allows ``rate`` operations per second on average, bursts up to ``capacity``.

    ``acquire`` blocks by calling ``sleep`` (injectable) until a token is available; thread-safe, so
    many sender threads share one provider limit.
    """

    def __init__(self, rate: float, capacity: float | None = None, *,
                 monotonic: Callable[[], float], sleep: Callable[[float], None]):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        # A burst of one second's worth at most: the provider counts per second too.
        self.capacity = float(capacity if capacity is not None else max(1.0, rate))
        self._monotonic = monotonic
        self._sleep = sleep
        self._tokens = self.capacity
        self._last = monotonic()
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def try_acquire(self) -> float:
        """Take a token if there is one and return 0.0; otherwise return seconds until there is."""
        with self._lock:
            self._refill(self._monotonic())
            # The epsilon absorbs float rounding: without it a bucket at 0.9999999 asks for a sleep
            # too small to move a large monotonic value, and acquire() would spin forever.
            if self._tokens >= 1.0 - 1e-9:
                self._tokens = max(0.0, self._tokens - 1.0)
                return 0.0
            return max((1.0 - self._tokens) / self.rate, 1e-6)

    def acquire(self) -> None:
        while True:
            wait = self.try_acquire()
            if wait == 0.0:
                return
            self._sleep(wait)

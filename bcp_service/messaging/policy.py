"""Pure sending policy: retry backoff with jitter, and a token bucket for the provider rate limit.

No clock of their own: callers pass ``now`` (datetimes for backoff, a monotonic float for the bucket),
so tests move time by hand.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import yaml

BASE_DELAY_S = 5.0
MAX_DELAY_S = 300.0
MAX_ATTEMPTS = 12          # ~ half an hour of trying before a row is given up to escalation


# Purposes that have a spoken script (the /voice/checkin TwiML); voice fallback exists only for these.
SPOKEN_PURPOSES = frozenset({"checkin"})


@dataclass(frozen=True)
class Escalation:
    """Defaults from ``alerts/escalation.yaml``."""

    base_seconds: float = BASE_DELAY_S
    cap_seconds: float = MAX_DELAY_S
    max_attempts: int = MAX_ATTEMPTS
    lease_seconds: float = 120.0
    voice_for: frozenset[str] = frozenset({"checkin"})


def escalation_from_dict(raw: dict) -> Escalation:
    retry = raw.get("retry") or {}
    e = Escalation(base_seconds=float(retry.get("base_seconds", BASE_DELAY_S)),
                   cap_seconds=float(retry.get("cap_seconds", MAX_DELAY_S)),
                   max_attempts=int(retry.get("max_attempts", MAX_ATTEMPTS)),
                   lease_seconds=float(raw.get("lease_seconds", 120)),
                   voice_for=frozenset((raw.get("fallback") or {}).get("voice_for", ["checkin"])))
    if not e.voice_for <= SPOKEN_PURPOSES:
        raise ValueError(f"escalation.yaml: no voice script for {sorted(e.voice_for - SPOKEN_PURPOSES)}")
    if not (0 < e.base_seconds <= e.cap_seconds) or e.max_attempts < 1 or e.lease_seconds < 10:
        raise ValueError("escalation.yaml: need 0 < base_seconds <= cap_seconds, max_attempts >= 1, "
                         "lease_seconds >= 10")
    return e


@lru_cache(maxsize=4)
def load_escalation(path: str | None = None) -> Escalation:
    p = Path(path) if path else Path(__file__).resolve().parents[2] / "alerts" / "escalation.yaml"
    with p.open(encoding="utf-8") as fh:
        return escalation_from_dict(yaml.safe_load(fh) or {})


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

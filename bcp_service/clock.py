"""Time, without Flask.

Logic never calls ``datetime.now()``: it receives ``now`` from a ``Clock`` so tests move time by hand.
This module is pure (standard library only) so domain code can import it freely. The app's clock
(``app.extensions["clock"]``) is read by :func:`bcp_service.appclock.get_clock`; the clock *process*
(metronome, leader lock, jobs) is :mod:`bcp_service.scheduler`.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")


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


def to_local(value: datetime | None) -> datetime | None:
    """UTC → Asia/Tokyo for display and API output."""
    if value is None:
        return None
    return value.astimezone(TOKYO)


def iso_local(value: datetime | None) -> str | None:
    local = to_local(value)
    return local.isoformat() if local else None


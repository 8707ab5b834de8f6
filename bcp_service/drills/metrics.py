"""Functional-drill metrics, computed from the check-in timeline of the drill's outage.

Pure: plain data in, plain data out. The outage desk records, per contacted patient, when the first
answer arrived (one-tap, SMS reply or IVR). From that timeline we derive what a functional drill
is meant to measure: how fast the 圏域 reaches 50 / 90 / 100 % of its ventilator users, the response
rate, the time to the first transport assignment and how many were never reached.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Sequence

# The reach-time measure is the outage desk's (one rule for the incident report and drills).
from bcp_service.outages.figures import minutes_after as _minutes
from bcp_service.outages.figures import minutes_to_reach

THRESHOLDS = (50, 90, 100)


@dataclass(frozen=True)
class CheckinRecord:
    """One contacted patient: when their first answer arrived (``None`` = never answered)."""
    target_id: int
    answered_at: datetime | None


@dataclass(frozen=True)
class DrillMetrics:
    targets: int
    responded: int
    response_rate: float | None                    # 0..1; None when nobody was contacted
    minutes_to: dict[int, float | None]            # threshold percent -> minutes from start, None = not reached
    minutes_to_first_transport: float | None
    unreachable: int                               # contacted but never answered within the window
    curve: tuple[tuple[float, float], ...]         # (minutes from start, percent answered), step points

    @property
    def minutes_to_50(self) -> float | None:
        return self.minutes_to[50]

    @property
    def minutes_to_90(self) -> float | None:
        return self.minutes_to[90]

    @property
    def minutes_to_100(self) -> float | None:
        return self.minutes_to[100]

    def as_dict(self) -> dict:
        return {
            "targets": self.targets,
            "responded": self.responded,
            "response_rate": self.response_rate,
            "minutes_to_50": self.minutes_to_50,
            "minutes_to_90": self.minutes_to_90,
            "minutes_to_100": self.minutes_to_100,
            "minutes_to_first_transport": self.minutes_to_first_transport,
            "unreachable": self.unreachable,
        }


def compute(
    started_at: datetime,
    records: Sequence[CheckinRecord],
    *,
    transport_assigned_at: Iterable[datetime] = (),
    ended_at: datetime | None = None,
) -> DrillMetrics:
    """Metrics of one functional drill.

    ``ended_at`` closes the observation window: answers after it are ignored (a family answering the
    next morning did not make the drill's target). Duplicate records for one patient keep the
    earliest answer.
    """
    if started_at.tzinfo is None:
        raise ValueError("started_at must be timezone-aware")
    first: dict[int, datetime | None] = {}
    for rec in records:
        at = rec.answered_at
        if at is not None and ended_at is not None and at > ended_at:
            at = None
        prev = first.get(rec.target_id)
        if rec.target_id not in first or (at is not None and (prev is None or at < prev)):
            first[rec.target_id] = at

    targets = len(first)
    answered = sorted(_minutes(started_at, at) for at in first.values() if at is not None)
    responded = len(answered)

    minutes_to: dict[int, float | None] = {}
    for pct in THRESHOLDS:
        minutes_to[pct] = minutes_to_reach(answered, targets, pct)

    transports = sorted(
        _minutes(started_at, t) for t in transport_assigned_at if ended_at is None or t <= ended_at
    )

    curve: list[tuple[float, float]] = [(0.0, 0.0)]
    for i, m in enumerate(answered, start=1):
        point = (m, round(100.0 * i / targets, 2))
        if curve[-1][0] == m:
            curve[-1] = point  # several answers in the same instant: one step
        else:
            curve.append(point)

    return DrillMetrics(
        targets=targets,
        responded=responded,
        response_rate=(responded / targets) if targets else None,
        minutes_to=minutes_to,
        minutes_to_first_transport=transports[0] if transports else None,
        unreachable=targets - responded,
        curve=tuple(curve),
    )


def median_minutes(values: Iterable[float | None]) -> float | None:
    """Median of the drills that reached the mark; drills that never reached it are left out."""
    present = [v for v in values if v is not None]
    return float(statistics.median(present)) if present else None

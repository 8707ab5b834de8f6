"""Incident figures: how fast we reached people. Pure.

"Reached" = an answer arrived (one-tap, SMS reply or DTMF) or a field team acknowledged a visit and
reported. Times are minutes from the moment the outage was declared (when messaging could begin).

The reach-time measure itself (``minutes_after``, ``minutes_to_reach``) is the one rule both the
incident report and the functional drills' metrics (``drills.metrics``) use.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Sequence

MILESTONES = (50, 90, 100)


@dataclass(frozen=True)
class ReachFigures:
    affected: int
    reached: int
    minutes_to: dict[int, float | None]   # 50/90/100 → minutes, None when never reached

    @property
    def share_reached(self) -> float:
        return self.reached / self.affected if self.affected else 0.0


def minutes_after(start: datetime, at: datetime) -> float:
    """Minutes from ``start``; a moment before it (clock skew between web nodes) counts as minute 0."""
    return max(0.0, (at - start).total_seconds() / 60.0)


def needed(percent: int, count: int) -> int:
    """How many of ``count`` make ``percent`` (ceiling, in integers: 90 % of 10 is 9, never 8.999…)."""
    return -(-percent * count // 100)


def minutes_to_reach(minutes: Sequence[float], count: int, percent: int) -> float | None:
    """When ``percent`` of ``count`` people had been reached, given the sorted minutes at which each
    reached one was; None when nobody was to be reached or the share was never made."""
    if count == 0:
        return None
    need = needed(percent, count)
    if need == 0:
        return 0.0
    return minutes[need - 1] if need <= len(minutes) else None


def reach_figures(declared_at: datetime, reached_at: Iterable[datetime | None], *,
                  milestones: Sequence[int] = MILESTONES) -> ReachFigures:
    times = list(reached_at)
    affected = len(times)
    done = sorted(minutes_after(declared_at, t) for t in times if t is not None)
    out: dict[int, float | None] = {}
    for pct in milestones:
        m = minutes_to_reach(done, affected, pct)
        out[pct] = round(m, 1) if m is not None else None
    return ReachFigures(affected, len(done), out)

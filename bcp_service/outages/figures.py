"""Incident figures: how fast we reached people. Pure.

"Reached" = an answer arrived (one-tap, SMS reply or DTMF) or a field team acknowledged a visit and
reported. Times are minutes from the moment the outage was declared (when messaging could begin).
"""
from __future__ import annotations

import math
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


def reach_figures(declared_at: datetime, reached_at: Iterable[datetime | None], *,
                  milestones: Sequence[int] = MILESTONES) -> ReachFigures:
    times = list(reached_at)
    affected = len(times)
    done = sorted(max(0.0, (t - declared_at).total_seconds() / 60.0) for t in times if t is not None)
    out: dict[int, float | None] = {}
    for pct in milestones:
        need = math.ceil(affected * pct / 100) if affected else 0
        if need == 0:
            out[pct] = 0.0 if affected else None
        elif need <= len(done):
            out[pct] = round(done[need - 1], 1)
        else:
            out[pct] = None
    return ReachFigures(affected, len(done), out)

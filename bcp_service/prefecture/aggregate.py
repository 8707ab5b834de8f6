"""Per-region aggregates for the prefecture review. Pure: counts in, counts out.

Only numbers leave this module; the inputs are already anonymous tuples (region code, type,
state …) so no name, phone number or address can reach the report by construction.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Iterable, Sequence

from bcp_service.drills.metrics import median_minutes
from bcp_service.drills.states import DrillStatus, action_is_open
from bcp_service.plans.states import PlanStatus
from bcp_service.exports import csv_row

PLAN_TYPES = ("kikan", "renkei", "chiiki")
PLAN_STATES = (PlanStatus.DRAFT, PlanStatus.IN_REVIEW, PlanStatus.APPROVED)
TIERS = ("red", "yellow", "green")
PLAN_TYPE_JA = {"kikan": "機関型", "renkei": "連携型", "chiiki": "地域BCP"}
PLAN_STATE_JA = {"draft": "作成中", "in_review": "確認中", "approved": "承認済み"}
TIER_JA = {"red": "赤", "yellow": "黄", "green": "緑"}
LOOKBACK = timedelta(days=365)


@dataclass(frozen=True)
class DrillFact:
    region_code: str
    started_at: datetime | None
    status: str                          # scheduled | running | completed | cancelled
    minutes_to_100: float | None         # functional drills only


@dataclass(frozen=True)
class ActionFact:
    region_code: str
    status: str
    due: date


@dataclass
class RegionAggregate:
    code: str
    name: str
    plans: dict[str, dict[str, int]] = field(default_factory=lambda: {t: {s: 0 for s in PLAN_STATES} for t in PLAN_TYPES})
    patients_by_tier: dict[str, int] = field(default_factory=lambda: {t: 0 for t in TIERS})
    drills_held: int = 0
    median_checkin_minutes: float | None = None
    corrective_actions_open: int = 0
    corrective_actions_overdue: int = 0

    def as_dict(self) -> dict:
        return {
            "region_code": self.code,
            "region_name": self.name,
            "plans": self.plans,
            "patients_by_tier": self.patients_by_tier,
            "patients_total": sum(self.patients_by_tier.values()),
            "drills_held": self.drills_held,
            "median_checkin_minutes": self.median_checkin_minutes,
            "corrective_actions_open": self.corrective_actions_open,
            "corrective_actions_overdue": self.corrective_actions_overdue,
        }


def aggregate(
    regions: Sequence[tuple[str, str]],
    *,
    plans: Iterable[tuple[str, str, str]] = (),          # (region_code, type, status)
    patients: Iterable[tuple[str, str]] = (),            # (region_code, tier)
    drills: Iterable[DrillFact] = (),
    actions: Iterable[ActionFact] = (),
    now: datetime,
    today: date,
) -> list[RegionAggregate]:
    """One aggregate per region in ``regions`` (code, name), in the given order.

    Rows for regions outside the list are ignored, so a caller can pass a wider query safely.
    A drill counts as held when it was completed and started in the last 12 months.
    """
    out = {code: RegionAggregate(code, name) for code, name in regions}
    for region, ptype, status in plans:
        agg = out.get(region)
        if agg is not None and ptype in agg.plans:
            row = agg.plans[ptype]
            row[status] = row.get(status, 0) + 1
    for region, tier in patients:
        agg = out.get(region)
        if agg is not None:
            agg.patients_by_tier[tier] = agg.patients_by_tier.get(tier, 0) + 1
    minutes: dict[str, list[float | None]] = {code: [] for code in out}
    for d in drills:
        agg = out.get(d.region_code)
        if agg is None or d.status != DrillStatus.COMPLETED or d.started_at is None:
            continue
        if now - LOOKBACK <= d.started_at <= now:
            agg.drills_held += 1
            minutes[d.region_code].append(d.minutes_to_100)
    for code, values in minutes.items():
        out[code].median_checkin_minutes = median_minutes(values)
    for a in actions:
        agg = out.get(a.region_code)
        if agg is None or not action_is_open(a.status):
            continue
        agg.corrective_actions_open += 1
        if today > a.due:
            agg.corrective_actions_overdue += 1
    return list(out.values())


CSV_HEADER = (
    ["region_code", "region_name"]
    + [f"plans_{t}_{s}" for t in PLAN_TYPES for s in PLAN_STATES]
    + [f"patients_{t}" for t in TIERS]
    + ["patients_total", "drills_held_12m", "median_checkin_minutes", "corrective_actions_open",
       "corrective_actions_overdue"]
)


def to_csv(rows: Sequence[RegionAggregate]) -> str:
    """CSV with a BOM so Excel opens the Japanese region names correctly."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_HEADER)
    for r in rows:
        w.writerow(csv_row(
            [r.code, r.name]
            + [r.plans[t].get(s, 0) for t in PLAN_TYPES for s in PLAN_STATES]
            + [r.patients_by_tier.get(t, 0) for t in TIERS]
            + [sum(r.patients_by_tier.values()), r.drills_held,
               "" if r.median_checkin_minutes is None else f"{r.median_checkin_minutes:.1f}",
               r.corrective_actions_open, r.corrective_actions_overdue]
        ))
    return buf.getvalue()

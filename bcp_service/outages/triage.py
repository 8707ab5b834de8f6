"""Triage: who needs the desk first.

``runs_out_at`` = outage start + runway (hours of backup power at the start). When the family has
since told us how long the battery will last (answer 2 with hours: the one-tap page's ``hours_left``,
「2 あと3時間」 by SMS) the report replaces the estimate: ``runs_out_at`` = the answer's time + the
reported hours, and the row says so (``runs_out_source`` = ``"reported"``, else ``"registry"``).

Order: rows whose check-in is ``needs_help`` first, the oldest request first (a family waiting for
help must not sink below people who are fine); then soonest ``runs_out_at``, 24 h-dependent patients
first (nobody breathes on their own), then patient id for a stable order.

Tier is relative to the expected restoration (DOMAIN.md): red = runs out before restoration or
within 6 h from now; yellow = within 24 h; green = beyond. Pure functions, no clock: ``now`` is given.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

RED_HOURS = 6.0
YELLOW_HOURS = 24.0
TIERS = ("red", "yellow", "green")


@dataclass(frozen=True)
class TriageInput:
    patient_id: int
    runway_hours: float | None          # at outage start; None = unknown (treated as none left)
    dependent_24h: bool = False
    checkin: str = "pending"
    transport_id: int | None = None
    reported_at: datetime | None = None  # answer 2 with a figure from the family
    reported_hours: float | None = None
    help_requested_at: datetime | None = None   # answer 3: when the family asked


@dataclass(frozen=True)
class TriageRow:
    patient_id: int
    runs_out_at: datetime
    runway_hours_left: float
    tier: str
    checkin: str
    transport_id: int | None
    dependent_24h: bool
    runway_known: bool
    runs_out_source: str = "registry"
    help_requested_at: datetime | None = None


def runs_out_at(started_at: datetime, runway_hours: float | None, *,
                reported_at: datetime | None = None, reported_hours: float | None = None) -> datetime:
    if reported_at is not None and reported_hours is not None:
        # The family looks at the battery; the registry figure is an estimate from the start.
        return reported_at + timedelta(hours=max(0.0, reported_hours))
    # Unknown runway must not look safe: it sorts to the top as if already out.
    return started_at + timedelta(hours=max(0.0, runway_hours or 0.0))


def runs_out_source(reported_hours: float | None) -> str:
    return "reported" if reported_hours is not None else "registry"


MAX_REPORTED_HOURS = 24 * 31
_NUM = r"(\d+(?:\.\d+)?)"
_HOURS = re.compile(_NUM + r"\s*(?:時間|hours?|hrs?|h)(\s*半)?(?![a-z])")
_MINUTES = re.compile(_NUM + r"\s*(?:分|minutes?|mins?|m)(?![a-z])")


def parse_reported_hours(text: str | None) -> float | None:
    """Hours of battery the family reports in a free-text answer: 「2 あと3時間」 → 3.0,
    「２ 残り1.5時間」 → 1.5, 「2 30分」 → 0.5, 「2 1時間半」 → 1.5, 「2 2時間30分」 → 2.5.

    Full-width digits are normalised (NFKC). A figure counts only with a unit (時間/分/h/min), so the
    answer digit itself (「2」) is never read as hours. None when nothing usable is given, or when the
    figure is outside 0–744 h (then the registry runway stands). Pure; no clock.
    """
    if not text:
        return None
    s = unicodedata.normalize("NFKC", text).lower()
    s = re.sub(r"(?<=\d),(?=\d)", ".", s)      # 「1,5時間」 written with a decimal comma
    total, found = 0.0, False
    for m in _HOURS.finditer(s):
        total += float(m.group(1)) + (0.5 if m.group(2) else 0.0)
        found = True
    s_wo_hours = _HOURS.sub(" ", s)
    for m in _MINUTES.finditer(s_wo_hours):
        total += float(m.group(1)) / 60.0
        found = True
    if not found or not (0.0 <= total <= MAX_REPORTED_HOURS):
        return None
    return round(total, 2)


def hours_left(runs_out: datetime, now: datetime) -> float:
    return max(0.0, (runs_out - now).total_seconds() / 3600.0)


def tier_for(runs_out: datetime, *, now: datetime, expected_restoration_at: datetime | None,
             red_hours: float = RED_HOURS, yellow_hours: float = YELLOW_HOURS) -> str:
    left = (runs_out - now).total_seconds() / 3600.0
    if expected_restoration_at is not None and runs_out <= expected_restoration_at:
        return "red"
    if left <= red_hours:
        return "red"
    if left <= yellow_hours:
        return "yellow"
    return "green"


def urgent_key(checkin: str, help_requested_at: datetime | None) -> tuple:
    """Needs help first, oldest request first (a request without a time sorts last among them)."""
    if checkin != "needs_help":
        return (1, 0.0)
    return (0, help_requested_at.timestamp() if help_requested_at is not None else float("inf"))


def sort_key(row: TriageRow):
    return (*urgent_key(row.checkin, row.help_requested_at), row.runs_out_at, not row.dependent_24h,
            row.patient_id)


def order(inputs: Iterable[TriageInput], *, started_at: datetime, now: datetime,
          expected_restoration_at: datetime | None,
          red_hours: float = RED_HOURS, yellow_hours: float = YELLOW_HOURS) -> list[TriageRow]:
    rows = []
    for i in inputs:
        out = runs_out_at(started_at, i.runway_hours,
                          reported_at=i.reported_at, reported_hours=i.reported_hours)
        rows.append(TriageRow(
            patient_id=i.patient_id,
            runs_out_at=out,
            runway_hours_left=round(hours_left(out, now), 2),
            tier=tier_for(out, now=now, expected_restoration_at=expected_restoration_at,
                          red_hours=red_hours, yellow_hours=yellow_hours),
            checkin=i.checkin,
            transport_id=i.transport_id,
            dependent_24h=i.dependent_24h,
            runway_known=i.runway_hours is not None or i.reported_hours is not None,
            runs_out_source=runs_out_source(i.reported_hours),
            help_requested_at=i.help_requested_at,
        ))
    rows.sort(key=sort_key)
    return rows


def needs_transport_before_restoration(runs_out: datetime,
                                       expected_restoration_at: datetime | None,
                                       *, now: datetime, red_hours: float = RED_HOURS) -> bool:
    """Propose transport when power runs out before restoration (or soon, if restoration unknown)."""
    if expected_restoration_at is not None:
        return runs_out <= expected_restoration_at
    return (runs_out - now) <= timedelta(hours=red_hours)

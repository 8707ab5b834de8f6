"""Scheduling checks for the drill calendar: Japanese public holidays, 年末年始, weekends and clashes.

Warnings, not errors: a 拠点 may choose a Saturday on purpose. The caller shows them and stores the
drill anyway. Pure: the slots are plain data and the times are aware datetimes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Sequence
from zoneinfo import ZoneInfo

import jpholiday

TOKYO = ZoneInfo("Asia/Tokyo")
# Government offices, 医師会 and most clinics close from 29 December to 3 January (not public holidays).
YEAR_END = {(12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3)}
WEEKDAY_JA = "月火水木金土日"


@dataclass(frozen=True)
class Slot:
    starts_at: datetime
    ends_at: datetime
    region_code: str
    org_ids: frozenset[int] = field(default_factory=frozenset)
    title: str = ""
    drill_id: int | None = None


@dataclass(frozen=True)
class ScheduleWarning:
    code: str            # holiday | year_end | weekend | clash
    message: str         # Japanese, shown as is
    other_drill_id: int | None = None

    def as_dict(self) -> dict:
        d = {"code": self.code, "message": self.message}
        if self.other_drill_id is not None:
            d["drill_id"] = self.other_drill_id
        return d


def local_dates(starts_at: datetime, ends_at: datetime) -> list[date]:
    """Every Tokyo calendar date the slot touches (a slot ending exactly at midnight does not touch the next day)."""
    first = starts_at.astimezone(TOKYO).date()
    last = (ends_at - timedelta(microseconds=1)).astimezone(TOKYO).date() if ends_at > starts_at else first
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _fmt(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日（{WEEKDAY_JA[d.weekday()]}）"


def calendar_warnings(starts_at: datetime, ends_at: datetime) -> list[ScheduleWarning]:
    out: list[ScheduleWarning] = []
    for d in local_dates(starts_at, ends_at):
        name = jpholiday.is_holiday_name(d)
        if name:
            out.append(ScheduleWarning("holiday", f"{_fmt(d)}は祝日（{name}）です。参加機関が休みの可能性があります。"))
        elif (d.month, d.day) in YEAR_END:
            out.append(ScheduleWarning("year_end", f"{_fmt(d)}は年末年始の休業期間です。"))
        elif d.weekday() >= 5:
            out.append(ScheduleWarning("weekend", f"{_fmt(d)}は週末です。"))
    return out


def overlaps(a: Slot, b: Slot) -> bool:
    return a.starts_at < b.ends_at and b.starts_at < a.ends_at


def clash_warnings(proposed: Slot, others: Sequence[Slot]) -> list[ScheduleWarning]:
    """Another drill at an overlapping time that shares an organisation, or runs in the same 圏域."""
    out: list[ScheduleWarning] = []
    for other in sorted(others, key=lambda s: s.starts_at):
        if proposed.drill_id is not None and other.drill_id == proposed.drill_id:
            continue
        if not overlaps(proposed, other):
            continue
        shared = proposed.org_ids & other.org_ids
        start = other.starts_at.astimezone(TOKYO).strftime("%m/%d %H:%M")
        if shared:
            out.append(ScheduleWarning(
                "clash", f"同じ時間帯の訓練「{other.title}」（{start}〜）と参加機関が{len(shared)}件重なっています。",
                other.drill_id))
        elif other.region_code == proposed.region_code:
            out.append(ScheduleWarning(
                "clash", f"同じ圏域で同じ時間帯に訓練「{other.title}」（{start}〜）が予定されています。",
                other.drill_id))
    return out


def check_schedule(proposed: Slot, others: Sequence[Slot]) -> list[ScheduleWarning]:
    return calendar_warnings(proposed.starts_at, proposed.ends_at) + clash_warnings(proposed, others)

"""Daily use schedules (使用時間帯): a device used only between two Asia/Tokyo local times, e.g. NPPV
at night ``{"start": "21:00", "end": "07:00"}``. Pure: no clock; the outage start is passed in.

A schedule replaces ``hours_per_day`` for timing. Without a start time (the registry's stored
figure) the worst case still applies: the use period begins when the power goes. With a start
(an outage), the simulation follows local time: a device draws power only inside its period, so a
night-only user whose outage starts at 09:00 needs no power before 21:00.
Asia/Tokyo has no daylight saving time, so local hours map one-to-one onto elapsed hours.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")
_DAY = 24 * 60


class ScheduleError(ValueError):
    """An impossible schedule; ``field`` is relative to the device (``daily_schedule.start``)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class DailySchedule:
    start: int  # minutes after local midnight
    end: int    # minutes after local midnight; before ``start`` means the period crosses midnight

    @property
    def hours(self) -> float:
        return ((self.end - self.start) % _DAY) / 60.0

    @property
    def label(self) -> str:
        return f"{_fmt(self.start)}〜{_fmt(self.end)}"

    def to_json(self) -> dict[str, str]:
        return {"start": _fmt(self.start), "end": _fmt(self.end)}

    def phase(self, at: datetime) -> float:
        """Hours into the daily cycle at ``at``: 0 when the period begins then; the device runs
        while the phase is below ``hours``. A naive ``at`` is UTC (as the service stores times)."""
        local = as_utc(at).astimezone(TOKYO)
        minutes = local.hour * 60 + local.minute + local.second / 60.0 + local.microsecond / 60e6
        return ((minutes - self.start) % _DAY) / 60.0


def as_utc(at: datetime) -> datetime:
    """An aware datetime as given; a naive one read as UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)


def _fmt(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _time(value: Any, field: str) -> int:
    if not isinstance(value, str):
        raise ScheduleError(field, "HH:MM 形式の時刻で入力してください（例 21:00）")
    m = _HHMM.match(unicodedata.normalize("NFKC", value).strip())
    if not m or int(m[1]) > 23 or int(m[2]) > 59:
        raise ScheduleError(field, "HH:MM 形式の時刻で入力してください（00:00〜23:59、例 21:00）")
    return int(m[1]) * 60 + int(m[2])


def parse_schedule(value: Any) -> DailySchedule | None:
    """A schedule from ``{"start": "HH:MM", "end": "HH:MM"}`` (or one already parsed); None for
    none. Raises ``ScheduleError`` with the Japanese message for anything else."""
    if value is None or isinstance(value, DailySchedule):
        return value
    if not isinstance(value, dict) or set(value) != {"start", "end"}:
        raise ScheduleError("daily_schedule", "使用時間帯は開始と終了の2つの時刻（HH:MM）で指定してください")
    start = _time(value["start"], "daily_schedule.start")
    end = _time(value["end"], "daily_schedule.end")
    if start == end:
        raise ScheduleError("daily_schedule.end", "開始と終了が同じ時刻です（終日使用なら使用時間帯は空にしてください）")
    return DailySchedule(start, end)


__all__ = ["TOKYO", "DailySchedule", "ScheduleError", "parse_schedule"]

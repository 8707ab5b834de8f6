"""Annual review dates and reminder timing (pure).

A plan is due for review `review_months` after approval, or earlier if the plan itself names an
earlier 次回見直し予定日. Owners hear about it 30 days before, on the day, and then weekly while
it is overdue, always at 09:00 Tokyo time (not in the night).
"""
from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")
DUE_SOON_DAYS = 30
OVERDUE_EVERY_DAYS = 7
SEND_AT = time(9, 0)


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def review_due(approved_at: datetime, review_months: int, stated_next_review: str | None = None) -> date:
    approved_on = approved_at.astimezone(TOKYO).date()
    due = add_months(approved_on, review_months)
    if stated_next_review:
        try:
            stated = date.fromisoformat(stated_next_review)
        except ValueError:
            return due
        if approved_on < stated < due:
            return stated
    return due


def _at(d: date) -> datetime:
    return datetime.combine(d, SEND_AT, tzinfo=TOKYO).astimezone(timezone.utc)


def next_reminder_at(due_on: date, after: datetime) -> datetime:
    """The first reminder moment strictly after `after`."""
    for moment in (_at(due_on - timedelta(days=DUE_SOON_DAYS)), _at(due_on)):
        if moment > after:
            return moment
    weeks = (after - _at(due_on)) // timedelta(days=OVERDUE_EVERY_DAYS) + 1
    return _at(due_on) + weeks * timedelta(days=OVERDUE_EVERY_DAYS)


def reminder_kind(due_on: date, at: datetime) -> str:
    today = at.astimezone(TOKYO).date()
    if today < due_on:
        return "due_soon"
    if today == due_on:
        return "due"
    return "overdue"


def reminder_text(kind: str, title: str, due_on: date, *, today: date) -> str:
    when = f"{due_on.year}年{due_on.month}月{due_on.day}日"
    if kind == "due_soon":
        return f"【BCP見直し】「{title}」の年次見直し期限は{when}です（あと{(due_on - today).days}日）。"
    if kind == "due":
        return f"【BCP見直し】「{title}」の年次見直し期限は本日（{when}）です。"
    return f"【BCP見直し・期限超過】「{title}」の見直し期限（{when}）を{(today - due_on).days}日過ぎています。"

"""When to remind: drill reminders (7 days, 1 day, 1 hour before) and overdue corrective actions.

Pure decisions; ``jobs.py`` applies them to rows and queues the messages.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Collection

from bcp_service.drills.states import OPEN_ACTION_STATUSES

# Closest last, so "the latest point already passed" is simply the last due one.
DRILL_REMINDERS: tuple[tuple[str, timedelta], ...] = (
    ("7d", timedelta(days=7)),
    ("1d", timedelta(days=1)),
    ("1h", timedelta(hours=1)),
)
REMINDER_LABEL_JA = {"7d": "1週間前", "1d": "前日", "1h": "1時間前"}
OVERDUE_REPEAT = timedelta(days=7)
OPEN_STATUSES = OPEN_ACTION_STATUSES


@dataclass(frozen=True)
class ReminderDecision:
    send: str | None            # the reminder to send now, if any
    skip: tuple[str, ...]       # reminders whose moment has passed without use (record, never send)


def drill_reminder(
    scheduled_at: datetime, *, now: datetime, created_at: datetime, done: Collection[str]
) -> ReminderDecision:
    """Which reminder to send now for a drill.

    - Nothing once the drill has started.
    - A reminder whose moment was before the drill was created is skipped: the invitation covered it
      (a drill booked 3 days ahead gets no "in a week" reminder).
    - If the clock was down and several moments passed, only the closest one is sent; the older ones
      are skipped, so people never get "in a week" and "tomorrow" in the same minute.
    """
    if now >= scheduled_at:
        return ReminderDecision(None, tuple(k for k, _ in DRILL_REMINDERS if k not in done))
    passed = [k for k, off in DRILL_REMINDERS if k not in done and now >= scheduled_at - off]
    if not passed:
        return ReminderDecision(None, ())
    stale = tuple(k for k, off in DRILL_REMINDERS if k in passed and scheduled_at - off < created_at)
    live = [k for k in passed if k not in stale]
    if not live:
        return ReminderDecision(None, stale)
    return ReminderDecision(live[-1], stale + tuple(live[:-1]))


def next_drill_reminder_at(scheduled_at: datetime, *, created_at: datetime, done: Collection[str]) -> datetime | None:
    """The moment the next reminder becomes due (``next_action_at`` of the drill), or None."""
    moments = [scheduled_at - off for k, off in DRILL_REMINDERS
               if k not in done and scheduled_at - off >= created_at]
    return min(moments) if moments else None


def is_overdue(due: date, status: str, *, today: date) -> bool:
    return status in OPEN_STATUSES and today > due


def overdue_reminder_due(due: date, status: str, *, today: date, last_reminded_on: date | None) -> bool:
    """Remind the owner on the first overdue day, then weekly until the action is closed."""
    if not is_overdue(due, status, today=today):
        return False
    return last_reminded_on is None or today - last_reminded_on >= OVERDUE_REPEAT

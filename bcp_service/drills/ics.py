"""iCalendar (.ics) export of drills, with alarms 7 days, 1 day and 1 hour before (RFC 5545)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence

import icalendar

from .reminders import DRILL_REMINDERS, REMINDER_LABEL_JA

PRODID = "-//bcp-service//drills//JA"
# RFC 5545 forbids control characters in text values except HTAB; line breaks are escaped as \n.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _text(value: str) -> icalendar.vText:
    """A TEXT value a calendar reads back as typed: CRLF/CR become one line break (escaped by
    icalendar), other control characters are dropped. ``vText`` also for X- properties, which
    icalendar would otherwise write raw (a line break in a title broke the file: issue 18)."""
    return icalendar.vText(_CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n")))


@dataclass(frozen=True)
class CalendarEvent:
    uid: str                 # stable across exports so calendars update instead of duplicating
    title: str
    starts_at: datetime
    ends_at: datetime
    description: str = ""
    location: str = ""
    url: str = ""
    sequence: int = 0        # bump when the drill is moved
    cancelled: bool = False


def build_calendar(events: Sequence[CalendarEvent], *, stamp: datetime, name: str = "訓練予定") -> bytes:
    """A VCALENDAR with one VEVENT per drill. ``stamp`` is DTSTAMP (the export moment, injected)."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", _text(name))
    cal.add("x-wr-timezone", "Asia/Tokyo")
    for ev in events:
        if ev.starts_at.tzinfo is None or ev.ends_at.tzinfo is None:
            raise ValueError("event times must be timezone-aware")
        vevent = icalendar.Event()
        vevent.add("uid", ev.uid)
        vevent.add("dtstamp", stamp)
        # UTC in the file: every client converts it, no VTIMEZONE block needed.
        vevent.add("dtstart", ev.starts_at.astimezone(timezone.utc))
        vevent.add("dtend", ev.ends_at.astimezone(timezone.utc))
        vevent.add("summary", _text(ev.title))
        vevent.add("sequence", ev.sequence)
        vevent.add("status", "CANCELLED" if ev.cancelled else "CONFIRMED")
        if ev.description:
            vevent.add("description", _text(ev.description))
        if ev.location:
            vevent.add("location", _text(ev.location))
        if ev.url:
            vevent.add("url", re.sub(r"\s", "", ev.url))
        if not ev.cancelled:
            for key, offset in DRILL_REMINDERS:
                alarm = icalendar.Alarm()
                alarm.add("action", "DISPLAY")
                alarm.add("description", _text(f"{REMINDER_LABEL_JA[key]}: {ev.title}"))
                alarm.add("trigger", -offset)
                vevent.add_component(alarm)
        cal.add_component(vevent)
    return cal.to_ical()


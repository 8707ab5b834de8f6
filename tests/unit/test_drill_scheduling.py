"""Drill calendar checks: public holidays, 年末年始, weekends, clashes, reminders, overdue actions, .ics."""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar

from bcp_service.drills.ics import CalendarEvent, build_calendar
from bcp_service.drills.reminders import (
    drill_reminder, next_drill_reminder_at, is_overdue, overdue_reminder_due,
)
from bcp_service.drills.scheduling import Slot, calendar_warnings, check_schedule, local_dates

JST = ZoneInfo("Asia/Tokyo")


def jst(*args) -> datetime:
    return datetime(*args, tzinfo=JST)


def slot(start, hours=2, region="1301", orgs=(), title="訓練", drill_id=None):
    return Slot(start, start + timedelta(hours=hours), region, frozenset(orgs), title, drill_id)


def test_a_drill_on_culture_day_warns_with_the_holiday_name():
    ws = calendar_warnings(jst(2026, 11, 3, 10), jst(2026, 11, 3, 12))
    assert [w.code for w in ws] == ["holiday"]
    assert "文化の日" in ws[0].message and "2026年11月3日（火）" in ws[0].message


def test_holiday_is_judged_in_tokyo_time_not_utc():
    # 2026-11-02 16:00 UTC is already 3 November (文化の日) in Tokyo.
    start = datetime(2026, 11, 2, 16, 0, tzinfo=timezone.utc)
    assert [w.code for w in calendar_warnings(start, start + timedelta(hours=1))] == ["holiday"]


def test_an_ordinary_weekday_gives_no_warning():
    assert calendar_warnings(jst(2026, 11, 4, 10), jst(2026, 11, 4, 12)) == []


def test_year_end_and_weekend_are_warned_separately():
    assert [w.code for w in calendar_warnings(jst(2026, 12, 29, 10), jst(2026, 12, 29, 11))] == ["year_end"]
    assert [w.code for w in calendar_warnings(jst(2026, 11, 7, 10), jst(2026, 11, 7, 11))] == ["weekend"]


def test_a_long_drill_warns_for_each_day_it_touches_and_midnight_end_is_exclusive():
    assert local_dates(jst(2026, 11, 2, 22), jst(2026, 11, 4, 0)) == [date(2026, 11, 2), date(2026, 11, 3)]
    ws = calendar_warnings(jst(2026, 11, 2, 22), jst(2026, 11, 4, 0))
    assert [w.code for w in ws] == ["holiday"]


def test_overlapping_drill_sharing_an_organisation_clashes_even_in_another_region():
    mine = slot(jst(2026, 11, 4, 10), orgs={1, 2}, region="1301")
    other = slot(jst(2026, 11, 4, 11), orgs={2, 9}, region="1302", title="他圏域の訓練", drill_id=7)
    ws = check_schedule(mine, [other])
    assert [(w.code, w.other_drill_id) for w in ws] == [("clash", 7)]
    assert "他圏域の訓練" in ws[0].message and "1件" in ws[0].message


def test_overlapping_drill_in_the_same_region_clashes_without_shared_organisations():
    ws = check_schedule(slot(jst(2026, 11, 4, 10), orgs={1}), [slot(jst(2026, 11, 4, 9), orgs={5}, drill_id=3)])
    assert [w.code for w in ws] == ["clash"]


def test_back_to_back_drills_and_other_regions_do_not_clash():
    mine = slot(jst(2026, 11, 4, 10), orgs={1})
    others = [slot(jst(2026, 11, 4, 12), orgs={1}, drill_id=1),            # starts when mine ends
              slot(jst(2026, 11, 4, 10), orgs={5}, region="1302", drill_id=2)]
    assert check_schedule(mine, others) == []


def test_a_drill_does_not_clash_with_itself_when_rescheduled():
    mine = slot(jst(2026, 11, 4, 10), orgs={1}, drill_id=4)
    assert check_schedule(mine, [slot(jst(2026, 11, 4, 9), orgs={1}, drill_id=4)]) == []


# --- reminders ---------------------------------------------------------------------------------

DRILL = jst(2026, 11, 20, 10)
CREATED = jst(2026, 10, 1, 9)


def test_seven_day_reminder_is_sent_once_its_moment_passes():
    assert drill_reminder(DRILL, now=DRILL - timedelta(days=7, minutes=1), created_at=CREATED, done=()).send is None
    d = drill_reminder(DRILL, now=DRILL - timedelta(days=7), created_at=CREATED, done=())
    assert d.send == "7d" and d.skip == ()
    assert drill_reminder(DRILL, now=DRILL - timedelta(days=6), created_at=CREATED, done={"7d"}).send is None


def test_after_a_clock_outage_only_the_closest_reminder_is_sent():
    d = drill_reminder(DRILL, now=DRILL - timedelta(minutes=30), created_at=CREATED, done=())
    assert d.send == "1h" and set(d.skip) == {"7d", "1d"}


def test_drill_booked_three_days_ahead_skips_the_week_reminder():
    created = DRILL - timedelta(days=3)
    d = drill_reminder(DRILL, now=created + timedelta(seconds=1), created_at=created, done=())
    assert d.send is None and d.skip == ("7d",)
    assert next_drill_reminder_at(DRILL, created_at=created, done={"7d"}) == DRILL - timedelta(days=1)


def test_no_reminder_once_the_drill_has_started():
    d = drill_reminder(DRILL, now=DRILL, created_at=CREATED, done={"7d"})
    assert d.send is None and set(d.skip) == {"1d", "1h"}


def test_next_reminder_moment_is_none_when_all_are_done():
    assert next_drill_reminder_at(DRILL, created_at=CREATED, done={"7d", "1d", "1h"}) is None


def test_overdue_actions_are_reminded_on_the_first_day_then_weekly():
    due = date(2026, 11, 1)
    assert not is_overdue(due, "open", today=due)
    assert overdue_reminder_due(due, "open", today=date(2026, 11, 2), last_reminded_on=None)
    assert not overdue_reminder_due(due, "open", today=date(2026, 11, 8), last_reminded_on=date(2026, 11, 2))
    assert overdue_reminder_due(due, "in_progress", today=date(2026, 11, 9), last_reminded_on=date(2026, 11, 2))
    assert not overdue_reminder_due(due, "done", today=date(2026, 12, 1), last_reminded_on=None)


# --- iCalendar ---------------------------------------------------------------------------------

def test_ics_round_trips_with_utc_times_and_three_alarms():
    ev = CalendarEvent("drill-5@bcp-service", "【訓練】計画停電", DRILL, DRILL + timedelta(hours=2),
                       description="参加機関: 3", url="http://localhost/drills/5")
    raw = build_calendar([ev], stamp=jst(2026, 10, 1, 9))
    cal = icalendar.Calendar.from_ical(raw)
    [vevent] = cal.walk("VEVENT")
    assert str(vevent["summary"]) == "【訓練】計画停電"
    assert vevent.decoded("dtstart") == DRILL
    assert vevent.decoded("dtstart").utcoffset() == timedelta(0)
    triggers = sorted(a.decoded("trigger") for a in vevent.walk("VALARM"))
    assert triggers == [-timedelta(days=7), -timedelta(days=1), -timedelta(hours=1)]
    assert str(vevent["uid"]) == "drill-5@bcp-service"


def test_cancelled_drill_is_exported_as_cancelled_without_alarms():
    ev = CalendarEvent("drill-6@bcp-service", "訓練", DRILL, DRILL + timedelta(hours=1), sequence=2, cancelled=True)
    [vevent] = icalendar.Calendar.from_ical(build_calendar([ev], stamp=DRILL)).walk("VEVENT")
    assert str(vevent["status"]) == "CANCELLED" and vevent["sequence"] == 2
    assert vevent.walk("VALARM") == []


# --- property: reminders over any sequence of clock beats -------------------------------------

from hypothesis import given, strategies as st  # noqa: E402

from bcp_service.drills.reminders import DRILL_REMINDERS  # noqa: E402


@given(created_hours_before=st.integers(min_value=0, max_value=24 * 40),
       beats=st.lists(st.integers(min_value=0, max_value=24 * 60 * 40), min_size=1, max_size=40))
def test_reminders_are_sent_at_most_once_never_late_and_never_before_booking(created_hours_before, beats):
    created = DRILL - timedelta(hours=created_hours_before)
    done: set[str] = set()
    sent: list[tuple[str, datetime]] = []
    # Beats are minutes before the drill, visited in time order (the clock only moves forward).
    for minutes_before in sorted(set(beats), reverse=True):
        now = DRILL - timedelta(minutes=minutes_before)
        if now < created:
            continue
        d = drill_reminder(DRILL, now=now, created_at=created, done=done)
        if d.send:
            sent.append((d.send, now))
        done |= set(d.skip) | ({d.send} if d.send else set())
    keys = [k for k, _ in sent]
    assert len(keys) == len(set(keys))
    offsets = dict(DRILL_REMINDERS)
    for key, at in sent:
        assert DRILL - offsets[key] <= at < DRILL         # due, and before the drill starts
        assert DRILL - offsets[key] >= created             # never for a moment before the booking

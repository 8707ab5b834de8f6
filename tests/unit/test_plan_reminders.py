from datetime import date, datetime, timezone

from bcp_service.plans.autofill import carry_person_columns
from bcp_service.plans.reminders import (add_months, next_reminder_at, reminder_kind, reminder_text,
                                         review_due)

UTC = timezone.utc


def test_add_months_clamps_to_month_end():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 24), 12) == date(2027, 11, 24)


def test_review_due_is_a_year_after_approval_in_tokyo_time():
    # 2026-11-30 16:00 UTC is already 1 December in Tokyo
    assert review_due(datetime(2026, 11, 30, 16, 0, tzinfo=UTC), 12) == date(2027, 12, 1)


def test_an_earlier_stated_review_date_wins_but_not_a_later_or_past_one():
    approved = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    assert review_due(approved, 12, "2027-05-31") == date(2027, 5, 31)
    assert review_due(approved, 12, "2028-05-31") == date(2027, 11, 24)
    assert review_due(approved, 12, "2026-01-01") == date(2027, 11, 24)
    assert review_due(approved, 12, "not a date") == date(2027, 11, 24)


def test_reminders_come_30_days_before_on_the_day_then_weekly_at_nine_tokyo():
    due = date(2027, 5, 31)
    first = next_reminder_at(due, datetime(2026, 11, 24, tzinfo=UTC))
    assert first == datetime(2027, 5, 1, 0, 0, tzinfo=UTC)            # 09:00 JST on 1 May
    second = next_reminder_at(due, first)
    assert second == datetime(2027, 5, 31, 0, 0, tzinfo=UTC)
    third = next_reminder_at(due, second)
    assert third == datetime(2027, 6, 7, 0, 0, tzinfo=UTC)
    assert next_reminder_at(due, datetime(2027, 6, 8, tzinfo=UTC)) == datetime(2027, 6, 14, 0, 0, tzinfo=UTC)


def test_reminder_kind_and_text():
    due = date(2027, 5, 31)
    assert reminder_kind(due, datetime(2027, 5, 1, 0, 0, tzinfo=UTC)) == "due_soon"
    assert reminder_kind(due, datetime(2027, 5, 31, 0, 0, tzinfo=UTC)) == "due"
    assert reminder_kind(due, datetime(2027, 6, 7, 0, 0, tzinfo=UTC)) == "overdue"
    assert "あと30日" in reminder_text("due_soon", "試験BCP", due, today=date(2027, 5, 1))
    assert "7日過ぎて" in reminder_text("overdue", "試験BCP", due, today=date(2027, 6, 7))


def test_refresh_keeps_role_column_written_by_a_person():
    stored = [{"name": "試験病院", "kind": "病院", "role": "受け入れ"}, {"name": "退会した薬局", "role": "薬"}]
    fresh = [{"name": "試験病院", "kind": "病院", "phone": "03-0000-0000"}, {"name": "新しい診療所", "kind": "診療所"}]
    merged = carry_person_columns(fresh, stored, ("name", "kind", "phone"))
    assert merged == [{"name": "試験病院", "kind": "病院", "phone": "03-0000-0000", "role": "受け入れ"},
                      {"name": "新しい診療所", "kind": "診療所"}]

from datetime import date

import pytest

from bcp_service.plans.fee_rule import FeeRule, load_rule, parse_rule, reminder_due, reminder_text, status_rows


def test_the_deadline_is_data_in_plans_fee_rule_json():
    rule = load_rule()
    assert rule.deadline == date(2027, 5, 31)
    assert 30 in rule.remind_days_before


def test_status_rows_put_those_without_an_approved_plan_first_with_days_left():
    rule = FeeRule(date(2027, 5, 31), (30,))
    rows = status_rows([(1, "試験A診療所"), (2, "試験B病院"), (3, "試験C診療所")], {2}, rule, today=date(2026, 12, 2))
    assert [(r.organization_id, r.has_approved_kikan) for r in rows] == [(1, False), (3, False), (2, True)]
    assert rows[0].as_dict() == {"organization_id": 1, "name": "試験A診療所", "has_approved_kikan": False,
                                 "deadline": "2027-05-31", "days_left": 180}


def test_reminders_fall_on_the_listed_days_then_weekly_after_the_deadline():
    rule = FeeRule(date(2027, 5, 31), (90, 30, 7))
    assert reminder_due(rule, today=date(2027, 5, 1)) == 30
    assert reminder_due(rule, today=date(2027, 5, 2)) is None
    assert reminder_due(rule, today=date(2027, 6, 7)) == -7
    assert reminder_due(rule, today=date(2027, 6, 8)) is None
    assert "あと30日" in reminder_text("試験診療所", rule, today=date(2027, 5, 1))
    assert "7日過ぎています" in reminder_text("試験診療所", rule, today=date(2027, 6, 7))


def test_a_broken_rule_file_is_reported():
    with pytest.raises(ValueError, match="deadline"):
        parse_rule({"deadline": "2027/05/31"})
    with pytest.raises(ValueError):
        parse_rule({"deadline": "2027-05-31", "remind_days_before": [-1]})

"""Re-verification rule: yearly, and before typhoon season (configurable)."""
from datetime import date

import pytest

from bcp_service.registry.verification import (
    VerificationPolicy, due_cutoff, in_season, last_confirmed, overdue_reason,
)

P = VerificationPolicy()


def test_yearly_outside_season():
    today = date(2026, 12, 2)
    assert due_cutoff(today, P) == date(2025, 12, 2)
    assert overdue_reason(date(2025, 12, 2), today, P) is None
    assert overdue_reason(date(2025, 12, 1), today, P) == "前回の確認から1年以上たっています"
    assert overdue_reason(None, today, P) == "電源情報が一度も確認されていません"


def test_before_typhoon_season_spring_check_needed():
    today = date(2026, 6, 10)
    assert in_season(today, P) and not in_season(date(2026, 5, 31), P)
    assert due_cutoff(today, P) == date(2026, 3, 3)   # 90 days before 06-01
    assert overdue_reason(date(2026, 3, 3), today, P) is None
    assert overdue_reason(date(2026, 1, 15), today, P) == "台風シーズン前の確認が済んでいません"
    # the same January check was fine in May, before the window opened
    assert overdue_reason(date(2026, 1, 15), date(2026, 5, 31), P) is None


def test_policy_from_config():
    p = VerificationPolicy.from_config({"REVERIFY_MAX_AGE_DAYS": "180", "REVERIFY_PRESEASON_FROM": "07-01",
                                        "REVERIFY_SEASON_END": "09-30", "REVERIFY_PRESEASON_LOOKBACK_DAYS": 30})
    assert p == VerificationPolicy(180, (7, 1), (9, 30), 30)
    assert due_cutoff(date(2026, 7, 5), p) == date(2026, 6, 1)


@pytest.mark.parametrize("patient,backups,expected", [
    (None, [], None),
    (None, [date(2026, 1, 1), None], None),
    (None, [date(2026, 1, 1), date(2025, 6, 1)], date(2025, 6, 1)),
    (date(2026, 2, 1), [date(2025, 6, 1)], date(2026, 2, 1)),
    (date(2024, 2, 1), [date(2025, 6, 1)], date(2025, 6, 1)),
])
def test_last_confirmed(patient, backups, expected):
    assert last_confirmed(patient, backups) == expected

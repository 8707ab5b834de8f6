"""Triage order and tiers relative to the expected restoration."""
from datetime import datetime, timedelta, timezone

from hypothesis import given, strategies as st

import pytest

from bcp_service.outages.triage import TriageInput, order, parse_reported_hours, runs_out_at, tier_for

T0 = datetime(2026, 9, 1, 13, 0, tzinfo=timezone.utc)   # 22:00 JST


def test_runs_out_at_is_start_plus_runway():
    assert runs_out_at(T0, 8.5) == T0 + timedelta(hours=8, minutes=30)


def test_unknown_runway_sorts_first_as_if_already_out():
    rows = order([TriageInput(1, 30), TriageInput(2, None)], started_at=T0, now=T0,
                 expected_restoration_at=None)
    assert [r.patient_id for r in rows] == [2, 1]
    assert rows[0].tier == "red" and not rows[0].runway_known


def test_soonest_first_then_24h_dependent_first():
    rows = order([TriageInput(1, 10, dependent_24h=False), TriageInput(2, 10, dependent_24h=True),
                  TriageInput(3, 4), TriageInput(4, 40)],
                 started_at=T0, now=T0, expected_restoration_at=None)
    assert [r.patient_id for r in rows] == [3, 2, 1, 4]


def test_runway_hours_left_counts_down_with_now():
    rows = order([TriageInput(1, 8)], started_at=T0, now=T0 + timedelta(hours=3, minutes=30),
                 expected_restoration_at=None)
    assert rows[0].runway_hours_left == 4.5
    later = order([TriageInput(1, 8)], started_at=T0, now=T0 + timedelta(hours=9),
                  expected_restoration_at=None)
    assert later[0].runway_hours_left == 0.0


def test_tier_is_red_when_power_runs_out_before_restoration_even_if_far_away():
    restore = T0 + timedelta(hours=48)
    assert tier_for(T0 + timedelta(hours=30), now=T0, expected_restoration_at=restore) == "red"
    assert tier_for(T0 + timedelta(hours=30), now=T0, expected_restoration_at=None) == "green"
    assert tier_for(T0 + timedelta(hours=20), now=T0, expected_restoration_at=None) == "yellow"
    assert tier_for(T0 + timedelta(hours=5), now=T0, expected_restoration_at=None) == "red"
    assert tier_for(T0 + timedelta(hours=60), now=T0, expected_restoration_at=restore) == "green"


def test_family_report_of_battery_left_replaces_the_registered_runway():
    reported = T0 + timedelta(hours=1)
    rows = order([TriageInput(1, 30, reported_at=reported, reported_hours=2), TriageInput(2, 5)],
                 started_at=T0, now=reported, expected_restoration_at=T0 + timedelta(hours=12))
    assert [r.patient_id for r in rows] == [1, 2]
    assert rows[0].runs_out_at == reported + timedelta(hours=2)
    assert rows[0].tier == "red"


def test_family_report_replaces_the_registry_estimate_both_ways():
    reported = T0 + timedelta(hours=1)
    # Registry says 2 h from the start; the family looks at the battery and says 5 more hours (issue 13:
    # the report sets runs_out_at = answered_at + hours_left).
    assert runs_out_at(T0, 2, reported_at=reported, reported_hours=5) == reported + timedelta(hours=5)
    assert runs_out_at(T0, 30, reported_at=reported, reported_hours=0.5) == reported + timedelta(minutes=30)
    # Unknown registry runway: the report is all we know.
    assert runs_out_at(T0, None, reported_at=reported, reported_hours=4) == reported + timedelta(hours=4)


@pytest.mark.parametrize("text, hours", [
    ("2 あと3時間", 3.0),
    ("２ 残り1.5時間", 1.5),
    ("２　残り１．５時間", 1.5),          # full-width digits, point and space
    ("2 30分", 0.5),
    ("2 1時間半", 1.5),
    ("2 2時間30分", 2.5),
    ("2 あと 3 時間くらい", 3.0),
    ("2 3h", 3.0),
    ("2 45 min", 0.75),
    ("2 0時間", 0.0),
])
def test_reported_hours_are_read_from_the_family_text(text, hours):
    assert parse_reported_hours(text) == hours


@pytest.mark.parametrize("text", [None, "", "2", "２", "2 ok", "2 バッテリーが少ない", "2 10000時間", "2 123"])
def test_no_unit_or_implausible_figure_gives_no_reported_hours(text):
    assert parse_reported_hours(text) is None


@given(st.lists(st.tuples(st.one_of(st.none(), st.floats(0, 200)), st.booleans()), max_size=50),
       st.floats(0, 100))
def test_order_is_sorted_by_runs_out_then_dependency(items, elapsed):
    inputs = [TriageInput(i, h, dependent_24h=d) for i, (h, d) in enumerate(items)]
    rows = order(inputs, started_at=T0, now=T0 + timedelta(hours=elapsed),
                 expected_restoration_at=T0 + timedelta(hours=24))
    keys = [(r.runs_out_at, not r.dependent_24h) for r in rows]
    assert keys == sorted(keys)
    assert all(r.runway_hours_left >= 0 for r in rows)
    assert sorted(r.patient_id for r in rows) == list(range(len(items)))

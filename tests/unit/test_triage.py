"""Triage order and tiers relative to the expected restoration."""
from datetime import datetime, timedelta, timezone

from hypothesis import given, strategies as st

from bcp_service.outages.triage import TriageInput, order, runs_out_at, tier_for

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

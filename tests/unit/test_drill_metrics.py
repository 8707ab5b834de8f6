"""Functional-drill metrics over synthetic check-in timelines."""
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from bcp_service.drills.metrics import CheckinRecord, compute, median_minutes

T0 = datetime(2026, 9, 1, 0, 0, tzinfo=timezone.utc)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def timeline(*answers: float | None) -> list[CheckinRecord]:
    return [CheckinRecord(i, None if m is None else at(m)) for i, m in enumerate(answers)]


def test_ten_patients_all_answer_thresholds_come_from_the_5th_9th_and_10th_answer():
    m = compute(T0, timeline(1, 2, 3, 4, 5, 6, 7, 8, 9, 10))
    assert (m.minutes_to_50, m.minutes_to_90, m.minutes_to_100) == (5, 9, 10)
    assert m.response_rate == 1.0 and m.unreachable == 0


def test_ninety_percent_of_ten_needs_nine_answers_not_eight_point_nine_nine():
    m = compute(T0, timeline(1, 2, 3, 4, 5, 6, 7, 8, 9, None))
    assert m.minutes_to_90 == 9
    assert m.minutes_to_100 is None
    assert m.unreachable == 1 and m.response_rate == pytest.approx(0.9)


def test_odd_count_rounds_the_needed_answers_up():
    # 3 targets: 50% needs 2 answers (1.5 rounded up).
    m = compute(T0, timeline(10, 20, None))
    assert m.minutes_to_50 == 20
    assert m.minutes_to_90 is None


def test_answers_after_the_window_do_not_count():
    m = compute(T0, timeline(5, 10, 200), ended_at=at(120))
    assert m.responded == 2 and m.unreachable == 1 and m.minutes_to_100 is None


def test_duplicate_records_for_one_patient_keep_the_earliest_answer():
    recs = [CheckinRecord(1, at(30)), CheckinRecord(1, at(5)), CheckinRecord(1, None), CheckinRecord(2, at(7))]
    m = compute(T0, recs)
    assert m.targets == 2 and m.minutes_to_100 == 7 and m.minutes_to_50 == 5


def test_an_answer_stamped_before_the_start_counts_as_minute_zero():
    m = compute(T0, timeline(-0.5, 3))
    assert m.curve[0] == (0.0, 50.0) and m.minutes_to_50 == 0.0


def test_nobody_contacted_gives_no_rates_rather_than_division_by_zero():
    m = compute(T0, [])
    assert m.targets == 0 and m.response_rate is None and m.minutes_to_50 is None and m.unreachable == 0


def test_first_transport_is_the_earliest_assignment_inside_the_window():
    m = compute(T0, timeline(1), transport_assigned_at=[at(90), at(45), at(500)], ended_at=at(300))
    assert m.minutes_to_first_transport == 45


def test_no_transport_means_none():
    assert compute(T0, timeline(1)).minutes_to_first_transport is None


def test_curve_is_a_step_function_merging_simultaneous_answers():
    m = compute(T0, timeline(2, 2, 4, None))
    assert m.curve == ((0.0, 0.0), (2.0, 50.0), (4.0, 75.0))


def test_naive_start_time_is_refused():
    with pytest.raises(ValueError):
        compute(datetime(2026, 9, 1), [])


def test_median_ignores_drills_that_never_reached_the_mark():
    assert median_minutes([30.0, None, 10.0, 20.0]) == 20.0
    assert median_minutes([None]) is None


@given(st.lists(st.one_of(st.none(), st.floats(min_value=0, max_value=5000)), max_size=60))
def test_thresholds_are_ordered_and_counts_add_up(answers):
    m = compute(T0, timeline(*answers))
    assert m.responded + m.unreachable == m.targets == len(answers)
    reached = [v for v in (m.minutes_to_50, m.minutes_to_90, m.minutes_to_100) if v is not None]
    assert reached == sorted(reached)
    # A later threshold can only be reached if the earlier ones were.
    if m.minutes_to_100 is not None:
        assert m.minutes_to_90 is not None and m.minutes_to_50 is not None
    assert all(a[0] < b[0] and a[1] < b[1] for a, b in zip(m.curve, m.curve[1:]))
    if m.targets and m.unreachable == 0:
        assert m.curve[-1][1] == 100.0

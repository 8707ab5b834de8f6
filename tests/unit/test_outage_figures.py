from datetime import datetime, timedelta, timezone

from bcp_service.outages.figures import reach_figures

T0 = datetime(2026, 9, 1, 13, 0, tzinfo=timezone.utc)


def test_minutes_to_reach_half_ninety_and_all():
    times = [T0 + timedelta(minutes=m) for m in (1, 2, 3, 4, 5, 6, 7, 8, 9, 30)]
    f = reach_figures(T0, times)
    assert f.minutes_to == {50: 5.0, 90: 9.0, 100: 30.0}
    assert f.reached == 10 and f.share_reached == 1.0


def test_unreached_patients_leave_the_late_milestones_open():
    f = reach_figures(T0, [T0 + timedelta(minutes=2), None, None])
    assert f.minutes_to == {50: None, 90: None, 100: None}
    f = reach_figures(T0, [T0 + timedelta(minutes=2), T0 + timedelta(minutes=4), None])
    assert f.minutes_to[50] == 4.0 and f.minutes_to[100] is None


def test_no_affected_patients_has_no_figures():
    assert reach_figures(T0, []).minutes_to == {50: None, 90: None, 100: None}

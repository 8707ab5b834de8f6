"""Issue 13 item 4: daily schedules (使用時間帯) followed through the outage clock. Pure core."""
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from bcp_service.registry import runway as rw
from bcp_service.registry.runway import Backup, DailySchedule, Device, ScheduleError, parse_schedule, runway

JST = timezone(timedelta(hours=9))
NIGHT = parse_schedule({"start": "21:00", "end": "07:00"})
NPPV_NIGHT = Device("ventilator", "NPPV", watts=30, hours_per_day=10, internal_battery_hours=0,
                    daily_schedule=NIGHT)
TPPV_24H = Device("ventilator", "TPPV", watts=24, hours_per_day=24, internal_battery_hours=8)


def at(h, m=0, day=2):
    return datetime(2026, 12, day, h, m, tzinfo=JST)


def test_parse_and_format():
    s = parse_schedule({"start": "21:00", "end": "07:00"})
    assert s == DailySchedule(21 * 60, 7 * 60)
    assert s.hours == 10 and s.label == "21:00〜07:00" and s.to_json() == {"start": "21:00", "end": "07:00"}
    assert parse_schedule({"start": "０８:３０", "end": "9:00"}).to_json() == {"start": "08:30", "end": "09:00"}
    assert parse_schedule(None) is None


@pytest.mark.parametrize("value, field", [
    ({"start": "21:00"}, "daily_schedule"),
    ("21:00-07:00", "daily_schedule"),
    ({"start": "21:00", "end": "07:00", "x": 1}, "daily_schedule"),
    ({"start": "25:00", "end": "07:00"}, "daily_schedule.start"),
    ({"start": "21:00", "end": "7時"}, "daily_schedule.end"),
    ({"start": "21:00", "end": 7}, "daily_schedule.end"),
    ({"start": "21:00", "end": "21:00"}, "daily_schedule.end"),
])
def test_bad_schedules(value, field):
    with pytest.raises(ScheduleError) as e:
        parse_schedule(value)
    assert e.value.field == field and e.value.message


def test_night_only_without_battery_at_0900_runs_out_at_2100():
    start = at(9)
    out = rw.runs_out_at([NPPV_NIGHT], [], start)
    assert out == at(21)
    r = runway([NPPV_NIGHT], [], start=start)
    assert r.hours == 12
    assert "使用時間帯（人工呼吸器21:00〜07:00）に沿って" in r.explain
    assert "12月02日 09:00" in r.explain
    assert "最悪の場合" not in r.explain


def test_night_only_without_start_is_the_worst_case():
    r = runway([NPPV_NIGHT], [])
    assert r.hours == 0
    assert "使用時間帯21:00〜07:00（1日10時間）" in r.explain
    assert "停電と同時に使用を始める最悪の場合" in r.explain


def test_night_only_with_battery_spans_nights():
    dev = replace(NPPV_NIGHT, internal_battery_hours=4)
    bat = [Backup("external_battery", hours=8, count=1)]
    # 09:00 start: off until 21:00, 10 h used that night (07:00), 2 h left → 23:00 the next night.
    assert rw.runs_out_at([dev], bat, at(9)) == at(23, day=3)
    # Outage during the night (03:00): 4 h to 07:00, then 8 h from 21:00 that evening → 05:00 next day.
    assert rw.runs_out_at([dev], bat, at(3)) == at(5, day=3)
    # Worst case (no start): a 10 h night from the cut, 14 h off, the last 2 h → 26 h.
    assert runway([dev], bat).hours == 26


def test_utc_start_is_read_in_tokyo_time():
    start = datetime(2026, 12, 2, 0, 0, tzinfo=timezone.utc)  # 09:00 JST
    assert rw.runs_out_at([NPPV_NIGHT], [], start) == at(21)


def test_24h_device_unchanged_by_start():
    bat = [Backup("external_battery", hours=8, count=2)]
    for h in (0, 9, 21):
        assert runway([TPPV_24H], bat, start=at(h)) == runway([TPPV_24H], bat)
    assert rw.runs_out_at([TPPV_24H], bat, at(9)) == at(9) + timedelta(hours=24)


def test_shared_station_serves_a_night_device_only_at_night():
    day_conc = Device("oxygen_concentrator", watts=100, hours_per_day=24)
    st_ = [Backup("power_station", watt_hours=1000)]
    alone = runway([day_conc], st_, start=at(9)).hours
    both = runway([day_conc, replace(NPPV_NIGHT, watts=100)], st_, start=at(9)).hours
    assert both == alone  # station runs out (~7.4 h) before the night device starts at 21:00
    assert alone < 12


def test_24h_dependence_ignores_hours_per_day_when_scheduled():
    assert not rw.is_dependent_24h(replace(NPPV_NIGHT, hours_per_day=24))
    assert rw.is_dependent_24h(TPPV_24H)


# --- properties -------------------------------------------------------------------------------

hours_st = st.floats(min_value=0, max_value=48, allow_nan=False)
minute_st = st.integers(0, 24 * 60 - 1)
schedule_st = st.one_of(st.none(), st.tuples(minute_st, minute_st).filter(lambda t: t[0] != t[1])
                        .map(lambda t: DailySchedule(*t)))
device_st = st.builds(
    Device,
    kind=st.sampled_from(["ventilator", "oxygen_concentrator", "suction"]),
    mode=st.none(),
    watts=st.one_of(st.none(), st.floats(min_value=1, max_value=300)),
    hours_per_day=st.floats(min_value=0.5, max_value=24),
    internal_battery_hours=hours_st,
    life_sustaining=st.one_of(st.none(), st.booleans()),
    daily_schedule=schedule_st,
)
backup_st = st.one_of(
    st.builds(Backup, kind=st.just("external_battery"), hours=hours_st, count=st.integers(1, 3)),
    st.builds(Backup, kind=st.just("power_station"), watt_hours=st.floats(min_value=0, max_value=2000),
              dc_output=st.booleans()),
    st.builds(Backup, kind=st.just("generator"), hours=hours_st),
    st.builds(Backup, kind=st.just("vehicle_inverter"), hours=st.one_of(st.none(), hours_st)),
    st.builds(Backup, kind=st.just("oxygen_cylinder"), hours=hours_st),
)
start_st = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1),
                        timezones=st.just(timezone.utc))


@settings(max_examples=300, deadline=None)
@given(st.lists(device_st, min_size=1, max_size=3), st.lists(backup_st, max_size=4), start_st)
def test_a_schedule_never_makes_runout_earlier_than_the_24h_worst_case(devices, backups, start):
    followed = runway(devices, backups, start=start).hours
    all_day = [replace(d, daily_schedule=None, hours_per_day=24) for d in devices]
    assert followed >= runway(all_day, backups).hours - 1e-6


@settings(max_examples=300, deadline=None)
@given(device_st, st.lists(backup_st, max_size=4), start_st)
def test_one_device_schedule_never_earlier_than_its_block_starting_at_the_cut(device, backups, start):
    # One load: starting its daily block at the cut uses the most power soonest (the stored figure).
    assert runway([device], backups, start=start).hours >= runway([device], backups).hours - 1e-6


@settings(max_examples=200, deadline=None)
@given(st.lists(device_st.map(lambda d: replace(d, daily_schedule=None)), min_size=1, max_size=3),
       st.lists(backup_st, max_size=4), start_st)
def test_without_a_schedule_the_start_changes_nothing(devices, backups, start):
    assert runway(devices, backups, start=start) == runway(devices, backups)

"""Runway: realistic cases from DOMAIN.md, tiers, bad input, and hypothesis properties."""
import math

import pytest
from hypothesis import given, settings, strategies as st

from bcp_service.registry.runway import (
    HORIZON_HOURS, Backup, Device, RunwayInputError, Thresholds, runway, tier_for,
)

ASTRAL = Device("ventilator", "TPPV", watts=24, hours_per_day=24, internal_battery_hours=8)


def test_astral_internal_plus_two_externals_at_24h_lasts_24h():
    r = runway([ASTRAL], [Backup("external_battery", hours=8, count=2)])
    assert r.hours == pytest.approx(24)
    assert r.tier == "yellow"
    assert "24時間" in r.explain


def test_1024wh_station_on_24w_ventilator_counts_inverter_and_idle_draw():
    # DOMAIN.md: 1,024 Wh × 0.85 ÷ (24 W + 10 W idle) ≈ 26 h, not the 36 h of no idle draw.
    base = runway([ASTRAL], [])
    more = runway([ASTRAL], [Backup("power_station", watt_hours=1024)])
    added = more.hours - base.hours
    assert 25 <= added <= 26
    assert added == pytest.approx(1024 * 0.95 * 0.90 / (24 + 10), abs=0.01)
    assert "待機電力10W" in more.explain


def test_usable_factor_scales_station_energy():
    full = runway([ASTRAL], [Backup("power_station", watt_hours=1000)], usable=1.0)
    assert full.hours == pytest.approx(8 + 1000 * 0.90 / 34, abs=0.01)


def test_night_only_nppv_lasts_longer_than_24h_user():
    backups = [Backup("external_battery", hours=8, count=1)]
    night = Device("ventilator", "NPPV", watts=20, hours_per_day=10, internal_battery_hours=8)
    day_and_night = Device("ventilator", "NPPV", watts=20, hours_per_day=24, internal_battery_hours=8)
    assert runway([night], backups).hours > runway([day_and_night], backups).hours


def test_night_only_worst_case_counts_from_start_of_use():
    # 16 h of battery, 10 h a night: night 1 uses 10 h, night 2 starts at 24 h and runs 6 h more.
    night = Device("ventilator", "NPPV", watts=20, hours_per_day=10, internal_battery_hours=16)
    assert runway([night], []).hours == pytest.approx(30)


def test_battery_exactly_one_night_lasts_until_next_night_starts():
    night = Device("ventilator", "NPPV", watts=20, hours_per_day=8, internal_battery_hours=8)
    assert runway([night], []).hours == pytest.approx(24)


def test_trilogy_3h_internal_plus_3h_external_is_red():
    trilogy = Device("ventilator", "TPPV", watts=30, hours_per_day=24, internal_battery_hours=3)
    r = runway([trilogy], [Backup("external_battery", hours=3)])
    assert r.hours == pytest.approx(6)
    assert r.tier == "red"


def test_manual_resuscitator_is_last_line_not_hours():
    with_bag = runway([ASTRAL], [Backup("manual_resuscitator")])
    without = runway([ASTRAL], [])
    assert with_bag.hours == without.hours == 8
    assert "蘇生バッグ" in with_bag.explain and "最後の手段" in with_bag.explain
    assert "未登録" in without.explain


def test_shared_station_is_drained_by_both_vital_devices():
    oxygen = Device("oxygen_concentrator", watts=100, hours_per_day=24, internal_battery_hours=0)
    station = [Backup("power_station", watt_hours=1000)]
    alone = runway([ASTRAL], station).hours
    shared = runway([ASTRAL, oxygen], station).hours
    # 1,000 Wh × 0.95 × 0.90 = 855 Wh through the inverter; the concentrator draws 100 W + 10 W idle
    # from t=0 and empties it at 7.8 h, before the ventilator's own 8 h run out.
    assert shared == pytest.approx(855 / 110, abs=0.01)
    assert shared < alone


def test_oxygen_cylinder_stands_in_for_concentrator():
    oxygen = Device("oxygen_concentrator", watts=100, hours_per_day=24)
    r = runway([oxygen], [Backup("oxygen_cylinder", hours=5, count=2)])
    assert r.hours == pytest.approx(10)


def test_generator_runs_while_needed():
    r = runway([ASTRAL], [Backup("generator", hours=10)])
    assert r.hours == pytest.approx(18)
    assert "発電機10時間" in r.explain


def test_vehicle_inverter_without_hours_is_mentioned_not_counted():
    r = runway([ASTRAL], [Backup("vehicle_inverter")])
    assert r.hours == 8
    assert "計算外" in r.explain


def test_station_not_counted_when_watts_unknown():
    vent = Device("ventilator", "TPPV", watts=None, internal_battery_hours=8)
    r = runway([vent], [Backup("power_station", watt_hours=1000)])
    assert r.hours == 8
    assert "未登録" in r.explain


def test_non_vital_devices_do_not_count_or_drain():
    humidifier = Device("other", watts=100, hours_per_day=24, life_sustaining=False)
    station = [Backup("power_station", watt_hours=1024)]
    assert runway([ASTRAL, humidifier], station).hours == runway([ASTRAL], station).hours


def test_no_vital_devices_is_green_at_horizon():
    r = runway([Device("feeding_pump", watts=5, hours_per_day=4)], [])
    assert r.hours == HORIZON_HOURS and r.tier == "green"


def test_result_capped_at_horizon():
    r = runway([ASTRAL], [Backup("generator", hours=1000, count=2)])
    assert r.hours == HORIZON_HOURS
    assert "30日以上" in r.explain


def test_no_battery_at_all_is_zero_and_red():
    r = runway([Device("ventilator", "TPPV", watts=24)], [])
    assert r.hours == 0 and r.tier == "red"


@pytest.mark.parametrize("hours,expected", [(0, "red"), (6, "red"), (6.01, "yellow"), (24, "yellow"),
                                            (24.5, "green")])
def test_tier_defaults(hours, expected):
    assert tier_for(hours) == expected


def test_tier_red_when_runs_out_before_restoration():
    assert tier_for(30, hours_to_restoration=48) == "red"
    assert tier_for(30, hours_to_restoration=12) == "green"


def test_thresholds_configurable():
    r = runway([ASTRAL], [Backup("external_battery", hours=8, count=2)], thresholds=Thresholds(30, 48))
    assert r.tier == "red"
    assert tier_for(10, red_hours=2, yellow_hours=12) == "yellow"
    with pytest.raises(ValueError):
        tier_for(10, red_hours=12, yellow_hours=2)


@pytest.mark.parametrize("device,field", [
    (Device("toaster"), "devices[0].kind"),
    (Device("ventilator", mode="CPAP"), "devices[0].mode"),
    (Device("ventilator", watts=-1), "devices[0].watts"),
    (Device("ventilator", hours_per_day=0), "devices[0].hours_per_day"),
    (Device("ventilator", hours_per_day=25), "devices[0].hours_per_day"),
    (Device("ventilator", internal_battery_hours=-2), "devices[0].internal_battery_hours"),
    (Device("ventilator", internal_battery_hours=math.nan), "devices[0].internal_battery_hours"),
])
def test_bad_device_input_names_field(device, field):
    with pytest.raises(RunwayInputError) as e:
        runway([device], [])
    assert e.value.field == field


@pytest.mark.parametrize("backup,field", [
    (Backup("solar_panel"), "backups[0].kind"),
    (Backup("external_battery", hours=-8), "backups[0].hours"),
    (Backup("power_station", watt_hours=-1), "backups[0].watt_hours"),
    (Backup("external_battery", hours=8, count=0), "backups[0].count"),
])
def test_bad_backup_input_names_field(backup, field):
    with pytest.raises(RunwayInputError) as e:
        runway([ASTRAL], [backup])
    assert e.value.field == field


# --- properties -----------------------------------------------------------------------------

hours_st = st.floats(min_value=0, max_value=48, allow_nan=False)
device_st = st.builds(
    Device,
    kind=st.sampled_from(["ventilator", "oxygen_concentrator", "suction"]),
    mode=st.none(),
    watts=st.one_of(st.none(), st.floats(min_value=1, max_value=300)),
    hours_per_day=st.floats(min_value=0.5, max_value=24),
    internal_battery_hours=hours_st,
    life_sustaining=st.one_of(st.none(), st.booleans()),
)
backup_st = st.one_of(
    st.builds(Backup, kind=st.just("external_battery"), hours=hours_st, count=st.integers(1, 3)),
    st.builds(Backup, kind=st.just("power_station"), watt_hours=st.floats(min_value=0, max_value=2000)),
    st.builds(Backup, kind=st.just("generator"), hours=hours_st),
    st.builds(Backup, kind=st.just("vehicle_inverter"), hours=st.one_of(st.none(), hours_st)),
    st.builds(Backup, kind=st.just("oxygen_cylinder"), hours=hours_st),
    st.builds(Backup, kind=st.just("manual_resuscitator")),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(device_st, min_size=1, max_size=3), st.lists(backup_st, max_size=4), backup_st)
def test_more_backup_never_shortens(devices, backups, extra):
    assert runway(devices, backups + [extra]).hours >= runway(devices, backups).hours - 1e-6


@settings(max_examples=300, deadline=None)
@given(st.lists(device_st, min_size=1, max_size=3), st.lists(backup_st, max_size=4),
       st.data())
def test_more_use_never_lengthens(devices, backups, data):
    i = data.draw(st.integers(0, len(devices) - 1))
    d = devices[i]
    more_hours = data.draw(st.floats(min_value=d.hours_per_day, max_value=24))
    more_watts = None if d.watts is None else data.draw(st.floats(min_value=d.watts, max_value=400))
    heavier = Device(d.kind, d.mode, more_watts, more_hours, d.internal_battery_hours, d.life_sustaining)
    changed = devices[:i] + [heavier] + devices[i + 1:]
    assert runway(changed, backups).hours <= runway(devices, backups).hours + 1e-6


@settings(max_examples=200, deadline=None)
@given(st.lists(device_st, max_size=3), st.lists(backup_st, max_size=4))
def test_runway_is_bounded_and_tiered(devices, backups):
    r = runway(devices, backups)
    assert 0 <= r.hours <= HORIZON_HOURS
    assert r.tier == tier_for(r.hours)
    assert r.explain

"""Issue 14: the runway against real equipment — spares, batteries per device, oxygen litres,
station idle draw and DC output, generator fuel, ageing, explanations — and its properties."""
from datetime import date

import pytest
from hypothesis import given, settings, strategies as st

from bcp_service.registry import runway as rw
from bcp_service.registry.runway import Assumptions, Backup, Device, RunwayInputError, runway

ASTRAL = Device("ventilator", "TPPV", watts=24, hours_per_day=24, internal_battery_hours=8)
SPARE_TRILOGY = Device("ventilator", "TPPV", watts=30, hours_per_day=24, internal_battery_hours=3, role="spare")
POC = Device("oxygen_concentrator", watts=60, hours_per_day=24, internal_battery_hours=2)
TODAY = date(2026, 12, 2)


def test_astral_with_spare_trilogy_is_about_27h_not_3h():
    r = runway([ASTRAL, SPARE_TRILOGY], [Backup("external_battery", hours=8, count=2)])
    assert r.hours == pytest.approx(27)
    assert "予備の人工呼吸器に交換して3時間" in r.explain
    assert "同時に動かす機器ではなく" in r.explain


def test_spare_listed_first_is_still_a_swap():
    r = runway([SPARE_TRILOGY, ASTRAL], [Backup("external_battery", hours=8, count=2)])
    assert r.hours == pytest.approx(27)


def test_poc_keeps_its_own_spare_batteries():
    r = runway([POC], [Backup("external_battery", hours=2, count=2, device_kind="oxygen_concentrator")])
    assert r.hours == pytest.approx(6)
    assert "外部バッテリー計4時間" in r.explain


def test_batteries_go_to_their_device_kind_with_a_ventilator_present():
    nppv = Device("ventilator", "NPPV", watts=20, hours_per_day=24, internal_battery_hours=10)
    r = runway([nppv, POC], [Backup("external_battery", hours=2, count=2, device_kind="oxygen_concentrator")])
    assert r.hours == pytest.approx(6)  # the concentrator stops first; the ventilator got none of them
    assert "最初に止まるのは酸素濃縮装置" in r.explain


def test_battery_without_device_kind_defaults_to_ventilator_and_says_so():
    r = runway([ASTRAL], [Backup("external_battery", hours=8, count=2)])
    assert r.hours == pytest.approx(24)
    assert "接続先が未指定の外部バッテリーは人工呼吸器用" in r.explain


def test_battery_without_device_kind_and_no_ventilator_goes_to_first_vital_device():
    assert runway([POC], [Backup("external_battery", hours=2, count=2)]).hours == pytest.approx(6)


@pytest.mark.parametrize("flow,hours", [(2, 2.5), (3, 300 / 180)])
def test_oxygen_cylinder_hours_from_litres_and_flow(flow, hours):
    conc = Device("oxygen_concentrator", watts=300, hours_per_day=24, flow_lpm=flow)
    r = runway([conc], [Backup("oxygen_cylinder", liters=300)])
    assert r.hours == pytest.approx(hours, abs=0.01)


def test_oxygen_cylinders_count_and_conserver_ratio():
    conc = Device("oxygen_concentrator", watts=300, hours_per_day=24, flow_lpm=2)
    assert runway([conc], [Backup("oxygen_cylinder", liters=300, count=2)]).hours == pytest.approx(5)
    assert runway([conc], [Backup("oxygen_cylinder", liters=300, conserver_ratio=3)]).hours == pytest.approx(7.5)


def test_old_cylinder_row_keeps_its_hours_and_says_which_default():
    conc = Device("oxygen_concentrator", watts=300, hours_per_day=24)
    r = runway([conc], [Backup("oxygen_cylinder", hours=5)])
    assert r.hours == pytest.approx(5)
    assert "登録された時間を使用" in r.explain


def test_1024wh_on_24w_with_10w_idle_is_25_to_26h():
    vent = Device("ventilator", "TPPV", watts=24, hours_per_day=24)
    r = runway([vent], [Backup("power_station", watt_hours=1024)])
    assert 25 <= r.hours <= 26
    assert "インバーター効率90%" in r.explain and "待機電力10W" in r.explain


def test_idle_draw_is_configurable():
    vent = Device("ventilator", "TPPV", watts=24, hours_per_day=24)
    big = runway([vent], [Backup("power_station", watt_hours=1024)], assumptions=Assumptions(idle_watts=22))
    assert big.hours == pytest.approx(1024 * 0.95 * 0.90 / 46, abs=0.01)


def test_dc_output_skips_inverter_and_idle_draw():
    vent = Device("ventilator", "TPPV", watts=24, hours_per_day=24)
    r = runway([vent], [Backup("power_station", watt_hours=1024, dc_output=True)])
    assert r.hours == pytest.approx(1024 * 0.95 / 24, abs=0.01)
    assert "12V直流出力" in r.explain


def test_generator_from_cassette_cans_is_about_an_hour_on_two():
    r = runway([Device("ventilator", watts=24, hours_per_day=24)], [Backup("generator", fuel_cans=2)])
    assert 1 <= r.hours <= 2.2
    assert "カセットボンベ2本" in r.explain


def test_generator_from_petrol_uses_consumption_figure():
    a = Assumptions(generator_liters_per_hour=0.5)
    r = runway([Device("ventilator", watts=24, hours_per_day=24)], [Backup("generator", fuel_liters=4)], assumptions=a)
    assert r.hours == pytest.approx(8)


def test_old_generator_row_keeps_hours_and_names_the_default():
    r = runway([ASTRAL], [Backup("generator", hours=10)])
    assert r.hours == pytest.approx(18)
    assert "燃料の量が未登録" in r.explain


def test_humidifier_assumption_is_stated_for_ventilators():
    assert "人工鼻（HME）" in runway([ASTRAL], []).explain
    assert "人工鼻" not in runway([POC], []).explain


def test_ageing_derates_batteries_and_says_so():
    old = Backup("external_battery", hours=8, count=2, purchased_on=date(2023, 12, 2))
    r = runway([ASTRAL], [old], today=TODAY)
    factor = 1 - 0.10 * (3 * 365 + 1) / 365.25
    assert r.hours == pytest.approx(8 + 16 * factor, abs=0.01)
    assert "経年劣化" in r.explain and "3.0年経過" in r.explain


def test_ageing_counts_from_last_check_and_has_a_floor():
    checked = Backup("external_battery", hours=8, purchased_on=date(2015, 1, 1), checked_on=TODAY)
    assert runway([ASTRAL], [checked], today=TODAY).hours == pytest.approx(16)
    ancient = Backup("external_battery", hours=8, purchased_on=date(2000, 1, 1))
    assert runway([ASTRAL], [ancient], today=TODAY).hours == pytest.approx(8 + 4)


def test_no_dates_no_ageing_and_the_explanation_says_so():
    r = runway([ASTRAL], [Backup("external_battery", hours=8)], today=TODAY)
    assert r.hours == pytest.approx(16)
    assert "経年劣化は見込んでいません" in r.explain


def test_ageing_is_off_without_today():
    old = Backup("external_battery", hours=8, purchased_on=date(2020, 1, 1))
    assert runway([ASTRAL], [old]).hours == pytest.approx(16)


@pytest.mark.parametrize("devices,backups,field", [
    ([Device("oxygen_concentrator", flow_lpm=0)], [], "devices[0].flow_lpm"),
    ([Device("oxygen_concentrator", flow_lpm=16)], [], "devices[0].flow_lpm"),
    ([ASTRAL], [Backup("oxygen_cylinder", liters=10_001)], "backups[0].liters"),
    ([POC, SPARE_TRILOGY], [], "devices[1].role"),
    ([Device("ventilator", role="backup")], [], "devices[0].role"),
    ([ASTRAL], [Backup("external_battery", hours=8, device_kind="suction")], "backups[0].device_kind"),
    ([ASTRAL], [Backup("external_battery", hours=8, checked_on=date(2026, 12, 3))], "backups[0].checked_on"),
    ([ASTRAL], [Backup("power_station", watt_hours=500, purchased_on=date(2027, 1, 1))], "backups[0].purchased_on"),
])
def test_bad_new_fields_name_the_field(devices, backups, field):
    with pytest.raises(RunwayInputError) as e:
        runway(devices, backups, today=TODAY)
    assert e.value.field == field
    assert any(f == field for f, _ in rw.problems(devices, backups, TODAY))


def test_dependent_24h_is_one_rule():
    assert rw.dependent_24h([ASTRAL])
    assert not rw.dependent_24h([Device("ventilator", "NPPV", hours_per_day=10)])
    assert not rw.dependent_24h([Device("suction", hours_per_day=24)])
    assert rw.dependent_24h([Device("suction", hours_per_day=24, life_sustaining=True)])
    assert not rw.is_dependent_24h(SPARE_TRILOGY)


def test_converters_fill_defaults_for_old_rows():
    d = rw.device_from({"kind": "ventilator", "hours_per_day": None, "role": None})
    assert d.role == "primary" and d.hours_per_day == 24 and d.internal_battery_hours == 0
    b = rw.backup_from({"kind": "power_station", "watt_hours": 512, "count": None, "dc_output": None})
    assert b.count == 1 and b.dc_output is False


def test_ladder_mentions_spare_and_dc():
    lines = rw.ladder([ASTRAL, SPARE_TRILOGY], [Backup("power_station", watt_hours=512, dc_output=True)])
    assert any("予備の人工呼吸器" in s for s in lines)
    assert any("12V直流出力" in s for s in lines)


# --- properties -----------------------------------------------------------------------------

hours_st = st.floats(min_value=0, max_value=48, allow_nan=False)
date_st = st.one_of(st.none(), st.dates(min_value=date(2015, 1, 1), max_value=TODAY))
device_st = st.builds(
    Device,
    kind=st.sampled_from(["ventilator", "oxygen_concentrator", "suction"]),
    mode=st.none(),
    watts=st.one_of(st.none(), st.floats(min_value=1, max_value=300)),
    hours_per_day=st.floats(min_value=0.5, max_value=24),
    internal_battery_hours=hours_st,
    life_sustaining=st.one_of(st.none(), st.booleans()),
    flow_lpm=st.one_of(st.none(), st.floats(min_value=0.25, max_value=15)),
)
backup_st = st.one_of(
    st.builds(Backup, kind=st.just("external_battery"), hours=hours_st, count=st.integers(1, 3),
              device_kind=st.sampled_from([None, "ventilator", "oxygen_concentrator", "suction"]),
              purchased_on=date_st, checked_on=date_st),
    st.builds(Backup, kind=st.just("power_station"), watt_hours=st.floats(min_value=0, max_value=2000),
              dc_output=st.booleans(), purchased_on=date_st),
    st.builds(Backup, kind=st.just("generator"), hours=st.one_of(st.none(), hours_st),
              fuel_cans=st.one_of(st.none(), st.integers(0, 10)),
              fuel_liters=st.one_of(st.none(), st.floats(min_value=0, max_value=20))),
    st.builds(Backup, kind=st.just("vehicle_inverter"), hours=st.one_of(st.none(), hours_st)),
    st.builds(Backup, kind=st.just("oxygen_cylinder"), hours=st.one_of(st.none(), hours_st),
              liters=st.one_of(st.none(), st.floats(min_value=1, max_value=7000)), count=st.integers(1, 4),
              conserver_ratio=st.one_of(st.none(), st.floats(min_value=1, max_value=4))),
    st.builds(Backup, kind=st.just("manual_resuscitator")),
)


def _valid(devices, backups):
    return not rw.problems(devices, backups, TODAY)


@settings(max_examples=300, deadline=None)
@given(st.lists(device_st, min_size=1, max_size=3), st.lists(backup_st, max_size=4), backup_st)
def test_adding_a_backup_never_shortens_the_runway(devices, backups, extra):
    if not _valid(devices, backups + [extra]):
        return
    before = runway(devices, backups, today=TODAY).hours
    assert runway(devices, backups + [extra], today=TODAY).hours >= before - 1e-6


@settings(max_examples=300, deadline=None)
@given(st.lists(device_st, min_size=1, max_size=3), st.lists(backup_st, max_size=4), st.data())
def test_a_spare_never_shortens_the_runway(devices, backups, data):
    if not _valid(devices, backups):
        return
    kind = data.draw(st.sampled_from(sorted({d.kind for d in devices})))
    spare = Device(kind, watts=data.draw(st.one_of(st.none(), st.floats(1, 300))),
                   internal_battery_hours=data.draw(hours_st), role="spare")
    where = data.draw(st.integers(0, len(devices)))
    with_spare = devices[:where] + [spare] + devices[where:]
    assert runway(with_spare, backups, today=TODAY).hours >= runway(devices, backups, today=TODAY).hours - 1e-6


def test_assumptions_from_config():
    a = Assumptions.from_config({"RUNWAY_IDLE_WATTS": "22", "RUNWAY_AGEING_PER_YEAR": 0.2, "OTHER": 1})
    assert (a.idle_watts, a.ageing_per_year, a.inverter_efficiency) == (22.0, 0.2, 0.90)

"""The form's presets are valid runway input, name their sources and reproduce the DOMAIN.md figures."""
import pytest

from bcp_service.registry import runway as rw
from bcp_service.registry.presets import load_presets, preset_backups, preset_device


def _preset(key):
    data = load_presets()
    return next(p for p in data["devices"] + data["backups"] if p["key"] == key)


def _runway(preset):
    return rw.runway([preset_device(preset)], preset_backups(preset))


def test_presets_load_have_unique_keys_and_sources():
    data = load_presets()
    keys = [p["key"] for p in data["devices"] + data["backups"]]
    assert len(keys) == len(set(keys))
    assert any(p["kind"] == "ventilator" for p in data["devices"])
    assert all(p["source"].strip() for p in data["devices"] + data["backups"])


@pytest.mark.parametrize("key,hours", [("astral_tppv", 24), ("trilogy", 6), ("o2_portable", 6)])
def test_presets_match_domain_figures(key, hours):
    assert _runway(_preset(key)).hours == pytest.approx(hours)


def test_astral_with_spare_trilogy_preset_is_27h():
    astral = _preset("astral_tppv")
    r = rw.runway([preset_device(astral), preset_device(_preset("trilogy_spare"))], preset_backups(astral))
    assert r.hours == pytest.approx(27)


def test_cylinder_preset_300l_at_2_lpm_is_2h30():
    conc = preset_device(_preset("o2_stationary"))
    cyl = rw.backup_from({k: v for k, v in _preset("o2_cylinder_300").items() if k not in ("key", "label", "source")})
    assert rw.runway([conc], [cyl]).hours == pytest.approx(2.5)


def test_cassette_generator_preset_is_one_to_two_hours_not_ten():
    gen = rw.backup_from({k: v for k, v in _preset("generator_cassette").items() if k not in ("key", "label", "source")})
    vent = rw.Device("ventilator", watts=24)
    assert 1 <= rw.runway([vent], [gen]).hours <= 2.2


def test_station_1024_preset_on_24w_ventilator_is_about_26h():
    st = rw.backup_from({k: v for k, v in _preset("station_1024").items() if k not in ("key", "label", "source")})
    assert 25 <= rw.runway([rw.Device("ventilator", watts=24)], [st]).hours <= 26

"""The form's presets are valid runway input and reproduce the DOMAIN.md figures."""
import pytest

from bcp_service.registry import runway as rw
from bcp_service.registry.presets import load_presets


def _runway(preset):
    dev = rw.Device(preset["kind"], preset.get("mode"), preset.get("watts"), preset.get("hours_per_day", 24),
                    preset.get("internal_battery_hours", 0))
    ext = preset.get("external_battery")
    backups = [rw.Backup("external_battery", ext["hours"], ext["count"])] if ext else []
    return rw.runway([dev], backups)


def test_presets_load_and_have_unique_keys():
    data = load_presets()
    keys = [p["key"] for p in data["devices"] + data["backups"]]
    assert len(keys) == len(set(keys))
    assert any(p["kind"] == "ventilator" for p in data["devices"])


@pytest.mark.parametrize("key,hours", [("astral_tppv", 24), ("trilogy", 6)])
def test_presets_match_domain_figures(key, hours):
    preset = next(p for p in load_presets()["devices"] if p["key"] == key)
    assert _runway(preset).hours == pytest.approx(hours)

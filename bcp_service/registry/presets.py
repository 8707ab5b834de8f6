"""Device and backup presets (presets.yaml) for the patient form."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from bcp_service.registry import runway as rw

PRESETS_FILE = Path(__file__).with_name("presets.yaml")


@lru_cache(maxsize=1)
def load_presets() -> dict:
    """{"devices": [...], "backups": [...]}, checked against the runway's kinds and ranges."""
    data = yaml.safe_load(PRESETS_FILE.read_text(encoding="utf-8"))
    for p in data["devices"]:
        rw.validate([rw.Device(p["kind"], p.get("mode"), p.get("watts"), p.get("hours_per_day", 24),
                               p.get("internal_battery_hours", 0))], [])
    for p in data["backups"]:
        rw.validate([], [rw.Backup(p["kind"], p.get("hours"), p.get("count", 1), p.get("watt_hours"))])
    return data

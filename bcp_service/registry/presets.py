"""Device and backup presets (presets.yaml) for the patient form. Each preset names its source."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from bcp_service.registry import runway as rw

PRESETS_FILE = Path(__file__).with_name("presets.yaml")
_META = ("key", "label", "source", "external_battery")


@lru_cache(maxsize=1)
def load_presets() -> dict:
    """{"devices": [...], "backups": [...]}, checked against the runway's kinds and ranges."""
    data = yaml.safe_load(PRESETS_FILE.read_text(encoding="utf-8"))
    for p in data["devices"] + data["backups"]:
        if not p.get("source"):
            raise ValueError(f"preset {p.get('key')}: every preset names the source of its figures")
    for p in data["devices"]:
        dev = preset_device(p)
        # a spare preset is checked next to a primary of its kind, as the form would use it
        devices = [rw.Device(dev.kind), dev] if dev.is_spare else [dev]
        rw.validate(devices, preset_backups(p))
    for p in data["backups"]:
        rw.validate([], [rw.backup_from({k: v for k, v in p.items() if k not in _META})])
    return data


def preset_device(p: dict) -> rw.Device:
    return rw.device_from({k: v for k, v in p.items() if k not in _META})


def preset_backups(p: dict) -> list[rw.Backup]:
    ext = p.get("external_battery")
    return [rw.backup_from({"kind": "external_battery", **ext})] if ext else []

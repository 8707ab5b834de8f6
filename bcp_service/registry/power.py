"""Between the registry's payloads/rows and the runway core: build core inputs and turn the core's
cross-field problems (a spare without a primary, a battery for a device not registered, dates in
the future) into the API's nested Japanese ``fields``. Pure: ``today`` is passed in."""
from __future__ import annotations

import re
from datetime import date
from typing import Any, Iterable

from bcp_service.registry import runway as rw

_PATH = re.compile(r"^(devices|backups)\[(\d+)\]\.(\w+)$")


def core_inputs(devices: Iterable[Any], backups: Iterable[Any]) -> tuple[list[rw.Device], list[rw.Backup]]:
    """Core dataclasses from loaded payload dicts or model rows (old rows: defaults filled in)."""
    return [rw.device_from(d) for d in devices], [rw.backup_from(b) for b in backups]


def power_errors(devices: Iterable[Any], backups: Iterable[Any], today: date | None) -> dict:
    """{"devices": {0: {"role": ["…"]}}, "backups": {…}} for every problem; {} when none."""
    out: dict[str, dict[int, dict[str, list[str]]]] = {}
    for path, message in rw.problems(*core_inputs(devices, backups), today):
        m = _PATH.match(path)
        if m:
            out.setdefault(m[1], {}).setdefault(int(m[2]), {}).setdefault(m[3], []).append(message)
    return out

"""Power runway (自立電源時間): hours from the start of a mains outage until a patient's
life-sustaining devices stop.

Pure logic: plain dataclasses in, a plain dataclass out. No Flask, no database, no clock.

Model (each module states its own part; the explanation names every assumption it used):

1. Only primary devices that are ``life_sustaining`` are loads. A ``spare`` device is never a
   concurrent load: its internal battery extends the runway of the primary of its kind by a swap.
   Other devices (and a heated humidifier, replaced by an HME) are assumed switched off.
2. Timing: without a start time every device begins its daily use block exactly when the power
   goes (worst case). A device with a ``daily_schedule`` (Asia/Tokyo local times, ``schedule``)
   and a known ``start`` draws power only inside its period, followed through local time.
3. Battery ``hours`` are hours of that device's normal use. External batteries belong to their
   ``device_kind`` (``sources``); oxygen cylinders give litres ÷ flow; stations give energy
   through an inverter with an idle draw, or 12 V DC without; generators run on their fuel.
4. Batteries and stations are derated by age from ``checked_on`` / ``purchased_on`` when
   ``today`` is given (``Assumptions.ageing_per_year``, floor ``ageing_floor``).
5. No recharging from a station or generator (conservative).
6. A manual resuscitator (蘇生バッグ) is the last line, not hours: it is mentioned, never counted.
7. The result is capped at ``HORIZON_HOURS``: beyond a month the figure has no triage meaning.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any, Mapping, Sequence

from bcp_service.registry.runway.explain import explain as _explain, ladder
from bcp_service.registry.runway.model import (
    ALL_DAY_HOURS, BACKUP_KINDS, BACKUP_LABELS, DEFAULT_ASSUMPTIONS, DEFAULT_USABLE, DEVICE_KINDS,
    DEVICE_LABELS, DEVICE_ROLES, HORIZON_HOURS, LIFE_SUSTAINING_BY_DEFAULT, MAX_FLOW_LPM, MAX_LITERS,
    ROLE_LABELS, TIERS, VENTILATOR_MODES, Assumptions, Backup, Device, Runway, RunwayInputError,
    Thresholds, dependent_24h, is_dependent_24h, problems, tier_for, validate,
)
from bcp_service.registry.runway.schedule import DailySchedule, ScheduleError, parse_schedule
from bcp_service.registry.runway.simulate import simulate
from bcp_service.registry.runway.sources import age_factor, build_pools

DEVICE_FIELDS = ("kind", "mode", "watts", "hours_per_day", "internal_battery_hours", "life_sustaining",
                 "role", "flow_lpm", "daily_schedule")
BACKUP_FIELDS = ("kind", "hours", "count", "watt_hours", "device_kind", "liters", "dc_output", "fuel_cans",
                 "fuel_liters", "checked_on", "purchased_on", "conserver_ratio")


def device_from(d: Mapping[str, Any] | Any) -> Device:
    """A core Device from a loaded payload dict or a model row (missing or None → the default)."""
    get = d.get if isinstance(d, Mapping) else (lambda k, default=None: getattr(d, k, default))
    return Device(get("kind"), get("mode"), get("watts"),
                  _or(get("hours_per_day"), 24.0), _or(get("internal_battery_hours"), 0.0),
                  get("life_sustaining"), _or(get("role"), "primary"), get("flow_lpm"),
                  parse_schedule(get("daily_schedule")))


def backup_from(b: Mapping[str, Any] | Any) -> Backup:
    get = b.get if isinstance(b, Mapping) else (lambda k, default=None: getattr(b, k, default))
    return Backup(get("kind"), get("hours"), _or(get("count"), 1), get("watt_hours"), get("device_kind"),
                  get("liters"), bool(get("dc_output")), get("fuel_cans"), get("fuel_liters"),
                  get("checked_on"), get("purchased_on"), get("conserver_ratio"))


def _or(v, default):
    return default if v is None else v


def runway(
    devices: Sequence[Device],
    backups: Sequence[Backup],
    *,
    usable: float | None = None,
    thresholds: Thresholds | tuple[float, float] = Thresholds(),
    hours_to_restoration: float | None = None,
    assumptions: Assumptions = DEFAULT_ASSUMPTIONS,
    today: date | None = None,
    start: datetime | None = None,
) -> Runway:
    """Hours from loss of mains power until the first life-sustaining device has no power left
    while it is needed, its tier and a Japanese explanation. ``today`` (the caller's date) turns
    on age derating and the check that no date lies in the future. ``start`` (aware; when the
    power went) lets daily schedules follow local time; without it the worst case is assumed."""
    a = assumptions if usable is None else replace(assumptions, usable=usable)
    if not (0 < a.usable <= 1) or not (0 < a.inverter_efficiency <= 1) or a.idle_watts < 0:
        raise ValueError("usable and inverter_efficiency must be in (0, 1], idle_watts >= 0")
    validate(devices, backups, today)
    red, yellow = thresholds
    vital = [d for d in devices if d.is_life_sustaining and not d.is_spare]
    if not vital:
        hours = HORIZON_HOURS
        return Runway(hours, tier_for(hours, hours_to_restoration=hours_to_restoration,
                                      red_hours=red, yellow_hours=yellow),
                      "生命維持に必要な電源機器は登録されていません。")
    pools = build_pools(devices, vital, backups, a, today)
    phases = [d.daily_schedule.phase(start) if start is not None and d.daily_schedule is not None else 0.0
              for d in vital]
    hours, first_stop = simulate(vital, pools, a.idle_watts, phases)
    hours = round(min(hours, HORIZON_HOURS), 2)
    tier = tier_for(hours, hours_to_restoration=hours_to_restoration, red_hours=red, yellow_hours=yellow)
    return Runway(hours, tier, _explain(hours, devices, vital, backups, pools, first_stop, a,
                                        today_known=today is not None, start=start))


def runs_out_at(devices: Sequence[Device], backups: Sequence[Backup], start: datetime, **kwargs) -> datetime:
    """The instant the first life-sustaining device has no power left, for a power cut beginning at
    ``start`` (aware), following each device's daily schedule through local time (keyword
    arguments as for ``runway``). At most ``HORIZON_HOURS`` after ``start``."""
    return start + timedelta(hours=runway(devices, backups, start=start, **kwargs).hours)


__all__ = [
    "ALL_DAY_HOURS", "BACKUP_FIELDS", "BACKUP_KINDS", "BACKUP_LABELS", "DEFAULT_ASSUMPTIONS", "DEFAULT_USABLE",
    "DEVICE_FIELDS", "DEVICE_KINDS", "DEVICE_LABELS", "DEVICE_ROLES", "HORIZON_HOURS",
    "LIFE_SUSTAINING_BY_DEFAULT", "MAX_FLOW_LPM", "MAX_LITERS", "ROLE_LABELS", "TIERS", "VENTILATOR_MODES",
    "Assumptions", "Backup", "DailySchedule", "Device", "Runway", "RunwayInputError", "Thresholds", "age_factor",
    "backup_from", "dependent_24h", "device_from", "is_dependent_24h", "ladder", "parse_schedule", "problems", "runs_out_at", "runway",
    "ScheduleError",
    "tier_for", "validate",
]

"""Runway input and output types, the configurable assumptions, tiers and input validation.

Pure: plain dataclasses, no Flask, no database, no clock (``today`` is always passed in).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple, Sequence

from bcp_service.registry.runway.schedule import DailySchedule

DEVICE_KINDS = ("ventilator", "oxygen_concentrator", "suction", "infusion_pump", "feeding_pump", "other")
BACKUP_KINDS = (
    "external_battery",
    "power_station",
    "generator",
    "vehicle_inverter",
    "manual_resuscitator",
    "oxygen_cylinder",
    "other",
)
DEVICE_ROLES = ("primary", "spare")
VENTILATOR_MODES = ("TPPV", "NPPV")
TIERS = ("red", "yellow", "green")

# Devices that, unless told otherwise, keep someone alive.
LIFE_SUSTAINING_BY_DEFAULT = frozenset({"ventilator", "oxygen_concentrator"})
# A device used this many hours a day is used around the clock (see ``is_dependent_24h``).
ALL_DAY_HOURS = 24.0

DEVICE_LABELS = {
    "ventilator": "人工呼吸器",
    "oxygen_concentrator": "酸素濃縮装置",
    "suction": "吸引器",
    "infusion_pump": "輸液ポンプ",
    "feeding_pump": "経管栄養ポンプ",
    "other": "その他の機器",
}
BACKUP_LABELS = {
    "external_battery": "外部バッテリー",
    "power_station": "ポータブル電源",
    "generator": "発電機",
    "vehicle_inverter": "自動車（インバーター）",
    "manual_resuscitator": "蘇生バッグ（手動）",
    "oxygen_cylinder": "酸素ボンベ",
    "other": "その他の電源",
}
ROLE_LABELS = {"primary": "使用中", "spare": "予備機"}

HORIZON_HOURS = 720.0  # 30 days
MAX_FLOW_LPM = 15.0    # home oxygen flow above this is not plausible input
MAX_LITERS = 10_000.0  # per cylinder (a 47 L / 14.7 MPa cylinder holds about 7,000 L)


@dataclass(frozen=True)
class Assumptions:
    """Figures the model assumes when the registry does not know better. All configurable.

    - ``usable``: share of a power station's nameplate Wh its battery management lets out (0.95).
    - ``inverter_efficiency``: AC output loses ~10 % in a pure-sine inverter at low load (0.90).
      0.95 × 0.90 ≈ 0.855, the "80–90 % usable" quoted for power stations (DOMAIN.md).
    - ``idle_watts``: the inverter's own draw while AC output is on. Common stations draw
      10–22 W (Bluetti AC200MAX ≈ 22 W, DOMAIN.md); 10 W is the low end of that range, so the
      default still errs towards the longer figure — set 22 for the larger models.
    - ``generator_hours_per_can``: Honda enepo EU9iGB runs about 1.1–2.2 h on two 250 g cassette
      cans (catalogue); 0.55 h a can is the conservative end.
    - ``generator_liters_per_hour``: a 900 VA inverter generator on petrol at rated load
      (Honda EU9i: 2.1 L tank, about 3.4 h at rated output †) ≈ 0.62 L/h.
    - ``ageing_per_year`` / ``ageing_floor``: capacity of a lithium battery or station falls about
      10 % a year from purchase or last check, never counted below 50 % (DOMAIN.md: older
      batteries fall to half after years).
    """

    usable: float = 0.95
    inverter_efficiency: float = 0.90
    idle_watts: float = 10.0
    generator_hours_per_can: float = 0.55
    generator_liters_per_hour: float = 0.62
    ageing_per_year: float = 0.10
    ageing_floor: float = 0.5

    CONFIG_KEYS = {  # setting → field (bcp_service config, e.g. RUNWAY_IDLE_WATTS=22)
        "RUNWAY_USABLE": "usable", "RUNWAY_INVERTER_EFFICIENCY": "inverter_efficiency",
        "RUNWAY_IDLE_WATTS": "idle_watts", "RUNWAY_GENERATOR_HOURS_PER_CAN": "generator_hours_per_can",
        "RUNWAY_GENERATOR_LITERS_PER_HOUR": "generator_liters_per_hour",
        "RUNWAY_AGEING_PER_YEAR": "ageing_per_year", "RUNWAY_AGEING_FLOOR": "ageing_floor",
    }

    @classmethod
    def from_config(cls, config) -> "Assumptions":
        return cls(**{f: float(config[k]) for k, f in cls.CONFIG_KEYS.items() if config.get(k) not in (None, "")})


DEFAULT_ASSUMPTIONS = Assumptions()
DEFAULT_USABLE = DEFAULT_ASSUMPTIONS.usable


class RunwayInputError(ValueError):
    """Raised for impossible device or backup figures; ``field`` names the offending field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Device:
    kind: str
    mode: str | None = None
    watts: float | None = None
    hours_per_day: float = 24.0
    internal_battery_hours: float = 0.0
    life_sustaining: bool | None = None  # None: decided by kind (ventilator, oxygen concentrator)
    role: str = "primary"                # "spare": not a load; its battery is swapped in
    flow_lpm: float | None = None        # oxygen concentrators: prescribed flow (L/min)
    daily_schedule: DailySchedule | None = None  # local use period; replaces hours_per_day for timing

    @property
    def use_hours(self) -> float:
        """Hours a day the device runs: its schedule's length, else ``hours_per_day``."""
        return self.daily_schedule.hours if self.daily_schedule is not None else self.hours_per_day

    @property
    def is_life_sustaining(self) -> bool:
        if self.life_sustaining is None:
            return self.kind in LIFE_SUSTAINING_BY_DEFAULT
        return self.life_sustaining

    @property
    def is_spare(self) -> bool:
        return self.role == "spare"


@dataclass(frozen=True)
class Backup:
    kind: str
    hours: float | None = None
    count: int = 1
    watt_hours: float | None = None
    device_kind: str | None = None       # external batteries: the device they belong to
    liters: float | None = None          # oxygen cylinders: litres of gas per cylinder
    dc_output: bool = False              # power stations: 12 V DC output, no inverter
    fuel_cans: int | None = None         # generators: cassette gas cans at hand
    fuel_liters: float | None = None     # generators: litres of petrol at hand
    checked_on: date | None = None       # figures last confirmed on a visit
    purchased_on: date | None = None     # batteries and stations
    conserver_ratio: float | None = None  # oxygen cylinders: a conserver (呼吸同調器) stretches gas


class Thresholds(NamedTuple):
    red_hours: float = 6.0
    yellow_hours: float = 24.0


@dataclass(frozen=True)
class Runway:
    hours: float
    tier: str
    explain: str  # Japanese sentences a nurse can read aloud and check


def is_dependent_24h(d: Device) -> bool:
    """The one owner of the "24-hour dependent" rule: a life-sustaining device in use around the
    clock (nobody can breathe unaided between uses). A spare is never the reason.
    ``registry.models.dependent_24h_clause`` is the SQL form of this same rule."""
    return not d.is_spare and d.is_life_sustaining and d.use_hours >= ALL_DAY_HOURS


def dependent_24h(devices: Sequence[Device]) -> bool:
    return any(is_dependent_24h(d) for d in devices)


def tier_for(
    hours_left: float,
    *,
    hours_to_restoration: float | None = None,
    red_hours: float = 6.0,
    yellow_hours: float = 24.0,
) -> str:
    """red: runs out before the expected restoration or within ``red_hours``;
    yellow: within ``yellow_hours``; green: beyond."""
    if red_hours < 0 or yellow_hours < red_hours:
        raise ValueError("thresholds must satisfy 0 <= red_hours <= yellow_hours")
    if hours_left <= red_hours:
        return "red"
    if hours_to_restoration is not None and hours_left < hours_to_restoration:
        return "red"
    if hours_left <= yellow_hours:
        return "yellow"
    return "green"


def _bad(x: float | None, lo: float, hi: float, *, lo_open: bool = False) -> bool:
    if x is None:
        return False
    if isinstance(x, float) and math.isnan(x):
        return True
    return not (lo < x <= hi if lo_open else lo <= x <= hi)


def problems(devices: Sequence[Device], backups: Sequence[Backup],
             today: date | None = None) -> list[tuple[str, str]]:
    """Every impossible figure as (field path as in the API, Japanese message); empty when fine."""
    out: list[tuple[str, str]] = []
    for i, d in enumerate(devices):
        p = f"devices[{i}]"
        if d.kind not in DEVICE_KINDS:
            out.append((f"{p}.kind", f"不明な機器の種類です: {d.kind}"))
        if d.mode is not None and d.kind == "ventilator" and d.mode not in VENTILATOR_MODES:
            out.append((f"{p}.mode", "TPPV または NPPV を指定してください"))
        if _bad(d.watts, 0, 5000):
            out.append((f"{p}.watts", "消費電力は0〜5000Wで指定してください"))
        if d.hours_per_day is None or _bad(d.hours_per_day, 0, 24, lo_open=True):
            out.append((f"{p}.hours_per_day", "1日の使用時間は0より大きく24以下で指定してください"))
        if d.internal_battery_hours is None or _bad(d.internal_battery_hours, 0, 200):
            out.append((f"{p}.internal_battery_hours", "内部バッテリー時間は0〜200で指定してください"))
        if d.role not in DEVICE_ROLES:
            out.append((f"{p}.role", "primary（使用中）または spare（予備機）を指定してください"))
        elif d.is_spare and not any(o.kind == d.kind and not o.is_spare for o in devices):
            out.append((f"{p}.role", "同じ種類の使用中の機器がない予備機は登録できません"))
        if _bad(d.flow_lpm, 0, MAX_FLOW_LPM, lo_open=True):
            out.append((f"{p}.flow_lpm", "酸素流量は0より大きく15L/分以下で指定してください"))
    for i, b in enumerate(backups):
        p = f"backups[{i}]"
        if b.kind not in BACKUP_KINDS:
            out.append((f"{p}.kind", f"不明な予備電源の種類です: {b.kind}"))
        if _bad(b.hours, 0, 1000):
            out.append((f"{p}.hours", "時間は0〜1000で指定してください"))
        if _bad(b.watt_hours, 0, 100000):
            out.append((f"{p}.watt_hours", "容量(Wh)は0〜100000で指定してください"))
        if not (1 <= b.count <= 50):
            out.append((f"{p}.count", "個数は1〜50で指定してください"))
        if b.device_kind is not None:
            if b.device_kind not in DEVICE_KINDS:
                out.append((f"{p}.device_kind", f"不明な機器の種類です: {b.device_kind}"))
            elif not any(d.kind == b.device_kind for d in devices):
                out.append((f"{p}.device_kind", "この種類の機器が登録されていません"))
        if _bad(b.liters, 0, MAX_LITERS, lo_open=True):
            out.append((f"{p}.liters", "ボンベ1本の酸素量は0より大きく10,000L以下で指定してください"))
        if _bad(b.conserver_ratio, 1, 10):
            out.append((f"{p}.conserver_ratio", "呼吸同調器の倍率は1〜10で指定してください"))
        if b.fuel_cans is not None and not (0 <= b.fuel_cans <= 200):
            out.append((f"{p}.fuel_cans", "カセットボンベの本数は0〜200で指定してください"))
        if _bad(b.fuel_liters, 0, 1000):
            out.append((f"{p}.fuel_liters", "燃料は0〜1000Lで指定してください"))
        if today is not None:
            for f in ("checked_on", "purchased_on"):
                v = getattr(b, f)
                if v is not None and v > today:
                    out.append((f"{p}.{f}", "未来の日付は入力できません"))
        if b.checked_on and b.purchased_on and b.checked_on < b.purchased_on:
            out.append((f"{p}.checked_on", "確認日が購入日より前です"))
    return out


def validate(devices: Sequence[Device], backups: Sequence[Backup], today: date | None = None) -> None:
    """Raise ``RunwayInputError`` on the first impossible figure (field names as in the API)."""
    found = problems(devices, backups, today)
    if found:
        raise RunwayInputError(*found[0])

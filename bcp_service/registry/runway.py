"""Power runway (自立電源時間): hours from the start of a mains outage until a patient's
life-sustaining devices stop.

Pure logic: plain dataclasses in, a plain dataclass out. No Flask, no database, no clock.

Model and assumptions (stated so that a nurse or reviewer can check them):

1. Only devices flagged ``life_sustaining`` count. Others (humidifier, feeding pump …) are assumed
   switched off during an outage so that they do not drain the shared backups.
2. Worst-case timing: every device begins its daily use period exactly when the power goes and uses
   it in one block (``hours_per_day`` hours, then off until the next day). A night-only NPPV user
   therefore lasts longer than a 24 h user on the same battery, but never by counting on a pause
   they might not get.
3. Battery ``hours`` (internal and external) are hours of *that device's* normal use, as the
   manufacturer and the family quote them. External batteries (``external_battery``) belong to the
   ventilator (or, with no ventilator, to the first life-sustaining device); oxygen cylinders
   (``oxygen_cylinder``) stand in for an oxygen concentrator.
4. Dedicated power is used first (external, then internal: the internal battery is the reserve kept
   for transport); afterwards the shared backups in ladder order: portable power station
   (``watt_hours`` × ``usable`` ÷ watts of the devices drawing it) → vehicle inverter (``hours`` of
   fuel, if given) → generator (``hours`` of fuel, running while any device needs it). ``other``
   backups count as a station for their ``watt_hours`` and a generator for their ``hours``.
5. No recharging of batteries from the station or generator (conservative), and no battery ageing
   beyond what was entered. A station cannot be counted for a device whose watts are unknown.
6. A manual resuscitator (蘇生バッグ) is the last line, not hours: it is mentioned, never counted.
7. The result is capped at ``HORIZON_HOURS``: beyond a month the figure has no triage meaning.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Sequence

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
VENTILATOR_MODES = ("TPPV", "NPPV")
TIERS = ("red", "yellow", "green")

# Devices that, unless told otherwise, keep someone alive.
LIFE_SUSTAINING_BY_DEFAULT = frozenset({"ventilator", "oxygen_concentrator"})

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

HORIZON_HOURS = 720.0  # 30 days
DEFAULT_USABLE = 0.85
_EPS = 1e-9


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

    @property
    def is_life_sustaining(self) -> bool:
        if self.life_sustaining is None:
            return self.kind in LIFE_SUSTAINING_BY_DEFAULT
        return self.life_sustaining


@dataclass(frozen=True)
class Backup:
    kind: str
    hours: float | None = None
    count: int = 1
    watt_hours: float | None = None


class Thresholds(NamedTuple):
    red_hours: float = 6.0
    yellow_hours: float = 24.0


@dataclass(frozen=True)
class Runway:
    hours: float
    tier: str
    explain: str  # one or two Japanese sentences a nurse can read aloud


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


def validate(devices: Sequence[Device], backups: Sequence[Backup]) -> None:
    """Raise ``RunwayInputError`` on the first impossible figure (field names as in the API)."""
    for i, d in enumerate(devices):
        p = f"devices[{i}]"
        if d.kind not in DEVICE_KINDS:
            raise RunwayInputError(f"{p}.kind", f"不明な機器の種類です: {d.kind}")
        if d.mode is not None and d.kind == "ventilator" and d.mode not in VENTILATOR_MODES:
            raise RunwayInputError(f"{p}.mode", "TPPV または NPPV を指定してください")
        if d.watts is not None and not (0 <= d.watts <= 5000) or _nan(d.watts):
            raise RunwayInputError(f"{p}.watts", "消費電力は0〜5000Wで指定してください")
        if _nan(d.hours_per_day) or not (0 < d.hours_per_day <= 24):
            raise RunwayInputError(f"{p}.hours_per_day", "1日の使用時間は0より大きく24以下で指定してください")
        if _nan(d.internal_battery_hours) or not (0 <= d.internal_battery_hours <= 200):
            raise RunwayInputError(f"{p}.internal_battery_hours", "内部バッテリー時間は0〜200で指定してください")
    for i, b in enumerate(backups):
        p = f"backups[{i}]"
        if b.kind not in BACKUP_KINDS:
            raise RunwayInputError(f"{p}.kind", f"不明な予備電源の種類です: {b.kind}")
        if b.hours is not None and (_nan(b.hours) or not (0 <= b.hours <= 1000)):
            raise RunwayInputError(f"{p}.hours", "時間は0〜1000で指定してください")
        if b.watt_hours is not None and (_nan(b.watt_hours) or not (0 <= b.watt_hours <= 100000)):
            raise RunwayInputError(f"{p}.watt_hours", "容量(Wh)は0〜100000で指定してください")
        if not (1 <= b.count <= 50):
            raise RunwayInputError(f"{p}.count", "個数は1〜50で指定してください")


def _nan(x: float | None) -> bool:
    return x is not None and isinstance(x, float) and math.isnan(x)


def runway(
    devices: Sequence[Device],
    backups: Sequence[Backup],
    *,
    usable: float = DEFAULT_USABLE,
    thresholds: Thresholds | tuple[float, float] = Thresholds(),
    hours_to_restoration: float | None = None,
) -> Runway:
    """Hours from loss of mains power until the first life-sustaining device has no power left
    while it is needed (see the module docstring for the assumptions), its tier and a Japanese
    explanation."""
    if not (0 < usable <= 1):
        raise ValueError("usable must be in (0, 1]")
    validate(devices, backups)
    red, yellow = thresholds
    vital = [d for d in devices if d.is_life_sustaining]
    last_line = any(b.kind == "manual_resuscitator" for b in backups)

    if not vital:
        hours = HORIZON_HOURS
        explain = "生命維持に必要な電源機器は登録されていません。"
        return Runway(hours, tier_for(hours, hours_to_restoration=hours_to_restoration,
                                      red_hours=red, yellow_hours=yellow), explain)

    pools = _pools(vital, backups, usable)
    hours, first_stop = _simulate(vital, pools)
    hours = round(min(hours, HORIZON_HOURS), 2)
    tier = tier_for(hours, hours_to_restoration=hours_to_restoration, red_hours=red, yellow_hours=yellow)
    return Runway(hours, tier, _explain(hours, vital, backups, pools, first_stop, usable, last_line))


@dataclass
class _Pools:
    own: list[float]          # dedicated hours of use per vital device (internal + external/cylinder)
    external: list[float]     # of which external batteries / cylinders (used first)
    station_wh: float
    vehicle_h: float
    generator_h: float
    station_ignored: bool     # a station exists but some device's watts are unknown


def _pools(vital: list[Device], backups: Sequence[Backup], usable: float) -> _Pools:
    external = [0.0] * len(vital)
    owner = next((i for i, d in enumerate(vital) if d.kind == "ventilator"), None)
    if owner is None:
        owner = next((i for i, d in enumerate(vital) if d.kind != "oxygen_concentrator"), None)
    station_wh = vehicle_h = generator_h = 0.0
    for b in backups:
        n = b.count
        if b.kind == "external_battery" and owner is not None:
            external[owner] += (b.hours or 0.0) * n
        elif b.kind == "oxygen_cylinder":
            for i, d in enumerate(vital):
                if d.kind == "oxygen_concentrator":
                    external[i] += (b.hours or 0.0) * n
                    break
        elif b.kind == "power_station":
            station_wh += (b.watt_hours or 0.0) * n * usable
        elif b.kind == "vehicle_inverter":
            vehicle_h += (b.hours or 0.0) * n
        elif b.kind == "generator":
            generator_h += (b.hours or 0.0) * n
        elif b.kind == "other":
            station_wh += (b.watt_hours or 0.0) * n * usable
            generator_h += (b.hours or 0.0) * n
    own = [d.internal_battery_hours + external[i] for i, d in enumerate(vital)]
    ignored = station_wh > 0 and any(d.watts is None for d in vital)
    return _Pools(own, external, station_wh, vehicle_h, generator_h, ignored)


def _simulate(vital: list[Device], pools: _Pools) -> tuple[float, int]:
    """Event-driven simulation; returns (hours, index of the device that stops first)."""
    own = list(pools.own)
    station, vehicle, generator = pools.station_wh, pools.vehicle_h, pools.generator_h
    t = 0.0
    for _ in range(100_000):  # bound: each step passes an event; a month has few hundred
        if t >= HORIZON_HOURS - _EPS:
            return HORIZON_HOURS, -1
        nxt = HORIZON_HOURS
        on_station: list[int] = []
        on_vehicle = on_generator = False
        own_draw: list[int] = []
        for i, d in enumerate(vital):
            on, boundary = _window(t, d.hours_per_day)
            nxt = min(nxt, boundary)
            if not on:
                continue
            if own[i] > _EPS:
                own_draw.append(i)
            elif station > _EPS and d.watts is not None:
                on_station.append(i)
            elif vehicle > _EPS:
                on_vehicle = True
            elif generator > _EPS:
                on_generator = True
            else:
                return t, i
        for i in own_draw:
            nxt = min(nxt, t + own[i])
        watts = sum(vital[i].watts or 0.0 for i in on_station)
        if watts > 0:
            nxt = min(nxt, t + station / watts)
        if on_vehicle:
            nxt = min(nxt, t + vehicle)
        if on_generator:
            nxt = min(nxt, t + generator)
        dt = max(nxt - t, 0.0)
        for i in own_draw:
            own[i] = max(own[i] - dt, 0.0)
        station = max(station - watts * dt, 0.0)
        if on_vehicle:
            vehicle = max(vehicle - dt, 0.0)
        if on_generator:
            generator = max(generator - dt, 0.0)
        t = nxt
    raise RuntimeError("runway simulation did not converge")  # pragma: no cover


def _window(t: float, hours_per_day: float) -> tuple[bool, float]:
    """Whether a device is in its daily use period at ``t``, and the next on/off boundary."""
    if hours_per_day >= 24:
        return True, HORIZON_HOURS
    day = math.floor((t + _EPS) / 24.0)
    start = day * 24.0
    end = start + hours_per_day
    if t < end - _EPS:
        return True, end
    return False, start + 24.0


def _fmt_hours(h: float) -> str:
    if h >= HORIZON_HOURS:
        return "30日以上"
    if h >= 48:
        return f"約{h:.0f}時間（約{h / 24:.1f}日）"
    if h == int(h):
        return f"{int(h)}時間"
    return f"約{h:.1f}時間"


def _num(x: float) -> str:
    return f"{x:,.0f}" if x == int(x) else f"{x:,.1f}"


def _explain(hours: float, vital: list[Device], backups: Sequence[Backup], pools: _Pools,
             first_stop: int, usable: float, last_line: bool) -> str:
    parts: list[str] = []
    for i, d in enumerate(vital):
        label = DEVICE_LABELS[d.kind] + (f"（{d.mode}）" if d.mode else "")
        use = "終日使用" if d.hours_per_day >= 24 else f"1日{_num(d.hours_per_day)}時間使用"
        power = f"・{_num(d.watts)}W" if d.watts is not None else ""
        src = []
        if d.internal_battery_hours:
            src.append(f"内部バッテリー{_num(d.internal_battery_hours)}時間")
        if pools.external[i]:
            word = "酸素ボンベ" if d.kind == "oxygen_concentrator" else "外部バッテリー"
            src.append(f"{word}計{_num(pools.external[i])}時間")
        parts.append(f"{label}（{use}{power}）" + ("：" + "＋".join(src) if src else "：専用バッテリーなし"))
    shared = []
    for b in backups:
        if b.kind == "power_station" and b.watt_hours:
            shared.append(f"ポータブル電源{_num(b.watt_hours * b.count)}Wh（使用可能{usable:.0%}）")
        elif b.kind == "vehicle_inverter":
            shared.append("自動車インバーター" + (f"{_num(b.hours * b.count)}時間" if b.hours else "（時間未登録のため計算外）"))
        elif b.kind == "generator" and b.hours:
            shared.append(f"発電機{_num(b.hours * b.count)}時間")
    text = f"自立電源時間は{_fmt_hours(hours)}です。" + "、".join(parts) + "。"
    if shared:
        text += "共用の予備電源：" + "、".join(shared) + "。"
    if pools.station_ignored:
        text += "消費電力(W)が未登録の機器にはポータブル電源を計算に含めていません。"
    if any(d.hours_per_day < 24 for d in vital):
        text += "停電と同時に使用を始める最悪の場合で計算しています。"
    if 0 <= first_stop < len(vital) and hours < HORIZON_HOURS:
        text += f"最初に止まるのは{DEVICE_LABELS[vital[first_stop].kind]}です。"
    if last_line:
        text += "電源が尽きたら蘇生バッグ（手動）で換気します（最後の手段）。"
    elif any(d.kind == "ventilator" for d in vital):
        text += "蘇生バッグ（手動）が未登録です。"
    return text


def ladder(devices: Sequence[Device], backups: Sequence[Backup]) -> list[str]:
    """The backup ladder in the order a family uses it, as Japanese lines for the printed plan."""
    lines: list[str] = []
    ext = [b for b in backups if b.kind == "external_battery"]
    if ext:
        n = sum(b.count for b in ext)
        lines.append(f"外部バッテリー（{n}個、1個あたり約{_num(ext[0].hours or 0)}時間）を順に交換して使う")
    for b in backups:
        if b.kind == "power_station" and b.watt_hours:
            lines.append(f"ポータブル電源（{_num(b.watt_hours * b.count)}Wh）につなぐ。機器の定格消費電力以上の出力があること")
    if any(b.kind == "vehicle_inverter" for b in backups):
        lines.append("自動車の正弦波インバーターから給電する（屋外で、換気に注意してエンジンをかける）")
    for b in backups:
        if b.kind == "generator":
            extra = f"（燃料で約{_num(b.hours * b.count)}時間）" if b.hours else ""
            lines.append(f"発電機を屋外で使う{extra}。室内では一酸化炭素中毒の危険")
    for b in backups:
        if b.kind == "oxygen_cylinder":
            extra = f"（約{_num(b.hours * b.count)}時間分）" if b.hours else ""
            lines.append(f"酸素ボンベに切り替える{extra}")
    if any(d.internal_battery_hours for d in devices if d.is_life_sustaining):
        lines.append("内部バッテリーは最後の予備・搬送中のために残す")
    lines.append("電源が尽きたら蘇生バッグ（手動）で換気し、119番通報"
                 + ("" if any(b.kind == "manual_resuscitator" for b in backups) else "（蘇生バッグ未登録：準備してください）"))
    return lines

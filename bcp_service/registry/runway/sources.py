"""Where the power comes from: each backup turned into hours of a device or a shared pool,
with the notes the explanation needs. Pure.

- External batteries belong to ``device_kind`` (default: the ventilator, else the first
  life-sustaining device); a spare of the same kind adds its internal battery by a swap.
- Oxygen cylinders stand in for the oxygen concentrator: litres × count ÷ (flow × 60), × a
  conserver ratio; without litres or flow the entered ``hours`` are used (older rows).
- Power stations: Wh × usable × age factor, × inverter efficiency unless ``dc_output``.
- Generators: fuel (cans or litres) × the consumption figure; without fuel the entered ``hours``.
- Age: batteries and stations lose ``ageing_per_year`` of capacity for each year since the later
  of ``checked_on`` (figure confirmed then) and ``purchased_on``; never below ``ageing_floor``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Sequence

from bcp_service.registry.runway.model import BACKUP_LABELS as _LABEL, DEVICE_LABELS as _DEVICE
from bcp_service.registry.runway.model import Assumptions, Backup, Device

AGEING_KINDS = ("external_battery", "power_station", "other")


@dataclass
class Pools:
    own: list[float]                 # dedicated hours per vital device (external + spare + internal)
    external: list[float]            # external batteries (after ageing), per vital device
    spare: list[float]               # spare devices' internal batteries, per vital device
    cylinder: list[float]            # oxygen cylinders, per vital device
    dc_wh: float = 0.0               # station energy on 12 V DC (no inverter)
    ac_wh: float = 0.0               # station energy delivered through the inverter
    vehicle_h: float = 0.0
    generator_h: float = 0.0
    station_ignored: bool = False    # a station exists but some device's watts are unknown
    notes: list[str] = field(default_factory=list)   # assumptions, in the order met
    aged: list[str] = field(default_factory=list)    # ageing applied, one phrase per backup


def age_factor(b: Backup, today: date | None, a: Assumptions) -> tuple[float, float | None]:
    """(capacity factor, years counted) for a battery or station; (1, None) when not aged."""
    if today is None or b.kind not in AGEING_KINDS:
        return 1.0, None
    ref = max((d for d in (b.checked_on, b.purchased_on) if d is not None), default=None)
    if ref is None:
        return 1.0, None
    years = max((today - ref).days, 0) / 365.25
    return max(a.ageing_floor, 1.0 - a.ageing_per_year * years), years


def battery_owner(vital: Sequence[Device], device_kind: str | None) -> int | None:
    if device_kind is not None:
        return next((i for i, d in enumerate(vital) if d.kind == device_kind), None)
    owner = next((i for i, d in enumerate(vital) if d.kind == "ventilator"), None)
    return owner if owner is not None else (0 if vital else None)


def cylinder_hours(b: Backup, concentrator: Device | None) -> float | None:
    """Hours of all cylinders of the row at the concentrator's flow; None if not computable."""
    flow = concentrator.flow_lpm if concentrator is not None else None
    if b.liters and flow:
        return b.liters * b.count / (flow * 60.0) * (b.conserver_ratio or 1.0)
    if b.hours is not None:
        return b.hours * b.count
    return None


def generator_hours(b: Backup, a: Assumptions) -> tuple[float, str | None]:
    """Running hours of a generator row and the fuel it assumed (None: entered hours used)."""
    if b.fuel_cans:
        return b.fuel_cans * a.generator_hours_per_can, (
            f"カセットボンベ{b.fuel_cans}本（1本約{a.generator_hours_per_can:g}時間）")
    if b.fuel_liters:
        return b.fuel_liters / a.generator_liters_per_hour, (
            f"燃料{b.fuel_liters:g}L（毎時約{a.generator_liters_per_hour:g}L消費）")
    return (b.hours or 0.0) * b.count, None


def build_pools(devices: Sequence[Device], vital: list[Device], backups: Sequence[Backup],
                a: Assumptions, today: date | None) -> Pools:
    n = len(vital)
    pools = Pools(own=[0.0] * n, external=[0.0] * n, spare=[0.0] * n, cylinder=[0.0] * n)
    for s in devices:
        if s.is_spare:
            i = next((k for k, d in enumerate(vital) if d.kind == s.kind), None)
            if i is not None:
                pools.spare[i] += s.internal_battery_hours
    concentrator = next((i for i, d in enumerate(vital) if d.kind == "oxygen_concentrator"), None)
    defaulted_owner = False
    for b in backups:
        factor, years = age_factor(b, today, a)
        if years is not None and factor < 1.0:
            pools.aged.append(f"{_LABEL[b.kind]}（{years:.1f}年経過）は容量を{factor:.0%}として計算")
        if b.kind == "external_battery":
            i = battery_owner(vital, b.device_kind)
            if i is None:
                pools.notes.append("外部バッテリーの接続先が生命維持機器でないため計算に含めていません")
                continue
            defaulted_owner |= b.device_kind is None
            pools.external[i] += (b.hours or 0.0) * b.count * factor
        elif b.kind == "oxygen_cylinder":
            conc = vital[concentrator] if concentrator is not None else None
            h = cylinder_hours(b, conc)
            if conc is None:
                pools.notes.append("酸素濃縮装置が登録されていないため酸素ボンベは計算に含めていません")
            elif h is None:
                pools.notes.append("酸素ボンベの容量(L)と流量が未登録のため計算に含めていません")
            else:
                pools.cylinder[concentrator] += h
                if not (b.liters and conc.flow_lpm):
                    pools.notes.append("酸素ボンベは容量(L)か流量が未登録のため、登録された時間を使用しています")
        elif b.kind in ("power_station", "other") and b.watt_hours:
            wh = b.watt_hours * b.count * a.usable * factor
            if b.kind == "power_station" and b.dc_output:
                pools.dc_wh += wh
            else:
                pools.ac_wh += wh * a.inverter_efficiency
        elif b.kind == "vehicle_inverter":
            pools.vehicle_h += (b.hours or 0.0) * b.count
        elif b.kind == "generator":
            h, fuel = generator_hours(b, a)
            pools.generator_h += h
            if fuel is None and b.hours:
                pools.notes.append("発電機は燃料の量が未登録のため、登録された運転時間を使用しています")
        if b.kind == "other" and b.hours:
            pools.generator_h += b.hours * b.count
    if defaulted_owner:
        owner = battery_owner(vital, None)
        pools.notes.append(f"接続先が未指定の外部バッテリーは{_DEVICE[vital[owner].kind]}用として計算しています")
    pools.own = [d.internal_battery_hours + pools.external[i] + pools.spare[i] + pools.cylinder[i]
                 for i, d in enumerate(vital)]
    pools.station_ignored = (pools.dc_wh + pools.ac_wh) > 0 and any(d.watts is None for d in vital)
    return pools


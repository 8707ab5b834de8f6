"""The runway's plain-Japanese explanation and the printed backup ladder. Pure.

The explanation names every assumption that changes the answer: worst-case schedule, heated
humidifier off and replaced by an HME, power-station efficiency and idle draw, ageing applied or
not, defaults used for rows registered before a field existed.
"""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

from bcp_service.registry.runway.model import (
    BACKUP_LABELS, DEVICE_LABELS, HORIZON_HOURS, Assumptions, Backup, Device,
)
from bcp_service.registry.runway.schedule import TOKYO, as_utc
from bcp_service.registry.runway.sources import Pools, cylinder_hours, generator_hours


def fmt_hours(h: float) -> str:
    if h >= HORIZON_HOURS:
        return "30日以上"
    if h >= 48:
        return f"約{h:.0f}時間（約{h / 24:.1f}日）"
    if h == int(h):
        return f"{int(h)}時間"
    return f"約{h:.1f}時間"


def num(x: float) -> str:
    return f"{x:,.0f}" if x == int(x) else f"{x:,.1f}"


def _device_part(i: int, d: Device, pools: Pools, spares: Sequence[Device]) -> str:
    label = DEVICE_LABELS[d.kind] + (f"（{d.mode}）" if d.mode else "")
    if d.daily_schedule is not None:
        use = f"使用時間帯{d.daily_schedule.label}（1日{num(round(d.use_hours, 2))}時間）"
    else:
        use = "終日使用" if d.hours_per_day >= 24 else f"1日{num(d.hours_per_day)}時間使用"
    extra = f"・{num(d.watts)}W" if d.watts is not None else ""
    if d.flow_lpm:
        extra += f"・酸素{num(d.flow_lpm)}L/分"
    src = []
    if pools.external[i]:
        src.append(f"外部バッテリー計{num(pools.external[i])}時間")
    if pools.cylinder[i]:
        src.append(f"酸素ボンベ計{num(pools.cylinder[i])}時間")
    if pools.spare[i]:
        names = "・".join(sorted({DEVICE_LABELS[s.kind] for s in spares if s.kind == d.kind}))
        src.append(f"予備の{names}に交換して{num(pools.spare[i])}時間")
    if d.internal_battery_hours:
        src.append(f"内部バッテリー{num(d.internal_battery_hours)}時間")
    return f"{label}（{use}{extra}）" + ("：" + "＋".join(src) if src else "：専用バッテリーなし")


def explain(hours: float, devices: Sequence[Device], vital: list[Device], backups: Sequence[Backup],
            pools: Pools, first_stop: int, a: Assumptions, *, today_known: bool,
            start: datetime | None = None) -> str:
    spares = [d for d in devices if d.is_spare]
    parts = [_device_part(i, d, pools, spares) for i, d in enumerate(vital)]
    text = f"自立電源時間は{fmt_hours(hours)}です。" + "、".join(parts) + "。"
    if any(pools.spare):
        text += "予備機は同時に動かす機器ではなく、使用中の機器の電源が尽きたら交換して使う前提です。"
    shared = []
    for b in backups:
        if b.kind == "power_station" and b.watt_hours:
            how = "12V直流出力（インバーターなし）" if b.dc_output else "AC出力"
            shared.append(f"ポータブル電源{num(b.watt_hours * b.count)}Wh（{how}）")
        elif b.kind == "vehicle_inverter":
            shared.append("自動車インバーター" + (f"{num(b.hours * b.count)}時間" if b.hours else "（時間未登録のため計算外）"))
        elif b.kind == "generator":
            h, fuel = generator_hours(b, a)
            if h:
                shared.append(f"発電機{num(round(h, 1))}時間" + (f"（{fuel}）" if fuel else ""))
    if shared:
        text += "共用の予備電源：" + "、".join(shared) + "。"
    if pools.dc_wh or pools.ac_wh:
        text += f"ポータブル電源は容量の{a.usable:.0%}を使用可能とし"
        text += (f"、AC出力ではインバーター効率{a.inverter_efficiency:.0%}と待機電力{num(a.idle_watts)}W"
                 "を見込んでいます（既定値）。" if pools.ac_wh else "ています（既定値）。")
    if any(b.kind == "power_station" and b.dc_output for b in backups):
        text += "12V直流出力は機器が直流入力に対応している場合に限ります。"
    if pools.station_ignored:
        text += "消費電力(W)が未登録の機器にはポータブル電源を計算に含めていません。"
    for note in dict.fromkeys(pools.notes):
        text += note + "。"
    text += _age_sentence(backups, pools, today_known)
    text += _timing_sentence(vital, start)
    if any(d.kind == "ventilator" for d in vital):
        text += "加温加湿器は停電時に止め、人工鼻（HME）に切り替える前提です。"
    if 0 <= first_stop < len(vital) and hours < HORIZON_HOURS:
        text += f"最初に止まるのは{DEVICE_LABELS[vital[first_stop].kind]}です。"
    if any(b.kind == "manual_resuscitator" for b in backups):
        text += "電源が尽きたら蘇生バッグ（手動）で換気します（最後の手段）。"
    elif any(d.kind == "ventilator" for d in vital):
        text += "蘇生バッグ（手動）が未登録です。"
    return text


def _timing_sentence(vital: Sequence[Device], start: datetime | None) -> str:
    """Which timing was assumed: the schedule from a known start, or the worst case."""
    scheduled = [d for d in vital if d.daily_schedule is not None]
    text = ""
    if scheduled and start is not None:
        names = "、".join(f"{DEVICE_LABELS[d.kind]}{d.daily_schedule.label}" for d in scheduled)
        text += (f"停電開始{as_utc(start).astimezone(TOKYO):%m月%d日 %H:%M}（日本時間）から使用時間帯（{names}）に沿って、"
                 "使用中だけ電力を使うとして計算しています。")
    worst = [d for d in vital if d.use_hours < 24 and (d.daily_schedule is None or start is None)]
    if worst:
        text += "停電と同時に使用を始める最悪の場合で計算しています"
        if any(d.daily_schedule is not None for d in worst):
            text += "（使用時間帯は停電の開始時刻が分かると、それに沿って計算します）"
        text += "。"
    return text


def _age_sentence(backups: Sequence[Backup], pools: Pools, today_known: bool) -> str:
    if pools.aged:
        return "経年劣化：" + "、".join(pools.aged) + "。内部バッテリーは登録された時間のままです。"
    batteries = [b for b in backups if b.kind in ("external_battery", "power_station")]
    if batteries and today_known and not any(b.checked_on or b.purchased_on for b in batteries):
        return "購入日・確認日が未登録のため、バッテリーの経年劣化は見込んでいません。"
    return ""


def ladder(devices: Sequence[Device], backups: Sequence[Backup], a: Assumptions = Assumptions()) -> list[str]:
    """The backup ladder in the order a family uses it, as Japanese lines for the printed plan."""
    lines: list[str] = []
    ext = [b for b in backups if b.kind == "external_battery"]
    if ext:
        n = sum(b.count for b in ext)
        lines.append(f"外部バッテリー（{n}個、1個あたり約{num(ext[0].hours or 0)}時間）を順に交換して使う")
    for d in devices:
        if d.is_spare:
            lines.append(f"予備の{DEVICE_LABELS[d.kind]}に交換する（内部バッテリー約{num(d.internal_battery_hours)}時間）")
    for b in backups:
        if b.kind == "power_station" and b.watt_hours:
            out = "12V直流出力（機器が対応している場合）" if b.dc_output else "AC出力"
            lines.append(f"ポータブル電源（{num(b.watt_hours * b.count)}Wh）の{out}につなぐ。"
                         "機器の定格消費電力以上の出力があること")
    if any(b.kind == "vehicle_inverter" for b in backups):
        lines.append("自動車の正弦波インバーターから給電する（屋外で、換気に注意してエンジンをかける）")
    for b in backups:
        if b.kind == "generator":
            h, _ = generator_hours(b, a)
            extra = f"（燃料で約{num(round(h, 1))}時間）" if h else ""
            lines.append(f"発電機を屋外で使う{extra}。室内では一酸化炭素中毒の危険")
    conc = next((d for d in devices if d.kind == "oxygen_concentrator" and not d.is_spare), None)
    for b in backups:
        if b.kind == "oxygen_cylinder":
            h = cylinder_hours(b, conc)
            extra = f"（約{num(round(h, 1))}時間分）" if h else ""
            lines.append(f"酸素ボンベに切り替える{extra}")
    if any(d.internal_battery_hours for d in devices if d.is_life_sustaining):
        lines.append("内部バッテリーは最後の予備・搬送中のために残す")
    lines.append("電源が尽きたら蘇生バッグ（手動）で換気し、119番通報"
                 + ("" if any(b.kind == "manual_resuscitator" for b in backups) else "（蘇生バッグ未登録：準備してください）"))
    return lines


__all__ = ["BACKUP_LABELS", "explain", "fmt_hours", "ladder", "num"]

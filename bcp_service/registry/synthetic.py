"""Synthetic patients (import-format rows) for the demo and the benchmarks. Invented people only:
試験 names, phone numbers from the unallocated -0000- blocks, addresses marked 架空."""
from __future__ import annotations

import random
from typing import Sequence

FAMILY = ("試験", "見本", "仮名", "架空", "例示")
GIVEN = ("太郎", "花子", "一郎", "次郎", "良子", "美咲", "健", "翔", "陽子", "和夫", "幸子", "誠", "明美", "大輔", "優子")
GIVEN_KANA = ("たろう", "はなこ", "いちろう", "じろう", "よしこ", "みさき", "けん", "しょう", "ようこ", "かずお", "さちこ",
              "まこと", "あけみ", "だいすけ", "ゆうこ")
FAMILY_KANA = ("しけん", "みほん", "かめい", "かくう", "れいじ")
RELATIONS = ("妻", "夫", "長男", "長女", "母", "父", "姉", "弟")


def synthetic_rows(rng: random.Random, n: int, municipalities: Sequence[tuple], *, region_code: str | None = None,
                   primary_org_ids: Sequence[int] = (), nursing_org_ids: Sequence[int] = (),
                   facility_ids: Sequence[int] = ()) -> list[dict[str, str]]:
    """``n`` rows in the import format (column → cell text). ``municipalities`` are
    (code, name, lat, lon) tuples; patients are scattered ~2 km around them."""
    rows = []
    for i in range(n):
        code, ward, lat, lon = municipalities[rng.randrange(len(municipalities))]
        f, g = rng.randrange(len(FAMILY)), rng.randrange(len(GIVEN))
        row: dict[str, str] = {
            "name": f"{FAMILY[f]} {GIVEN[g]}{i + 1}",
            "name_kana": f"{FAMILY_KANA[f]} {GIVEN_KANA[g]}",
            "birth_date": f"{rng.randint(1935, 2020)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "phone": _phone(rng, i),
            "address": f"東京都{ward}（架空）{rng.randint(1, 9)}-{rng.randint(1, 30)}-{rng.randint(1, 20)}",
            "municipality_code": code,
            "lat": f"{lat + rng.uniform(-0.018, 0.018):.6f}",
            "lon": f"{lon + rng.uniform(-0.022, 0.022):.6f}",
            "consent_to_share": "1" if rng.random() < 0.85 else "0",
            "drill_opt_in": "1" if rng.random() < 0.4 else "0",
            "power_company_registered": "1" if rng.random() < 0.6 else "0",
            "status": rng.choices(("active", "hospitalised", "moved", "deceased"), (90, 5, 3, 2))[0],
            "evacuation_plan_status": rng.choices(("none", "in_progress", "done", "needs_update"), (25, 20, 45, 10))[0],
            "transport_needs": rng.choices(("stretcher", "wheelchair", "ambulatory"), (60, 30, 10))[0],
            "contact_name": f"{FAMILY[f]} {GIVEN[rng.randrange(len(GIVEN))]}",
            "contact_relation": rng.choice(RELATIONS),
            "contact_phone": _phone(rng, i + 500_000),
        }
        if row["consent_to_share"] == "1":
            row["consent_date"] = f"{rng.randint(2022, 2026)}-{rng.randint(1, 10):02d}-{rng.randint(1, 28):02d}"
        if region_code:
            row["region_code"] = region_code
        if primary_org_ids:
            row["primary_org_id"] = str(rng.choice(primary_org_ids))
        if nursing_org_ids and rng.random() < 0.8:
            row["nursing_org_id"] = str(rng.choice(nursing_org_ids))
        if facility_ids and rng.random() < 0.7:
            row["designated_facility_id"] = str(rng.choice(facility_ids))
        row.update(_device_mix(rng))
        rows.append(row)
    return rows


def _phone(rng: random.Random, i: int) -> str:
    kind = rng.random()
    if kind < 0.7:
        return f"0{rng.choice('987')}0-0000-{i % 10000:04d}"
    if kind < 0.95:
        return f"0{rng.choice('36')}-0000-{i % 10000:04d}"
    return f"050-0000-{i % 10000:04d}"


def _device_mix(rng: random.Random) -> dict[str, str]:
    r = rng.random()
    d: dict[str, str] = {}
    if r < 0.45:  # tracheostomy ventilation, all day
        if rng.random() < 0.65:
            d.update(device_kind="ventilator", device_mode="TPPV", device_model="ResMed Astral 150", device_watts="24",
                     device_hours_per_day="24", internal_battery_hours="8")
            ext = rng.choice((0, 1, 2, 2))
            if ext:
                d.update(external_battery_count=str(ext), external_battery_hours="8")
        else:
            d.update(device_kind="ventilator", device_mode="TPPV", device_model="Philips Trilogy 100",
                     device_watts="30", device_hours_per_day="24", internal_battery_hours="3")
            if rng.random() < 0.7:
                d.update(external_battery_count="1", external_battery_hours="3")
        d["manual_resuscitator"] = "有" if rng.random() < 0.9 else "無"
    elif r < 0.75:  # mask ventilation, often at night only
        night = rng.random() < 0.5
        d.update(device_kind="ventilator", device_mode="NPPV", device_model="NPPV",
                 device_watts=str(rng.choice((20, 25, 40))), device_hours_per_day=str(rng.choice((8, 10, 12)) if night else 24),
                 internal_battery_hours=str(rng.choice((0, 0, 3, 8))))
        d["manual_resuscitator"] = "有" if rng.random() < 0.6 else "無"
    else:  # home oxygen
        d.update(device_kind="oxygen_concentrator", device_model="酸素濃縮装置", device_watts="300",
                 device_hours_per_day="24", internal_battery_hours="0")
        if rng.random() < 0.85:  # suppliers usually leave backup cylinders at home
            d.update(oxygen_cylinder_count=str(rng.choice((2, 3, 4, 6))), oxygen_cylinder_hours=str(rng.choice((4, 5, 8))))
    s = rng.random()
    if s < 0.15:
        d["power_station_wh"] = "1024"
    elif s < 0.3:
        d["power_station_wh"] = "512"
    elif s < 0.4:
        d["power_station_wh"] = "256"
    if rng.random() < 0.15:
        d["generator_hours"] = str(rng.choice((6, 8, 10, 12)))
    d["vehicle_inverter"] = "有" if rng.random() < 0.3 else "無"
    return d

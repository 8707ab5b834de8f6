"""National-scale synthetic data: patients on home ventilators and facilities, all made up.

``generate(patients=50_000, facilities=2_000, seed=1)`` returns plain dicts (no database):
47 prefectures, 20 synthetic municipalities each (6-digit codes ``PP MMM 0``), points scattered
around approximate prefectural centres. Tokyo (13) and Kanagawa (14) hold 40 % of patients so a
single declaration by their municipality codes affects 20,000 of 50,000 — the benchmark's scenario.

Names are 試験/検証/模擬 + a given name and a number, phones come from the 090-0000-xxxx style test
range; nothing refers to a real person. Deterministic for a given seed.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

# Approximate prefectural centres (lat, lon), 01 Hokkaido … 47 Okinawa.
PREFECTURES = {
    1: (43.06, 141.35), 2: (40.82, 140.74), 3: (39.70, 141.15), 4: (38.27, 140.87), 5: (39.72, 140.10),
    6: (38.24, 140.36), 7: (37.75, 140.47), 8: (36.34, 140.45), 9: (36.57, 139.88), 10: (36.39, 139.06),
    11: (35.86, 139.65), 12: (35.61, 140.12), 13: (35.69, 139.69), 14: (35.45, 139.64), 15: (37.90, 139.02),
    16: (36.70, 137.21), 17: (36.59, 136.63), 18: (36.07, 136.22), 19: (35.66, 138.57), 20: (36.65, 138.18),
    21: (35.39, 136.72), 22: (34.98, 138.38), 23: (35.18, 136.91), 24: (34.73, 136.51), 25: (35.00, 135.87),
    26: (35.02, 135.76), 27: (34.69, 135.52), 28: (34.69, 135.18), 29: (34.69, 135.83), 30: (34.23, 135.17),
    31: (35.50, 134.24), 32: (35.47, 133.05), 33: (34.66, 133.93), 34: (34.40, 132.46), 35: (34.19, 131.47),
    36: (34.07, 134.56), 37: (34.34, 134.04), 38: (33.84, 132.77), 39: (33.56, 133.53), 40: (33.61, 130.42),
    41: (33.25, 130.30), 42: (32.74, 129.87), 43: (32.79, 130.74), 44: (33.24, 131.61), 45: (31.91, 131.42),
    46: (31.56, 130.56), 47: (26.21, 127.68),
}
MUNICIPALITIES_PER_PREF = 20
FAMILY = ("試験", "検証", "模擬", "仮名", "見本")
GIVEN = ("太郎", "花子", "次郎", "桜", "一郎", "陽子", "健", "由美")
BENCH_PREFS = (13, 14)
BENCH_SHARE = 0.4


@dataclass
class SyntheticWorld:
    municipalities: dict[str, tuple[float, float]]            # code → (lat, lon)
    patients: list[dict] = field(default_factory=list)
    facilities: list[dict] = field(default_factory=list)

    def codes_for(self, target: int) -> tuple[list[str], int]:
        """Municipality codes (bench prefectures first) whose patients add up to about ``target``."""
        counts: dict[str, int] = {}
        for p in self.patients:
            counts[p["municipality_code"]] = counts.get(p["municipality_code"], 0) + 1
        order = sorted(counts, key=lambda c: (int(c[:2]) not in BENCH_PREFS, c))
        chosen, total = [], 0
        for code in order:
            if total >= target:
                break
            chosen.append(code)
            total += counts[code]
        return chosen, total


def _municipalities() -> dict[str, tuple[float, float]]:
    rng = random.Random(0)
    out = {}
    for pref, (lat, lon) in PREFECTURES.items():
        for m in range(MUNICIPALITIES_PER_PREF):
            out[f"{pref:02d}{m + 1:03d}0"] = (lat + rng.uniform(-0.35, 0.35), lon + rng.uniform(-0.35, 0.35))
    return out


def _runway_profile(rng: random.Random) -> tuple[list[dict], list[dict]]:
    """Devices and backups drawn from the figures in DOMAIN.md (Astral, Trilogy, stations)."""
    tppv = rng.random() < 0.6
    internal = rng.choice([3, 8, 8, 4])
    devices = [{"kind": "ventilator", "mode": "TPPV" if tppv else "NPPV", "watts": rng.choice([20, 24, 30]),
                "hours_per_day": 24 if tppv else rng.choice([8, 10, 12]),
                "internal_battery_hours": internal}]
    backups = []
    if rng.random() < 0.7:
        backups.append({"kind": "external_battery", "hours": rng.choice([3, 8]), "count": rng.choice([1, 2])})
    if rng.random() < 0.35:
        backups.append({"kind": "power_station", "watt_hours": rng.choice([256, 512, 1024])})
    if rng.random() < 0.05:
        backups.append({"kind": "generator", "hours": rng.choice([8, 12])})
    return devices, backups


def generate(patients: int = 50_000, facilities: int = 2_000, seed: int = 1) -> SyntheticWorld:
    rng = random.Random(seed)
    munis = _municipalities()
    bench_codes = [c for c in munis if int(c[:2]) in BENCH_PREFS]
    other_codes = [c for c in munis if int(c[:2]) not in BENCH_PREFS]
    world = SyntheticWorld(municipalities=munis)
    for i in range(patients):
        code = rng.choice(bench_codes if i < patients * BENCH_SHARE else other_codes)
        clat, clon = munis[code]
        devices, backups = _runway_profile(rng)
        world.patients.append({
            "name": f"{rng.choice(FAMILY)} {rng.choice(GIVEN)}{i}",
            "phone": f"090{i // 10000:04d}{i % 10000:04d}",
            "phone_kind": "mobile" if rng.random() < 0.85 else "landline",
            "municipality_code": code,
            "prefecture_code": code[:2],
            "lat": round(clat + rng.gauss(0, 0.04), 6),
            "lon": round(clon + rng.gauss(0, 0.04), 6),
            "devices": devices,
            "backups": backups,
            "drill_opt_in": rng.random() < 0.2,
        })
    for j in range(facilities):
        code = rng.choice(list(munis))
        clat, clon = munis[code]
        hospital = rng.random() < 0.6
        world.facilities.append({
            "name": f"試験{'病院' if hospital else '診療所'}{j}",
            "kind": "hospital" if hospital else "clinic",
            "municipality_code": code,
            "prefecture_code": code[:2],
            "lat": round(clat + rng.gauss(0, 0.06), 6),
            "lon": round(clon + rng.gauss(0, 0.06), 6),
            "has_generator": rng.random() < 0.5,
            "power_supply_point": rng.random() < 0.15,
            "accepts_ventilator": hospital and rng.random() < 0.7,
            "ventilator_beds": rng.choice([0, 1, 2, 3, 5]) if hospital else 0,
        })
    return world


if __name__ == "__main__":  # quick look: python benchmarks/synthetic.py
    w = generate()
    codes, n = w.codes_for(20_000)
    print(len(w.patients), "patients,", len(w.facilities), "facilities;",
          len(codes), "municipalities cover", n, "patients")


def load(session, world: SyntheticWorld, *, now) -> dict[str, int]:
    """Bulk-insert the world (regions per prefecture, facilities, patients, ventilators) through
    Core executemany; runway hours come from the registry's pure ``runway`` function."""
    from sqlalchemy import insert, select

    from bcp_service.orgs.models import Organization, Region
    from bcp_service.registry import runway as rw
    from bcp_service.registry.models import Patient, PatientBackup, PatientDevice

    session.execute(insert(Region), [
        {"code": f"P{pref:02d}", "name": f"試験圏域{pref:02d}", "prefecture_code": f"{pref:02d}",
         "kind": "secondary_medical_area",
         "municipality_codes": [c for c in world.municipalities if int(c[:2]) == pref], "created_at": now}
        for pref in PREFECTURES])
    session.execute(insert(Organization), [
        {"name": f["name"], "kind": f["kind"], "region_code": f"P{f['prefecture_code']}",
         "municipality_code": f["municipality_code"], "lat": f["lat"], "lon": f["lon"], "phone": "+81300000000",
         "has_generator": f["has_generator"], "accepts_ventilator": f["accepts_ventilator"],
         "ventilator_beds": f["ventilator_beds"], "power_supply_point": f["power_supply_point"],
         "on_call_24h": False, "created_at": now} for f in world.facilities])
    rows = []
    for p in world.patients:
        r = rw.runway([rw.Device(d["kind"], d["mode"], d["watts"], d["hours_per_day"], d["internal_battery_hours"])
                       for d in p["devices"]],
                      [rw.Backup(b["kind"], b.get("hours"), b.get("count", 1), b.get("watt_hours"))
                       for b in p["backups"]])
        rows.append({"name": p["name"], "phone_e164": "+81" + p["phone"][1:], "phone_kind": p["phone_kind"],
                     "municipality_code": p["municipality_code"], "lat": p["lat"], "lon": p["lon"],
                     "region_code": f"P{p['prefecture_code']}", "drill_opt_in": p["drill_opt_in"],
                     "runway_hours": r.hours, "runway_tier": r.tier, "runway_explain": r.explain,
                     "status": "active", "consent_to_share": True, "consent_scope": [],
                     "evacuation_plan_status": "none", "power_company_registered": False,
                     "created_at": now, "updated_at": now})
    for i in range(0, len(rows), 5000):
        session.execute(insert(Patient), rows[i:i + 5000])
    ids = session.scalars(select(Patient.id).order_by(Patient.id)).all()
    devices, backups = [], []
    for pid, p in zip(ids, world.patients):
        for pos, d in enumerate(p["devices"]):
            devices.append({"patient_id": pid, "position": pos, "kind": d["kind"], "mode": d["mode"],
                            "watts": d["watts"], "hours_per_day": d["hours_per_day"],
                            "internal_battery_hours": d["internal_battery_hours"]})
        for pos, b in enumerate(p["backups"]):
            backups.append({"patient_id": pid, "position": pos, "kind": b["kind"], "hours": b.get("hours"),
                            "count": b.get("count", 1), "watt_hours": b.get("watt_hours")})
    for i in range(0, len(devices), 5000):
        session.execute(insert(PatientDevice), devices[i:i + 5000])
    for i in range(0, len(backups), 5000):
        session.execute(insert(PatientBackup), backups[i:i + 5000])
    return {"patients": len(rows), "facilities": len(world.facilities), "devices": len(devices)}

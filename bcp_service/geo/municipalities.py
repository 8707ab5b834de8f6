"""The offline municipality table (全国地方公共団体コード, JIS X 0402) with a point per municipality.

``data/municipalities.csv`` (built by ``data/build_municipalities.py``; sources there): every code
that carries addresses today (市町村, 東京都の特別区, 政令指定都市の区) plus the 20 designated cities
themselves, with name, prefecture, the designated city a ward belongs to, and a representative point —
the municipal office (役所・役場), not a polygon centroid: good for "is this point plausibly in that
municipality" and "which municipality is nearest", not for a boundary.

Pure: codes and coordinates in, plain values out. No Flask, no database.
"""
from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from geopy.distance import geodesic

from bcp_service.geo.postal import jis_check_digit

if TYPE_CHECKING:
    from bcp_service.geo.nearest import SphereIndex

DATA = Path(__file__).with_name("data") / "municipalities.csv"

# Japan's inhabited extent with a margin: 与那国島 (24.4N 123.0E) to 稚内 (45.5N), 南鳥島 (153.98E).
LAT_RANGE = (20.0, 46.0)
LON_RANGE = (122.0, 154.0)
# The representative point is the municipal office. The widest municipalities (高山市, 日光市, 北見市,
# 浜松市天竜区) reach about 50 km from their office; past this distance the pair is almost surely a
# typo. Villages whose office is elsewhere (十島村, 三島村: in 鹿児島市) will be flagged falsely.
FAR_KM = 60.0


class MunicipalityCodeError(ValueError):
    """Not a municipality code (format or check digit); ``str()`` is a Japanese message."""


@dataclass(frozen=True)
class Municipality:
    code: str            # 6 digits with check digit
    name: str            # 千代田区, 札幌市中央区, 当別町 (without 郡)
    prefecture: str
    parent: str | None   # the designated city of a ward (政令指定都市の区)
    lat: float
    lon: float

    def to_json(self) -> dict:
        return {"code": self.code, "name": self.name, "prefecture": self.prefecture}


@cache
def _table() -> dict[str, Municipality]:
    with DATA.open(encoding="utf-8", newline="") as f:
        return {r["code"]: Municipality(r["code"], r["name"], r["prefecture"], r["parent"] or None,
                                        float(r["lat"]), float(r["lon"]))
                for r in csv.DictReader(f)}


@cache
def _index() -> "SphereIndex[Municipality]":
    from bcp_service.geo.nearest import Located, SphereIndex   # nearest → area → this module

    # Designated cities are left out: their wards are the finer answer.
    return SphereIndex(Located(m.lat, m.lon, m) for m in _table().values() if not _is_designated(m))


@cache
def _children() -> dict[str, frozenset[str]]:
    kids: dict[str, set[str]] = {}
    for m in _table().values():
        if m.parent:
            kids.setdefault(m.parent, set()).add(m.code)
    return {k: frozenset(v) for k, v in kids.items()}


def _is_designated(m: Municipality) -> bool:
    return m.code in _children()


def normalize_code(text) -> str:
    """'13105' / '131059' / '１３１０５' → '131059'. Raises MunicipalityCodeError on anything else,
    including a 6-digit code whose check digit is wrong (a typo, not a municipality)."""
    s = unicodedata.normalize("NFKC", str(text if text is not None else "")).strip()
    if re.fullmatch(r"\d{5}", s):
        return s + jis_check_digit(s)
    if re.fullmatch(r"\d{6}", s):
        if jis_check_digit(s[:5]) != s[5]:
            raise MunicipalityCodeError(f"市区町村コード {s} の検査数字が正しくありません（{s[:5]}{jis_check_digit(s[:5])} ではありませんか）")
        return s
    raise MunicipalityCodeError(f"市区町村コードは 5 桁または 6 桁の数字です: {s or '（空）'}")


def lookup(code) -> Municipality | None:
    """The municipality of a code (5 or 6 digits), or None when the table has no such code.
    Raises MunicipalityCodeError for malformed codes."""
    return _table().get(normalize_code(code))


def get(code) -> Municipality:
    m = lookup(code)
    if m is None:
        raise MunicipalityCodeError(f"市区町村コード {normalize_code(code)} は存在しません")
    return m


def unknown_codes(codes: Iterable) -> list[str]:
    """The given codes that are malformed or not in the table, as given (for one error message)."""
    bad = []
    for c in codes:
        try:
            if lookup(c) is None:
                bad.append(str(c))
        except MunicipalityCodeError:
            bad.append(str(c))
    return bad


def covered_codes(codes: Iterable[str]) -> frozenset[str]:
    """Normalised codes, a designated city standing for itself and all its wards (addresses carry
    the ward's code)."""
    out: set[str] = set()
    for c in codes:
        code = normalize_code(c)
        out.add(code)
        out |= _children().get(code, frozenset())
    return frozenset(out)


def search(q: str, *, limit: int = 20) -> list[Municipality]:
    """By name (part of it, also with the prefecture: 東京都千代田, 千代田) or by code prefix."""
    s = unicodedata.normalize("NFKC", q or "").strip().replace(" ", "").replace("　", "")
    if not s:
        return []
    if s.isdigit():
        hits = [m for m in _table().values() if m.code.startswith(s[:6])]
    else:
        hits = [m for m in _table().values() if s in m.name or s in m.prefecture + m.name]
        # Exact and leading matches first: 「北区」 should put the wards named 北区 ahead of 北区 in names.
        hits.sort(key=lambda m: (m.name != s, not m.name.startswith(s), m.code))
        return hits[:limit]
    return sorted(hits, key=lambda m: m.code)[:limit]


def in_japan(lat: float, lon: float) -> bool:
    return LAT_RANGE[0] <= lat <= LAT_RANGE[1] and LON_RANGE[0] <= lon <= LON_RANGE[1]


def nearest(lat: float, lon: float) -> Municipality | None:
    hits = _index().nearest(lat, lon, k=1)
    return hits[0].item if hits else None


def distance_km(code: str, lat: float, lon: float) -> float | None:
    """Geodesic km from the municipality's point; None for a code the table does not know."""
    try:
        m = lookup(code)
    except MunicipalityCodeError:
        return None
    return None if m is None else geodesic((m.lat, m.lon), (lat, lon)).km


def far_from(code: str | None, lat: float | None, lon: float | None, *, km: float = FAR_KM) -> float | None:
    """The distance when the coordinates lie implausibly far from the municipality, else None."""
    if not code or lat is None or lon is None:
        return None
    from bcp_service.geo.area import haversine_km   # area → this module

    try:
        m = lookup(code)
    except MunicipalityCodeError:
        return None
    # Haversine is within 0.5 % of the geodesic and ~100× cheaper: most patients end here.
    if m is None or haversine_km(m.lat, m.lon, lat, lon) < km * 0.99:
        return None
    d = distance_km(code, lat, lon)
    return d if d is not None and d > km else None


def clearly_outside(codes: frozenset[str], lat: float | None, lon: float | None) -> bool:
    """True when coordinates place a point clearly outside the municipalities ``codes``: the nearest
    municipality point is not one of them, and every one of them is markedly farther (twice as far
    and 5 km more). Without coordinates nothing is clear (False). Used to leave out of a
    municipality-code outage the patients whose municipality is unknown."""
    if lat is None or lon is None:
        return False
    near = nearest(lat, lon)
    if near is None or near.code in codes:
        return False
    d_near = geodesic((near.lat, near.lon), (lat, lon)).km
    table = _table()
    d_in = min((geodesic((table[c].lat, table[c].lon), (lat, lon)).km for c in codes if c in table),
               default=None)
    return d_in is None or (d_in > 2 * d_near and d_in - d_near > 5.0)

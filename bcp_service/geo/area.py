"""Outage areas: which registered points lie inside a declared area.

Three ways to describe an area (API.md, Outages):

- ``{"municipality_codes": ["131016", ...]}`` — membership by the patient's JIS X 0402 code (5 or 6
  digits, normalised to 6 with the check digit; a designated city covers its wards; an unknown code
  is refused). A patient whose municipality is unknown is taken in unless their coordinates place
  them clearly elsewhere (``MunicipalityArea.takes_in_unknown``);
- ``{"geometry": <GeoJSON Polygon | MultiPolygon>}`` — point-in-polygon with shapely (lon, lat order,
  as GeoJSON says);
- ``{"center": {"lat": .., "lon": ..}, "radius_km": r}`` — geodesic distance (WGS-84, geopy).

Everything here is pure: plain values in, plain values out. ``InvalidArea`` says in Japanese what is
wrong so the desk operator can fix the input at 3 a.m.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Protocol, Sequence

import numpy as np
import shapely
from geopy.distance import geodesic
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.validation import explain_validity

from bcp_service.errors import Invalid
from bcp_service.geo import municipalities

# Haversine on a sphere differs from the WGS-84 geodesic by at most ~0.5%; points within this
# relative band of the radius are decided by the exact geodesic, the rest by haversine (fast).
_SPHERE_ERROR = 0.006
EARTH_RADIUS_KM = 6371.0088
MAX_RADIUS_KM = 500.0
# A drawn outage area never needs more; a bigger one is refused before shapely sees it (a 1,000,000-
# vertex polygon was stored and then echoed by every list and dashboard poll: issue 18).
MAX_VERTICES = 10_000
MAX_MUNICIPALITY_CODES = 2_000


class InvalidArea(Invalid):
    """The area description cannot be used (bad geometry, unknown shape, radius out of range)."""

    def __init__(self, message: str, field: str = "area"):
        super().__init__(message, fields={field: [message]})


@dataclass(frozen=True)
class Point:
    """A registered point to test against an area (a patient or a facility)."""

    id: int
    lat: float | None
    lon: float | None
    municipality_code: str | None = None


class Area(Protocol):
    kind: str

    def contains(self, lat: float | None, lon: float | None, municipality_code: str | None) -> bool: ...

    def select(self, points: Sequence[Point]) -> list[int]: ...

    def bbox(self) -> tuple[float, float, float, float] | None: ...

    def to_json(self) -> dict: ...


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _haversine_many(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    p1, p2 = np.radians(lat), np.radians(lats)
    dp, dl = p2 - p1, np.radians(lons - lon)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))


def _coords(points: Sequence[Point]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrays of lat, lon and index for the points that have coordinates."""
    idx = [i for i, p in enumerate(points) if p.lat is not None and p.lon is not None]
    lats = np.fromiter((points[i].lat for i in idx), dtype=float, count=len(idx))
    lons = np.fromiter((points[i].lon for i in idx), dtype=float, count=len(idx))
    return lats, lons, np.asarray(idx, dtype=int)


def _code6(code: str | None) -> str | None:
    """A stored code as 6 digits (a 5-digit one completed); anything else unchanged."""
    if code is not None and len(code) == 5 and code.isdigit():
        return municipalities.normalize_code(code)
    return code


@dataclass(frozen=True)
class MunicipalityArea:
    codes: frozenset[str]            # 6 digits; a designated city's wards included
    given: tuple[str, ...] = ()      # as declared (normalised): what ``to_json`` keeps
    kind: str = "municipality_codes"

    def contains(self, lat, lon, municipality_code) -> bool:
        return municipality_code is not None and _code6(municipality_code) in self.codes

    def select(self, points: Sequence[Point]) -> list[int]:
        return [p.id for p in points if _code6(p.municipality_code) in self.codes]

    def takes_in_unknown(self, lat: float | None, lon: float | None) -> bool:
        """A patient whose municipality is unknown belongs in this area unless their coordinates
        place them clearly elsewhere: a needless check-in is cheaper than a missed one."""
        return not municipalities.clearly_outside(self.codes, lat, lon)

    def bbox(self):
        return None

    def to_json(self) -> dict:
        return {"municipality_codes": sorted(self.given or self.codes)}


@dataclass(frozen=True, eq=False)
class GeometryArea:
    geometry: Polygon | MultiPolygon
    kind: str = "geometry"

    def __post_init__(self):
        shapely.prepare(self.geometry)

    def contains(self, lat, lon, municipality_code) -> bool:
        if lat is None or lon is None:
            return False
        # covers: a patient exactly on the drawn boundary is affected (safer than excluded).
        return bool(shapely.intersects_xy(self.geometry, lon, lat))

    def select(self, points: Sequence[Point]) -> list[int]:
        lats, lons, idx = _coords(points)
        if not len(idx):
            return []
        inside = shapely.intersects_xy(self.geometry, lons, lats)
        return [points[i].id for i in idx[inside]]

    def bbox(self):
        minx, miny, maxx, maxy = self.geometry.bounds
        return (miny, minx, maxy, maxx)

    def to_json(self) -> dict:
        return {"geometry": shapely.geometry.mapping(self.geometry)}


@dataclass(frozen=True)
class CircleArea:
    lat: float
    lon: float
    radius_km: float
    kind: str = "circle"

    def contains(self, lat, lon, municipality_code) -> bool:
        if lat is None or lon is None:
            return False
        return geodesic((self.lat, self.lon), (lat, lon)).km <= self.radius_km

    def select(self, points: Sequence[Point]) -> list[int]:
        lats, lons, idx = _coords(points)
        if not len(idx):
            return []
        d = _haversine_many(self.lat, self.lon, lats, lons)
        sure_in = d <= self.radius_km * (1 - _SPHERE_ERROR)
        unsure = (~sure_in) & (d <= self.radius_km * (1 + _SPHERE_ERROR))
        chosen = [points[i].id for i in idx[sure_in]]
        # Only the thin ring near the edge needs the exact (slow) ellipsoidal distance.
        for i in idx[unsure]:
            p = points[i]
            if geodesic((self.lat, self.lon), (p.lat, p.lon)).km <= self.radius_km:
                chosen.append(p.id)
        return chosen

    def bbox(self):
        dlat = self.radius_km * (1 + _SPHERE_ERROR) / 110.5
        coslat = max(math.cos(math.radians(min(89.0, abs(self.lat) + dlat))), 1e-6)
        dlon = min(180.0, self.radius_km * (1 + _SPHERE_ERROR) / (111.3 * coslat))
        return (self.lat - dlat, self.lon - dlon, self.lat + dlat, self.lon + dlon)

    def to_json(self) -> dict:
        return {"center": {"lat": self.lat, "lon": self.lon}, "radius_km": self.radius_km}


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidArea(f"{name} は数値で指定してください。")
    try:
        x = float(value)
    except ValueError:
        raise InvalidArea(f"{name} は数値で指定してください。") from None
    if not math.isfinite(x):
        raise InvalidArea(f"{name} が不正です。")
    return x


def _vertices(coords, depth: int) -> int:
    """How many positions a GeoJSON coordinates array holds (``depth`` list levels above the
    rings), counting no further than just past ``MAX_VERTICES``; malformed parts count 0
    (shapely then says what is wrong)."""
    if not isinstance(coords, (list, tuple)):
        return 0
    if depth == 0:
        return len(coords)
    total = 0
    for part in coords:
        total += _vertices(part, depth - 1)
        if total > MAX_VERTICES:
            break
    return total


def _geometry(obj) -> Polygon | MultiPolygon:
    if not isinstance(obj, Mapping) or obj.get("type") not in ("Polygon", "MultiPolygon"):
        raise InvalidArea("geometry は GeoJSON の Polygon または MultiPolygon で指定してください。")
    if obj.get("type") == "Feature":  # pragma: no cover - excluded above, kept for clarity
        obj = obj.get("geometry")
    if _vertices(obj.get("coordinates"), 1 if obj["type"] == "Polygon" else 2) > MAX_VERTICES:
        raise InvalidArea(f"geometry の頂点が多すぎます（{MAX_VERTICES:,} 点まで）。形を簡略化してください。")
    try:
        geom = shape(obj)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise InvalidArea(f"geometry の座標が読めません: {type(exc).__name__}") from None
    if geom.is_empty:
        raise InvalidArea("geometry が空です。")
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidArea("geometry の座標が範囲外です（GeoJSON は [経度, 緯度] の順です）。")
    if not geom.is_valid:
        raise InvalidArea(f"geometry が不正です（{explain_validity(geom)}）。")
    if geom.area == 0:
        raise InvalidArea("geometry の面積が 0 です。")
    return geom


def area_from(spec) -> Area:
    """Build an area from the API's ``area`` object; raises ``InvalidArea`` on anything unusable."""
    if not isinstance(spec, Mapping):
        raise InvalidArea("area はオブジェクトで指定してください。")
    given = [k for k in ("municipality_codes", "geometry", "center") if spec.get(k) is not None]
    if len(given) != 1:
        raise InvalidArea("area には municipality_codes・geometry・center(+radius_km) のいずれか一つを指定してください。")
    key = given[0]
    if key == "municipality_codes":
        codes = spec["municipality_codes"]
        if isinstance(codes, str) or not isinstance(codes, Iterable):
            raise InvalidArea("municipality_codes は市区町村コードの配列です。")
        codes = [str(c).strip() for c in codes]
        if len(codes) > MAX_MUNICIPALITY_CODES:
            raise InvalidArea(f"市区町村コードは {MAX_MUNICIPALITY_CODES:,} 件までです。")
        if not codes:
            raise InvalidArea("市区町村コードを 1 つ以上指定してください。")
        malformed, unknown, given = [], [], []
        for c in codes:
            try:
                m = municipalities.lookup(c)
            except municipalities.MunicipalityCodeError:
                malformed.append(c)
                continue
            if m is None:
                unknown.append(c)
            else:
                given.append(m.code)
        if malformed:
            raise InvalidArea("市区町村コードは 5 桁または 6 桁（検査数字付き）の数字です: " + ", ".join(malformed[:5]))
        if unknown:
            raise InvalidArea("存在しない市区町村コードです: " + ", ".join(unknown[:5]))
        return MunicipalityArea(municipalities.covered_codes(given), tuple(sorted(set(given))))
    if key == "geometry":
        return GeometryArea(_geometry(spec["geometry"]))
    center = spec["center"]
    if not isinstance(center, Mapping):
        raise InvalidArea("center は {\"lat\", \"lon\"} で指定してください。")
    lat, lon = _number(center.get("lat"), "center.lat"), _number(center.get("lon"), "center.lon")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidArea("center の緯度経度が範囲外です。")
    if spec.get("radius_km") is None:
        raise InvalidArea("center を使う場合は radius_km が必要です。")
    radius = _number(spec.get("radius_km"), "radius_km")
    if not (0 < radius <= MAX_RADIUS_KM):
        raise InvalidArea(f"radius_km は 0 より大きく {MAX_RADIUS_KM:g} 以下です。")
    return CircleArea(lat, lon, radius)


def area_summary(stored: Mapping | None) -> dict | None:
    """What a list shows of a stored area (``Area.to_json`` form): its kind and size, never a whole
    drawn geometry (lists and polls stay small whatever was declared)."""
    if not isinstance(stored, Mapping):
        return None
    if stored.get("geometry") is not None:
        geometry = stored["geometry"] if isinstance(stored["geometry"], Mapping) else {}
        positions: list = []

        def walk(coords):
            if isinstance(coords, (list, tuple)) and coords and isinstance(coords[0], (int, float)):
                positions.append(coords)
            elif isinstance(coords, (list, tuple)):
                for part in coords:
                    walk(part)

        walk(geometry.get("coordinates"))
        lons = [float(p[0]) for p in positions if len(p) >= 2]
        lats = [float(p[1]) for p in positions if len(p) >= 2]
        return {"kind": "geometry", "type": geometry.get("type"), "vertices": len(positions),
                "bbox": [min(lats), min(lons), max(lats), max(lons)] if lats else None}
    if stored.get("municipality_codes") is not None:
        codes = list(stored["municipality_codes"])
        return {"kind": "municipality_codes", "count": len(codes), "municipality_codes": codes[:50]}
    if stored.get("center") is not None:
        return {"kind": "circle", "center": stored["center"], "radius_km": stored.get("radius_km")}
    return {"kind": "unknown"}

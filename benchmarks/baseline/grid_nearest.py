# Frozen copy of bcp_service/geo/nearest.py before the KD-tree (issue 19): the benchmarks' baseline.
"""Nearest facilities by real (WGS-84 geodesic) distance, found through a grid prefilter.

All-pairs geodesic is far too slow at national scale (≈9.5k geodesic pairs/s on these machines:
20k patients × 2k facilities would take over an hour). So points are bucketed in a lat/lon grid;
a query walks rings of cells outward, keeps candidates by cheap haversine distance until no
unvisited cell can hold anything closer, and only then measures the few survivors with geopy's
``geodesic``. The answer is the geodesic order, not the spherical one: haversine differs from the
ellipsoid by ≤ 0.5 %, so every candidate within that band of the k-th best is re-measured.

Pure: no database, no clock. Build once per matching run (``GridIndex(points)``), query many times.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Generic, Iterable, Sequence, TypeVar

from geopy.distance import geodesic

from bcp_service.geo.area import haversine_km

T = TypeVar("T")
# Relative error bound between spherical (haversine) and ellipsoidal distance, with headroom.
_SPHERE_ERROR = 0.006
# A meridian degree is ≥ 110.57 km; a parallel degree is 111.32 km × cos(lat).
_KM_PER_DEG_LAT = 110.5
_KM_PER_DEG_LON_EQ = 111.3


@dataclass(frozen=True)
class Located(Generic[T]):
    lat: float
    lon: float
    item: T


@dataclass(frozen=True)
class Hit(Generic[T]):
    item: T
    km: float            # geodesic distance


class GridIndex(Generic[T]):
    """A bucket grid over points; ``nearest`` answers k-nearest by geodesic distance."""

    def __init__(self, points: Iterable[Located[T]], *, cell_deg: float = 0.1) -> None:
        self.cell = cell_deg
        self.cells: dict[tuple[int, int], list[Located[T]]] = defaultdict(list)
        self.count = 0
        lat_min = lat_max = None
        for p in points:
            if p.lat is None or p.lon is None:
                continue
            self.cells[self._key(p.lat, p.lon)].append(p)
            self.count += 1
            lat_min = p.lat if lat_min is None else min(lat_min, p.lat)
            lat_max = p.lat if lat_max is None else max(lat_max, p.lat)
        self._lat_range = (lat_min, lat_max)
        if self.cells:
            rows = [k[0] for k in self.cells]
            cols = [k[1] for k in self.cells]
            self._bounds = (min(rows), max(rows), min(cols), max(cols))

    def discard_at(self, lat: float, lon: float, item: T) -> bool:
        """Drop a point (e.g. a facility that has just become full) so later queries skip it; looks
        only in the point's own cell (O(cell size))."""
        pts = self.cells.get(self._key(lat, lon), [])
        for i, p in enumerate(pts):
            if p.item is item:
                del pts[i]
                self.count -= 1
                return True
        return False

    def _key(self, lat: float, lon: float) -> tuple[int, int]:
        return (math.floor(lat / self.cell), math.floor(lon / self.cell))

    def _ring(self, r0: int, c0: int, r: int):
        if r == 0:
            yield (r0, c0)
            return
        for c in range(c0 - r, c0 + r + 1):
            yield (r0 - r, c)
            yield (r0 + r, c)
        for row in range(r0 - r + 1, r0 + r):
            yield (row, c0 - r)
            yield (row, c0 + r)

    def _lower_bound_km(self, lat: float, rings_done: int) -> float:
        """Least possible distance to any point outside the rings already visited."""
        # The query sits anywhere inside its own cell, so after rings 0..n-1 the nearest
        # unvisited point is at least n-1 whole cells away.
        if rings_done <= 1:
            return 0.0
        reach = (rings_done - 1) * self.cell
        # The widest latitude a point in the next ring can have makes its degree of longitude
        # the shortest; use it so the bound never overstates.
        worst_lat = min(89.9, abs(lat) + reach + self.cell)
        km_lon = reach * _KM_PER_DEG_LON_EQ * math.cos(math.radians(worst_lat))
        km_lat = reach * _KM_PER_DEG_LAT
        return min(km_lat, km_lon) * (1 - _SPHERE_ERROR)

    def nearest(
        self,
        lat: float,
        lon: float,
        *,
        k: int = 1,
        accept: Callable[[T], bool] | None = None,
        max_km: float | None = None,
    ) -> list[Hit[T]]:
        """Up to k accepted points, nearest first by geodesic distance (within max_km if given)."""
        if not self.count or k <= 0:
            return []
        r0, c0 = self._key(lat, lon)
        rmin, rmax, cmin, cmax = self._bounds
        # Rings beyond this cover nothing: the whole grid has been visited.
        max_ring = max(abs(r0 - rmin), abs(r0 - rmax), abs(c0 - cmin), abs(c0 - cmax))
        found: list[tuple[float, Located[T]]] = []   # (haversine km, point)
        r = 0
        while r <= max_ring:
            for key in self._ring(r0, c0, r):
                for p in self.cells.get(key, ()):
                    if accept is None or accept(p.item):
                        found.append((haversine_km(lat, lon, p.lat, p.lon), p))
            r += 1
            bound = self._lower_bound_km(lat, r)
            if max_km is not None and bound > max_km * (1 + _SPHERE_ERROR):
                break
            if len(found) >= k:
                found.sort(key=lambda t: t[0])
                # Stop when nothing unvisited can beat the k-th best even after ellipsoid correction.
                if found[k - 1][0] * (1 + _SPHERE_ERROR) <= bound:
                    break
        return _exact(lat, lon, found, k, max_km)


def _exact(lat, lon, found, k, max_km):
    if not found:
        return []
    found.sort(key=lambda t: t[0])
    limit = found[min(k, len(found)) - 1][0] * (1 + 2 * _SPHERE_ERROR)
    hits = [
        Hit(p.item, geodesic((lat, lon), (p.lat, p.lon)).km)
        for d, p in found if d <= limit
    ]
    hits.sort(key=lambda h: h.km)
    if max_km is not None:
        hits = [h for h in hits if h.km <= max_km]
    return hits[:k]


def nearest_naive(
    lat: float, lon: float, points: Sequence[Located[T]], *, k: int = 1,
    accept: Callable[[T], bool] | None = None,
) -> list[Hit[T]]:
    """The obvious way: geodesic to every point. The benchmarks' baseline and the tests' oracle."""
    hits = [
        Hit(p.item, geodesic((lat, lon), (p.lat, p.lon)).km)
        for p in points if accept is None or accept(p.item)
    ]
    hits.sort(key=lambda h: h.km)
    return hits[:k]

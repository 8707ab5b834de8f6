"""Nearest facilities by real (WGS-84 geodesic) distance, found through a KD-tree on the unit sphere.

All-pairs geodesic is far too slow at national scale (20k patients × 2k facilities would take over an
hour). Points are turned into unit vectors and indexed once in ``scipy.spatial.cKDTree``: the straight
(chord) distance between unit vectors orders points exactly as the great-circle distance does. A query
takes the nearest few by chord, widens until every point that could still be nearer on the ellipsoid
is in hand, and only those are measured with the exact geodesic (GeographicLib, through pyproj's
``Geod``; the same algorithm as geopy's ``geodesic``). The sphere differs from the ellipsoid by ≤ 0.5 %,
so a candidate is re-measured when its spherical distance is within that band of the k-th best.

``nearest_many`` answers a whole batch of queries with one vectorised tree search and one vectorised
geodesic call (the matching run of a declaration). Pure: no database, no clock.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Generic, Iterable, Sequence, TypeVar

import numpy as np
from geopy.distance import geodesic
from pyproj import Geod
from scipy.spatial import cKDTree

from bcp_service.geo.area import EARTH_RADIUS_KM

T = TypeVar("T")
# Relative error bound between spherical (mean radius) and ellipsoidal distance, with headroom.
_SPHERE_ERROR = 0.006
# A point whose spherical distance exceeds the k-th best by this factor can never be nearer on the
# ellipsoid: g ≥ s(1 − e) > s_k(1 + e) ≥ g_k.
BAND = (1 + _SPHERE_ERROR) / (1 - _SPHERE_ERROR)
_WGS84 = Geod(ellps="WGS84")


@dataclass(frozen=True)
class Located(Generic[T]):
    lat: float
    lon: float
    item: T


@dataclass(frozen=True)
class Hit(Generic[T]):
    item: T
    km: float            # geodesic distance


def unit_vectors(lats, lons) -> np.ndarray:
    la, lo = np.radians(np.asarray(lats, dtype=float)), np.radians(np.asarray(lons, dtype=float))
    c = np.cos(la)
    return np.column_stack((c * np.cos(lo), c * np.sin(lo), np.sin(la)))


def _chord_to_km(chord):
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.asarray(chord) / 2))


def _km_to_chord(km: float) -> float:
    return 2 * math.sin(min(math.pi / 2, km / (2 * EARTH_RADIUS_KM)))


def geodesic_km(lat1, lon1, lat2, lon2):
    """Exact WGS-84 geodesic in km; scalars, or arrays (broadcast, vectorised)."""
    if np.ndim(lat1) or np.ndim(lon1) or np.ndim(lat2) or np.ndim(lon2):
        lat1, lon1, lat2, lon2 = (np.ascontiguousarray(a, dtype=float)
                                  for a in np.broadcast_arrays(lat1, lon1, lat2, lon2))
        return _WGS84.inv(lon1, lat1, lon2, lat2)[2] / 1000.0
    return _WGS84.inv(float(lon1), float(lat1), float(lon2), float(lat2))[2] / 1000.0


class SphereIndex(Generic[T]):
    """A KD-tree over unit vectors; ``nearest`` answers k-nearest by geodesic distance. Points may be
    discarded (a facility that has just become full) without rebuilding the tree."""

    def __init__(self, points: Iterable[Located[T]]) -> None:
        self.points: list[Located[T]] = [p for p in points if p.lat is not None and p.lon is not None]
        self.lats = np.array([p.lat for p in self.points], dtype=float)
        self.lons = np.array([p.lon for p in self.points], dtype=float)
        self.tree = cKDTree(unit_vectors(self.lats, self.lons)) if self.points else None
        self.alive = np.ones(len(self.points), dtype=bool)
        self._slot = {id(p.item): i for i, p in enumerate(self.points)}

    @property
    def count(self) -> int:
        return int(self.alive.sum())

    def discard_at(self, lat: float, lon: float, item: T) -> bool:
        """Drop a point so later queries skip it (the tree stays; the point is masked)."""
        i = self._slot.get(id(item))
        if i is None or not self.alive[i]:
            return False
        self.alive[i] = False
        return True

    def nearest(self, lat: float, lon: float, *, k: int = 1, accept: Callable[[T], bool] | None = None,
                max_km: float | None = None) -> list[Hit[T]]:
        """Up to k accepted points, nearest first by geodesic distance (within max_km if given)."""
        n = len(self.points)
        if not n or k <= 0 or lat is None or lon is None:
            return []
        q = unit_vectors([lat], [lon])[0]
        bound = _km_to_chord(max_km * BAND) if max_km is not None else np.inf
        m = min(n, max(8, 4 * k))
        while True:
            chord, idx = self.tree.query(q, k=m, distance_upper_bound=bound)
            chord, idx = np.atleast_1d(chord), np.atleast_1d(idx)
            within = idx < n
            chord, idx = chord[within], idx[within]
            spherical = _chord_to_km(chord)
            ok = [j for j in range(len(idx)) if self.alive[idx[j]]
                  and (accept is None or accept(self.points[idx[j]].item))]
            exhausted = len(idx) < m or m >= n        # every point within reach has been seen
            if len(ok) >= k:
                limit = spherical[ok[k - 1]] * BAND
                if exhausted or spherical[-1] > limit:
                    chosen = [idx[j] for j in ok if spherical[j] <= limit]
                    return self._exact(lat, lon, chosen, k, max_km)
            elif exhausted:
                return self._exact(lat, lon, [idx[j] for j in ok], k, max_km)
            m = min(n, m * 4)

    def _exact(self, lat, lon, chosen, k, max_km) -> list[Hit[T]]:
        if not chosen:
            return []
        chosen = np.asarray(sorted(chosen))          # stable: ties keep the input order, as the naive search
        km = np.atleast_1d(geodesic_km(lat, lon, self.lats[chosen], self.lons[chosen]))
        order = np.argsort(km, kind="stable")
        hits = [Hit(self.points[chosen[o]].item, float(km[o])) for o in order]
        if max_km is not None:
            hits = [h for h in hits if h.km <= max_km]
        return hits[:k]

    def nearest_many(self, lats: Sequence[float], lons: Sequence[float], *, k: int = 8
                     ) -> tuple[np.ndarray, np.ndarray]:
        """One vectorised search for many queries: for each, the ``k`` nearest points by great-circle
        distance (indexes into ``points``, ``len(points)`` where fewer exist) and their spherical km."""
        n = len(self.points)
        if not n or not len(lats):
            return np.full((len(lats), k), n), np.full((len(lats), k), np.inf)
        chord, idx = self.tree.query(unit_vectors(lats, lons), k=min(k, n))
        chord, idx = chord.reshape(len(lats), -1), idx.reshape(len(lats), -1)
        return idx, _chord_to_km(chord)


def nearest_naive(
    lat: float, lon: float, points: Sequence[Located[T]], *, k: int = 1,
    accept: Callable[[T], bool] | None = None,
) -> list[Hit[T]]:
    """The obvious way: geodesic (geopy) to every point. The benchmarks' baseline and the tests' oracle."""
    hits = [
        Hit(p.item, geodesic((lat, lon), (p.lat, p.lon)).km)
        for p in points if accept is None or accept(p.item)
    ]
    hits.sort(key=lambda h: h.km)
    return hits[:k]

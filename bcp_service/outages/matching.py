"""Facility matching: where a patient can go (or charge) when the power is out.

A facility *has power* if it has a generator, is a power supply point (給電ポイント), or lies outside
every active real outage. Transport targets must also accept ventilated patients and have a free bed
(ventilator_beds minus beds held, counted across all active outages). The patient's designated
facility (the 個別支援計画's 「移動が必要なときは X へ」) comes first when it can receive; otherwise the
nearest that can, by real geodesic distance, found through the KD-tree of ``geo.nearest``.
Pure: facilities come in as dataclasses with their held beds already applied.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from bcp_service.geo.nearest import BAND, Hit, Located, SphereIndex, geodesic_km
from bcp_service.orgs.capabilities import meets_needs

# Beyond this a ventilated patient is not driven at night: the desk sees "no facility" and decides.
MAX_TRANSPORT_KM = 100.0


@dataclass
class FacilityInfo:
    id: int
    name: str
    lat: float | None
    lon: float | None
    has_generator: bool = False
    power_supply_point: bool = False
    accepts_ventilator: bool = False
    ventilator_beds: int = 0
    reserved: int = 0
    in_outage: bool = False
    pediatric_ventilation: bool = False     # capabilities checked by orgs.capabilities.meets_needs
    medical_care_children: bool = False

    @property
    def has_power(self) -> bool:
        return self.has_generator or self.power_supply_point or not self.in_outage

    @property
    def beds_free(self) -> int:
        return max(0, self.ventilator_beds - self.reserved)

    @property
    def can_receive(self) -> bool:
        return self.has_power and self.accepts_ventilator and self.beds_free > 0


@dataclass(frozen=True)
class Match:
    facility_id: int
    facility_name: str
    km: float | None                  # None when the patient or the facility has no coordinates
    designated: bool = False          # the patient's designated facility (the plan), not just the nearest


def can_charge(f: FacilityInfo) -> bool:
    return f.has_power


@dataclass(frozen=True)
class Person:
    """Who is being matched: coordinates (may be unknown) and the facility their plan names."""
    lat: float | None
    lon: float | None
    designated_facility_id: int | None = None


class Matcher:
    """One matching run: index the facilities once, then assign patients one by one (``assign``) or
    all at once in order (``assign_many``: one vectorised tree search for the whole batch).

    Assigning takes the bed in this in-memory view so the next patient of the same run does not
    get a bed that is already taken; the service holds the same beds in the database.
    """

    def __init__(self, facilities: Iterable[FacilityInfo], *, max_transport_km: float = MAX_TRANSPORT_KM) -> None:
        self.facilities = {f.id: f for f in facilities}
        self.max_transport_km = max_transport_km
        located = [f for f in self.facilities.values() if f.lat is not None and f.lon is not None]
        self.index: SphereIndex[FacilityInfo] = SphereIndex(Located(f.lat, f.lon, f) for f in located)
        # Receiving facilities in their own index: full ones are masked as beds are taken.
        self.receiving: SphereIndex[FacilityInfo] = SphereIndex(
            Located(f.lat, f.lon, f) for f in located if f.can_receive)

    def designated(self, lat: float | None, lon: float | None, facility_id: int | None, *,
                   exclude: Sequence[int] = ()) -> Match | None:
        """The plan's facility when it has power and a free bed (any distance: the family was told)."""
        f = self.facilities.get(facility_id) if facility_id is not None else None
        if f is None or f.id in exclude or not f.can_receive:
            return None
        km = None
        if None not in (lat, lon, f.lat, f.lon):
            km = round(float(geodesic_km(lat, lon, f.lat, f.lon)), 2)
        return Match(f.id, f.name, km, designated=True)

    def transport_target(self, lat: float | None, lon: float | None, *, designated_id: int | None = None,
                         exclude: Sequence[int] = (), max_km: float | None = None,
                         needs: Sequence[str] = ()) -> Match | None:
        """``needs``: capabilities the patient needs (orgs.capabilities.NEEDS), e.g. paediatric ventilation."""
        planned = self.designated(lat, lon, designated_id, exclude=exclude)
        if planned is not None:
            return planned
        if lat is None or lon is None:
            return None
        hits = self.receiving.nearest(lat, lon, k=1, max_km=max_km or self.max_transport_km,
                                      accept=lambda f: f.can_receive and f.id not in exclude
                                      and meets_needs(f, needs))
        return _match(hits)

    def take(self, facility_id: int) -> None:
        f = self.facilities[facility_id]
        f.reserved += 1
        if not f.can_receive:
            self.receiving.discard_at(f.lat, f.lon, f)

    def assign(self, lat, lon, **kw) -> Match | None:
        m = self.transport_target(lat, lon, **kw)
        if m is not None:
            self.take(m.facility_id)
        return m

    def assign_many(self, people: Sequence[Person], *, k: int = 8, chunk: int = 512) -> list[Match | None]:
        """``assign`` for each person in order, with the same answers, for a whole run at once: per
        chunk of people one tree search and one vectorised geodesic over each person's candidates
        within the sphere/ellipsoid band of their nearest (the tree is rebuilt without the full
        facilities between chunks); a person whose nearest filled up meanwhile takes ``assign``."""
        out: list[Match | None] = []
        for start in range(0, len(people), chunk):
            if self.receiving.count < len(self.receiving.points):
                self.receiving = SphereIndex(p for p, alive in zip(self.receiving.points, self.receiving.alive)
                                             if alive)
            out += self._assign_chunk(people[start:start + chunk], k)
        return out

    def _assign_chunk(self, people: Sequence[Person], k: int) -> list[Match | None]:
        rows = [i for i, p in enumerate(people) if p.lat is not None and p.lon is not None]
        pos = {i: r for r, i in enumerate(rows)}
        index = self.receiving
        idx, sph = index.nearest_many([people[i].lat for i in rows], [people[i].lon for i in rows], k=k)
        n = len(index.points)
        band = (idx < n) & (sph <= sph[:, :1] * BAND)
        # A band that reaches the last of the k columns may go on past them: those take the slow path.
        complete = (~band[:, -1] if idx.shape[1] >= k else np.ones(len(rows), dtype=bool)).tolist()
        km = np.full(idx.shape, np.inf)
        r_i, c_i = np.nonzero(band)
        if len(r_i):
            lats = np.array([people[i].lat for i in rows])[r_i]
            lons = np.array([people[i].lon for i in rows])[r_i]
            fi = idx[r_i, c_i]
            km[r_i, c_i] = geodesic_km(lats, lons, index.lats[fi], index.lons[fi])
        # Candidates of each person nearest first by geodesic (ties: facility order, as brute force).
        order = np.lexsort((idx, km), axis=1)
        km_sorted = np.take_along_axis(km, order, axis=1).tolist()
        idx_sorted = np.take_along_axis(idx, order, axis=1).tolist()
        first = idx[:, 0].tolist() if len(rows) else []
        alive, limit = index.alive, self.max_transport_km
        out: list[Match | None] = []
        for i, p in enumerate(people):
            m = self.designated(p.lat, p.lon, p.designated_facility_id)
            r = pos.get(i)
            if m is None and r is not None:
                if not complete[r] or first[r] >= n or not alive[first[r]]:
                    m = self.transport_target(p.lat, p.lon)
                else:
                    for d, j in zip(km_sorted[r], idx_sorted[r]):
                        if d > limit:
                            break
                        if alive[j]:
                            f = index.points[j].item
                            m = Match(f.id, f.name, round(d, 2))
                            break
            if m is not None:
                self.take(m.facility_id)
            out.append(m)
        return out

    def charging_points(self, lat: float | None, lon: float | None, *, k: int = 3,
                        max_km: float | None = 30.0) -> list[Match]:
        if lat is None or lon is None:
            return []
        hits = self.index.nearest(lat, lon, k=k, max_km=max_km, accept=can_charge)
        return [Match(h.item.id, h.item.name, round(h.km, 2)) for h in hits]


def _match(hits: list[Hit[FacilityInfo]]) -> Match | None:
    if not hits:
        return None
    h = hits[0]
    return Match(h.item.id, h.item.name, round(h.km, 2))

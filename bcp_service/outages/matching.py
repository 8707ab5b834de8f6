"""Facility matching: where a patient can go (or charge) when the power is out.

A facility *has power* if it has a generator, is a power supply point (給電ポイント), or lies outside
every active outage. Transport targets must also accept ventilated patients and have a free bed
(ventilator_beds minus beds we have reserved). Charging points only need power. Nearest is by real
geodesic distance, found through the grid prefilter of ``geo.nearest``.
Pure: facilities come in as dataclasses with their reservation counts already applied.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from bcp_service.geo.nearest import GridIndex, Hit, Located
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
    km: float


def can_charge(f: FacilityInfo) -> bool:
    return f.has_power


class Matcher:
    """One matching run: index the facilities once, then assign patients one by one.

    ``assign`` reserves the bed in this in-memory view so the next patient of the same run does not
    get a bed that is already taken; the service persists the same reservation in the database.
    """

    def __init__(self, facilities: Iterable[FacilityInfo], *, cell_deg: float = 0.1,
                 max_transport_km: float = MAX_TRANSPORT_KM) -> None:
        self.facilities = {f.id: f for f in facilities}
        self.max_transport_km = max_transport_km
        self.index: GridIndex[FacilityInfo] = GridIndex(
            (Located(f.lat, f.lon, f) for f in self.facilities.values() if f.lat is not None),
            cell_deg=cell_deg,
        )
        # Receiving facilities in their own index: full ones are dropped as beds are taken, so a
        # long matching run never re-scans facilities that cannot take anyone.
        self.receiving: GridIndex[FacilityInfo] = GridIndex(
            (Located(f.lat, f.lon, f) for f in self.facilities.values() if f.lat is not None and f.can_receive),
            cell_deg=cell_deg,
        )

    def transport_target(self, lat: float | None, lon: float | None, *,
                         exclude: Sequence[int] = (), max_km: float | None = None,
                         needs: Sequence[str] = ()) -> Match | None:
        """``needs``: capabilities the patient needs (orgs.capabilities.NEEDS), e.g. paediatric ventilation."""
        if lat is None or lon is None:
            return None
        hits = self.receiving.nearest(lat, lon, k=1, max_km=max_km or self.max_transport_km,
                                      accept=lambda f: f.can_receive and f.id not in exclude
                                      and meets_needs(f, needs))
        return _match(hits)

    def assign(self, lat, lon, **kw) -> Match | None:
        m = self.transport_target(lat, lon, **kw)
        if m is not None:
            f = self.facilities[m.facility_id]
            f.reserved += 1
            if not f.can_receive:
                self.receiving.discard_at(f.lat, f.lon, f)
        return m

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

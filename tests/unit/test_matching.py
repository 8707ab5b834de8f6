"""Matching: the plan's facility first, then the nearest with power and a free bed; the vectorised
batch gives the same answers as one-by-one brute force (geodesic to every facility)."""
import random

from hypothesis import given, settings, strategies as st

from bcp_service.geo.nearest import Located, nearest_naive
from bcp_service.outages.matching import FacilityInfo, Matcher, Person


def _fac(i, lat, lon, **kw):
    base = dict(accepts_ventilator=True, ventilator_beds=2, has_generator=True)
    base.update(kw)
    return FacilityInfo(id=i, name=f"施設{i}", lat=lat, lon=lon, **base)


def test_designated_facility_wins_over_a_nearer_one_when_it_can_receive():
    near, planned = _fac(1, 35.68, 139.77), _fac(2, 35.90, 139.50)
    m = Matcher([near, planned]).transport_target(35.68, 139.77, designated_id=2)
    assert (m.facility_id, m.designated) == (2, True) and m.km > 20


def test_designated_without_power_or_bed_falls_back_to_the_nearest():
    near = _fac(1, 35.68, 139.77)
    dark = _fac(2, 35.90, 139.50, has_generator=False, in_outage=True)
    full = _fac(3, 35.91, 139.51, reserved=2)
    matcher = Matcher([near, dark, full])
    assert matcher.transport_target(35.68, 139.77, designated_id=2).facility_id == 1
    assert matcher.transport_target(35.68, 139.77, designated_id=3).facility_id == 1
    assert matcher.transport_target(35.68, 139.77, designated_id=3).designated is False


def test_designated_is_used_for_a_patient_without_coordinates():
    m = Matcher([_fac(1, 35.68, 139.77)]).assign_many([Person(None, None, 1), Person(None, None, None)])
    assert m[0].facility_id == 1 and m[0].km is None and m[1] is None


def test_a_facility_never_gets_more_than_its_beds_in_one_run():
    matcher = Matcher([_fac(1, 35.68, 139.77, ventilator_beds=2), _fac(2, 35.70, 139.80, ventilator_beds=1)])
    got = matcher.assign_many([Person(35.68, 139.77)] * 5)
    assert [m.facility_id if m else None for m in got] == [1, 1, 2, None, None]


def _naive_assign(facs, people):
    out = []
    for p in people:
        d = next((f for f in facs if f.id == p.designated_facility_id and f.can_receive), None)
        if d is not None:
            out.append(d.id)
            d.reserved += 1
            continue
        hits = nearest_naive(p.lat, p.lon, [Located(f.lat, f.lon, f) for f in facs], k=1,
                             accept=lambda f: f.can_receive)
        if hits and hits[0].km <= 100:
            out.append(hits[0].item.id)
            hits[0].item.reserved += 1
        else:
            out.append(None)
    return out


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 40), st.integers(1, 80), st.integers(1, 3), st.integers(1, 64))
def test_assign_many_equals_one_by_one_brute_force(seed, n_fac, n_people, beds, chunk):
    rng = random.Random(seed)

    def facilities():
        r = random.Random(seed)
        return [_fac(i, r.uniform(35.0, 36.5), r.uniform(138.8, 140.8), ventilator_beds=r.randint(0, beds),
                     has_generator=r.random() < 0.7, in_outage=r.random() < 0.5) for i in range(n_fac)]
    people = [Person(rng.uniform(35.0, 36.5), rng.uniform(138.8, 140.8),
                     rng.randrange(n_fac) if rng.random() < 0.2 else None) for _ in range(n_people)]
    got = [m.facility_id if m else None for m in Matcher(facilities()).assign_many(people, k=4, chunk=chunk)]
    assert got == _naive_assign(facilities(), people)
    one_by_one = Matcher(facilities())
    assert got == [(m.facility_id if m else None) for m in
                   (one_by_one.assign(p.lat, p.lon, designated_id=p.designated_facility_id) for p in people)]

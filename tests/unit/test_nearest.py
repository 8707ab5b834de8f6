"""Nearest by geodesic distance through the KD-tree must equal the all-pairs (brute force) answer."""
import random

import numpy as np
from hypothesis import given, settings, strategies as st

from bcp_service.geo.nearest import SphereIndex, Located, geodesic_km, nearest_naive


def _points(rng, n, lat=(30.0, 44.0), lon=(129.0, 145.0)):
    return [Located(rng.uniform(*lat), rng.uniform(*lon), i) for i in range(n)]


def test_tree_nearest_equals_all_pairs_geodesic_on_random_japan():
    rng = random.Random(7)
    pts = _points(rng, 300)
    index = SphereIndex(pts)
    for _ in range(40):
        q = (rng.uniform(30, 44), rng.uniform(129, 145))
        got = index.nearest(*q, k=3)
        want = nearest_naive(*q, pts, k=3)
        assert [h.item for h in got] == [h.item for h in want]
        assert [round(h.km, 6) for h in got] == [round(h.km, 6) for h in want]


def test_accept_filter_skips_ineligible_points_even_if_nearest():
    pts = [Located(35.0, 139.0, "near"), Located(35.5, 139.5, "far")]
    index = SphereIndex(pts)
    assert [h.item for h in index.nearest(35.0, 139.0, accept=lambda x: x != "near")] == ["far"]


def test_accept_filter_widens_past_many_rejected_neighbours():
    rng = random.Random(3)
    pts = [Located(35 + rng.uniform(-0.01, 0.01), 139 + rng.uniform(-0.01, 0.01), ("full", i)) for i in range(200)]
    pts.append(Located(36.0, 140.0, ("free", 0)))
    got = SphereIndex(pts).nearest(35.0, 139.0, accept=lambda x: x[0] == "free")
    assert [h.item for h in got] == [("free", 0)]


def test_discarded_points_are_skipped():
    a, b = ("a",), ("b",)
    index = SphereIndex([Located(35.0, 139.0, a), Located(35.2, 139.0, b)])
    assert index.discard_at(35.0, 139.0, a) is True
    assert index.discard_at(35.0, 139.0, a) is False
    assert [h.item for h in index.nearest(35.0, 139.0, k=2)] == [b]
    assert index.count == 1


def test_max_km_limits_the_search():
    index = SphereIndex([Located(35.0, 139.0, "a"), Located(36.0, 139.0, "b")])
    assert [h.item for h in index.nearest(35.0, 139.0, k=2, max_km=50)] == ["a"]
    assert index.nearest(37.0, 139.0, max_km=50) == []


def test_empty_index_and_points_without_coordinates():
    assert SphereIndex([]).nearest(35, 139) == []
    assert SphereIndex([Located(None, None, "x")]).nearest(35, 139) == []


def test_geodesic_km_vectorised_equals_geopy():
    from geopy.distance import geodesic
    lats, lons = np.array([35.0, 43.1, 26.2]), np.array([139.0, 141.3, 127.7])
    got = geodesic_km(35.68, 139.76, lats, lons)
    want = [geodesic((35.68, 139.76), (a, b)).km for a, b in zip(lats, lons)]
    assert np.allclose(got, want, rtol=0, atol=1e-9)
    assert abs(geodesic_km(35.68, 139.76, 43.1, 141.3) - want[1]) < 1e-9


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(34.0, 36.0), st.floats(138.0, 141.0)), min_size=1, max_size=60),
       st.floats(33.0, 37.0), st.floats(137.0, 142.0), st.integers(1, 4),
       st.sets(st.integers(0, 59), max_size=30))
def test_tree_nearest_property(coords, qlat, qlon, k, rejected):
    pts = [Located(a, b, i) for i, (a, b) in enumerate(coords)]
    accept = lambda i: i not in rejected  # noqa: E731
    got = SphereIndex(pts).nearest(qlat, qlon, k=k, accept=accept)
    want = nearest_naive(qlat, qlon, pts, k=k, accept=accept)
    assert [round(h.km, 9) for h in got] == [round(h.km, 9) for h in want]
    assert [h.item for h in got] == [h.item for h in want] or len({round(h.km, 9) for h in want}) < len(want)

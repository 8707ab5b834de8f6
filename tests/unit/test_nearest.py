"""Nearest by geodesic distance through a grid prefilter must equal the all-pairs answer."""
import random

from hypothesis import given, settings, strategies as st

from bcp_service.geo.nearest import GridIndex, Located, nearest_naive


def _points(rng, n, lat=(30.0, 44.0), lon=(129.0, 145.0)):
    return [Located(rng.uniform(*lat), rng.uniform(*lon), i) for i in range(n)]


def test_grid_nearest_equals_all_pairs_geodesic_on_random_japan():
    rng = random.Random(7)
    pts = _points(rng, 300)
    index = GridIndex(pts, cell_deg=0.25)
    for _ in range(40):
        q = (rng.uniform(30, 44), rng.uniform(129, 145))
        got = index.nearest(*q, k=3)
        want = nearest_naive(*q, pts, k=3)
        assert [h.item for h in got] == [h.item for h in want]
        assert [round(h.km, 6) for h in got] == [round(h.km, 6) for h in want]


def test_accept_filter_skips_ineligible_points_even_if_nearest():
    pts = [Located(35.0, 139.0, "near"), Located(35.5, 139.5, "far")]
    index = GridIndex(pts)
    assert [h.item for h in index.nearest(35.0, 139.0, accept=lambda x: x != "near")] == ["far"]


def test_max_km_limits_the_search():
    index = GridIndex([Located(35.0, 139.0, "a"), Located(36.0, 139.0, "b")])
    assert [h.item for h in index.nearest(35.0, 139.0, k=2, max_km=50)] == ["a"]
    assert index.nearest(37.0, 139.0, max_km=50) == []


def test_empty_index_and_points_without_coordinates():
    assert GridIndex([]).nearest(35, 139) == []
    assert GridIndex([Located(None, None, "x")]).nearest(35, 139) == []


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(34.0, 36.0), st.floats(138.0, 141.0)), min_size=1, max_size=60),
       st.floats(33.0, 37.0), st.floats(137.0, 142.0), st.sampled_from([0.05, 0.1, 0.5]))
def test_grid_nearest_property(coords, qlat, qlon, cell):
    pts = [Located(a, b, i) for i, (a, b) in enumerate(coords)]
    got = GridIndex(pts, cell_deg=cell).nearest(qlat, qlon, k=1)
    want = nearest_naive(qlat, qlon, pts, k=1)
    assert abs(got[0].km - want[0].km) < 1e-9

"""Outage areas: municipality codes, GeoJSON polygons, centre + geodesic radius."""
import pytest
from geopy.distance import geodesic
from hypothesis import given, settings, strategies as st

from bcp_service.geo.area import CircleArea, InvalidArea, Point, area_from

SQUARE = {"type": "Polygon", "coordinates": [[[139.70, 35.60], [139.80, 35.60], [139.80, 35.70],
                                               [139.70, 35.70], [139.70, 35.60]]]}


def test_municipality_area_selects_by_code_not_by_position():
    area = area_from({"municipality_codes": ["131016", "13102"]})
    pts = [Point(1, 35.0, 139.0, "131016"), Point(2, 35.68, 139.76, "131024"), Point(3, None, None, "13102"),
           Point(4, 35.69, 139.75, "131032")]
    # 13102 is 中央区 (131024) with its check digit left off: it reaches the same patients (issue 12).
    assert area.select(pts) == [1, 2, 3]
    assert area.contains(None, None, "131016")
    assert area.to_json() == {"municipality_codes": ["131016", "131024"]}


def test_five_and_six_digit_codes_reach_the_same_patients():
    pts = [Point(1, None, None, "131059"), Point(2, None, None, "131016")]
    assert area_from({"municipality_codes": ["13105"]}).select(pts) == [1]
    assert area_from({"municipality_codes": ["131059"]}).select(pts) == [1]


@pytest.mark.parametrize("code", ["999997", "99999"])
def test_unknown_municipality_code_is_refused_naming_it(code):
    with pytest.raises(InvalidArea) as exc:
        area_from({"municipality_codes": ["131016", code]})
    assert exc.value.message == f"存在しない市区町村コードです: {code}"


def test_wrong_check_digit_is_refused():
    with pytest.raises(InvalidArea, match="131015"):
        area_from({"municipality_codes": ["131015"]})


def test_a_designated_city_reaches_its_wards():
    area = area_from({"municipality_codes": ["011002"]})
    assert area.contains(None, None, "011011")          # 札幌市中央区
    assert area.to_json() == {"municipality_codes": ["011002"]}


def test_unknown_municipality_is_taken_in_unless_coordinates_place_it_elsewhere():
    area = area_from({"municipality_codes": ["131016"]})
    assert area.takes_in_unknown(None, None)
    assert area.takes_in_unknown(35.694, 139.754)       # at 千代田区役所
    assert not area.takes_in_unknown(34.69, 135.50)     # 大阪


def test_polygon_uses_geojson_lon_lat_order():
    area = area_from({"geometry": SQUARE})
    assert area.contains(35.65, 139.75, None)
    assert not area.contains(139.75, 35.65, None)


def test_multipolygon_covers_both_parts_and_not_the_gap():
    mp = {"type": "MultiPolygon", "coordinates": [SQUARE["coordinates"],
          [[[140.0, 35.6], [140.1, 35.6], [140.1, 35.7], [140.0, 35.7], [140.0, 35.6]]]]}
    area = area_from({"geometry": mp})
    pts = [Point(1, 35.65, 139.75), Point(2, 35.65, 140.05), Point(3, 35.65, 139.9), Point(4, None, None)]
    assert sorted(area.select(pts)) == [1, 2]


def test_point_on_polygon_edge_counts_as_affected():
    assert area_from({"geometry": SQUARE}).contains(35.60, 139.75, None)


@pytest.mark.parametrize("spec, fragment", [
    ({"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}}, "不正"),
    ({"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}}, "座標"),
    ({"geometry": {"type": "Point", "coordinates": [139.7, 35.6]}}, "Polygon"),
    ({"geometry": {"type": "Polygon", "coordinates": [[[200, 35], [201, 35], [201, 36], [200, 35]]]}}, "範囲外"),
    ({"geometry": {"type": "Polygon", "coordinates": [[[139, 35], [140, 35], [141, 35], [139, 35]]]}}, "不正"),
    ({"center": {"lat": 35.6, "lon": 139.7}}, "radius_km"),
    ({"center": {"lat": 35.6, "lon": 139.7}, "radius_km": 0}, "radius_km"),
    ({"center": {"lat": 35.6, "lon": 139.7}, "radius_km": "abc"}, "数値"),
    ({"center": {"lat": 95, "lon": 139.7}, "radius_km": 3}, "範囲外"),
    ({"center": {"lat": True, "lon": 139.7}, "radius_km": 3}, "数値"),
    ({"municipality_codes": []}, "市区町村コード"),
    ({"municipality_codes": ["13-101"]}, "13-101"),
    ({"municipality_codes": "131016"}, "配列"),
    ({}, "いずれか一つ"),
    ({"municipality_codes": ["131016"], "center": {"lat": 1, "lon": 1}, "radius_km": 1}, "いずれか一つ"),
    ("tokyo", "オブジェクト"),
])
def test_bad_areas_raise_invalid_area_with_a_japanese_reason(spec, fragment):
    with pytest.raises(InvalidArea) as exc:
        area_from(spec)
    assert fragment in exc.value.message
    assert exc.value.fields["area"]
    assert exc.value.status == 400


def test_circle_decides_the_edge_by_ellipsoidal_distance():
    area = area_from({"center": {"lat": 35.68, "lon": 139.76}, "radius_km": 10})
    # Points at geodesic 9.98 km and 10.02 km due north-east; haversine alone could misplace them.
    inside = geodesic(kilometers=9.98).destination((35.68, 139.76), 45)
    outside = geodesic(kilometers=10.02).destination((35.68, 139.76), 45)
    pts = [Point(1, inside.latitude, inside.longitude), Point(2, outside.latitude, outside.longitude)]
    assert area.select(pts) == [1]
    assert area.contains(inside.latitude, inside.longitude, None)
    assert not area.contains(outside.latitude, outside.longitude, None)


@settings(max_examples=60, deadline=None)
@given(st.floats(24.0, 45.0), st.floats(123.0, 146.0), st.floats(0.5, 80.0),
       st.lists(st.tuples(st.floats(-1.0, 1.0), st.floats(-1.0, 1.0)), min_size=1, max_size=40))
def test_circle_select_agrees_with_exact_geodesic(lat, lon, radius, offsets):
    area = CircleArea(lat, lon, radius)
    pts = [Point(i, lat + a, lon + b) for i, (a, b) in enumerate(offsets)]
    exact = [p.id for p in pts if geodesic((lat, lon), (p.lat, p.lon)).km <= radius]
    assert sorted(area.select(pts)) == exact


def test_circle_bbox_contains_the_circle():
    area = area_from({"center": {"lat": 43.0, "lon": 141.3}, "radius_km": 50})
    s, w, n, e = area.bbox()
    for bearing in range(0, 360, 15):
        d = geodesic(kilometers=50).destination((43.0, 141.3), bearing)
        assert s <= d.latitude <= n and w <= d.longitude <= e


def test_area_round_trips_through_json():
    for spec in ({"municipality_codes": ["131016"]}, {"geometry": SQUARE},
                 {"center": {"lat": 35.6, "lon": 139.7}, "radius_km": 5.0}):
        again = area_from(area_from(spec).to_json())
        assert again.to_json() == area_from(spec).to_json()


def test_an_area_beyond_the_vertex_cap_is_refused_before_shapely_reads_it():
    from bcp_service.geo.area import MAX_VERTICES

    ring = [[139.0 + i * 1e-5, 35.0] for i in range(MAX_VERTICES)] + [[139.0, 35.1], [139.0, 35.0]]
    with pytest.raises(InvalidArea, match="頂点が多すぎます"):
        area_from({"geometry": {"type": "Polygon", "coordinates": [ring]}})
    small = [[139.0, 35.0], [139.1, 35.0], [139.1, 35.1], [139.0, 35.0]]
    other = [[x + 1.0, y] for x, y in small]
    multi = {"type": "MultiPolygon", "coordinates": [[small], [other]]}
    assert area_from({"geometry": multi}).kind == "geometry"


def test_area_summary_gives_kind_and_size_never_the_geometry():
    from bcp_service.geo.area import area_summary

    square = {"type": "Polygon", "coordinates": [[[139.0, 35.0], [139.1, 35.0], [139.1, 35.2], [139.0, 35.0]]]}
    assert area_summary({"geometry": square}) == {"kind": "geometry", "type": "Polygon", "vertices": 4,
                                                  "bbox": [35.0, 139.0, 35.2, 139.1]}
    assert area_summary({"municipality_codes": ["131016"]}) == {
        "kind": "municipality_codes", "count": 1, "municipality_codes": ["131016"]}
    assert area_summary({"center": {"lat": 35.0, "lon": 139.0}, "radius_km": 2})["kind"] == "circle"
    assert area_summary(None) is None

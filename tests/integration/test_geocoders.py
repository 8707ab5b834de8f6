"""Geocoder adapters against loopback fakes of the GSI and Nominatim HTTP APIs (real geopy)."""
import json

import pytest
from werkzeug import Response

from bcp_service.geo.geocoders import (
    GSI, AddressNotFound, GeocoderUnavailable, GeocodingDisabled, make_geocoder,
)
from bcp_service.geo.postal import (
    PostalCodeError, is_valid_municipality_code, jis_check_digit, lookup, normalize_postal_code,
)

GSI_PATH = "/address-search/AddressSearch"


def _config(httpserver, name):
    return {"GEOCODER": name, "GEOCODER_SCHEME": "http",
            "GEOCODER_DOMAIN": f"{httpserver.host}:{httpserver.port}", "GEOCODER_TIMEOUT": 2}


def test_gsi_returns_first_feature(httpserver):
    httpserver.expect_request(GSI_PATH, query_string={"q": "東京都千代田区千代田1-1"}).respond_with_json([
        {"geometry": {"coordinates": [139.753, 35.685], "type": "Point"}, "type": "Feature",
         "properties": {"addressCode": "", "title": "東京都千代田区千代田"}},
        {"geometry": {"coordinates": [139.0, 35.0], "type": "Point"}, "type": "Feature",
         "properties": {"title": "別の候補"}},
    ])
    r = make_geocoder(_config(httpserver, "gsi")).geocode("東京都千代田区千代田1-1")
    assert (r.lat, r.lon, r.address, r.source) == (35.685, 139.753, "東京都千代田区千代田", "gsi")


def test_gsi_normalises_full_width_query(httpserver):
    httpserver.expect_request(GSI_PATH, query_string={"q": "千代田1-1"}).respond_with_json(
        [{"geometry": {"coordinates": [139.7, 35.6]}, "properties": {"title": "x"}}])
    assert make_geocoder(_config(httpserver, "gsi")).geocode("千代田１－１").lat == 35.6


def test_gsi_empty_list_is_address_not_found(httpserver):
    httpserver.expect_request(GSI_PATH).respond_with_json([])
    with pytest.raises(AddressNotFound):
        make_geocoder(_config(httpserver, "gsi")).geocode("存在しない住所")


def test_gsi_server_error_is_unavailable(httpserver):
    httpserver.expect_request(GSI_PATH).respond_with_data("oops", status=503)
    with pytest.raises(GeocoderUnavailable):
        make_geocoder(_config(httpserver, "gsi")).geocode("東京都")


def test_gsi_garbage_is_unavailable(httpserver):
    httpserver.expect_request(GSI_PATH).respond_with_json({"unexpected": True})
    with pytest.raises(GeocoderUnavailable):
        make_geocoder(_config(httpserver, "gsi")).geocode("東京都")


def test_gsi_is_a_geopy_geocoder_returning_all_matches(httpserver):
    httpserver.expect_request(GSI_PATH).respond_with_json([
        {"geometry": {"coordinates": [139.1, 35.1]}, "properties": {"title": "a"}},
        {"geometry": {"coordinates": "bad"}, "properties": {"title": "malformed"}},
        {"geometry": {"coordinates": [139.2, 35.2]}, "properties": {"title": "b"}},
    ])
    g = GSI(domain=f"{httpserver.host}:{httpserver.port}", scheme="http")
    locs = g.geocode("x", exactly_one=False)
    assert [(l.address, l.latitude) for l in locs] == [("a", 35.1), ("b", 35.2)]


def test_unreachable_service_is_unavailable():
    cfg = {"GEOCODER": "gsi", "GEOCODER_SCHEME": "http", "GEOCODER_DOMAIN": "127.0.0.1:9",
           "GEOCODER_TIMEOUT": 1}
    with pytest.raises(GeocoderUnavailable):
        make_geocoder(cfg).geocode("東京都")


def test_nominatim_searches_japan_in_japanese(httpserver):
    def handler(request):
        assert request.args["countrycodes"] == "jp"
        assert request.args["accept-language"] == "ja"
        assert "bcp-service" in request.headers["User-Agent"]
        return Response(json.dumps([{"lat": "34.70", "lon": "135.50", "display_name": "大阪市北区"}]),
                        content_type="application/json")
    httpserver.expect_request("/search").respond_with_handler(handler)
    r = make_geocoder(_config(httpserver, "nominatim")).geocode("大阪市北区")
    assert (r.lat, r.lon, r.source) == (34.70, 135.50, "nominatim")


def test_nominatim_no_result(httpserver):
    httpserver.expect_request("/search").respond_with_json([])
    with pytest.raises(AddressNotFound):
        make_geocoder(_config(httpserver, "nominatim")).geocode("どこにもない")


def test_none_is_explicitly_disabled():
    with pytest.raises(GeocodingDisabled) as e:
        make_geocoder({"GEOCODER": "none"}).geocode("東京都")
    assert "手入力" in e.value.message
    with pytest.raises(GeocodingDisabled):
        make_geocoder({}).geocode("東京都")


def test_unknown_geocoder_name_rejected():
    with pytest.raises(ValueError):
        make_geocoder({"GEOCODER": "google"})


# --- offline postal data -------------------------------------------------------------------

def test_postal_lookup_gives_municipality_code_with_check_digit():
    a = lookup("〒１００-０００１")
    assert (a.prefecture, a.city, a.town, a.municipality_code) == ("東京都", "千代田区", "千代田", "131016")
    assert a.address == "東京都千代田区千代田"


@pytest.mark.parametrize("code5,code6", [("13101", "131016"), ("13104", "131041"), ("13113", "131130"),
                                         ("01100", "011002")])
def test_jis_check_digit(code5, code6):
    assert code5 + jis_check_digit(code5) == code6
    assert is_valid_municipality_code(code6)


def test_invalid_municipality_code():
    assert not is_valid_municipality_code("131017")
    assert not is_valid_municipality_code("13101")


@pytest.mark.parametrize("bad", ["", "123", "abcdefg", "1000-0001x"])
def test_postal_format_errors(bad):
    with pytest.raises(PostalCodeError):
        normalize_postal_code(bad)


def test_unknown_postal_code():
    with pytest.raises(PostalCodeError):
        lookup("9999999")

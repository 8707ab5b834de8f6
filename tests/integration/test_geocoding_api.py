"""POST /api/v1/geocode with GEOCODER=gsi against a loopback fake of the GSI address search."""
import pytest

GSI_PATH = "/address-search/AddressSearch"


@pytest.fixture
def app_config(httpserver):
    return {"GEOCODER": "gsi", "GEOCODER_SCHEME": "http", "GEOCODER_DOMAIN": f"{httpserver.host}:{httpserver.port}",
            "GEOCODER_TIMEOUT": 2}


@pytest.fixture
def headers(make_region, make_user, auth_headers):
    make_region("1301")
    return auth_headers(make_user("hub_staff", scope="1301"))


def test_geocode_found(client, headers, httpserver):
    httpserver.expect_request(GSI_PATH).respond_with_json(
        [{"geometry": {"coordinates": [139.753, 35.685]}, "properties": {"title": "東京都千代田区千代田"}}])
    r = client.post("/api/v1/geocode", json={"address": "東京都千代田区千代田1"}, headers=headers)
    assert r.status_code == 200
    assert r.get_json() == {"lat": 35.685, "lon": 139.753, "matched_address": "東京都千代田区千代田", "source": "gsi"}


def test_geocode_not_found_and_unavailable_are_explicit(client, headers, httpserver):
    httpserver.expect_ordered_request(GSI_PATH).respond_with_json([])
    httpserver.expect_ordered_request(GSI_PATH).respond_with_data("down", status=502)
    r = client.post("/api/v1/geocode", json={"address": "どこにもない"}, headers=headers)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "address_not_found"
    r = client.post("/api/v1/geocode", json={"address": "東京都"}, headers=headers)
    assert r.status_code == 503 and "手入力" in r.get_json()["error"]["message"]
    assert client.post("/api/v1/geocode", json={"address": ""}, headers=headers).status_code == 400

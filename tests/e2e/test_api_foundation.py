"""HTTP contract of the foundation: health, OpenAPI, regions, organisations, auth on every endpoint."""
import re

import pytest
from sqlalchemy import func, select

from bcp_service.orgs.models import Organization, Region

HOSPITAL = {"name": "試験総合病院", "kind": "hospital", "region_code": "1301", "address": "東京都千代田区（架空）",
            "lat": 35.69, "lon": 139.75, "phone": "03-0000-0000",
            "capabilities": {"has_generator": True, "accepts_ventilator": True, "ventilator_beds": 4,
                             "power_supply_point": False, "on_call_24h": True}}


@pytest.mark.sqlite_smoke
def test_healthz_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_openapi_is_generated_from_schemas(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "post" in spec["paths"]["/api/v1/regions"]
    assert "Organization" in spec["components"]["schemas"]
    assert "ventilator_beds" in str(spec["components"]["schemas"])


def test_openapi_document_is_valid_openapi_3_and_covers_every_api_path(client, app):
    from openapi_spec_validator import validate

    spec = client.get("/api/v1/openapi.json").get_json()
    validate(spec)
    documented = set(spec["paths"])
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/openapi.json":
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
            assert path in documented, f"{rule.rule} has no api_doc"


def _api_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/openapi.json":
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: "1", rule.rule)
                yield method, path


def test_every_api_endpoint_needs_a_token(client, app):
    rules = list(_api_rules(app))
    assert rules
    for method, path in rules:
        response = client.open(path, method=method, json={})
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.get_json()["error"]["code"] == "unauthorized"
        bad = client.open(path, method=method, json={}, headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401, (method, path)


@pytest.mark.sqlite_smoke
def test_create_and_list_regions(client, make_user, auth_headers, session):
    admin = auth_headers(make_user("admin"))
    body = {"code": "1301", "name": "区中央部", "prefecture_code": "13", "kind": "secondary_medical_area",
            "municipality_codes": ["131016", "131024"]}
    response = client.post("/api/v1/regions", json=body, headers=admin)
    assert response.status_code == 201
    assert response.get_json()["name"] == "区中央部"
    assert "区中央部" in response.get_data(as_text=True)  # Japanese as-is, not \u-escaped
    client.post("/api/v1/regions", json={**body, "code": "2701", "prefecture_code": "27", "name": "大阪市"},
                headers=admin)
    listing = client.get("/api/v1/regions?prefecture_code=13", headers=admin).get_json()
    assert listing["total"] == 1 and listing["items"][0]["code"] == "1301"
    assert client.post("/api/v1/regions", json=body, headers=admin).status_code == 409
    page = client.get("/api/v1/regions?limit=1&offset=1", headers=admin).get_json()
    assert page["total"] == 2 and [r["code"] for r in page["items"]] == ["2701"]


def test_bad_region_is_400_with_fields_and_stores_nothing(client, make_user, auth_headers, session):
    admin = auth_headers(make_user("admin"))
    response = client.post("/api/v1/regions", json={"code": "x", "name": "", "prefecture_code": "99",
                                                     "kind": "galaxy", "municipality_codes": ["12"]}, headers=admin)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert {"name", "prefecture_code", "kind", "municipality_codes"} <= set(error["fields"])
    assert session.scalar(select(func.count()).select_from(Region)) == 0


def test_only_admin_creates_regions(client, make_region, make_user, auth_headers):
    make_region()
    hub = auth_headers(make_user("hub_staff"))
    body = {"code": "1302", "name": "区南部", "prefecture_code": "13", "kind": "secondary_medical_area"}
    assert client.post("/api/v1/regions", json=body, headers=hub).status_code == 403


def test_create_and_filter_organizations(client, make_region, make_user, auth_headers):
    make_region()
    hub = auth_headers(make_user("hub_staff"))
    created = client.post("/api/v1/organizations", json=HOSPITAL, headers=hub)
    assert created.status_code == 201
    org = created.get_json()
    assert org["id"] and org["capabilities"]["ventilator_beds"] == 4 and org["capabilities"]["has_generator"]
    client.post("/api/v1/organizations", json={**HOSPITAL, "name": "試験薬局", "kind": "pharmacy",
                                               "capabilities": {}}, headers=hub)
    hospitals = client.get("/api/v1/organizations?kind=hospital&region_code=1301", headers=hub).get_json()
    assert hospitals["total"] == 1 and hospitals["items"][0]["name"] == "試験総合病院"
    page = client.get("/api/v1/organizations?limit=1&offset=1", headers=hub).get_json()
    assert page["total"] == 2 and len(page["items"]) == 1


@pytest.mark.parametrize("patch, field", [
    ({"kind": "spaceport"}, "kind"), ({"lat": 123}, "lat"), ({"capabilities": {"ventilator_beds": -1}}, "capabilities"),
    ({"region_code": "9999"}, "region_code"), ({"unexpected": 1}, "unexpected"),
])
def test_bad_organization_is_400_and_stores_nothing(client, make_region, make_user, auth_headers, session, patch, field):
    make_region()
    hub = auth_headers(make_user("hub_staff"))
    response = client.post("/api/v1/organizations", json={**HOSPITAL, **patch}, headers=hub)
    assert response.status_code == 400
    assert field in response.get_json()["error"]["fields"]
    assert session.scalar(select(func.count()).select_from(Organization)) == 0


def test_region_scope_on_organizations(client, make_region, make_user, make_org, auth_headers):
    make_region("1301")
    make_region("1302", name="区南部")
    make_region("2701", prefecture_code="27", name="大阪市")
    make_org("1301", name="試験A病院")
    make_org("1302", name="試験B病院")
    make_org("2701", name="試験C病院")
    hub = auth_headers(make_user("hub_staff", scope="1301"))
    field = auth_headers(make_user("field_team", scope="1301"))
    reviewer = auth_headers(make_user("prefecture_reviewer", scope="13"))
    admin = auth_headers(make_user("admin"))

    assert [o["name"] for o in client.get("/api/v1/organizations", headers=hub).get_json()["items"]] == ["試験A病院"]
    assert client.get("/api/v1/organizations?region_code=1302", headers=hub).status_code == 403
    assert client.post("/api/v1/organizations", json={**HOSPITAL, "region_code": "1302"}, headers=hub).status_code == 403
    assert client.post("/api/v1/organizations", json=HOSPITAL, headers=field).status_code == 403
    assert client.post("/api/v1/organizations", json=HOSPITAL, headers=reviewer).status_code == 403
    assert client.get("/api/v1/organizations", headers=reviewer).get_json()["total"] == 2
    assert client.get("/api/v1/organizations?region_code=2701", headers=reviewer).status_code == 403
    assert client.get("/api/v1/organizations", headers=admin).get_json()["total"] == 3
    regions = client.get("/api/v1/regions", headers=reviewer).get_json()
    assert {r["code"] for r in regions["items"]} == {"1301", "1302"}


def test_pagination_arguments_are_validated(client, make_region, make_user, auth_headers):
    make_region()
    hub = auth_headers(make_user("hub_staff"))
    response = client.get("/api/v1/organizations?limit=0", headers=hub)
    assert response.status_code == 400 and "limit" in response.get_json()["error"]["fields"]

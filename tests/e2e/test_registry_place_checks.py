"""Issue 12, problems 1 and 2 on the registry: API, form and import alike, SQLite and PostgreSQL.

A latitude typo (3.5693 for Tokyo) is refused; a postal code fills the municipality; a 5-digit
municipality code is completed; the region follows the municipality when one region covers it; a
municipality far from the coordinates, or none at all, is saved and listed as a data-quality problem.
"""
import io
import re

import pytest
from sqlalchemy import func, select

from bcp_service.registry.models import Patient
from tests.conftest import csrf_from


@pytest.fixture
def world(make_region, make_org, make_user, auth_headers, login):
    make_region("1301")                                                     # 131016, 131024, 131032
    make_region("1302", name="区西部", municipality_codes=("131041",))     # 新宿区
    clinic = make_org("1301", name="試験クリニック", kind="clinic")
    hub = make_user("hub_staff", scope="1301")
    admin = make_user("admin")
    login(hub)
    return {"clinic": clinic, "hub": auth_headers(hub), "admin": auth_headers(admin)}


def body(**over):
    b = {"name": "試験 太郎", "phone": "090-0000-0001", "address": "東京都千代田区（架空）1-1",
         "devices": [{"kind": "ventilator", "mode": "TPPV", "watts": 24, "internal_battery_hours": 8}]}
    b.update(over)
    return b


def count(session):
    return session.scalar(select(func.count()).select_from(Patient))


# --- problem 2: coordinates outside Japan ---------------------------------------------------------

@pytest.mark.parametrize("lat,lon,field", [(3.5693, 139.7536, "lat"), (35.6939, 13.97536, "lon"),
                                            (35.6939, 239.7536, "lon"), (-35.6939, 139.7536, "lat")])
def test_api_refuses_coordinates_outside_japan(client, session, world, lat, lon, field):
    r = client.post("/api/v1/patients", json=body(lat=lat, lon=lon), headers=world["hub"])
    assert r.status_code == 400, r.get_json()
    # Beyond ±90/±180 the field's own range message comes first; inside it, the Japan one.
    message = r.get_json()["error"]["fields"][field][0]
    assert "日本国内の座標ではありません" in message or "経度は-180〜180です" in message
    assert count(session) == 0


def test_swapped_coordinates_are_refused(client, session, world):
    r = client.post("/api/v1/patients", json=body(lat=139.7536, lon=35.6939), headers=world["hub"])
    assert r.status_code == 400 and "lat" in r.get_json()["error"]["fields"]
    assert count(session) == 0


def test_api_patch_refuses_a_latitude_typo(client, session, world):
    pid = client.post("/api/v1/patients", json=body(lat=35.6939, lon=139.7536), headers=world["hub"]).get_json()["id"]
    r = client.patch(f"/api/v1/patients/{pid}", json={"lat": 3.56939, "lon": 139.7536}, headers=world["hub"])
    assert r.status_code == 400 and "lat" in r.get_json()["error"]["fields"]
    assert session.get(Patient, pid).lat == 35.6939


def test_form_refuses_a_latitude_typo(client, session, world):
    token = csrf_from(client.get("/patients/new").get_data(as_text=True))
    r = client.post("/patients/new", data={
        "csrf_token": token, "name": "試験 次郎", "phone": "090-0000-0102", "status": "active",
        "evacuation_plan_status": "none", "lat": "3.5693", "lon": "139.7536",
        "devices-0-kind": "ventilator", "devices-0-internal_battery_hours": "8"})
    assert r.status_code == 400
    assert "日本国内の座標ではありません" in r.get_data(as_text=True)
    assert count(session) == 0


def _upload(client, headers, text: str):
    return client.post("/api/v1/patients/import", headers=headers, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(text.encode("utf-8-sig")), "patients.csv")})


IMPORT_HEAD = "name,phone,postal_code,municipality_code,lat,lon,device_kind,internal_battery_hours\r\n"


def test_import_refuses_a_latitude_typo_with_its_line(client, session, world):
    r = _upload(client, world["hub"], IMPORT_HEAD + "試験 一郎,090-0000-0011,,131016,35.6939,139.7536,ventilator,8\r\n"
                                                    "試験 二郎,090-0000-0012,,131016,3.56939,139.7536,ventilator,8\r\n")
    assert r.status_code == 400, r.get_json()
    rows = {row["row"]: row["fields"] for row in r.get_json()["error"]["rows"]}
    assert set(rows) == {3} and "日本国内の座標ではありません" in rows[3]["lat"][0]
    assert count(session) == 0


# --- problem 1: the municipality filled, completed, its region -------------------------------------

def test_api_fills_municipality_from_postal_code(client, world):
    # Before the fix the API stored municipality_code null here (only the form's button filled it).
    r = client.post("/api/v1/patients", json=body(postal_code="100-0001"), headers=world["hub"])
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["municipality_code"] == "131016"
    assert r.get_json()["data_quality"] == []


def test_api_completes_a_five_digit_code_and_refuses_unknown_ones(client, world):
    r = client.post("/api/v1/patients", json=body(municipality_code="13102"), headers=world["hub"])
    assert r.status_code == 201 and r.get_json()["municipality_code"] == "131024"
    r = client.post("/api/v1/patients", json=body(phone="090-0000-0002", municipality_code="999997"),
                    headers=world["hub"])
    assert r.status_code == 400 and "999997" in r.get_json()["error"]["fields"]["municipality_code"][0]


def test_region_follows_the_municipality_when_one_region_covers_it(client, world):
    r = client.post("/api/v1/patients", json=body(postal_code="160-0022"), headers=world["admin"])   # 新宿区
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["municipality_code"] == "131041" and r.get_json()["region_code"] == "1302"


def test_form_fills_municipality_from_postal_code(client, session, world):
    token = csrf_from(client.get("/patients/new").get_data(as_text=True))
    r = client.post("/patients/new", data={
        "csrf_token": token, "name": "試験 三郎", "phone": "090-0000-0103", "status": "active",
        "evacuation_plan_status": "none", "postal_code": "1000001",
        "devices-0-kind": "ventilator", "devices-0-internal_battery_hours": "8"})
    assert r.status_code == 302, r.get_data(as_text=True)[:1500]
    assert session.scalars(select(Patient.municipality_code)).one() == "131016"


def test_import_fills_municipality_from_postal_code_and_reads_excel_numbers(client, session, world):
    r = _upload(client, world["hub"], IMPORT_HEAD + "試験 一郎,090-0000-0011,1000001,,,,ventilator,8\r\n"
                                                    "試験 二郎,090-0000-0012,,13102,,,ventilator,8\r\n")
    assert r.status_code == 200, r.get_json()
    got = dict(session.execute(select(Patient.name, Patient.municipality_code)).all())
    assert got == {"試験 一郎": "131016", "試験 二郎": "131024"}


# --- data quality: far apart, or no municipality ---------------------------------------------------

def test_far_municipality_is_saved_with_a_warning_and_listed(client, world):
    # 千代田区 with coordinates in 大阪: one of the two is wrong.
    r = client.post("/api/v1/patients", json=body(municipality_code="131016", lat=34.6937, lon=135.5023),
                    headers=world["hub"])
    assert r.status_code == 201, r.get_json()
    dq = r.get_json()["data_quality"]
    assert [q["code"] for q in dq] == ["far_from_municipality"] and "千代田区" in dq[0]["message"]
    pid = r.get_json()["id"]
    detail = client.get(f"/patients/{pid}").get_data(as_text=True)
    assert 'data-quality="far_from_municipality"' in detail
    page = client.get("/patients").get_data(as_text=True)
    section = re.search(r'<section class="card" aria-labelledby="quality-h".*?</section>', page, re.S).group(0)
    assert "試験 太郎" in section and "千代田区" in section


def test_unknown_municipality_is_listed_as_a_data_quality_problem(client, world):
    near = client.post("/api/v1/patients", json=body(lat=35.6939, lon=139.7536), headers=world["hub"])
    fine = client.post("/api/v1/patients", json=body(name="試験 良子", phone="090-0000-0003", postal_code="1000001",
                                                     lat=35.6939, lon=139.7536), headers=world["hub"])
    assert near.status_code == fine.status_code == 201
    assert [q["code"] for q in near.get_json()["data_quality"]] == ["municipality_unknown"]
    page = client.get("/patients").get_data(as_text=True)
    section = re.search(r'<section class="card" aria-labelledby="quality-h".*?</section>', page, re.S).group(0)
    assert "試験 太郎" in section and "市区町村が未登録" in section and "試験 良子" not in section


def test_region_listing_a_designated_city_covers_its_wards(client, make_region, world):
    make_region("2701", prefecture_code="27", name="大阪市", municipality_codes=("271004",))
    r = client.post("/api/v1/patients", json=body(postal_code="530-0001"), headers=world["admin"])   # 大阪市北区
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["municipality_code"] == "271276" and r.get_json()["region_code"] == "2701"

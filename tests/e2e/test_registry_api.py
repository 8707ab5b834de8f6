"""Patients API contract (API.md) over HTTP on SQLite and PostgreSQL."""
import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from bcp_service.auth.models import AuditEvent
from bcp_service.registry.models import Patient

ASTRAL = {"kind": "ventilator", "mode": "TPPV", "model": "Astral 150", "watts": 24, "hours_per_day": 24,
          "internal_battery_hours": 8}


def body(**over):
    b = {"name": "試験 太郎", "name_kana": "しけん たろう", "birth_date": "1950-04-01", "phone": "090-0000-0001",
         "address": "東京都千代田区（架空）1-1", "postal_code": "100-0001", "municipality_code": "131016",
         "lat": 35.68, "lon": 139.76, "consent_to_share": True, "consent_date": "2026-04-01",
         "devices": [ASTRAL], "backups": [{"kind": "external_battery", "hours": 8, "count": 2},
                                          {"kind": "manual_resuscitator"}],
         "contacts": [{"name": "試験 花子", "relation": "妻", "phone": "03-0000-1234"}],
         "transport_needs": "stretcher"}
    b.update(over)
    return b


@pytest.fixture
def world(make_region, make_org, make_user, auth_headers):
    make_region("1301")
    make_region("1302", name="区西部", municipality_codes=("131041",))
    clinic = make_org("1301", name="試験クリニック", kind="clinic")
    nursing = make_org("1301", name="試験訪問看護", kind="home_nursing")
    other_clinic = make_org("1301", name="別のクリニック", kind="clinic")
    far = make_org("1302", name="西部病院", kind="hospital")
    users = {
        "admin": make_user("admin"),
        "hub": make_user("hub_staff", scope="1301"),
        "hub2": make_user("hub_staff", scope="1302"),
        "inst": make_user("institution_staff", scope="1301", organization=clinic),
        "field": make_user("field_team", scope="1301"),
        "pref": make_user("prefecture_reviewer", scope="13"),
    }
    headers = {k: auth_headers(u) for k, u in users.items()}
    return {"clinic": clinic, "nursing": nursing, "other_clinic": other_clinic, "far": far, "h": headers}


@pytest.mark.sqlite_smoke
def test_create_patient_returns_contract_fields(client, world):
    r = client.post("/api/v1/patients", json=body(primary_org_id=world["clinic"].id), headers=world["h"]["hub"])
    assert r.status_code == 201, r.get_json()
    p = r.get_json()
    assert isinstance(p["id"], int)
    assert p["phone_e164"] == "+819000000001" and p["phone_kind"] == "mobile"
    assert p["power"]["runway_hours"] == 24.0 and p["power"]["tier"] == "yellow"
    assert "24時間" in p["power"]["explain"]
    assert p["region_code"] == "1301" and p["postal_code"] == "1000001"
    assert p["contacts"][0]["phone_e164"] == "+81300001234"
    assert p["drill_opt_in"] is False and p["contactable"] is True
    # Japanese as-is, not \u-escaped
    assert "試験 太郎" in r.get_data(as_text=True)


def test_region_defaults_to_primary_org_region(client, world, session):
    r = client.post("/api/v1/patients", json=body(primary_org_id=world["far"].id), headers=world["h"]["admin"])
    assert r.status_code == 201
    assert r.get_json()["region_code"] == "1302"


@pytest.mark.parametrize("over,field", [
    ({"phone": "123"}, "phone"),
    ({"lat": 91.0}, "lat"),
    ({"lon": -181}, "lon"),
    ({"devices": [{"kind": "toaster"}]}, "devices"),
    ({"devices": [dict(ASTRAL, internal_battery_hours=-1)]}, "devices"),
    ({"backups": [{"kind": "generator", "hours": -3}]}, "backups"),
    ({"municipality_code": "131017"}, "municipality_code"),
    ({"birth_date": "2999-01-01"}, "birth_date"),
    ({"primary_org_id": 999999}, "primary_org_id"),
    ({"unknown_field": 1}, "unknown_field"),
    ({"phone_kind": "mobile", "phone": "03-0000-1234"}, "phone_kind"),
    ({"postal_code": "12-34"}, "postal_code"),
    ({"status": "asleep"}, "status"),
])
def test_bad_input_is_400_per_field_and_stores_nothing(client, world, session, over, field):
    r = client.post("/api/v1/patients", json=body(**over), headers=world["h"]["hub"])
    assert r.status_code == 400, r.get_json()
    err = r.get_json()["error"]
    assert err["code"] == "validation_error"
    assert field in err["fields"]
    assert session.scalar(select(func.count()).select_from(Patient)) == 0


def test_get_patch_delete(client, world, session):
    h = world["h"]["hub"]
    pid = client.post("/api/v1/patients", json=body(), headers=h).get_json()["id"]
    assert client.get(f"/api/v1/patients/{pid}", headers=h).get_json()["name"] == "試験 太郎"
    r = client.patch(f"/api/v1/patients/{pid}", headers=h,
                     json={"backups": [{"kind": "power_station", "watt_hours": 1024}], "phone": "03-0000-5678"})
    assert r.status_code == 200, r.get_json()
    p = r.get_json()
    assert p["power"]["runway_hours"] == pytest.approx(8 + 1024 * 0.95 * 0.90 / (24 + 10), abs=0.01)
    assert p["phone_kind"] == "landline" and p["name"] == "試験 太郎"
    assert client.patch(f"/api/v1/patients/{pid}", headers=h, json={"lat": 100}).status_code == 400
    assert client.get(f"/api/v1/patients/{pid}", headers=h).get_json()["phone_e164"] == "+81300005678"
    assert client.delete(f"/api/v1/patients/{pid}", headers=h).status_code == 204
    assert client.get(f"/api/v1/patients/{pid}", headers=h).status_code == 404
    assert client.get("/api/v1/patients", headers=h).get_json()["total"] == 0


def test_a_get_response_can_be_sent_back_as_patch(client, world):
    h = world["h"]["hub"]
    pid = client.post("/api/v1/patients", json=body(), headers=h).get_json()["id"]
    got = client.get(f"/api/v1/patients/{pid}", headers=h).get_json()
    r = client.patch(f"/api/v1/patients/{pid}", json=dict(got, name="試験 太郎（改）"), headers=h)
    assert r.status_code == 200, r.get_json()
    after = r.get_json()
    assert after["name"] == "試験 太郎（改）"
    for key in ("power", "phone_e164", "contacts", "region_code", "consent_date"):
        assert after[key] == got[key], key
    assert [{k: d[k] for k in ("kind", "mode", "watts")} for d in after["devices"]] == \
        [{k: d[k] for k in ("kind", "mode", "watts")} for d in got["devices"]]


@pytest.mark.sqlite_smoke
def test_list_filters_by_tier_and_sorts_by_runway(client, world):
    h = world["h"]["hub"]
    client.post("/api/v1/patients", json=body(name="試験 緑", backups=[{"kind": "generator", "hours": 100}]), headers=h)
    client.post("/api/v1/patients", json=body(name="試験 赤", backups=[],
                                               devices=[dict(ASTRAL, internal_battery_hours=3)]), headers=h)
    client.post("/api/v1/patients", json=body(name="試験 黄"), headers=h)
    all_ = client.get("/api/v1/patients", headers=h).get_json()
    assert all_["total"] == 3
    assert [p["name"] for p in all_["items"]] == ["試験 赤", "試験 黄", "試験 緑"]
    red = client.get("/api/v1/patients?tier=red", headers=h).get_json()
    assert [p["name"] for p in red["items"]] == ["試験 赤"] and red["total"] == 1
    page = client.get("/api/v1/patients?limit=1&offset=1", headers=h).get_json()
    assert page["total"] == 3 and [p["name"] for p in page["items"]] == ["試験 黄"]
    assert client.get("/api/v1/patients?tier=purple", headers=h).status_code == 400


def test_region_scoping(client, world):
    pid = client.post("/api/v1/patients", json=body(), headers=world["h"]["hub"]).get_json()["id"]
    assert client.get(f"/api/v1/patients/{pid}", headers=world["h"]["hub2"]).status_code == 403
    assert client.get("/api/v1/patients", headers=world["h"]["hub2"]).get_json()["total"] == 0
    assert client.get("/api/v1/patients?region_code=1301", headers=world["h"]["hub2"]).status_code == 403
    assert client.patch(f"/api/v1/patients/{pid}", json={"name": "x"}, headers=world["h"]["hub2"]).status_code == 403
    # creating in another region is outside scope
    assert client.post("/api/v1/patients", json=body(region_code="1302"), headers=world["h"]["hub"]).status_code == 403
    assert client.get(f"/api/v1/patients/{pid}", headers=world["h"]["admin"]).status_code == 200


def test_prefecture_reviewer_never_sees_patients(client, world):
    pid = client.post("/api/v1/patients", json=body(), headers=world["h"]["hub"]).get_json()["id"]
    for method, url in (("get", "/api/v1/patients"), ("get", f"/api/v1/patients/{pid}"),
                        ("get", "/api/v1/patients/export.xlsx")):
        assert getattr(client, method)(url, headers=world["h"]["pref"]).status_code == 403
    assert client.post("/api/v1/patients", json=body(), headers=world["h"]["pref"]).status_code == 403


def test_institution_staff_only_their_organisations_patients(client, world):
    h = world["h"]["hub"]
    mine = client.post("/api/v1/patients", json=body(primary_org_id=world["clinic"].id), headers=h).get_json()["id"]
    theirs = client.post("/api/v1/patients", json=body(primary_org_id=world["other_clinic"].id), headers=h).get_json()["id"]
    hi = world["h"]["inst"]
    listed = client.get("/api/v1/patients", headers=hi).get_json()
    assert [p["id"] for p in listed["items"]] == [mine]
    assert client.get(f"/api/v1/patients/{theirs}", headers=hi).status_code == 403
    assert client.patch(f"/api/v1/patients/{mine}", json={"drill_opt_in": True}, headers=hi).status_code == 200
    # unlinking their own organisation would put the patient out of their reach
    r = client.patch(f"/api/v1/patients/{mine}", json={"primary_org_id": world["other_clinic"].id}, headers=hi)
    assert r.status_code == 403
    # a new patient without an organisation becomes theirs
    r = client.post("/api/v1/patients", json=body(), headers=hi)
    assert r.status_code == 201 and r.get_json()["primary_org_id"] == world["clinic"].id


def test_field_team_reads_but_does_not_write(client, world):
    pid = client.post("/api/v1/patients", json=body(), headers=world["h"]["hub"]).get_json()["id"]
    hf = world["h"]["field"]
    assert client.get(f"/api/v1/patients/{pid}", headers=hf).status_code == 200
    assert client.patch(f"/api/v1/patients/{pid}", json={"name": "x"}, headers=hf).status_code == 403
    assert client.post("/api/v1/patients", json=body(), headers=hf).status_code == 403


def test_no_token_is_401(client, world):
    assert client.get("/api/v1/patients").status_code == 401


def test_every_read_and_write_is_audited(client, world, session):
    h = world["h"]["hub"]
    pid = client.post("/api/v1/patients", json=body(), headers=h).get_json()["id"]
    client.get(f"/api/v1/patients/{pid}", headers=h)
    client.patch(f"/api/v1/patients/{pid}", json={"drill_opt_in": True}, headers=h)
    client.get("/api/v1/patients", headers=h)
    events = session.scalars(select(AuditEvent).where(AuditEvent.entity == "patient").order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["create", "read", "update", "list"]
    assert events[1].entity_id == str(pid) and events[1].remote_addr
    assert events[3].detail["ids"] == [pid]
    # audit details carry field names and ids, never values
    assert "試験" not in str([e.detail for e in events])


# --- import / export -----------------------------------------------------------------------------

def test_import_template_is_utf8_with_bom(client, world):
    r = client.get("/api/v1/patients/import-template.csv", headers=world["h"]["hub"])
    assert r.status_code == 200
    raw = r.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    header = raw[3:].decode().strip().split(",")
    for col in ("name", "name_kana", "birth_date", "phone", "address", "postal_code", "municipality_code", "lat",
                "lon", "consent_to_share", "device_kind", "device_mode", "device_watts", "device_hours_per_day",
                "internal_battery_hours", "external_battery_count", "external_battery_hours", "power_station_wh",
                "generator_hours"):
        assert col in header


CSV = ("name,name_kana,phone,device_kind,device_mode,device_watts,internal_battery_hours,"
       "external_battery_count,external_battery_hours,consent_to_share,region_code\r\n"
       "試験 一郎,しけん いちろう,090-0000-0011,ventilator,TPPV,24,8,2,8,1,1301\r\n"
       "試験 二郎,,090-0000-0012,ventilator,NPPV,20,8,,,0,1301\r\n")


def _upload(client, headers, data: bytes, name="patients.csv"):
    return client.post("/api/v1/patients/import", headers=headers,
                       data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def test_import_csv_utf8_and_shift_jis(client, world, session):
    r = _upload(client, world["h"]["hub"], CSV.encode("utf-8-sig"))
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"imported": 2}
    r = _upload(client, world["h"]["hub"], CSV.replace("0011", "0021").replace("0012", "0022").encode("cp932"))
    assert r.status_code == 200, r.get_json()
    names = sorted(session.scalars(select(Patient.name)))
    assert names.count("試験 一郎") == 2
    ichiro = session.scalars(select(Patient).where(Patient.name == "試験 一郎")).first()
    assert ichiro.runway_hours == 24.0


def test_import_is_all_or_nothing_with_line_numbers(client, world, session):
    bad = CSV + "試験 三郎,,not-a-phone,toaster,,,,,,1,1301\r\n" + "試験 四郎,,090-0000-0014,ventilator,,-5,,,,maybe,1301\r\n"
    r = _upload(client, world["h"]["hub"], bad.encode())
    assert r.status_code == 400
    err = r.get_json()["error"]
    rows = {row["row"]: row["fields"] for row in err["rows"]}
    assert set(rows) == {4, 5}
    assert {"phone", "device_kind"} <= set(rows[4])
    assert {"device_watts", "consent_to_share"} <= set(rows[5])
    assert session.scalar(select(func.count()).select_from(Patient)) == 0


def test_import_refuses_duplicates_within_the_file(client, world, session):
    csv = "name,phone,birth_date,region_code\r\n試験 一,090-0000-0071,1950-01-01,1301\r\n" \
          "試験 二,090-0000-0071,1950-01-01,1301\r\n試験  一,090-0000-0071,1950/1/1,1301\r\n"
    r = _upload(client, world["h"]["hub"], csv.encode())
    assert r.status_code == 400
    rows = r.get_json()["error"]["rows"]
    assert rows == [{"row": 4, "fields": {"name": ["2行目と同じ患者です"]}}]
    assert session.scalar(select(func.count()).select_from(Patient)) == 0


def test_import_rows_out_of_scope_or_bad_reference_rejected(client, world, session):
    csv = "name,phone,region_code,primary_org_id\r\n試験 一,090-0000-0031,1302,\r\n試験 二,090-0000-0032,1301,999\r\n"
    r = _upload(client, world["h"]["hub"], csv.encode())
    assert r.status_code == 400
    rows = {row["row"]: row["fields"] for row in r.get_json()["error"]["rows"]}
    assert "region_code" in rows[2] and "primary_org_id" in rows[3]
    assert session.scalar(select(func.count()).select_from(Patient)) == 0


@pytest.mark.parametrize("data,name,needle", [
    ("name,phone\r\n".encode("utf-16"), "a.csv", "CSV"),
    (b"\xff\xfe\xfa\xfb,\x80\x81\r\n", "a.csv", "文字コード"),
    (b"PK\x03\x04garbage", "a.xlsx", "XLSX"),
    ("name,phone,colour\r\n試験,090-0000-0001,red\r\n".encode(), "a.csv", "colour"),
    ("name,address\r\n試験,東京\r\n".encode(), "a.csv", "phone"),
    ("name,phone\r\n".encode(), "a.csv", "データ行"),
    (b"", "a.csv", "空"),
])
def test_malformed_files_rejected_clearly(client, world, session, data, name, needle):
    r = _upload(client, world["h"]["hub"], data, name)
    assert r.status_code == 400
    err = r.get_json()["error"]
    assert needle in err["message"] or needle in str(err.get("fields"))
    assert session.scalar(select(func.count()).select_from(Patient)) == 0


def test_import_xlsx_with_excel_numbers_and_dates(client, world, session):
    from datetime import datetime

    wb = Workbook()
    ws = wb.active
    ws.append(["氏名", "phone", "postal_code", "birth_date", "device_kind", "internal_battery_hours", "region_code"])
    ws.append(["試験 花子", 9000000041, 1000001, datetime(1960, 5, 6), "ventilator", 8, "1301"])
    ws.append([None, None, None, None, None, None, None])
    buf = io.BytesIO()
    wb.save(buf)
    r = _upload(client, world["h"]["hub"], buf.getvalue(), "list.xlsx")
    assert r.status_code == 200, r.get_json()
    p = session.scalars(select(Patient)).one()
    assert (p.phone_e164, p.postal_code, str(p.birth_date)) == ("+819000000041", "1000001", "1960-05-06")


def test_import_xlsx_errors_use_excel_row_numbers(client, world):
    wb = Workbook()
    ws = wb.active
    ws.append(["name", "phone", "lat", "lon", "region_code"])
    ws.append(["試験 一", "090-0000-0051", 35.6, 139.7, "1301"])
    ws.append(["試験 二", "090-0000-0052", 135.6, 139.7, "1301"])
    buf = io.BytesIO()
    wb.save(buf)
    r = _upload(client, world["h"]["hub"], buf.getvalue(), "list.xlsx")
    assert r.status_code == 400
    assert r.get_json()["error"]["rows"] == [{"row": 3, "fields": {"lat": ["緯度は-90〜90です"]}}]


def test_export_xlsx_only_consenting_patients_and_round_trips(client, world, session):
    h = world["h"]["hub"]
    client.post("/api/v1/patients", json=body(name="試験 同意"), headers=h)
    client.post("/api/v1/patients", json=body(name="試験 不同意", consent_to_share=False, phone="090-0000-0002"),
                headers=h)
    r = client.get("/api/v1/patients/export.xlsx", headers=h)
    assert r.status_code == 200
    assert r.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(io.BytesIO(r.get_data())).active
    rows = list(ws.iter_rows(values_only=True))
    names = [row[0] for row in rows[1:]]
    assert names == ["試験 同意"]
    assert client.get("/api/v1/patients/export.xlsx", headers=world["h"]["field"]).status_code == 403
    # re-importing the same list is refused row by row (no doubles) ...
    r2 = _upload(client, h, r.get_data(), "export.xlsx")
    assert r2.status_code == 400
    assert "登録済み" in str(r2.get_json()["error"]["rows"][0]["fields"]["name"])
    # ... and once the patient is removed, the export re-imports as it is
    pid = session.scalar(select(Patient.id).where(Patient.name == "試験 同意"))
    assert client.delete(f"/api/v1/patients/{pid}", headers=h).status_code == 204
    r3 = _upload(client, h, r.get_data(), "export.xlsx")
    assert r3.status_code == 200, r3.get_json()
    again = client.get("/api/v1/patients?q=%E5%90%8C%E6%84%8F", headers=h).get_json()["items"]
    assert [(p["phone_e164"], p["power"]["runway_hours"]) for p in again if p["name"] == "試験 同意"] == [
        ("+819000000001", 24.0)]


# --- helpers: runway preview, postal, geocode ---------------------------------------------------

def test_runway_preview(client, world):
    r = client.post("/api/v1/runway", headers=world["h"]["field"],
                    json={"devices": [ASTRAL], "backups": [{"kind": "power_station", "watt_hours": 1024}]})
    assert r.status_code == 200
    assert r.get_json()["runway_hours"] == pytest.approx(8 + 1024 * 0.95 * 0.90 / (24 + 10), abs=0.01)
    assert client.post("/api/v1/runway", headers=world["h"]["field"],
                       json={"devices": [{"kind": "x"}]}).status_code == 400


def test_postal_lookup_endpoint(client, world):
    r = client.get("/api/v1/postal-codes/1000001", headers=world["h"]["hub"])
    assert r.get_json()["municipality_code"] == "131016"
    assert client.get("/api/v1/postal-codes/9999999", headers=world["h"]["hub"]).status_code == 404
    assert client.get("/api/v1/postal-codes/12", headers=world["h"]["hub"]).status_code == 400


def test_geocode_disabled_by_default_is_explicit(client, world):
    r = client.post("/api/v1/geocode", json={"address": "東京都千代田区"}, headers=world["h"]["hub"])
    assert r.status_code == 422
    assert r.get_json()["error"]["code"] == "geocoding_disabled"


def test_openapi_lists_patient_paths_and_schemas(client, world):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/patients", "/api/v1/patients/{patient_id}", "/api/v1/patients/import",
                 "/api/v1/patients/import-template.csv", "/api/v1/patients/export.xlsx"):
        assert path in spec["paths"], path
    assert {"PatientIn", "PatientOut", "DeviceIn", "BackupIn"} <= set(spec["components"]["schemas"])

"""Issue 13 item 4 over HTTP: a device's ``daily_schedule`` in the preview, the patient API, the
import and the form; a bad schedule is a 400 with Japanese ``fields`` and nothing saved."""
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from bcp_service.registry.models import Patient
from tests.conftest import csrf_from
from tests.e2e.test_registry_api import _upload, body, world  # noqa: F401  (fixture)
from tests.e2e.test_registry_pages import hub  # noqa: F401  (fixture)

NPPV_NIGHT = {"kind": "ventilator", "mode": "NPPV", "watts": 30, "internal_battery_hours": 0,
              "daily_schedule": {"start": "21:00", "end": "07:00"}}


def _japanese(msgs):
    return msgs and any("\u3040" <= ch <= "\u9fff" for ch in msgs[0])


def test_preview_names_the_schedule_assumed(client, world):
    r = client.post("/api/v1/runway", headers=world["h"]["field"],
                    json={"devices": [{**NPPV_NIGHT, "internal_battery_hours": 4}], "backups": []})
    assert r.status_code == 200, r.get_json()
    j = r.get_json()
    assert j["runway_hours"] == 4            # no start time: the worst case (the night begins at the cut)
    assert "使用時間帯21:00〜07:00（1日10時間）" in j["explain"]
    assert "最悪の場合" in j["explain"]


@pytest.mark.sqlite_smoke
def test_patient_with_schedule_is_saved_and_answered(client, world, session):
    r = client.post("/api/v1/patients", headers=world["h"]["hub"],
                    json=body(devices=[{**NPPV_NIGHT, "daily_schedule": {"start": "21:00", "end": "7:00"},
                                        "hours_per_day": 24}]))
    assert r.status_code == 201, r.get_json()
    pid = r.get_json()["id"]
    dev = client.get(f"/api/v1/patients/{pid}", headers=world["h"]["hub"]).get_json()["devices"][0]
    assert dev["daily_schedule"] == {"start": "21:00", "end": "07:00"}
    assert dev["hours_per_day"] == 10        # the schedule replaces hours_per_day
    p = session.get(Patient, pid)
    assert "使用時間帯21:00〜07:00" in p.runway_explain
    # PATCH removes it again: all day.
    r = client.patch(f"/api/v1/patients/{pid}", headers=world["h"]["hub"],
                     json={"devices": [{**NPPV_NIGHT, "daily_schedule": None, "hours_per_day": 24}]})
    assert r.status_code == 200, r.get_json()
    dev = client.get(f"/api/v1/patients/{pid}", headers=world["h"]["hub"]).get_json()["devices"][0]
    assert dev["daily_schedule"] is None and dev["hours_per_day"] == 24


@pytest.mark.sqlite_smoke
@pytest.mark.parametrize("schedule, where", [
    ({"start": "21:00", "end": "21:00"}, "end"),
    ({"start": "25:00", "end": "07:00"}, "start"),
    ({"start": "21:00", "end": "7時"}, "end"),
    ({"start": "21:00"}, None),
    ("21:00-07:00", None),
])
def test_bad_schedule_is_400_with_japanese_fields_and_nothing_saved(client, world, session, schedule, where):
    r = client.post("/api/v1/patients", headers=world["h"]["hub"],
                    json=body(devices=[{**NPPV_NIGHT, "daily_schedule": schedule}]))
    assert r.status_code == 400
    got = r.get_json()["error"]["fields"]["devices"]["0"]["daily_schedule"]
    assert _japanese(got[where] if where else got)
    assert session.scalar(select(func.count()).select_from(Patient)) == 0
    r = client.post("/api/v1/runway", headers=world["h"]["field"],
                    json={"devices": [{**NPPV_NIGHT, "daily_schedule": schedule}], "backups": []})
    assert r.status_code == 400
    got = r.get_json()["error"]["fields"]["devices"]["0"]["daily_schedule"]
    assert _japanese(got[where] if where else got)


CSV = ("name,phone,device_kind,device_mode,internal_battery_hours,device_schedule_start,device_schedule_end,"
       "region_code,consent_to_share\r\n"
       "試験 一郎,090-0000-0031,ventilator,NPPV,2,21:00,07:00,1301,1\r\n"
       "試験 二郎,090-0000-0032,ventilator,TPPV,8,,,1301,1\r\n")


def test_import_columns_and_export_round_trip(client, world, session):
    r = _upload(client, world["h"]["hub"], CSV.encode("utf-8-sig"))
    assert r.status_code == 200, r.get_json()
    ichiro = session.scalars(select(Patient).where(Patient.name == "試験 一郎")).one()
    jiro = session.scalars(select(Patient).where(Patient.name == "試験 二郎")).one()
    assert ichiro.devices[0].daily_schedule == {"start": "21:00", "end": "07:00"}
    assert ichiro.devices[0].hours_per_day == 10
    assert jiro.devices[0].daily_schedule is None and jiro.devices[0].hours_per_day == 24
    exported = client.get("/api/v1/patients/export.xlsx", headers=world["h"]["hub"])
    assert exported.status_code == 200
    rows = list(load_workbook(io.BytesIO(exported.get_data())).active.iter_rows(values_only=True))
    header = rows[0]
    by_name = {r["name"]: r for r in (dict(zip(header, row)) for row in rows[1:])}
    assert "device_schedule_start" in header
    assert (by_name["試験 一郎"]["device_schedule_start"], by_name["試験 一郎"]["device_schedule_end"]) == ("21:00", "07:00")


def test_import_bad_schedule_names_the_column(client, world, session):
    bad = CSV + "試験 三郎,090-0000-0033,ventilator,NPPV,2,21:00,21:00,1301,1\r\n"
    r = _upload(client, world["h"]["hub"], bad.encode())
    assert r.status_code == 400
    rows = {row["row"]: row["fields"] for row in r.get_json()["error"]["rows"]}
    assert set(rows) == {4} and _japanese(rows[4]["device_schedule_end"])
    assert session.scalar(select(func.count()).select_from(Patient)) == 0


def test_form_schedule_fields(client, hub, session):
    token = csrf_from(client.get("/patients/new").get_data(as_text=True))
    data = {"csrf_token": token, "name": "試験 太郎", "phone": "090-0000-0102", "status": "active",
            "evacuation_plan_status": "none", "devices-0-kind": "ventilator", "devices-0-mode": "NPPV",
            "devices-0-schedule_start": "21:00", "devices-0-schedule_end": "21:00"}
    r = client.post("/patients/new", data=data)
    assert r.status_code == 400
    assert 'class="field-error"' in r.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Patient)) == 0
    r = client.post("/patients/new", data={**data, "devices-0-schedule_end": "07:00"})
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    p = session.scalars(select(Patient)).one()
    assert p.devices[0].daily_schedule == {"start": "21:00", "end": "07:00"}
    assert "10.0時間（21:00〜07:00）" in client.get(r.headers["Location"]).get_data(as_text=True)
    assert "（21:00〜07:00）" in client.get(f"/patients/{p.id}/plan").get_data(as_text=True)
    edit = client.get(f"/patients/{p.id}/edit").get_data(as_text=True)
    assert 'name="devices-0-schedule_start" value="21:00"' in edit

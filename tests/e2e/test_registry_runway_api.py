"""Issue 14 over HTTP: every new device/backup field is accepted by the preview and the patient API,
bad figures give 400 with Japanese `fields` and save nothing."""
import pytest
from sqlalchemy import func, select

from bcp_service.registry.models import Patient
from tests.e2e.test_registry_api import ASTRAL, body, world  # noqa: F401  (fixture)

SPARE = {"kind": "ventilator", "mode": "TPPV", "model": "Trilogy", "watts": 30, "internal_battery_hours": 3,
         "role": "spare"}
POC = {"kind": "oxygen_concentrator", "watts": 60, "internal_battery_hours": 2, "flow_lpm": 2}


def _preview(client, world, devices, backups):
    return client.post("/api/v1/runway", headers=world["h"]["field"], json={"devices": devices, "backups": backups})


def test_preview_accepts_every_new_field(client, world):
    r = _preview(client, world, [ASTRAL, SPARE, POC], [
        {"kind": "external_battery", "hours": 8, "count": 2, "device_kind": "ventilator",
         "checked_on": "2026-04-01", "purchased_on": "2025-04-01"},
        {"kind": "external_battery", "hours": 2, "count": 2, "device_kind": "oxygen_concentrator"},
        {"kind": "oxygen_cylinder", "liters": 300, "count": 2, "conserver_ratio": 2},
        {"kind": "power_station", "watt_hours": 512, "dc_output": True},
        {"kind": "generator", "fuel_cans": 2},
        {"kind": "generator", "fuel_liters": 2},
    ])
    assert r.status_code == 200, r.get_json()
    j = r.get_json()
    assert j["runway_hours"] > 6 and j["explain"]
    assert "予備の人工呼吸器" in j["explain"] and "12V直流出力" in j["explain"]


def test_preview_pins_the_spare_case(client, world):
    r = _preview(client, world, [ASTRAL, SPARE], [{"kind": "external_battery", "hours": 8, "count": 2}])
    assert r.get_json()["runway_hours"] == pytest.approx(27)


@pytest.mark.parametrize("devices,backups,where", [
    ([{**POC, "flow_lpm": 0}], [], ("devices", "0", "flow_lpm")),
    ([{**POC, "flow_lpm": 16}], [], ("devices", "0", "flow_lpm")),
    ([POC], [{"kind": "oxygen_cylinder", "liters": 10001}], ("backups", "0", "liters")),
    ([POC, SPARE], [], ("devices", "1", "role")),
    ([ASTRAL], [{"kind": "external_battery", "hours": 8, "checked_on": "2099-01-01"}], ("backups", "0", "checked_on")),
])
def test_bad_input_is_400_with_japanese_fields(client, world, devices, backups, where):
    r = _preview(client, world, devices, backups)
    assert r.status_code == 400
    fields = r.get_json()["error"]["fields"]
    msgs = fields[where[0]][where[1]][where[2]]
    assert msgs and any("\u3040" <= ch <= "\u9fff" for ch in msgs[0])


def test_bad_patient_saves_nothing(client, world, session):
    before = session.scalar(select(func.count()).select_from(Patient))
    r = client.post("/api/v1/patients", headers=world["h"]["hub"],
                    json=body(devices=[POC, SPARE], backups=[]))
    assert r.status_code == 400
    assert "role" in r.get_json()["error"]["fields"]["devices"]["1"]
    r = client.post("/api/v1/patients", headers=world["h"]["hub"],
                    json=body(backups=[{"kind": "external_battery", "hours": 8, "purchased_on": "2099-01-01"}]))
    assert r.status_code == 400
    assert session.scalar(select(func.count()).select_from(Patient)) == before


def test_new_fields_round_trip_and_patch_checks_against_stored_devices(client, world):
    h = world["h"]["hub"]
    r = client.post("/api/v1/patients", headers=h, json=body(
        devices=[ASTRAL, SPARE],
        backups=[{"kind": "external_battery", "hours": 8, "count": 2, "device_kind": "ventilator",
                  "checked_on": "2026-11-01"}]))
    assert r.status_code == 201, r.get_json()
    p = r.get_json()
    # checked 23 days before the test clock's today: 16 h × (1 − 0.1 × 23/365.25) + 8 + 3
    assert p["power"]["runway_hours"] == pytest.approx(11 + 16 * (1 - 0.1 * 23 / 365.25), abs=0.01)
    assert "経年劣化" in p["power"]["explain"]
    assert [d["role"] for d in p["devices"]] == ["primary", "spare"]
    assert p["backups"][0]["device_kind"] == "ventilator" and p["backups"][0]["checked_on"] == "2026-11-01"
    # a backup for a device kind the patient does not have is refused on PATCH too
    r = client.patch(f"/api/v1/patients/{p['id']}", headers=h,
                     json={"backups": [{"kind": "external_battery", "hours": 2, "device_kind": "oxygen_concentrator"}]})
    assert r.status_code == 400
    assert "device_kind" in r.get_json()["error"]["fields"]["backups"]["0"]
    # the GET body sent back unchanged is accepted
    again = client.get(f"/api/v1/patients/{p['id']}", headers=h).get_json()
    echo = {k: again[k] for k in ("devices", "backups")}
    assert client.patch(f"/api/v1/patients/{p['id']}", headers=h, json=echo).status_code == 200

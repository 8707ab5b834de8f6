"""The new power fields through the web form and the import columns, and the cross-field errors."""
from datetime import date

from werkzeug.datastructures import MultiDict

from bcp_service.registry.forms import form_to_payload
from bcp_service.registry.power import power_errors
from bcp_service.registry.schemas import PatientIn
from bcp_service.registry.tabular import COLUMNS, row_to_payload


def test_form_rows_carry_new_fields_and_blank_rows_stay_blank():
    form = MultiDict({
        "name": "試験 太郎", "phone": "090-0000-0001", "status": "active", "evacuation_plan_status": "none",
        "devices-0-kind": "ventilator", "devices-0-internal_battery_hours": "8",
        "devices-1-kind": "ventilator", "devices-1-role": "spare", "devices-1-internal_battery_hours": "3",
        "devices-2-kind": "", "devices-2-role": "",
        "backups-0-kind": "power_station", "backups-0-watt_hours": "1024", "backups-0-dc_output": "1",
        "backups-1-kind": "oxygen_cylinder", "backups-1-liters": "300", "backups-1-checked_on": "2026-04-01",
        "backups-2-kind": "", "backups-2-dc_output": "",
    })
    payload, where = form_to_payload(form, form.getlist)
    data = PatientIn().load(payload)
    assert [d["role"] for d in data["devices"]] == ["primary", "spare"]
    assert data["backups"][0]["dc_output"] is True
    assert data["backups"][1]["liters"] == 300 and data["backups"][1]["checked_on"] == date(2026, 4, 1)
    assert len(data["backups"]) == 2
    assert where["devices.1.role"] == "devices-1-role"


def test_import_columns_map_to_new_fields():
    for col in ("device_flow_lpm", "external_battery_device_kind", "oxygen_cylinder_liters",
                "power_station_dc_output", "generator_fuel_cans", "generator_fuel_liters"):
        assert col in COLUMNS
    payload, where = row_to_payload({
        "name": "試験 花子", "phone": "090-0000-0002", "device_kind": "oxygen_concentrator", "device_flow_lpm": "2",
        "external_battery_hours": "2", "external_battery_count": "2", "external_battery_device_kind": "oxygen_concentrator",
        "oxygen_cylinder_liters": "300", "power_station_wh": "512", "power_station_dc_output": "有",
        "generator_fuel_cans": "2"})
    data = PatientIn().load(payload)
    kinds = {b["kind"]: b for b in data["backups"]}
    assert data["devices"][0]["flow_lpm"] == 2
    assert kinds["external_battery"]["device_kind"] == "oxygen_concentrator"
    assert kinds["oxygen_cylinder"]["liters"] == 300
    assert kinds["power_station"]["dc_output"] is True
    assert kinds["generator"]["fuel_cans"] == 2
    assert where["backups.3.liters"] == "oxygen_cylinder_liters"


def test_power_errors_are_nested_like_marshmallow():
    errors = power_errors([{"kind": "oxygen_concentrator"}, {"kind": "ventilator", "role": "spare"}],
                          [{"kind": "external_battery", "hours": 2, "checked_on": date(2030, 1, 1)}],
                          date(2026, 12, 2))
    assert list(errors["devices"][1]) == ["role"]
    assert errors["backups"][0]["checked_on"] == ["未来の日付は入力できません"]
    assert power_errors([{"kind": "ventilator"}], [], date(2026, 12, 2)) == {}

"""Pure import/export and form helpers."""
import pytest

from bcp_service.registry import runway as rw
from bcp_service.registry.forms import form_to_payload
from bcp_service.registry.schemas import PatientIn
from bcp_service.registry.tabular import (
    COLUMNS, TableError, decode_csv, parse_rows, read_table, row_to_payload, template_csv,
)


def test_template_header_is_the_column_list_with_bom():
    raw = template_csv()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw[3:].decode().strip().split(",") == list(COLUMNS)


def test_decode_prefers_utf8_then_cp932():
    assert decode_csv("試験".encode("utf-8-sig")) == "試験"
    assert decode_csv("試験①".encode("cp932")) == "試験①"
    with pytest.raises(TableError):
        decode_csv(b"\xff\xfe\xfa")


def test_japanese_headers_and_full_width_cells():
    rows = read_table("a.csv", "氏名,電話番号,郵便番号\r\n試験 太郎,０９０－００００－０００１,〒１００－０００１\r\n".encode())
    assert rows[0].line == 2
    assert rows[0].cells == {"name": "試験 太郎", "phone": "090-0000-0001", "postal_code": "〒100-0001"}


def test_line_numbers_count_physical_lines_with_quoted_newlines():
    text = 'name,phone,notes\r\n試験 一,090-0000-0001,"二行の\r\n備考"\r\n試験 二,bad,\r\n'
    good, bad = parse_rows(read_table("a.csv", text.encode()), PatientIn())
    assert [line for line, _ in good] == [2]
    assert bad[0]["row"] == 4


def test_duplicate_header_rejected():
    with pytest.raises(TableError, match="重複"):
        read_table("a.csv", b"name,phone,name\r\nx,090-0000-0001,y\r\n")


def test_row_builds_devices_and_backup_ladder():
    payload, _ = row_to_payload({"name": "x", "phone": "090-0000-0001", "device_kind": "ventilator",
                                 "external_battery_hours": "8", "power_station_wh": "1024",
                                 "vehicle_inverter": "有", "manual_resuscitator": "無", "consent_to_share": "はい"})
    assert payload["devices"] == [{"kind": "ventilator"}]
    assert [b["kind"] for b in payload["backups"]] == ["external_battery", "power_station", "vehicle_inverter"]
    assert payload["consent_to_share"] is True


def test_form_payload_skips_blank_groups_and_maps_errors_back():
    form = {"name": "x", "phone": "bad", "devices-0-kind": "", "devices-1-kind": "ventilator",
            "devices-1-watts": "-5", "backups-2-kind": "generator", "backups-2-hours": "10"}
    payload, where = form_to_payload(form, lambda k: [])
    assert payload["devices"] == [{"kind": "ventilator", "watts": "-5"}]
    assert payload["backups"] == [{"kind": "generator", "hours": "10"}]
    assert where["devices.0.watts"] == "devices-1-watts"
    assert where["backups.0.hours"] == "backups-2-hours"


def test_ladder_orders_backups_and_warns_without_bag():
    lines = rw.ladder([rw.Device("ventilator", internal_battery_hours=8)],
                      [rw.Backup("generator", hours=10), rw.Backup("external_battery", hours=8, count=2),
                       rw.Backup("power_station", watt_hours=1024)])
    assert lines[0].startswith("外部バッテリー（2個")
    assert lines[1].startswith("ポータブル電源（1,024Wh")
    assert lines[2].startswith("発電機")
    assert "内部バッテリー" in lines[3]
    assert "未登録" in lines[-1]

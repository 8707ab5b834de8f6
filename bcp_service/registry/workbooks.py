"""The workbooks the registry writes: the patient export (CSV/XLSX columns of ``tabular``, so an export
can be edited and imported again) and the XLSX import template — Japanese headers, drop-down lists
(openpyxl data validation) for coded columns and a sheet explaining every column."""
from __future__ import annotations

import io
from typing import Any, Iterable

from bcp_service.registry.import_vocab import COLUMNS_JA
from bcp_service.registry.tabular import COLUMNS, EXPORT_ONLY

TEMPLATE_ROWS = 1000        # rows of the data sheet that get the drop-down lists


def patient_row(p) -> list[Any]:
    """One export row for a Patient (model), in COLUMNS order then EXPORT_ONLY."""
    from bcp_service.registry.phones import display_phone

    dev = p.devices[0] if p.devices else None
    ext = [b for b in p.backups if b.kind == "external_battery"]
    station = sum((b.watt_hours or 0) * b.count for b in p.backups if b.kind == "power_station")
    gen = sum((b.hours or 0) * b.count for b in p.backups if b.kind == "generator")
    o2 = [b for b in p.backups if b.kind == "oxygen_cylinder"]
    contact = p.contacts[0] if p.contacts else None
    yn = lambda b: "有" if b else "無"  # noqa: E731
    values = {
        "name": p.name, "name_kana": p.name_kana, "birth_date": p.birth_date, "sex": p.sex,
        "phone": display_phone(p.phone_e164), "address": p.address, "postal_code": p.postal_code,
        "municipality_code": p.municipality_code, "lat": p.lat, "lon": p.lon, "region_code": p.region_code,
        "primary_org_id": p.primary_org_id, "nursing_org_id": p.nursing_org_id,
        "care_manager_org_id": p.care_manager_org_id, "consent_to_share": yn(p.consent_to_share),
        "consent_date": p.consent_date, "drill_opt_in": yn(p.drill_opt_in),
        "designated_facility_id": p.designated_facility_id, "transport_needs": p.transport_needs,
        "power_company_registered": yn(p.power_company_registered),
        "evacuation_plan_status": p.evacuation_plan_status, "status": p.status,
        "device_kind": dev.kind if dev else None, "device_mode": dev.mode if dev else None,
        "device_model": dev.model if dev else None, "device_watts": dev.watts if dev else None,
        "device_hours_per_day": dev.hours_per_day if dev else None,
        "internal_battery_hours": dev.internal_battery_hours if dev else None,
        "external_battery_count": sum(b.count for b in ext) or None,
        "external_battery_hours": ext[0].hours if ext else None,
        "power_station_wh": station or None, "generator_hours": gen or None,
        "vehicle_inverter": yn(any(b.kind == "vehicle_inverter" for b in p.backups)),
        "manual_resuscitator": yn(any(b.kind == "manual_resuscitator" for b in p.backups)),
        "oxygen_cylinder_count": sum(b.count for b in o2) or None,
        "oxygen_cylinder_hours": o2[0].hours if o2 else None,
        "contact_name": contact.name if contact else None,
        "contact_relation": contact.relation if contact else None,
        "contact_phone": display_phone(contact.phone_e164) if contact else None,
        "notes": p.notes,
        "device_flow_lpm": dev.flow_lpm if dev else None,
        "external_battery_device_kind": ext[0].device_kind if ext else None,
        "oxygen_cylinder_liters": o2[0].liters if o2 else None,
        "power_station_dc_output": yn(any(b.kind == "power_station" and b.dc_output for b in p.backups)),
        "generator_fuel_cans": sum(b.fuel_cans or 0 for b in p.backups if b.kind == "generator") or None,
        "generator_fuel_liters": sum(b.fuel_liters or 0 for b in p.backups if b.kind == "generator") or None,
        "device_schedule_start": (dev.daily_schedule or {}).get("start") if dev else None,
        "device_schedule_end": (dev.daily_schedule or {}).get("end") if dev else None,
        "id": p.id, "phone_kind": p.phone_kind, "runway_hours": p.runway_hours,
        "runway_tier": p.runway_tier, "runway_explain": p.runway_explain,
    }
    return [values[c] for c in COLUMNS + EXPORT_ONLY]


def export_xlsx(patients: Iterable) -> bytes:
    from openpyxl import Workbook

    from bcp_service.exports import xlsx_row

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("患者一覧")
    ws.append(list(COLUMNS + EXPORT_ONLY))
    for p in patients:
        ws.append(xlsx_row(ws, patient_row(p)))   # formula-like text stays text
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def template_xlsx() -> bytes:
    """The import template offices fill in: sheet 「患者一覧」 with Japanese headers (row 1) and drop-down
    lists of the allowed values, sheet 「説明」 with every column's meaning, allowed values and an example."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    ws.title = "患者一覧"
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    required = {"name", "phone"}
    for i, col in enumerate(COLUMNS_JA, start=1):
        cell = ws.cell(row=1, column=i, value=col.header)
        cell.font, cell.fill = bold, fill
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = max(10, len(col.header) * 2 + 2)
        cells = f"{letter}2:{letter}{TEMPLATE_ROWS + 1}"
        if col.choices:
            dv = DataValidation(type="list", formula1='"' + ",".join(col.choices) + '"', allow_blank=True,
                                showErrorMessage=True, errorTitle=col.header,
                                error="一覧から選んでください: " + "、".join(col.choices),
                                promptTitle=col.header, prompt=(col.help or "一覧から選んでください")[:255],
                                showInputMessage=True)
            dv.add(cells)
            ws.add_data_validation(dv)
        elif col.key in ("phone", "contact_phone", "postal_code", "municipality_code", "birth_date", "consent_date"):
            for row in range(2, TEMPLATE_ROWS + 2):
                ws.cell(row=row, column=i).number_format = "@"   # text: Excel keeps 090… and 昭和… as typed
    ws.freeze_panes = "B2"

    help_ws = wb.create_sheet("説明")
    help_ws.append(["見出し", "英語の列名（CSV）", "必須", "書き方", "選べる値", "例"])
    for c in help_ws[1]:
        c.font, c.fill = bold, fill
    for col in COLUMNS_JA:
        help_ws.append([col.header, col.key, "必須" if col.key in required else "", col.help,
                        "、".join(col.choices), col.example])
    help_ws.append([])
    help_ws.append(["1行目の見出しは変えないでください。英語の列名（import-template.csv）の見出しでも取り込めます。"])
    help_ws.append(["日付は西暦（2026-04-01）でも和暦（昭和25年4月1日、S25.4.1）でも書けます。"])
    help_ws.append(["取込は全行まとめて行い、誤りが1つでもあればどの行も登録されません。誤りは行番号と列名で表示されます。"])
    for letter, width in zip("ABCDEF", (24, 30, 6, 60, 40, 20)):
        help_ws.column_dimensions[letter].width = width
    for row in help_ws.iter_rows(min_row=2):
        for c in row:
            c.alignment = Alignment(wrap_text=True, vertical="top")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()

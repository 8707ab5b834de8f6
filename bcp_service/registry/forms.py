"""The patient web form ↔ the API payload. Pure: a MultiDict-like mapping in, a dict out.

Repeated groups are named ``devices-0-kind``, ``backups-1-watt_hours``, ``contacts-0-phone``;
blank groups are skipped. Errors from ``PatientIn`` are mapped back to those input names so the
form shows each message beside its field.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

SCALARS = (
    "name", "name_kana", "birth_date", "sex", "phone", "address", "postal_code", "municipality_code", "lat",
    "lon", "region_code", "primary_org_id", "nursing_org_id", "care_manager_org_id", "care_manager_name",
    "consent_date", "designated_facility_id", "transport_needs", "transport_equipment",
    "evacuation_plan_status", "evacuation_plan_updated_on", "status", "notes",
)
CHECKBOXES = ("consent_to_share", "drill_opt_in", "power_company_registered")
GROUPS = {
    "devices": ("kind", "mode", "model", "watts", "hours_per_day", "internal_battery_hours", "life_sustaining",
                "settings", "role", "flow_lpm", "schedule_start", "schedule_end"),
    "backups": ("kind", "hours", "count", "watt_hours", "note", "device_kind", "liters", "conserver_ratio",
                "dc_output", "fuel_cans", "fuel_liters", "checked_on", "purchased_on"),
    "contacts": ("name", "relation", "phone"),
}
_GROUP_KEY = re.compile(r"^(devices|backups|contacts)-(\d{1,2})-(\w+)$")


def form_to_payload(form: Mapping[str, Any], getlist=None) -> tuple[dict, dict[str, str]]:
    """(payload for ``PatientIn``, {error path: input name})."""
    payload: dict[str, Any] = {}
    for key in SCALARS:
        value = (form.get(key) or "").strip()
        payload[key] = value or None
    for key in CHECKBOXES:
        payload[key] = form.get(key) in ("1", "on", "true", "yes")
    payload["consent_scope"] = list(getlist("consent_scope")) if getlist else []
    where: dict[str, str] = {}
    groups: dict[str, dict[int, dict[str, str]]] = {g: {} for g in GROUPS}
    for key in form.keys():
        m = _GROUP_KEY.match(key)
        if m and m[3] in GROUPS[m[1]]:
            value = (form.get(key) or "").strip()
            if value:
                groups[m[1]].setdefault(int(m[2]), {})[m[3]] = value
    for group, rows in groups.items():
        items = []
        for idx in sorted(rows):
            row: dict[str, Any] = dict(rows[idx])
            if group == "devices" and "life_sustaining" in row:
                row["life_sustaining"] = {"1": True, "0": False}.get(row["life_sustaining"])
            if group == "devices" and ("schedule_start" in row or "schedule_end" in row):
                row["daily_schedule"] = {"start": row.pop("schedule_start", None), "end": row.pop("schedule_end", None)}
            if group == "backups" and "dc_output" in row:
                row["dc_output"] = row["dc_output"] in ("1", "on", "true")
            # a group with only a kind chosen from a default select is still "filled in"
            pos = len(items)
            for f in GROUPS[group]:
                where[f"{group}.{pos}.{f}"] = f"{group}-{idx}-{f}"
            where[f"{group}.{pos}._schema"] = f"{group}-{idx}-kind" if group != "contacts" else f"{group}-{idx}-name"
            if group == "devices":
                for part in ("start", "end"):
                    where[f"devices.{pos}.daily_schedule.{part}"] = f"devices-{idx}-schedule_{part}"
                where[f"devices.{pos}.daily_schedule"] = f"devices-{idx}-schedule_start"
            items.append(row)
        payload[group] = items
    return payload, where


def patient_to_form(p) -> dict[str, Any]:
    """Values to pre-fill the edit form from a Patient model."""
    from bcp_service.dates import to_wareki
    from bcp_service.registry.phones import display_phone

    values: dict[str, Any] = {}
    for key in SCALARS:
        if key == "phone":
            values[key] = display_phone(p.phone_e164)
            continue
        if key == "birth_date" and p.birth_date:
            values[key] = to_wareki(p.birth_date)     # as Japanese forms write it; read back by JaDate
            continue
        v = getattr(p, key)
        values[key] = "" if v is None else (v.isoformat() if hasattr(v, "isoformat") else str(v))
    for key in CHECKBOXES:
        values[key] = bool(getattr(p, key))
    values["consent_scope"] = list(p.consent_scope or [])
    for i, d in enumerate(p.devices):
        for f in GROUPS["devices"]:
            if f.startswith("schedule_"):
                v = (d.daily_schedule or {}).get(f.removeprefix("schedule_"))
            else:
                v = getattr(d, f)
            if f == "life_sustaining":
                v = "" if v is None else ("1" if v else "0")
            values[f"devices-{i}-{f}"] = _fmt(v)
    for i, b in enumerate(p.backups):
        for f in GROUPS["backups"]:
            v = getattr(b, f)
            if f == "dc_output":
                v = "1" if v else ""
            values[f"backups-{i}-{f}"] = _fmt(v)
    for i, c in enumerate(p.contacts):
        values[f"contacts-{i}-name"] = c.name
        values[f"contacts-{i}-relation"] = c.relation or ""
        values[f"contacts-{i}-phone"] = display_phone(c.phone_e164)
    return values


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)

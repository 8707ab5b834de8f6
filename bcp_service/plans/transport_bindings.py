"""Auto-fill for the 搬送計画 section: who may need moving, how, and where to (registry data).

`registry.transport_patients` (機関型: the organisation's patients, by name), `registry.transport_counts`
(連携型/地域BCP: counts by transport need and tier, no names) and `registry.designated_facilities`
(the facilities patients are designated to, with power and ventilator beds). The shaping is pure
(`patient_rows`, `count_rows`, `facility_rows`); the providers only choose which patients.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bcp_service.registry.models import TRANSPORT_LABELS, Patient
from bcp_service.registry.runway import DEVICE_LABELS

UNKNOWN_NEED = "未登録"
NEED_ORDER = ("stretcher", "wheelchair", "ambulatory", None)


def _need(p) -> str:
    return TRANSPORT_LABELS.get(p.transport_needs, UNKNOWN_NEED) if p.transport_needs else UNKNOWN_NEED


def _order(p):
    kinds = {d.kind for d in p.devices}
    group = 0 if "ventilator" in kinds else 1 if any(d.is_life_sustaining for d in p.devices) else 2
    return (group, p.runway_hours if p.runway_hours is not None else 0.0, p.id)


def patient_rows(patients: Iterable) -> list[dict]:
    """One row per patient with a device or a transport need: ventilator users first, then by runway."""
    rows = []
    for p in sorted(patients, key=_order):
        if not p.devices and not p.transport_needs:
            continue
        row = {"name": p.name, "devices": "・".join(DEVICE_LABELS.get(d.kind, d.kind) for d in p.devices) or None,
               "tier": p.runway_tier, "transport_needs": _need(p),
               "designated_facility": p.designated_facility.name if p.designated_facility else "未指定"}
        rows.append({k: v for k, v in row.items() if v is not None})
    return rows


def count_rows(patients: Iterable) -> list[dict]:
    """Counts by transport need × tier, no names."""
    counts: dict[str | None, Counter] = {}
    for p in patients:
        need = p.transport_needs if p.transport_needs in TRANSPORT_LABELS else None
        counts.setdefault(need, Counter())[p.runway_tier] += 1
    rows = []
    for need in NEED_ORDER:
        c = counts.get(need)
        if c:
            rows.append({"transport_needs": TRANSPORT_LABELS.get(need, UNKNOWN_NEED), "red": c["red"],
                         "yellow": c["yellow"], "green": c["green"], "total": sum(c.values())})
    return rows


def facility_rows(patients: Iterable) -> list[dict]:
    """The designated facilities, most-designated first, with power and ventilator beds."""
    n: Counter = Counter()
    orgs = {}
    for p in patients:
        if p.designated_facility is not None:
            n[p.designated_facility.id] += 1
            orgs[p.designated_facility.id] = p.designated_facility
    rows = []
    for oid, count in sorted(n.items(), key=lambda kv: (-kv[1], kv[0])):
        o = orgs[oid]
        row = {"name": o.name, "patients": count, "has_generator": "あり" if o.has_generator else "なし",
               "accepts_ventilator": "あり" if o.accepts_ventilator else "なし",
               "ventilator_beds": o.ventilator_beds or 0, "phone": o.phone}
        rows.append({k: v for k, v in row.items() if v is not None})
    return rows


def plan_patients(session: Session, plan) -> list:
    """The patients a plan covers: its organisation's (機関型), its members' (連携型), its region's (地域BCP)."""
    P = Patient
    live = (P.status == "active", P.deleted_at.is_(None))
    if plan.type == "kikan":
        if plan.organization_id is None:
            return []
        cond = or_(P.primary_org_id == plan.organization_id, P.nursing_org_id == plan.organization_id)
    elif plan.type == "renkei":
        ids = list(plan.member_org_ids)
        if not ids:
            return []
        cond = or_(P.primary_org_id.in_(ids), P.nursing_org_id.in_(ids))
    else:
        cond = P.region_code == plan.region_code
    return list(session.scalars(select(P).where(cond, *live).order_by(P.id)).all())

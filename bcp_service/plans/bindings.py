"""Live data for auto-fill bindings (`binding:` in the templates).

Each provider reads the database and returns rows shaped like the bound field. A provider whose
query fails (a table not migrated yet) says "unavailable" instead of failing the plan.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bcp_service.auth.roles import ROLE_LABELS, Role
from bcp_service.orgs.models import ORGANIZATION_KIND_LABELS, Organization
from bcp_service.registry.models import Patient
from bcp_service.registry.runway import BACKUP_LABELS, DEVICE_LABELS
from bcp_service.registry.phones import format_phone

from . import transport_bindings as transport

log = logging.getLogger(__name__)

# Columns a binding writes; the other columns of the table belong to people (e.g. 役割) and are
# carried over from the stored rows by matching `name`.
PRODUCED_COLUMNS: dict[str, tuple[str, ...]] = {
    "registry.priority_patients": ("rank", "name", "devices", "runway_hours", "tier", "backup", "phone"),
    "registry.device_summary": ("device", "patients", "with_backup", "without_backup"),
    "registry.region_tiers": ("municipality", "red", "yellow", "green", "total"),
    "org.staff_contacts": ("name", "role", "phone", "email"),
    "region.facilities": ("name", "kind", "has_generator", "power_supply_point", "accepts_ventilator",
                          "ventilator_beds", "phone"),
    "region.agencies": ("name", "kind"),
    "renkei.members": ("name", "kind", "phone"),
    "registry.transport_patients": ("name", "devices", "tier", "transport_needs", "designated_facility"),
    "registry.transport_counts": ("transport_needs", "red", "yellow", "green", "total"),
    "registry.designated_facilities": ("name", "patients", "has_generator", "accepts_ventilator",
                                       "ventilator_beds", "phone"),
}
PATIENT_BINDINGS = frozenset({"registry.priority_patients", "registry.transport_patients"})

AGENCY_KINDS = ("community_support_center", "municipality", "health_center", "medical_association",
                "fire_department", "power_utility", "device_vendor")
PROVIDER_KINDS = ("hospital", "clinic", "home_nursing", "pharmacy", "care_management", "disability_welfare",
                  "consultation_support")


@dataclass(frozen=True)
class BindingResult:
    available: bool
    rows: list[dict] | None = None
    reason: str = ""


def _yn(flag: bool) -> str:
    return "あり" if flag else "なし"


def _phone(e164: str | None) -> str | None:
    """The one display format (registry.phones.format_phone: 06-0000-0205 stays 06-0000-0205)."""
    return format_phone(e164) or None


def _device_label(kind: str, mode: str | None) -> str:
    label = DEVICE_LABELS.get(kind, kind)
    return f"{label}({mode})" if mode else label


def _backup_label(b) -> str:
    label = BACKUP_LABELS.get(b.kind, b.kind)
    return f"{label}×{b.count}" if (b.count or 1) > 1 else label


def _org_patients(session: Session, plan):
    P = Patient
    return session.scalars(
        select(P).where(or_(P.primary_org_id == plan.organization_id, P.nursing_org_id == plan.organization_id),
                        P.status == "active", P.deleted_at.is_(None))
    ).all()


def priority_patients(session: Session, plan) -> BindingResult:
    if plan.organization_id is None:
        return BindingResult(False, reason="機関が決まっていない計画です。")
    patients = _org_patients(session, plan)

    def order(p):
        kinds = {d.kind for d in p.devices}
        # ventilator users first, then other life-sustaining devices, then by hours left
        group = 0 if "ventilator" in kinds else 1 if any(d.is_life_sustaining for d in p.devices) else 2
        return (group, p.runway_hours if p.runway_hours is not None else 0.0, p.id)

    rows = []
    for rank, p in enumerate(sorted(patients, key=order), start=1):
        rows.append({
            "rank": rank, "name": p.name,
            "devices": "・".join(_device_label(d.kind, d.mode) for d in p.devices) or None,
            "runway_hours": round(float(p.runway_hours), 1), "tier": p.runway_tier,
            "backup": "・".join(_backup_label(b) for b in p.backups) or "なし",
            "phone": _phone(p.phone_e164),
        })
    return BindingResult(True, rows)


def device_summary(session: Session, plan) -> BindingResult:
    if plan.organization_id is None:
        return BindingResult(False, reason="機関が決まっていない計画です。")
    counts: dict[str, list[int]] = {}
    for p in _org_patients(session, plan):
        real_backups = [b for b in p.backups if b.kind != "manual_resuscitator"]
        for label in sorted({_device_label(d.kind, None) for d in p.devices}):
            c = counts.setdefault(label, [0, 0])
            c[0] += 1
            c[1] += 1 if real_backups else 0
    rows = [{"device": k, "patients": n, "with_backup": w, "without_backup": n - w}
            for k, (n, w) in sorted(counts.items(), key=lambda kv: -kv[1][0])]
    return BindingResult(True, rows)


def region_tiers(session: Session, plan) -> BindingResult:
    P = Patient
    found = session.execute(
        select(P.municipality_code, P.runway_tier)
        .where(P.region_code == plan.region_code, P.status == "active", P.deleted_at.is_(None))
    ).all()
    table: dict[str, dict[str, int]] = {}
    for muni, tier in found:
        row = table.setdefault(muni or "不明", {"red": 0, "yellow": 0, "green": 0})
        row[tier] = row.get(tier, 0) + 1
    rows = [{"municipality": m, **c, "total": sum(c.values())} for m, c in sorted(table.items())]
    return BindingResult(True, rows)


def staff_contacts(session: Session, plan) -> BindingResult:
    from bcp_service.auth.models import User

    if plan.organization_id is None:
        return BindingResult(False, reason="機関が決まっていない計画です。")
    users = session.scalars(select(User).where(User.organization_id == plan.organization_id,
                                               User.active.is_(True)).order_by(User.id)).all()
    rows = [{"name": u.display_name or u.email, "role": ROLE_LABELS.get(Role(u.role), u.role),
             "phone": _phone(u.phone_e164), "email": u.email} for u in users]
    return BindingResult(True, [{k: v for k, v in r.items() if v} for r in rows])


def facilities(session: Session, plan) -> BindingResult:
    O = Organization
    orgs = session.scalars(
        select(O).where(O.region_code == plan.region_code,
                        or_(O.kind.in_(("hospital", "shelter")), O.has_generator.is_(True),
                            O.power_supply_point.is_(True), O.accepts_ventilator.is_(True)))
        .order_by(O.accepts_ventilator.desc(), O.has_generator.desc(), O.id)
    ).all()
    rows = [{"name": o.name, "kind": ORGANIZATION_KIND_LABELS.get(o.kind, o.kind), "has_generator": _yn(o.has_generator),
             "power_supply_point": _yn(o.power_supply_point), "accepts_ventilator": _yn(o.accepts_ventilator),
             "ventilator_beds": o.ventilator_beds or 0, "phone": o.phone} for o in orgs]
    return BindingResult(True, [{k: v for k, v in r.items() if v is not None} for r in rows])


def agencies(session: Session, plan) -> BindingResult:
    O = Organization
    orgs = session.scalars(select(O).where(O.region_code == plan.region_code).order_by(O.id)).all()
    rows = [{"name": o.name, "kind": ORGANIZATION_KIND_LABELS[o.kind]} for o in orgs if o.kind in AGENCY_KINDS]
    # providers are many; one row per kind keeps the roles table readable
    for kind in PROVIDER_KINDS:
        n = sum(1 for o in orgs if o.kind == kind)
        if n:
            label = ORGANIZATION_KIND_LABELS[kind]
            rows.append({"name": f"{label}（{n}機関）", "kind": label})
    return BindingResult(True, rows)


def members(session: Session, plan) -> BindingResult:
    rows = [{"name": m.organization.name, "kind": ORGANIZATION_KIND_LABELS.get(m.organization.kind, m.organization.kind),
             "phone": m.organization.phone} for m in plan.members]
    return BindingResult(True, [{k: v for k, v in r.items() if v} for r in rows])


def _transport(shape):
    def provider(session: Session, plan) -> BindingResult:
        if plan.type == "kikan" and plan.organization_id is None:
            return BindingResult(False, reason="機関が決まっていない計画です。")
        return BindingResult(True, shape(transport.plan_patients(session, plan)))
    return provider


PROVIDERS: dict[str, Callable[[Session, Any], BindingResult]] = {
    "registry.transport_patients": _transport(transport.patient_rows),
    "registry.transport_counts": _transport(transport.count_rows),
    "registry.designated_facilities": _transport(transport.facility_rows),
    "registry.priority_patients": priority_patients,
    "registry.device_summary": device_summary,
    "registry.region_tiers": region_tiers,
    "org.staff_contacts": staff_contacts,
    "region.facilities": facilities,
    "region.agencies": agencies,
    "renkei.members": members,
}


def fetch(session: Session, binding: str, plan) -> BindingResult:
    """Rows for `binding`, or unavailable with a reason. A missing table is "unavailable", not a crash."""
    provider = PROVIDERS.get(binding)
    if provider is None:
        return BindingResult(False, reason=f"未対応の自動入力です: {binding}")
    try:
        with session.begin_nested():     # a missing table must not poison the caller's transaction
            return provider(session, plan)
    except SQLAlchemyError as exc:
        log.warning("auto-fill %s unavailable: %s", binding, type(exc).__name__)
        return BindingResult(False, reason="データを読み込めませんでした（台帳が未設定の可能性があります）。")

"""Registry use cases for one patient: create, change, delete, read, and the stored runway. Each takes a
session and does one use case in the caller's transaction (the caller commits). Access rules
(``registry.access``) and audit are enforced here, not only in views or templates. Lists and
searches are in ``registry.queries``, the all-or-nothing import in ``registry.bulk_import``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bcp_service.auth import audit
from bcp_service.auth.roles import Actor, Role
from bcp_service.auth.scope import require_personal_data_role
from bcp_service.errors import Invalid, OutOfScope
from bcp_service.orgs.models import Organization, Region
from bcp_service.registry import runway as rw
from bcp_service.registry.access import load_patient, may_read, may_write, require_writer
from bcp_service.registry.models import Patient, PatientBackup, PatientContact, PatientDevice
from bcp_service.registry.power import core_inputs, power_errors

ORG_FIELDS = ("primary_org_id", "nursing_org_id", "care_manager_org_id", "designated_facility_id")
LIST_FIELDS = ("devices", "backups", "contacts")


@dataclass(frozen=True)
class RunwayPolicy:
    red_hours: float = 6.0
    yellow_hours: float = 24.0
    usable: float = rw.DEFAULT_USABLE
    assumptions: rw.Assumptions = rw.DEFAULT_ASSUMPTIONS

    @classmethod
    def from_config(cls, config) -> "RunwayPolicy":
        a = rw.Assumptions.from_config(config)
        return cls(float(config.get("RUNWAY_RED_HOURS", 6)), float(config.get("RUNWAY_YELLOW_HOURS", 24)), a.usable, a)



# --- runway -------------------------------------------------------------------------------------

def compute_runway(devices: Sequence[rw.Device], backups: Sequence[rw.Backup], policy: RunwayPolicy,
                   today: date | None = None) -> rw.Runway:
    return rw.runway(devices, backups, usable=policy.usable, assumptions=policy.assumptions,
                     thresholds=rw.Thresholds(policy.red_hours, policy.yellow_hours), today=today)


def refresh_runway(p: Patient, policy: RunwayPolicy, today: date | None = None) -> rw.Runway:
    devices, backups = p.runway_inputs()
    r = compute_runway(devices, backups, policy, today)
    p.runway_hours, p.runway_tier, p.runway_explain = r.hours, r.tier, r.explain
    return r


def recompute_all(session: Session, policy: RunwayPolicy, *, batch: int = 1000,
                  today: date | None = None) -> tuple[int, int]:
    """Recompute the stored runway of every patient (after a change of thresholds). Caller commits.
    Returns (patients whose tier changed, patients recomputed)."""
    changed = total = 0
    last = 0
    while True:
        rows = list(session.scalars(select(Patient).where(Patient.id > last).order_by(Patient.id).limit(batch)))
        if not rows:
            return changed, total
        for p in rows:
            before = p.runway_tier
            refresh_runway(p, policy, today)
            changed += p.runway_tier != before
        total += len(rows)
        last = rows[-1].id
        session.flush()




def _check_references(session: Session, actor: Actor, data: dict, *, orgs: dict[int, Organization] | None = None
                      ) -> dict[str, list[str]]:
    """Field errors for organisation and region references (existence only)."""
    errors: dict[str, list[str]] = {}
    for f in ORG_FIELDS:
        oid = data.get(f)
        if oid is None:
            continue
        org = orgs.get(oid) if orgs is not None else session.get(Organization, oid)
        if org is None:
            errors[f] = ["存在しない機関です"]
    return errors


def municipality_regions(session: Session) -> dict[str, list[str]]:
    """municipality code → the regions whose area lists it, a designated city standing for its wards
    (regions are few: one small query)."""
    from bcp_service.geo.municipalities import MunicipalityCodeError, covered_codes

    out: dict[str, list[str]] = {}
    for code, codes in session.execute(select(Region.code, Region.municipality_codes)):
        for c in codes or ():
            try:
                covered = covered_codes([c])
            except MunicipalityCodeError:
                covered = frozenset([c])
            for m in covered:
                out.setdefault(m, []).append(code)
    return out


def _resolve_region(session: Session, actor: Actor, data: dict, current: str | None,
                    orgs: dict[int, Organization] | None = None,
                    muni_regions: dict[str, list[str]] | None = None) -> str | None:
    """Region: as given, else the primary organisation's, else the nursing station's, else the one
    region covering the patient's municipality, else the actor's own region (hub and institution
    staff)."""
    if data.get("region_code"):
        return data["region_code"]
    if current:
        return current
    for f in ("primary_org_id", "nursing_org_id"):
        oid = data.get(f)
        if oid is not None:
            org = orgs.get(oid) if orgs is not None else session.get(Organization, oid)
            if org is not None:
                return org.region_code
    if data.get("municipality_code"):
        covering = (muni_regions if muni_regions is not None else municipality_regions(session)).get(
            data["municipality_code"], [])
        if len(covering) == 1:
            return covering[0]
    return actor.scope if actor.role in (Role.HUB_STAFF, Role.INSTITUTION_STAFF) else None


def _apply(p: Patient, data: dict) -> None:
    for key, value in data.items():
        if key in LIST_FIELDS:
            continue
        setattr(p, key, value)
    if "devices" in data:
        p.devices = [PatientDevice(position=i, **{"hours_per_day": 24.0, "internal_battery_hours": 0.0, **d})
                     for i, d in enumerate(data["devices"])]
    if "backups" in data:
        p.backups = [PatientBackup(position=i, **{"count": 1, **b}) for i, b in enumerate(data["backups"])]
    if "contacts" in data:
        p.contacts = [PatientContact(position=i, **c) for i, c in enumerate(data["contacts"])]


def _check_dates(data: dict, today: date) -> dict[str, list[str]]:
    errors = {}
    for f in ("birth_date", "consent_date", "evacuation_plan_updated_on"):
        if data.get(f) is not None and data[f] > today:
            errors[f] = ["未来の日付は入力できません"]
    return errors


@dataclass(frozen=True)
class _Links:
    """The fields ``may_write`` reads, for a patient not built yet."""
    region_code: str
    primary_org_id: int | None
    nursing_org_id: int | None
    care_manager_org_id: int | None


def prepare_new(session: Session, actor: Actor, data: dict, *, now: datetime, policy: RunwayPolicy,
                orgs: dict[int, Organization] | None = None, regions: set[str] | None = None,
                muni_regions: dict[str, list[str]] | None = None) -> dict:
    """Validate references and scope of a new patient and compute its runway.
    Returns the complete field dict (with ``region_code`` and ``runway_*``); raises Invalid/OutOfScope."""
    from bcp_service.clock import to_local

    data = dict(data)
    if actor.role is Role.INSTITUTION_STAFF and not any(data.get(f) for f in ("primary_org_id", "nursing_org_id",
                                                                                "care_manager_org_id")):
        data["primary_org_id"] = actor.organization_id  # their own patient by default
    errors = _check_references(session, actor, data, orgs=orgs)
    errors.update(_check_dates(data, to_local(now).date()))
    errors.update(power_errors(data.get("devices", []), data.get("backups", []), to_local(now).date()))
    region_code = _resolve_region(session, actor, data, None, orgs, muni_regions)
    if region_code is None:
        errors.setdefault("region_code", ["圏域を指定するか、主治医の機関を指定してください"])
    elif regions is not None:
        if region_code not in regions:
            errors.setdefault("region_code", ["存在しない圏域です"])
    elif session.get(Region, region_code) is None:
        errors.setdefault("region_code", ["存在しない圏域です"])
    if errors:
        raise Invalid("入力内容に誤りがあります (invalid input)", fields=errors)
    data["region_code"] = region_code
    links = _Links(region_code, data.get("primary_org_id"), data.get("nursing_org_id"), data.get("care_manager_org_id"))
    if not may_write(actor, links):
        raise OutOfScope("この内容では担当圏域外の患者になります")
    r = compute_runway(*core_inputs(data.get("devices", []), data.get("backups", [])), policy, to_local(now).date())
    data.update(runway_hours=r.hours, runway_tier=r.tier, runway_explain=r.explain)
    return data


def _build(session: Session, actor: Actor, data: dict, *, now: datetime, policy: RunwayPolicy) -> Patient:
    prepared = prepare_new(session, actor, data, now=now, policy=policy)
    p = Patient(created_at=now, updated_at=now, consent_scope=[], deleted_at=None)
    _apply(p, prepared)
    return p


def create_patient(session: Session, actor: Actor, data: dict, *, now: datetime, policy: RunwayPolicy) -> Patient:
    """``data`` is ``PatientIn().load(...)``. Adds the patient and an audit event; caller commits."""
    require_writer(actor)
    p = _build(session, actor, data, now=now, policy=policy)
    session.add(p)
    session.flush()
    audit.record(session, actor, "create", "patient", p.id, {"fields": sorted(data)})
    return p


def update_patient(session: Session, actor: Actor, patient_id: int, data: dict, *, now: datetime,
                   policy: RunwayPolicy) -> Patient:
    """``data`` is ``PatientIn().load(..., partial=True)``; lists given replace the stored ones."""
    from bcp_service.clock import to_local

    require_writer(actor)
    p = load_patient(session, patient_id)
    if not may_write(actor, p):
        raise OutOfScope("担当圏域外の患者です")
    data = dict(data)
    if "region_code" in data and not data["region_code"]:
        data.pop("region_code")  # blank means "keep", never "no region"
    errors = _check_references(session, actor, data)
    errors.update(_check_dates(data, to_local(now).date()))
    errors.update(power_errors(data.get("devices", p.devices), data.get("backups", p.backups), to_local(now).date()))
    if data.get("region_code") and session.get(Region, data["region_code"]) is None:
        errors["region_code"] = ["存在しない圏域です"]
    if errors:
        raise Invalid("入力内容に誤りがあります (invalid input)", fields=errors)
    _apply(p, data)
    if not may_write(actor, p):
        # e.g. moving the patient to another region, or unlinking one's own organisation
        raise OutOfScope("この変更で患者が担当圏域外になります")
    p.updated_at = now
    refresh_runway(p, policy, to_local(now).date())
    audit.record(session, actor, "update", "patient", p.id, {"fields": sorted(data)})
    return p


def delete_patient(session: Session, actor: Actor, patient_id: int, *, now: datetime) -> None:
    require_writer(actor)
    p = load_patient(session, patient_id)
    if not may_write(actor, p):
        raise OutOfScope("担当圏域外の患者です")
    p.deleted_at = now
    p.updated_at = now
    audit.record(session, actor, "delete", "patient", p.id)


def get_patient(session: Session, actor: Actor, patient_id: int, *, purpose: str = "read") -> Patient:
    require_personal_data_role(actor)
    p = load_patient(session, patient_id)
    if not may_read(actor, p):
        raise OutOfScope("担当圏域外の患者です")
    audit.record(session, actor, purpose, "patient", p.id)
    return p

"""Registry use cases. Each takes a session and does one use case in the caller's transaction
(the caller commits). Access rules and audit are enforced here, not only in views or templates.

Who may do what with a patient:
- admin: everything;
- hub_staff: read and write patients of their region;
- institution_staff: read and write patients of their region whose primary clinic, nursing
  station or care manager is their organisation;
- field_team: read patients of their region;
- prefecture_reviewer: never sees a patient (aggregates only, elsewhere).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Iterable, Sequence

from sqlalchemy import Select, and_, false, func, or_, select, text
from sqlalchemy.orm import Session

from bcp_service.auth import audit
from bcp_service.auth.roles import Actor, Role
from bcp_service.auth.scope import require_personal_data_role
from bcp_service.errors import Invalid, NotFound, OutOfScope
from bcp_service.orgs.models import Organization, Region
from bcp_service.registry import runway as rw
from bcp_service.registry.models import Patient, PatientBackup, PatientContact, PatientDevice

WRITE_ROLES = (Role.ADMIN, Role.HUB_STAFF, Role.INSTITUTION_STAFF)
ORG_FIELDS = ("primary_org_id", "nursing_org_id", "care_manager_org_id", "designated_facility_id")
LIST_FIELDS = ("devices", "backups", "contacts")


@dataclass(frozen=True)
class RunwayPolicy:
    red_hours: float = 6.0
    yellow_hours: float = 24.0
    usable: float = rw.DEFAULT_USABLE

    @classmethod
    def from_config(cls, config) -> "RunwayPolicy":
        return cls(float(config.get("RUNWAY_RED_HOURS", 6)), float(config.get("RUNWAY_YELLOW_HOURS", 24)))


# --- access -------------------------------------------------------------------------------------

def _linked(actor: Actor, p: Patient) -> bool:
    return actor.organization_id is not None and actor.organization_id in (
        p.primary_org_id, p.nursing_org_id, p.care_manager_org_id)


def may_read(actor: Actor, p: Patient) -> bool:
    if actor.role is Role.ADMIN:
        return True
    if actor.role is Role.PREFECTURE_REVIEWER or p.region_code != actor.scope:
        return False
    if actor.role is Role.INSTITUTION_STAFF:
        return _linked(actor, p)
    return actor.role in (Role.HUB_STAFF, Role.FIELD_TEAM)


def may_write(actor: Actor, p: Patient) -> bool:
    if actor.role is Role.ADMIN:
        return True
    if actor.role not in WRITE_ROLES or p.region_code != actor.scope:
        return False
    return actor.role is Role.HUB_STAFF or _linked(actor, p)


def _visibility(actor: Actor):
    """SQL filter equivalent to ``may_read``."""
    if actor.role is Role.ADMIN:
        return None
    if actor.role is Role.PREFECTURE_REVIEWER or not actor.scope:
        return false()
    cond = Patient.region_code == actor.scope
    if actor.role is Role.INSTITUTION_STAFF:
        org = actor.organization_id
        if org is None:
            return false()
        cond = and_(cond, or_(Patient.primary_org_id == org, Patient.nursing_org_id == org,
                              Patient.care_manager_org_id == org))
    return cond


def _require_writer(actor: Actor) -> None:
    require_personal_data_role(actor)
    if actor.role not in WRITE_ROLES:
        raise OutOfScope(f"role {actor.role.value} may read patients but not change them")


def _load(session: Session, patient_id: int) -> Patient:
    p = session.get(Patient, patient_id)
    if p is None or p.deleted_at is not None:
        raise NotFound("patient not found", fields={"id": ["該当する患者が見つかりません"]})
    return p


# --- runway -------------------------------------------------------------------------------------

def compute_runway(devices: Sequence[rw.Device], backups: Sequence[rw.Backup], policy: RunwayPolicy) -> rw.Runway:
    return rw.runway(devices, backups, usable=policy.usable,
                     thresholds=rw.Thresholds(policy.red_hours, policy.yellow_hours))


def refresh_runway(p: Patient, policy: RunwayPolicy) -> rw.Runway:
    devices, backups = p.runway_inputs()
    r = compute_runway(devices, backups, policy)
    p.runway_hours, p.runway_tier, p.runway_explain = r.hours, r.tier, r.explain
    return r


def recompute_all(session: Session, policy: RunwayPolicy, *, batch: int = 1000) -> tuple[int, int]:
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
            refresh_runway(p, policy)
            changed += p.runway_tier != before
        total += len(rows)
        last = rows[-1].id
        session.flush()


# --- write --------------------------------------------------------------------------------------

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


def _prepare(session: Session, actor: Actor, data: dict, *, now: datetime, policy: RunwayPolicy,
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
        raise OutOfScope("this patient would be outside your scope")
    devices = [rw.Device(d["kind"], d.get("mode"), d.get("watts"), d.get("hours_per_day", 24.0),
                         d.get("internal_battery_hours", 0.0), d.get("life_sustaining"))
               for d in data.get("devices", [])]
    backups = [rw.Backup(b["kind"], b.get("hours"), b.get("count", 1), b.get("watt_hours"))
               for b in data.get("backups", [])]
    r = compute_runway(devices, backups, policy)
    data.update(runway_hours=r.hours, runway_tier=r.tier, runway_explain=r.explain)
    return data


def _build(session: Session, actor: Actor, data: dict, *, now: datetime, policy: RunwayPolicy) -> Patient:
    prepared = _prepare(session, actor, data, now=now, policy=policy)
    p = Patient(created_at=now, updated_at=now, consent_scope=[], deleted_at=None)
    _apply(p, prepared)
    return p


def create_patient(session: Session, actor: Actor, data: dict, *, now: datetime, policy: RunwayPolicy) -> Patient:
    """``data`` is ``PatientIn().load(...)``. Adds the patient and an audit event; caller commits."""
    _require_writer(actor)
    p = _build(session, actor, data, now=now, policy=policy)
    session.add(p)
    session.flush()
    audit.record(session, actor, "create", "patient", p.id, {"fields": sorted(data)})
    return p


def update_patient(session: Session, actor: Actor, patient_id: int, data: dict, *, now: datetime,
                   policy: RunwayPolicy) -> Patient:
    """``data`` is ``PatientIn().load(..., partial=True)``; lists given replace the stored ones."""
    from bcp_service.clock import to_local

    _require_writer(actor)
    p = _load(session, patient_id)
    if not may_write(actor, p):
        raise OutOfScope("this patient is outside your scope")
    data = dict(data)
    if "region_code" in data and not data["region_code"]:
        data.pop("region_code")  # blank means "keep", never "no region"
    errors = _check_references(session, actor, data)
    errors.update(_check_dates(data, to_local(now).date()))
    if data.get("region_code") and session.get(Region, data["region_code"]) is None:
        errors["region_code"] = ["存在しない圏域です"]
    if errors:
        raise Invalid("入力内容に誤りがあります (invalid input)", fields=errors)
    _apply(p, data)
    if not may_write(actor, p):
        # e.g. moving the patient to another region, or unlinking one's own organisation
        raise OutOfScope("the change would move this patient outside your scope")
    p.updated_at = now
    refresh_runway(p, policy)
    audit.record(session, actor, "update", "patient", p.id, {"fields": sorted(data)})
    return p


def delete_patient(session: Session, actor: Actor, patient_id: int, *, now: datetime) -> None:
    _require_writer(actor)
    p = _load(session, patient_id)
    if not may_write(actor, p):
        raise OutOfScope("this patient is outside your scope")
    p.deleted_at = now
    p.updated_at = now
    audit.record(session, actor, "delete", "patient", p.id)


# --- read ---------------------------------------------------------------------------------------

def get_patient(session: Session, actor: Actor, patient_id: int, *, purpose: str = "read") -> Patient:
    require_personal_data_role(actor)
    p = _load(session, patient_id)
    if not may_read(actor, p):
        raise OutOfScope("this patient is outside your scope")
    audit.record(session, actor, purpose, "patient", p.id)
    return p


def patients_query(session: Session, actor: Actor, *, region_code: str | None = None, tier: str | None = None,
                   status: str | None = None, municipality_code: str | None = None, org_id: int | None = None,
                   q: str | None = None, consent_to_share: bool | None = None,
                   drill_opt_in: bool | None = None) -> Select:
    """The patients this actor may see, filtered, soonest runway first."""
    require_personal_data_role(actor)
    stmt = select(Patient).where(Patient.deleted_at.is_(None))
    vis = _visibility(actor)
    if vis is not None:
        stmt = stmt.where(vis)
    if region_code:
        if actor.role is not Role.ADMIN and region_code != actor.scope:
            raise OutOfScope("this region is outside your scope")
        stmt = stmt.where(Patient.region_code == region_code)
    if tier:
        stmt = stmt.where(Patient.runway_tier == tier)
    if status:
        stmt = stmt.where(Patient.status == status)
    if municipality_code:
        stmt = stmt.where(Patient.municipality_code == municipality_code)
    if org_id is not None:
        stmt = stmt.where(or_(Patient.primary_org_id == org_id, Patient.nursing_org_id == org_id,
                              Patient.care_manager_org_id == org_id))
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(or_(Patient.name.like(like), Patient.name_kana.like(like), Patient.address.like(like)))
    if consent_to_share is not None:
        stmt = stmt.where(Patient.consent_to_share.is_(consent_to_share))
    if drill_opt_in is not None:
        stmt = stmt.where(Patient.drill_opt_in.is_(drill_opt_in))
    return stmt.order_by(Patient.runway_hours, Patient.id)


def list_patients(session: Session, actor: Actor, filters: dict, *, limit: int, offset: int) -> tuple[list[Patient], int]:
    from sqlalchemy import func

    stmt = patients_query(session, actor, **filters)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    # Page the ids first (an index-only scan on the partial runway indexes, however deep the
    # offset), then load just those rows.
    ids = list(session.scalars(stmt.with_only_columns(Patient.id).limit(limit).offset(offset)))
    by_id = {p.id: p for p in session.scalars(select(Patient).where(Patient.id.in_(ids)))} if ids else {}
    rows = [by_id[i] for i in ids if i in by_id]
    audit.record(session, actor, "list", "patient", None,
                 {"filters": sorted(k for k, v in filters.items() if v is not None), "ids": [p.id for p in rows]})
    return rows, total


def contactable_patients(*, region_codes: Iterable[str] | None = None,
                         municipality_codes: Iterable[str] | None = None, drill: bool = False) -> Select:
    """Patients who may be contacted (active, not deleted; for drills only those who opted in).
    For the outage desk and drills; they add their own area filter and audit their own reads."""
    stmt = select(Patient).where(Patient.deleted_at.is_(None), Patient.status == "active")
    if region_codes is not None:
        stmt = stmt.where(Patient.region_code.in_(list(region_codes)))
    if municipality_codes is not None:
        stmt = stmt.where(Patient.municipality_code.in_(list(municipality_codes)))
    if drill:
        stmt = stmt.where(Patient.drill_opt_in.is_(True))
    return stmt


@dataclass(frozen=True)
class MapPatients:
    patients: list[Patient]        # the most urgent first, at most ``limit``
    located_total: int             # active patients with coordinates (more than shown when capped)
    without_coordinates: int       # active patients the map cannot place


def map_patients(session: Session, actor: Actor, *, limit: int) -> MapPatients:
    """Active patients for the map. A browser draws a few thousand markers at most; past that, the
    most urgent (shortest runway, unknown first) are the ones to see, and the page says so."""
    active = patients_query(session, actor, status="active")
    located = active.where(Patient.lat.is_not(None), Patient.lon.is_not(None))
    patients = list(session.scalars(located.order_by(None).order_by(Patient.runway_hours.asc().nulls_first(),
                                                                    Patient.id).limit(limit)))
    located_total = session.scalar(select(func.count()).select_from(located.order_by(None).subquery()))
    active_total = session.scalar(select(func.count()).select_from(active.order_by(None).subquery()))
    return MapPatients(patients, located_total, active_total - located_total)


def facilities_query(session: Session, actor: Actor, *, region_code: str | None = None) -> Select:
    """Organisations that can receive a ventilated patient or supply power, in the actor's regions."""
    from bcp_service.auth.scope import visible_region_codes

    stmt = select(Organization).where(or_(Organization.accepts_ventilator.is_(True),
                                          Organization.has_generator.is_(True),
                                          Organization.power_supply_point.is_(True)))
    regions = visible_region_codes(session, actor)
    if regions is not None:
        stmt = stmt.where(Organization.region_code.in_(regions))
    if region_code:
        stmt = stmt.where(Organization.region_code == region_code)
    return stmt.order_by(Organization.name)


# --- bulk ---------------------------------------------------------------------------------------

def import_patients(session: Session, actor: Actor, rows: Sequence[tuple[int, dict]], *, now: datetime,
                    policy: RunwayPolicy) -> int:
    """All rows or none. ``rows`` are (line number, ``PatientIn`` payload) pairs, already
    schema-validated; references and scope are checked here. Raises Invalid with
    ``extra={"rows": [...]}`` listing every bad row."""
    _require_writer(actor)
    org_ids = {d.get(f) for _, d in rows for f in ORG_FIELDS if d.get(f) is not None}
    orgs = {o.id: o for o in session.scalars(select(Organization).where(Organization.id.in_(org_ids)))} if org_ids else {}
    regions = set(session.scalars(select(Region.code)))
    muni_regions = municipality_regions(session)
    existing = _existing_keys(session, {d.get("phone_e164") for _, d in rows if d.get("phone_e164")})
    seen: dict[tuple, int] = {}
    prepared: list[dict] = []
    errors: list[dict] = []
    for line, data in rows:
        fields: dict[str, list[str]] = {}
        try:
            prepared.append(_prepare(session, actor, data, now=now, policy=policy, orgs=orgs, regions=regions,
                                     muni_regions=muni_regions))
        except Invalid as e:
            fields.update(e.fields)
        except OutOfScope:
            fields["region_code"] = ["権限の範囲外の患者です"]
        # Offices re-import the same Excel list: the same person twice is refused, not doubled.
        key = _person_key(data)
        if key in existing:
            fields.setdefault("name", []).append(f"同じ氏名・電話番号・生年月日の患者が登録済みです（台帳番号 {existing[key]}）")
        elif key in seen:
            fields.setdefault("name", []).append(f"{seen[key]}行目と同じ患者です")
        else:
            seen[key] = line
        if fields:
            errors.append({"row": line, "fields": fields})
    if errors:
        raise Invalid(f"{len(errors)}行に誤りがあります。1件も登録していません", extra={"rows": errors})
    if prepared:
        _bulk_insert(session, actor, prepared, now=now)
    return len(prepared)


def _person_key(data: dict) -> tuple:
    return (" ".join((data.get("name") or "").split()), data.get("phone_e164"), data.get("birth_date"))


def _existing_keys(session: Session, phones: set[str]) -> dict[tuple, int]:
    """(name, phone, birth date) → id of registered (not deleted) patients with these phones."""
    found: dict[tuple, int] = {}
    phones_ = sorted(phones)
    for i in range(0, len(phones_), 5000):  # stay under SQLite's bound-parameter limit
        stmt = select(Patient.id, Patient.name, Patient.phone_e164, Patient.birth_date).where(
            Patient.deleted_at.is_(None), Patient.phone_e164.in_(phones_[i:i + 5000]))
        for pid, name, phone, birth in session.execute(stmt):
            found[_person_key({"name": name, "phone_e164": phone, "birth_date": birth})] = pid
    return found


def _bulk_insert(session: Session, actor: Actor, prepared: list[dict], *, now: datetime) -> None:
    """Core inserts for thousands of rows in the caller's transaction: patients with RETURNING ids
    (in parameter order), then devices, backups, contacts and one audit event per patient through
    the driver's executemany. ORM unit-of-work flushes were ~3× slower on PostgreSQL."""
    from sqlalchemy import insert

    from bcp_service.auth.models import AuditEvent

    pt = Patient.__table__
    columns = [c.name for c in pt.columns if c.name != "id"]
    defaults = {"consent_to_share": False, "consent_scope": [], "drill_opt_in": False,
                "power_company_registered": False, "evacuation_plan_status": "none", "status": "active",
                "created_at": now, "updated_at": now, "deleted_at": None}
    patient_rows = [{c: d[c] if d.get(c) is not None else defaults.get(c) for c in columns} for d in prepared]
    if session.get_bind().dialect.name == "postgresql":
        # Reserve the ids from the sequence, then let psycopg pipeline a plain executemany:
        # multi-row INSERT … RETURNING statements cost more client CPU than the whole rest.
        ids = list(session.scalars(text("SELECT nextval(pg_get_serial_sequence('patients', 'id')) "
                                        "FROM generate_series(1, :n)"), {"n": len(patient_rows)}))
        for row, pid in zip(patient_rows, ids):
            row["id"] = pid
        session.execute(insert(pt), patient_rows)
    else:
        ids = session.execute(insert(pt).returning(pt.c.id, sort_by_parameter_order=True),
                              patient_rows).scalars().all()
    devices, backups, contacts = [], [], []
    for pid, d in zip(ids, prepared):
        for i, x in enumerate(d.get("devices", [])):
            devices.append({"patient_id": pid, "position": i, "kind": x["kind"], "mode": x.get("mode"),
                            "model": x.get("model"), "watts": x.get("watts"),
                            "hours_per_day": x.get("hours_per_day", 24.0),
                            "internal_battery_hours": x.get("internal_battery_hours", 0.0),
                            "life_sustaining": x.get("life_sustaining"), "settings": x.get("settings")})
        for i, x in enumerate(d.get("backups", [])):
            backups.append({"patient_id": pid, "position": i, "kind": x["kind"], "hours": x.get("hours"),
                            "count": x.get("count", 1), "watt_hours": x.get("watt_hours"), "note": x.get("note")})
        for i, x in enumerate(d.get("contacts", [])):
            contacts.append({"patient_id": pid, "position": i, "name": x["name"], "relation": x.get("relation"),
                             "phone_e164": x.get("phone_e164"), "phone_kind": x.get("phone_kind")})
    for model, rows_ in ((PatientDevice, devices), (PatientBackup, backups), (PatientContact, contacts)):
        if rows_:
            session.execute(insert(model.__table__), rows_)
    # Same fields as auth.audit.record, one event per patient created.
    from flask import has_request_context, request

    addr = request.remote_addr if has_request_context() else None
    session.execute(insert(AuditEvent.__table__), [
        {"at": now, "user_id": actor.user_id, "role": actor.role.value, "action": "create", "entity": "patient",
         "entity_id": str(pid), "remote_addr": addr, "detail": {"via": "import"}} for pid in ids])


def export_patients(session: Session, actor: Actor, filters: dict) -> list[Patient]:
    """Patients this actor may see whose consent allows sharing. Field teams may not export."""
    _require_writer(actor)
    filters = dict(filters, consent_to_share=True)
    rows = list(session.scalars(patients_query(session, actor, **filters)))
    audit.record(session, actor, "export", "patient", None, {"ids": [p.id for p in rows]})
    return rows

"""Registry reads over many patients: the filtered list, the map, export, facilities, and the
contactable patients the outage desk and drills start from."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from bcp_service.auth import audit
from bcp_service.auth.roles import Actor, Role
from bcp_service.auth.scope import require_personal_data_role
from bcp_service.errors import OutOfScope
from bcp_service.orgs.models import Organization
from bcp_service.registry.access import require_writer, visibility
from bcp_service.registry.models import Patient


def patients_query(session: Session, actor: Actor, *, region_code: str | None = None, tier: str | None = None,
                   status: str | None = None, municipality_code: str | None = None, org_id: int | None = None,
                   q: str | None = None, consent_to_share: bool | None = None,
                   drill_opt_in: bool | None = None) -> Select:
    """The patients this actor may see, filtered, soonest runway first."""
    require_personal_data_role(actor)
    stmt = select(Patient).where(Patient.deleted_at.is_(None))
    vis = visibility(actor)
    if vis is not None:
        stmt = stmt.where(vis)
    if region_code:
        if actor.role is not Role.ADMIN and region_code != actor.scope:
            raise OutOfScope("担当圏域外です")
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
                                          Organization.power_supply_point.is_(True),
                                          Organization.pediatric_ventilation.is_(True),
                                          Organization.medical_care_children.is_(True)))
    regions = visible_region_codes(session, actor)
    if regions is not None:
        stmt = stmt.where(Organization.region_code.in_(regions))
    if region_code:
        stmt = stmt.where(Organization.region_code == region_code)
    return stmt.order_by(Organization.name)



def export_patients(session: Session, actor: Actor, filters: dict) -> list[Patient]:
    """Patients this actor may see whose consent allows sharing. Field teams may not export."""
    require_writer(actor)
    filters = dict(filters, consent_to_share=True)
    rows = list(session.scalars(patients_query(session, actor, **filters)))
    audit.record(session, actor, "export", "patient", None, {"ids": [p.id for p in rows]})
    return rows


def contacts_for(session: Session, patient_ids: Iterable[int]) -> dict[int, list[dict]]:
    """Family / emergency contacts of these patients (callers have already checked scope), in their
    order: {patient id: [{"name", "relation", "phone_e164"}]} — for the run-sheet and task pages."""
    from bcp_service.registry.models import PatientContact

    ids = list(patient_ids)
    out: dict[int, list[dict]] = {}
    if not ids:
        return out
    stmt = (select(PatientContact).where(PatientContact.patient_id.in_(ids))
            .order_by(PatientContact.patient_id, PatientContact.position, PatientContact.id))
    for c in session.scalars(stmt):
        out.setdefault(c.patient_id, []).append({"name": c.name, "relation": c.relation, "phone_e164": c.phone_e164})
    return out

"""Who may do what with a patient (the registry's access rules, used by its services).

- admin: everything;
- hub_staff: read and write patients of their region;
- institution_staff: read and write patients of their region whose primary clinic, nursing
  station or care manager is their organisation;
- field_team: read patients of their region;
- prefecture_reviewer: never sees a patient (aggregates only, elsewhere).
"""
from __future__ import annotations

from sqlalchemy import and_, false, or_
from sqlalchemy.orm import Session

from bcp_service.auth.roles import Actor, Role
from bcp_service.auth.scope import require_personal_data_role
from bcp_service.errors import NotFound, OutOfScope
from bcp_service.registry.models import Patient

WRITE_ROLES = (Role.ADMIN, Role.HUB_STAFF, Role.INSTITUTION_STAFF)


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


def visibility(actor: Actor):
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


def require_writer(actor: Actor) -> None:
    require_personal_data_role(actor)
    if actor.role not in WRITE_ROLES:
        raise OutOfScope(f"{actor.role.label}の役割では患者を閲覧できますが、変更はできません")


def load_patient(session: Session, patient_id: int) -> Patient:
    p = session.get(Patient, patient_id)
    if p is None or p.deleted_at is not None:
        raise NotFound("患者が見つかりません", fields={"id": ["該当する患者が見つかりません"]})
    return p



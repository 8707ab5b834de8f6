from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bcp_service.auth import Actor, Role
from bcp_service.auth import audit
from bcp_service.auth.scope import check_region, require_role, visible_region_codes
from bcp_service.errors import Conflict, Invalid
from bcp_service.orgs.models import CAPABILITIES, Organization, Region


def _at(now: datetime | None) -> datetime:
    if now is not None:
        return now
    from bcp_service.appclock import get_clock

    return get_clock().now()


def create_region(session: Session, actor: Actor, data: dict, *, now: datetime | None = None) -> Region:
    require_role(actor, Role.ADMIN)
    now = _at(now)
    if session.get(Region, data["code"]) is not None:
        raise Conflict(f"region {data['code']} exists", fields={"code": ["既に登録されています"]})
    region = Region(**data, created_at=now)
    session.add(region)
    audit.record(session, actor, "create", "region", data["code"], now=now)
    return region


def list_regions_stmt(session: Session, actor: Actor, *, prefecture_code: str | None = None):
    stmt = select(Region).order_by(Region.code)
    visible = visible_region_codes(session, actor)
    if visible is not None:
        stmt = stmt.where(Region.code.in_(visible))
    if prefecture_code:
        stmt = stmt.where(Region.prefecture_code == prefecture_code)
    return stmt


def create_organization(session: Session, actor: Actor, data: dict, *, now: datetime | None = None) -> Organization:
    require_role(actor, Role.ADMIN, Role.HUB_STAFF)
    now = _at(now)
    region = session.get(Region, data["region_code"])
    if region is None:
        raise Invalid("unknown region", fields={"region_code": ["存在しない圏域です"]})
    check_region(session, actor, region.code)
    capabilities = data.pop("capabilities", {}) or {}
    org = Organization(**data, **{k: capabilities.get(k, 0 if k == "ventilator_beds" else False)
                                  for k in CAPABILITIES},
                       created_at=now)
    session.add(org)
    session.flush()
    audit.record(session, actor, "create", "organization", org.id, now=now)
    return org


def list_organizations_stmt(session: Session, actor: Actor, *, kind: str | None = None,
                            region_code: str | None = None, capability: str | None = None):
    stmt = select(Organization).order_by(Organization.id)
    if region_code:
        check_region(session, actor, region_code)
        stmt = stmt.where(Organization.region_code == region_code)
    else:
        visible = visible_region_codes(session, actor)
        if visible is not None:
            stmt = stmt.where(Organization.region_code.in_(visible))
    if kind:
        stmt = stmt.where(Organization.kind == kind)
    if capability:
        stmt = stmt.where(getattr(Organization, capability).is_(True))   # validated against orgs.capabilities.NEEDS
    return stmt


def update_organization(session: Session, actor: Actor, org_id: int, data: dict, *,
                        now: datetime | None = None) -> Organization:
    """Set ``home_care_support`` and/or capabilities (partial) of an organisation in the actor's region."""
    from bcp_service.errors import NotFound
    from bcp_service.orgs.schemas import CapabilitiesSchema

    require_role(actor, Role.ADMIN, Role.HUB_STAFF)
    org = session.get(Organization, org_id)
    if org is None:
        raise NotFound(f"機関 {org_id} が見つかりません")
    check_region(session, actor, org.region_code)
    caps = data.get("capabilities") or {}
    errors = CapabilitiesSchema(partial=True).validate(caps)
    if errors:
        raise Invalid("受入能力の値が正しくありません", fields={"capabilities": errors})
    for k, v in CapabilitiesSchema(partial=True).load(caps).items():
        if k in caps:
            setattr(org, k, v)
    if "home_care_support" in data:
        org.home_care_support = data["home_care_support"]
    audit.record(session, actor, "update", "organization", org.id, {"fields": sorted(set(data) | set(caps))},
                 now=_at(now))
    return org

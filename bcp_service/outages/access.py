"""Who may act on which outage: roles and region scope, checked by the outage services themselves.

The desk (admin, 拠点 staff) declares, changes and resolves; the teams in the field (and the desk)
act on tasks and transports. Everyone but an admin acts only in their own 圏域. Work nobody asked
for in person — the clock's rounds, an answer arriving through messaging — runs as ``SYSTEM``; a
signed task link acts as the field team of the outage's region (``link_actor``).
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bcp_service.auth.roles import Actor, Role
from bcp_service.auth.scope import check_region, require_role
from bcp_service.errors import NotFound, OutOfScope
from bcp_service.outages.models import Outage

DESK = (Role.ADMIN, Role.HUB_STAFF)
TEAM = (Role.ADMIN, Role.HUB_STAFF, Role.FIELD_TEAM)
SYSTEM = Actor(user_id=None, role=Role.ADMIN, scope=None)


def link_actor(outage: Outage, organization_id: int | None = None) -> Actor:
    """Whoever holds a signed task link acts as the team the task was sent to (``organization_id``),
    in that outage's region."""
    if outage.region_code is None:
        return SYSTEM
    return Actor(user_id=None, role=Role.FIELD_TEAM, scope=outage.region_code, organization_id=organization_id)


def check_task_team(actor: Actor, task_organization_id: int | None) -> None:
    """A field user sees and acts on tasks of their own organisation only (the desk: every task)."""
    if actor.role is not Role.FIELD_TEAM:
        return
    if actor.organization_id is None or actor.organization_id != task_organization_id:
        raise OutOfScope("この依頼は貴機関の担当ではありません。")


def check_transport_team(session: Session, actor: Actor, transport_id: int) -> None:
    """A field user changes a transport only while their organisation holds its live task."""
    if actor.role is not Role.FIELD_TEAM:
        return
    from bcp_service.outages.models import FieldTask

    owner = session.scalar(select(FieldTask.id).where(
        FieldTask.transport_id == transport_id, FieldTask.organization_id == actor.organization_id,
        FieldTask.organization_id.is_not(None),
        FieldTask.status.in_(("open", "acknowledged", "done"))).limit(1))
    if owner is None:
        raise OutOfScope("この搬送は貴機関の担当ではありません。")


def get_outage(session: Session, outage_id: int, *, for_update: bool = False) -> Outage:
    """The outage, without any scope check: for work already authorised (the clock, a checked caller)."""
    stmt = select(Outage).where(Outage.id == outage_id)
    if for_update:
        stmt = stmt.with_for_update()
    outage = session.scalars(stmt).first()
    if outage is None:
        raise NotFound(f"outage {outage_id} not found")
    return outage


def check_scope(session: Session, actor: Actor, outage: Outage) -> None:
    """An outage is seen by its region's staff (and admins)."""
    if actor.is_admin:
        return
    if outage.region_code is None:
        raise OutOfScope("this outage is outside your scope")
    check_region(session, actor, outage.region_code)


def outage_for(session: Session, actor: Actor, outage_id: int, *, roles=DESK, for_update: bool = False) -> Outage:
    """The outage if ``actor`` has one of ``roles`` and may act in its region; 403/404 otherwise."""
    require_role(actor, *roles)
    outage = get_outage(session, outage_id, for_update=for_update)
    check_scope(session, actor, outage)
    return outage


def declaring_region(session: Session, actor: Actor, region_code: str | None) -> str | None:
    """The region an outage is declared in: the actor's own unless an admin names one."""
    require_role(actor, *DESK)
    if not actor.is_admin:
        region_code = region_code or actor.scope
        if region_code != actor.scope:
            raise OutOfScope("this region is outside your scope")
    if region_code is not None:
        check_region(session, actor, region_code)
    return region_code


def check_facility(actor: Actor, facility_region: str | None) -> None:
    """A bed is reserved by name only at a facility of the actor's own region (admins: anywhere)."""
    if actor.is_admin:
        return
    if facility_region is None or facility_region != actor.scope:
        raise OutOfScope("this facility is outside your scope", fields={"facility_id": ["担当圏域外の施設です"]})

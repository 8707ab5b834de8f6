"""Who sees which drill: roles and region scope, enforced here for every drill use case."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bcp_service.auth import Actor, Role
from bcp_service.auth.scope import check_region, require_role, visible_region_codes
from bcp_service.drills.models import Drill
from bcp_service.errors import NotFound, OutOfScope


WRITE_ROLES = (Role.ADMIN, Role.HUB_STAFF)


READ_ROLES = (Role.ADMIN, Role.HUB_STAFF, Role.INSTITUTION_STAFF, Role.FIELD_TEAM)


def get_drill(session: Session, actor: Actor, drill_id: int, *, write: bool = False) -> Drill:
    require_role(actor, *(WRITE_ROLES if write else READ_ROLES))
    drill = session.get(Drill, drill_id)
    if drill is None:
        raise NotFound(f"drill {drill_id} not found")
    try:
        check_region(session, actor, drill.region_code)
    except OutOfScope:
        # Outside the actor's region a drill does not exist as far as they can tell.
        raise NotFound(f"drill {drill_id} not found") from None
    return drill


def list_drills_stmt(session: Session, actor: Actor, *, region_code: str | None = None,
                     status: str | None = None, start: datetime | None = None, end: datetime | None = None):
    require_role(actor, *READ_ROLES)
    stmt = select(Drill).options(selectinload(Drill.participants)).order_by(Drill.scheduled_at, Drill.id)
    if region_code:
        check_region(session, actor, region_code)
        stmt = stmt.where(Drill.region_code == region_code)
    else:
        visible = visible_region_codes(session, actor)
        if visible is not None:
            stmt = stmt.where(Drill.region_code.in_(visible))
    if status:
        stmt = stmt.where(Drill.status == status)
    if start:
        stmt = stmt.where(Drill.scheduled_at >= start)
    if end:
        stmt = stmt.where(Drill.scheduled_at < end)
    return stmt

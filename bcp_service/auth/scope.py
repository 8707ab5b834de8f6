"""Region scope enforced in the service layer (not only in templates)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bcp_service.auth.roles import PERSONAL_DATA_ROLES, Actor, Role, may_see_region
from bcp_service.errors import NotFound, OutOfScope
from bcp_service.orgs.models import Region


def check_region(session: Session, actor: Actor, region_code: str) -> Region:
    """The region, if the actor may act in it; NotFound / OutOfScope otherwise."""
    region = session.get(Region, region_code)
    if region is None:
        # Do not reveal to an outsider which region codes exist.
        if actor.is_admin:
            raise NotFound(f"圏域 {region_code} は存在しません", fields={"region_code": ["存在しない圏域です"]})
        raise OutOfScope("担当圏域外です")
    if not may_see_region(actor, region.code, region.prefecture_code):
        raise OutOfScope("担当圏域外です")
    return region


def visible_region_codes(session: Session, actor: Actor) -> set[str] | None:
    """None means every region (admin); otherwise the codes this actor may see."""
    if actor.is_admin:
        return None
    if actor.role is Role.PREFECTURE_REVIEWER:
        return set(session.scalars(select(Region.code).where(Region.prefecture_code == actor.scope)))
    return {actor.scope} if actor.scope else set()


def require_personal_data_role(actor: Actor) -> None:
    if actor.role not in PERSONAL_DATA_ROLES:
        raise OutOfScope("この役割では集計のみ閲覧でき、個人情報は閲覧できません")


def require_role(actor: Actor, *roles: Role) -> None:
    if actor.role not in roles:
        raise OutOfScope(f"{actor.role.label}の役割ではこの操作はできません")

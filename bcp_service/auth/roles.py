"""Roles, the acting user, and the pure rules of region scope."""
from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(str, enum.Enum):
    ADMIN = "admin"
    HUB_STAFF = "hub_staff"                 # 拠点
    INSTITUTION_STAFF = "institution_staff"
    FIELD_TEAM = "field_team"
    PREFECTURE_REVIEWER = "prefecture_reviewer"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.ADMIN: "管理者",
    Role.HUB_STAFF: "拠点職員",
    Role.INSTITUTION_STAFF: "医療機関職員",
    Role.FIELD_TEAM: "現場チーム",
    Role.PREFECTURE_REVIEWER: "都道府県担当",
}

# Roles that may ever see a patient's identity. Prefecture reviewers see aggregates only.
PERSONAL_DATA_ROLES = frozenset({Role.ADMIN, Role.HUB_STAFF, Role.INSTITUTION_STAFF, Role.FIELD_TEAM})


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    role: Role
    scope: str | None            # region code, or prefecture code for reviewers; None for admin
    organization_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def scope_problem(role: Role, scope: str | None, *, region_exists: bool, prefecture_exists: bool) -> str | None:
    """Why a user with this role cannot have this scope, or None. Pure; used by user creation."""
    if role is Role.ADMIN:
        return None if scope in (None, "") else "admin has no region scope"
    if not scope:
        return f"{role.value} needs a scope (--region)"
    if role is Role.PREFECTURE_REVIEWER:
        if not (len(scope) == 2 and scope.isdigit()):
            return "a prefecture reviewer's scope is a two-digit prefecture code, e.g. 13"
        return None if prefecture_exists else f"no region in prefecture {scope}"
    return None if region_exists else f"no region with code {scope}"


def may_see_region(actor: Actor, region_code: str, region_prefecture: str) -> bool:
    """Pure region rule: admin everywhere; reviewers their prefecture; everyone else their region."""
    if actor.role is Role.ADMIN:
        return True
    if actor.role is Role.PREFECTURE_REVIEWER:
        return actor.scope == region_prefecture
    return actor.scope == region_code

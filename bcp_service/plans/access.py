"""Who may read and edit a plan: the one rule plans and drills use (pages, API, lists and links).

- admin: every plan. hub_staff: every plan of their 圏域 (create, edit, approve).
- institution_staff: their own organisation's 機関型 plan (read, edit); a 連携型 plan their
  organisation is a member of (read, comment); the approved 地域BCP of their 圏域 (read; API.md,
  "Plans: sharing"): once approved it stays readable while the hub revises it, and staff are shown
  the newest approved version, never the draft (``shown_version``). Exports follow the same rule.
  They never approve.
- prefecture_reviewer: the status list of their prefecture, never the contents (a plan holds names and
  phone numbers of patients and staff). field_team: no plans.
"""
from __future__ import annotations

from sqlalchemy import Select, false, select, true
from sqlalchemy.orm import Session, selectinload

from bcp_service.auth import Actor, Role, audit
from bcp_service.auth.scope import check_region, visible_region_codes
from bcp_service.errors import NotFound, OutOfScope

from .models import Plan, PlanMember, PlanVersion
from .states import PlanStatus

# Roles that may see plan contents (subject to may_read); reviewers get the status list only.
CONTENT_ROLES = (Role.ADMIN, Role.HUB_STAFF, Role.INSTITUTION_STAFF)


def may_read(actor: Actor, plan: Plan) -> bool:
    if actor.role is Role.ADMIN:
        return True
    if actor.role is Role.HUB_STAFF:
        return plan.region_code == actor.scope
    if actor.role is Role.INSTITUTION_STAFF and actor.organization_id is not None:
        if plan.type == "kikan":
            return plan.organization_id == actor.organization_id
        if plan.type == "renkei":
            return actor.organization_id in plan.member_org_ids
        if plan.type == "chiiki":
            # approved at least once: while the hub revises it, staff keep reading the approved version
            return plan.region_code == actor.scope and (plan.status == PlanStatus.APPROVED
                                                        or plan.last_approved_at is not None)
    return False


def reads_approved_only(actor: Actor, plan: Plan) -> bool:
    """Institution staff see a 地域BCP as approved, never the hub's draft of its next version."""
    return actor.role is Role.INSTITUTION_STAFF and plan.type == "chiiki"


def shown_version(actor: Actor, plan: Plan) -> PlanVersion:
    """The version this actor is shown by default: the newest approved one for approved-only readers."""
    if reads_approved_only(actor, plan):
        approved = [v for v in plan.versions if v.status == PlanStatus.APPROVED]
        if approved:
            return max(approved, key=lambda v: v.number)
    return next(v for v in plan.versions if v.number == plan.current_number)


def may_edit(actor: Actor, plan: Plan) -> bool:
    if actor.role is Role.ADMIN:
        return True
    if actor.role is Role.HUB_STAFF:
        return plan.region_code == actor.scope
    return (actor.role is Role.INSTITUTION_STAFF and plan.type == "kikan"
            and actor.organization_id is not None and plan.organization_id == actor.organization_id)


def readable_clause(actor: Actor):
    """``may_read`` as a SQL condition on ``Plan``, for lists and link checks."""
    if actor.role is Role.ADMIN:
        return true()
    if actor.role is Role.HUB_STAFF:
        return Plan.region_code == actor.scope
    if actor.role is Role.INSTITUTION_STAFF and actor.organization_id is not None:
        member_plans = select(PlanMember.plan_id).where(PlanMember.organization_id == actor.organization_id)
        return (((Plan.type == "kikan") & (Plan.organization_id == actor.organization_id))
                | ((Plan.type == "renkei") & Plan.id.in_(member_plans))
                | ((Plan.type == "chiiki") & (Plan.region_code == actor.scope)
                   & ((Plan.status == PlanStatus.APPROVED.value) | Plan.last_approved_at.is_not(None))))
    return false()


def readable_plans_stmt(actor: Actor) -> Select:
    """The plans whose contents this actor may read, by id."""
    return select(Plan).where(readable_clause(actor)).order_by(Plan.id)


def get_plan(session: Session, actor: Actor, plan_id: int, *, for_edit: bool = False, lock: bool = False) -> Plan:
    """The plan if the actor may read it (and edit it, with ``for_edit``); 404 otherwise.

    ``lock``: state changes take the plan row (FOR UPDATE on PostgreSQL) so two people approving or
    saving at the same moment are applied one after the other, never both on the same old state.
    """
    plan = session.get(Plan, plan_id, with_for_update=True if lock else None)
    if plan is None or not may_read(actor, plan):
        if plan is not None and actor.role is Role.PREFECTURE_REVIEWER:
            raise OutOfScope("都道府県担当は計画の状態の一覧のみ閲覧できます（内容は閲覧できません）")
        # do not reveal plans outside the actor's scope
        raise NotFound(f"計画 {plan_id} が見つかりません")
    if for_edit and not may_edit(actor, plan):
        raise OutOfScope("この計画を編集する権限がありません")
    return plan


def read_plan(session: Session, actor: Actor, plan_id: int) -> Plan:
    """get_plan for showing contents: a plan may hold patients' names and phones, so reads are audited."""
    plan = get_plan(session, actor, plan_id)
    audit.record(session, actor, "read", "plan", plan.id)
    return plan


def list_plans_stmt(session: Session, actor: Actor, *, type_: str | None = None, status: str | None = None,
                    region_code: str | None = None) -> Select:
    """The plans this actor may list: contents roles by ``may_read``, reviewers by prefecture (status only)."""
    if actor.role is Role.FIELD_TEAM:
        raise OutOfScope("この役割では計画を閲覧できません")
    # lists show completeness: load versions and answers in batches, not one plan at a time
    stmt = (select(Plan).order_by(Plan.id)
            .options(selectinload(Plan.versions).selectinload(PlanVersion.answers)))
    if actor.role is Role.PREFECTURE_REVIEWER:
        stmt = stmt.where(Plan.region_code.in_(visible_region_codes(session, actor)))
    else:
        stmt = stmt.where(readable_clause(actor))
    if region_code:
        check_region(session, actor, region_code)
        stmt = stmt.where(Plan.region_code == region_code)
    if type_:
        stmt = stmt.where(Plan.type == type_)
    if status:
        stmt = stmt.where(Plan.status == status)
    return stmt

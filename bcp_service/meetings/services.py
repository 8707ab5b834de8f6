"""協議の場 use cases: record a meeting, list and read them, turn a decision into a corrective action.

Hub staff record meetings of their own 圏域 (admin: any). Institution staff of the 圏域 read them.
A decision's corrective action is the same kind of row a drill finding makes (drills.models.CorrectiveAction),
linked to a plan section, so it shows inside that section of the plan and is tracked to closure.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bcp_service.auth import Actor, Role, audit
from bcp_service.auth.scope import check_region
from bcp_service.drills import evaluations as drill_evaluations
from bcp_service.drills.models import CorrectiveAction
from bcp_service.drills.states import ActionStatus
from bcp_service.errors import Conflict, Invalid, NotFound, OutOfScope
from bcp_service.orgs.models import Organization, Region

from .models import Meeting, MeetingAttendee, MeetingDecision

WRITE_ROLES = (Role.ADMIN, Role.HUB_STAFF)
READ_ROLES = (Role.ADMIN, Role.HUB_STAFF, Role.INSTITUTION_STAFF)


def _check_action(session: Session, actor: Actor, a: dict, where: str, problems: dict[str, list[str]]) -> None:
    if session.get(Organization, a["owner_org_id"]) is None:
        problems.setdefault(where, []).append(f"担当機関 {a['owner_org_id']} はありません")
    drill_evaluations._check_plan_section(session, actor, a.get("plan_id"), a.get("section_key"), where, problems)


def _new_action(meeting: Meeting, a: dict, now: datetime) -> CorrectiveAction:
    return CorrectiveAction(
        drill_id=None, title=a["title"],
        element=drill_evaluations.ev.normalise_element(a["element"]), owner_org_id=a["owner_org_id"],
        contact=a.get("contact"), start=a.get("start"), due=a["due"], status=a.get("status", ActionStatus.OPEN),
        plan_id=a.get("plan_id"), section_key=a.get("section_key"), created_at=now)


def create_meeting(session: Session, actor: Actor, data: dict, *, now: datetime) -> Meeting:
    if actor.role not in WRITE_ROLES:
        raise OutOfScope("協議の場の記録は拠点の担当者が行います")
    if session.get(Region, data["region_code"]) is None:
        raise Invalid("圏域がありません", fields={"region_code": ["存在しない圏域です"]})
    check_region(session, actor, data["region_code"])
    problems: dict[str, list[str]] = {}
    org_ids = [a["organization_id"] for a in data["attendees"]]
    known = set(session.scalars(select(Organization.id).where(Organization.id.in_(org_ids))))
    for i, a in enumerate(data["attendees"]):
        if a["organization_id"] not in known:
            problems.setdefault(f"attendees.{i}", []).append(f"機関 {a['organization_id']} はありません")
    if len(set(org_ids)) != len(org_ids):
        problems.setdefault("attendees", []).append("同じ機関が2回あります")
    for i, d in enumerate(data.get("decisions", [])):
        if d.get("corrective_action"):
            _check_action(session, actor, d["corrective_action"], f"decisions.{i}.corrective_action", problems)
    if problems:
        raise Invalid("入力内容に誤りがあります", fields=problems)
    meeting = Meeting(region_code=data["region_code"], held_on=data["held_on"], title=data["title"],
                      agenda=data.get("agenda", ""), notes=data.get("notes"), created_by=actor.user_id, created_at=now)
    meeting.attendees = [MeetingAttendee(organization_id=a["organization_id"], names=a.get("names"))
                         for a in data["attendees"]]
    meeting.decisions = [MeetingDecision(position=i, text=d["text"]) for i, d in enumerate(data.get("decisions", []))]
    session.add(meeting)
    session.flush()
    for d, decision in zip(data.get("decisions", []), meeting.decisions):
        if d.get("corrective_action"):
            action = _new_action(meeting, d["corrective_action"], now)
            meeting.actions.append(action)
            session.flush()
            decision.action_id = action.id
    audit.record(session, actor, "create", "meeting", meeting.id,
                 {"attendees": len(meeting.attendees), "decisions": len(meeting.decisions)}, now=now)
    return meeting


def get_meeting(session: Session, actor: Actor, meeting_id: int, *, write: bool = False) -> Meeting:
    meeting = session.get(Meeting, meeting_id)
    roles = WRITE_ROLES if write else READ_ROLES
    if meeting is None or actor.role not in roles or (
            actor.role is not Role.ADMIN and meeting.region_code != actor.scope):
        if meeting is not None and write and actor.role in READ_ROLES and meeting.region_code == actor.scope:
            raise OutOfScope("協議の場の記録は拠点の担当者が変更します")
        raise NotFound(f"協議の場の記録 {meeting_id} が見つかりません")
    return meeting


def list_meetings_stmt(session: Session, actor: Actor, region_code: str | None = None):
    if actor.role not in READ_ROLES:
        raise OutOfScope("この役割では協議の場の記録を閲覧できません")
    region_code = region_code or (actor.scope if actor.role is not Role.ADMIN else None)
    stmt = select(Meeting).options(selectinload(Meeting.attendees), selectinload(Meeting.decisions))
    if region_code:
        if actor.role is not Role.ADMIN and region_code != actor.scope:
            raise OutOfScope("この圏域の記録は閲覧できません")
        stmt = stmt.where(Meeting.region_code == region_code)
    return stmt.order_by(Meeting.held_on.desc(), Meeting.id.desc())


def decision_to_action(session: Session, actor: Actor, meeting_id: int, decision_id: int, data: dict, *,
                       now: datetime) -> CorrectiveAction:
    """Turn a recorded decision into a corrective action linked to a plan section (PDCA)."""
    meeting = get_meeting(session, actor, meeting_id, write=True)
    decision = next((d for d in meeting.decisions if d.id == decision_id), None)
    if decision is None:
        raise NotFound(f"決定事項 {decision_id} はありません")
    if decision.action_id is not None:
        raise Conflict("この決定事項は既に是正措置になっています", code="already_linked")
    problems: dict[str, list[str]] = {}
    _check_action(session, actor, data, "corrective_action", problems)
    if problems:
        raise Invalid("入力内容に誤りがあります", fields=problems)
    action = _new_action(meeting, data, now)
    meeting.actions.append(action)
    session.flush()
    decision.action_id = action.id
    audit.record(session, actor, "update", "meeting", meeting.id, {"decision_id": decision.id, "action_id": action.id},
                 now=now)
    return action

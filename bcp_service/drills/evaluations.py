"""Evaluations (HSEEP P/S/M/U per objective) and the corrective actions they raise, which link to the
plan section they change and show there as open items until closed."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bcp_service.auth import Actor, audit
from bcp_service.drills import evaluation as ev
from bcp_service.drills.access import get_drill
from bcp_service.drills.models import CorrectiveAction, Evaluation
from bcp_service.drills.states import CLOSED_ACTION_STATUSES, OPEN_ACTION_STATUSES, ActionStatus, may_evaluate
from bcp_service.errors import Conflict, Invalid, NotFound
from bcp_service.orgs.models import Organization
from bcp_service.plans.access import may_read, readable_plans_stmt
from bcp_service.plans.models import Plan
from bcp_service.plans.versions import get_library


def _check_plan_section(session: Session, actor: Actor, plan_id: int | None, section_key: str | None,
                        where: str, problems: dict[str, list[str]]) -> None:
    if plan_id is None:
        return
    plan = session.get(Plan, plan_id)
    if plan is None:
        problems.setdefault(where, []).append(f"計画 {plan_id} はありません")
        return
    if not may_read(actor, plan):       # plans.access: the rule the plans pages use
        problems.setdefault(where, []).append(f"計画 {plan_id} は範囲外です")
        return
    if section_key is not None:
        keys = plan_section_keys(plan)
        if keys is not None and section_key not in keys:
            problems.setdefault(where, []).append(f"計画 {plan_id} に章「{section_key}」はありません")


def visible_plans(session: Session, actor: Actor) -> list[Plan]:
    """Plans the actor may link drills and corrective actions to: those they may read (plans.access)."""
    return list(session.scalars(readable_plans_stmt(actor)))


def plan_sections(plan: Plan) -> list[tuple[str, str]]:
    """(key, title) of the sections of the plan's template version, for the evaluation form."""
    version = plan.versions[-1].template_version if plan.versions else None
    lib = get_library()
    tpl = lib.get(plan.type, version) if version is not None else lib.current(plan.type)
    return [(s.key, s.title) for s in tpl.sections] if tpl else []


def plan_section_keys(plan: Plan) -> set[str] | None:
    """Section keys of the plan's own template version (None if the template cannot be found)."""
    sections = plan_sections(plan)
    return {k for k, _ in sections} if sections else None


def add_evaluation(session: Session, actor: Actor, drill_id: int, data: dict, *, now: datetime) -> Evaluation:
    drill = get_drill(session, actor, drill_id, write=True)
    if not may_evaluate(drill.status):
        raise Conflict("評価は訓練の実施後に行います", code="wrong_state")
    problems: dict[str, list[str]] = {}
    if drill.objectives and data["objective"] not in drill.objectives:
        problems["objective"] = ["この訓練の目標ではありません（目標: " + "／".join(drill.objectives) + "）"]
    if any(e.objective == data["objective"] and e.evaluator_id == actor.user_id for e in drill.evaluations):
        # several evaluators may observe one objective; each records one observation
        raise Conflict("この目標はあなたが評価済みです", code="already_evaluated")
    actions = data.get("corrective_actions", [])
    owners = {o.id for o in session.scalars(select(Organization).where(
        Organization.id.in_([a["owner_org_id"] for a in actions])))}
    for i, a in enumerate(actions):
        where = f"corrective_actions.{i}"
        if a["owner_org_id"] not in owners:
            problems.setdefault(where, []).append(f"担当機関 {a['owner_org_id']} はありません")
        _check_plan_section(session, actor, a.get("plan_id"), a.get("section_key"), where, problems)
    if problems:
        raise Invalid("入力内容に誤りがあります", fields=problems)

    evaluation = Evaluation(objective=data["objective"], rating=data["rating"], strengths=data["strengths"],
                            improvements=data["improvements"], root_cause=data["root_cause"],
                            evaluator_id=actor.user_id, created_at=now)
    drill.evaluations.append(evaluation)
    for a in actions:
        # Attached to both parents: Drill.corrective_actions is delete-orphan, so an action that only
        # carried drill_id would be dropped as a pending orphan at flush.
        action = CorrectiveAction(
            drill=drill, title=a["title"], element=ev.normalise_element(a["element"]), owner_org_id=a["owner_org_id"],
            contact=a.get("contact"), start=a.get("start"), due=a["due"], status=a.get("status", ActionStatus.OPEN),
            plan_id=a.get("plan_id"), section_key=a.get("section_key"), created_at=now)
        with session.no_autoflush:
            evaluation.corrective_actions.append(action)
    session.flush()
    audit.record(session, actor, "evaluate", "drill", drill.id,
                 detail={"evaluation_id": evaluation.id, "rating": evaluation.rating, "actions": len(actions)})
    return evaluation


def update_action(session: Session, actor: Actor, action_id: int, data: dict, *, now: datetime) -> CorrectiveAction:
    action = session.get(CorrectiveAction, action_id)
    if action is None:
        raise NotFound(f"corrective action {action_id} not found")
    if action.drill_id is None:       # from a 協議の場 decision: the meeting's scope rule
        from bcp_service.meetings.services import get_meeting

        get_meeting(session, actor, action.meeting_id, write=True)
    else:
        get_drill(session, actor, action.drill_id, write=True)
    if "status" in data and data["status"] != action.status:
        if not ev.can_move(action.status, data["status"]):
            raise Conflict(f"{ev.ACTION_STATUSES[action.status]}から{ev.ACTION_STATUSES[data['status']]}には変更できません",
                           code="wrong_state")
        action.status = data["status"]
        if action.status in CLOSED_ACTION_STATUSES:
            action.closed_at = now
    if "due" in data:
        action.due = data["due"]
        action.last_reminded_on = None   # a new deadline restarts the overdue reminders
    if "contact" in data:
        action.contact = data["contact"]
    audit.record(session, actor, "update", "corrective_action", action.id, detail={"fields": sorted(data)})
    return action


def open_actions_for_plan(session: Session, plan_id: int, *, today: date | None = None) -> dict[str | None, list[dict]]:
    """Open corrective actions that change this plan, grouped by section key (None: the plan as a whole).

    Called by the plans pages to show "open items from drills" inside each section.
    """
    rows = session.scalars(
        select(CorrectiveAction).options(selectinload(CorrectiveAction.owner), selectinload(CorrectiveAction.drill))
        .where(CorrectiveAction.plan_id == plan_id, CorrectiveAction.status.in_(sorted(OPEN_ACTION_STATUSES)))
        .order_by(CorrectiveAction.due, CorrectiveAction.id)
    ).all()
    out: dict[str | None, list[dict]] = {}
    for a in rows:
        out.setdefault(a.section_key, []).append({
            "id": a.id, "title": a.title, "element": a.element, "element_label": ev.ELEMENTS.get(a.element, a.element),
            "owner": a.owner.name if a.owner else "", "due": a.due, "status": a.status,
            "status_label": ev.ACTION_STATUSES.get(a.status, a.status), "drill_id": a.drill_id,
            "drill_title": a.drill.title if a.drill else "", "meeting_id": a.meeting_id,
            "overdue": today is not None and today > a.due,
        })
    return out

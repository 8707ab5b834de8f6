"""A plan's history: events (who did what), comments, version diffs and the exported document."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from bcp_service.auth import Actor, audit
from bcp_service.auth.models import User
from bcp_service.errors import Invalid, NotFound

from . import autofill as af
from .access import get_plan, reads_approved_only, shown_version
from .diff import Change, diff_answers
from .export import HistoryEntry, PlanDoc
from .models import Plan, PlanComment, PlanEvent
from .states import PlanStatus
from .versions import answers_of, current_version, template_of, version_of


EDIT_COALESCE = timedelta(minutes=30)   # autosave every few seconds must not flood the history


ACTION_LABELS = {
    "create": "作成", "edit": "編集", "autofill": "自動入力", "submit": "提出", "approve": "承認",
    "return": "差し戻し", "revise": "改訂開始", "upgrade": "テンプレート更新", "comment": "コメント",
}


def record_event(session: Session, plan: Plan, actor: Actor | None, action: str, now: datetime,
           detail: dict | None = None, *, number: int | None = None) -> PlanEvent:
    ev = PlanEvent(plan_id=plan.id, version_number=number or plan.current_number, action=action,
                   user_id=actor.user_id if actor else None, at=now, detail=detail)
    session.add(ev)
    return ev


def record_edit(session: Session, plan: Plan, actor: Actor, section_key: str, fields: list[str], now: datetime):
    last = session.scalars(select(PlanEvent).where(PlanEvent.plan_id == plan.id)
                           .order_by(PlanEvent.id.desc()).limit(1)).first()
    if (last is not None and last.action == "edit" and last.user_id == actor.user_id
            and last.version_number == plan.current_number and (last.detail or {}).get("section") == section_key
            and now - last.at < EDIT_COALESCE):
        last.at = now
        last.detail = {"section": section_key, "fields": sorted(set(last.detail.get("fields", [])) | set(fields))}
        return
    record_event(session, plan, actor, "edit", now, {"section": section_key, "fields": fields})


def add_comment(session: Session, actor: Actor, plan_id: int, section_key: str, body: Any, *, now: datetime) -> PlanComment:
    plan = get_plan(session, actor, plan_id)
    version = current_version(plan)
    if template_of(plan, version).section(section_key) is None:
        raise NotFound(f"この計画に「{section_key}」という章はありません")
    if not isinstance(body, str) or not body.strip() or len(body) > 4000:
        raise Invalid("コメントを4000文字以内で入力してください", fields={"body": ["1〜4000文字で入力してください"]})
    c = PlanComment(version_id=version.id, section_key=section_key, body=body.strip(), author_id=actor.user_id,
                    created_at=now)
    session.add(c)
    record_event(session, plan, actor, "comment", now, {"section": section_key})
    return c


def comments_stmt(session: Session, actor: Actor, plan_id: int) -> Select:
    """The comments on every version of a plan the actor may read, oldest first."""
    plan = get_plan(session, actor, plan_id)
    ids = [v.id for v in plan.versions]
    return select(PlanComment).where(PlanComment.version_id.in_(ids)).order_by(PlanComment.id)


def comments(session: Session, actor: Actor, plan_id: int) -> list[PlanComment]:
    return list(session.scalars(comments_stmt(session, actor, plan_id)))


def events_stmt(session: Session, actor: Actor, plan_id: int) -> Select:
    """The events of a plan the actor may read, oldest first."""
    plan = get_plan(session, actor, plan_id)
    return select(PlanEvent).where(PlanEvent.plan_id == plan.id).order_by(PlanEvent.id)


def events(session: Session, actor: Actor, plan_id: int) -> list[PlanEvent]:
    return list(session.scalars(events_stmt(session, actor, plan_id)))


def diff_versions(session: Session, actor: Actor, plan_id: int, a: int, b: int) -> list[Change]:
    plan = get_plan(session, actor, plan_id)
    va, vb = version_of(plan, a), version_of(plan, b)
    if reads_approved_only(actor, plan) and any(v.status != PlanStatus.APPROVED for v in (va, vb)):
        raise NotFound("承認された版どうしの差分だけを閲覧できます")
    return diff_answers(answers_of(va), answers_of(vb), old_template=template_of(plan, va),
                        new_template=template_of(plan, vb))


def user_names(session: Session, ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {u.id: (u.display_name or u.email) for u in session.scalars(select(User).where(User.id.in_(ids)))}


def owner_label(plan: Plan) -> str:
    if plan.type == "kikan" and plan.organization:
        return plan.organization.name
    if plan.type == "renkei":
        return "・".join(m.organization.name for m in plan.members)
    return f"{plan.region.name}（圏域 {plan.region_code}）" if plan.region else plan.region_code


def plan_doc(session: Session, actor: Actor, plan_id: int, number: int | None = None) -> PlanDoc:
    plan = get_plan(session, actor, plan_id)
    version = shown_version(actor, plan) if number is None else version_of(plan, number)
    if reads_approved_only(actor, plan) and version.status != PlanStatus.APPROVED:
        raise NotFound(f"第{version.number}版は承認されていません")
    evs = list(session.scalars(select(PlanEvent).where(PlanEvent.plan_id == plan.id).order_by(PlanEvent.id)))
    names = user_names(session, [version.approved_by] + [e.user_id for e in evs])
    history = tuple(HistoryEntry(e.at, names.get(e.user_id, "システム"), ACTION_LABELS.get(e.action, e.action),
                                 f"第{e.version_number}版") for e in evs if e.action != "edit")
    audit.record(session, actor, "export", "plan", plan.id, {"version": version.number})
    return PlanDoc(
        template=template_of(plan, version), answers=answers_of(version), title=plan.title, owner=owner_label(plan),
        version_number=version.number, status=version.status, created_at=version.created_at,
        approved_at=version.approved_at, approved_by=names.get(version.approved_by),
        review_due_on=plan.review_due_on if version.status == PlanStatus.APPROVED else None,
        autofilled_at={f"{a.section_key}.{a.field_key}": a.autofilled_at for a in version.answers
                       if a.autofilled_at and a.source == af.SOURCE_AUTOFILL},
        history=history,
    )

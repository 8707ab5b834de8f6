"""The plan workflow: submit, approve, return, revise (the state machine is plans.states).

Approval rule: only hub_staff or admin approve, and never the person who submitted that version
(four eyes, also for the 拠点's own 連携型/地域BCP).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bcp_service.auth import Actor, Role
from bcp_service.errors import Conflict, Invalid, OutOfScope, Unprocessable

from . import autofill as af
from .access import get_plan, may_edit
from .history import record_event
from .models import Plan, PlanAnswer, PlanComment, PlanVersion
from .reminders import next_reminder_at, review_due
from .states import PlanAction, after_approval, next_status
from .templates import Template
from .upgrade import upgrade_answers
from .versions import answers_of, current_version, get_library, progress_of, template_of


def submit(session: Session, actor: Actor, plan_id: int, *, now: datetime) -> Plan:
    plan = get_plan(session, actor, plan_id, for_edit=True, lock=True)
    version = current_version(plan)
    after = next_status(version.status, PlanAction.SUBMIT)
    if after is None:
        raise Conflict(f"提出できるのは下書きだけです（現在: {version.status}）")
    progress = progress_of(plan, version)
    if not progress.complete:
        missing = {s.key: list(s.missing_labels) for s in progress.sections if s.missing}
        raise Unprocessable(f"必須項目が{progress.required - progress.filled}件未記入のため提出できません",
                            fields=missing, code="incomplete")
    version.status = plan.status = after
    version.submitted_at, version.submitted_by = now, actor.user_id
    plan.updated_at = now
    record_event(session, plan, actor, "submit", now)
    return plan


def approve(session: Session, actor: Actor, plan_id: int, *, now: datetime) -> Plan:
    plan = get_plan(session, actor, plan_id, lock=True)
    if actor.role not in (Role.ADMIN, Role.HUB_STAFF) or not may_edit(actor, plan):
        raise OutOfScope("承認できるのは圏域の拠点職員または管理者です")
    version = current_version(plan)
    after = next_status(version.status, PlanAction.APPROVE)
    if after is None:
        raise Conflict(f"承認できるのは確認中の版だけです（現在: {version.status}）")
    if version.submitted_by is not None and version.submitted_by == actor.user_id:
        raise OutOfScope("提出した本人は承認できません。別の拠点職員または管理者が承認してください。")
    for v in plan.versions:
        v.status = after_approval(v.status)
    version.status = plan.status = after
    version.approved_at, version.approved_by = now, actor.user_id
    template = template_of(plan, version)
    stated = _stated_review_date(template, answers_of(version))
    plan.last_approved_at = now
    plan.review_due_on = review_due(now, template.review_months, stated)
    plan.next_reminder_at = next_reminder_at(plan.review_due_on, now)
    plan.updated_at = now
    record_event(session, plan, actor, "approve", now, {"review_due_on": plan.review_due_on.isoformat()})
    return plan


def _stated_review_date(template: Template, answers: dict) -> str | None:
    for s in template.sections:
        for f in s.fields:
            if f.key == "next_review_date" and f.type == "date":
                return answers.get(s.key, {}).get(f.key)
    return None


def send_back(session: Session, actor: Actor, plan_id: int, *, now: datetime, comment: str | None = None) -> Plan:
    plan = get_plan(session, actor, plan_id, lock=True)
    if actor.role not in (Role.ADMIN, Role.HUB_STAFF) or not may_edit(actor, plan):
        raise OutOfScope("差し戻しできるのは圏域の拠点職員または管理者です")
    version = current_version(plan)
    after = next_status(version.status, PlanAction.RETURN)
    if after is None:
        raise Conflict(f"差し戻しできるのは確認中の版だけです（現在: {version.status}）")
    version.status = plan.status = after
    version.submitted_at = version.submitted_by = None
    plan.updated_at = now
    if comment and comment.strip():
        session.add(PlanComment(version_id=version.id, section_key="_plan", body=comment.strip()[:4000],
                                author_id=actor.user_id, created_at=now))
    record_event(session, plan, actor, "return", now)
    return plan


def revise(session: Session, actor: Actor, plan_id: int, *, now: datetime,
           template_version: int | None = None, note: str | None = None) -> tuple[Plan, dict]:
    """approved → a new draft n+1 with the answers carried over (onto the newest template by default)."""
    plan = get_plan(session, actor, plan_id, for_edit=True, lock=True)
    old = current_version(plan)
    after = next_status(old.status, PlanAction.REVISE)
    if after is None:
        raise Conflict(f"改訂できるのは承認済みの版だけです（現在: {old.status}）")
    lib = get_library()
    target = lib.current(plan.type) if template_version is None else lib.get(plan.type, template_version)
    if target is None:
        raise Invalid("そのテンプレートの版はありません", fields={"template_version": [f"使える版: {lib.versions(plan.type)}"]})
    old_t = template_of(plan, old)
    if target.version < old_t.version:
        raise Invalid("古いテンプレートには戻せません", fields={"template_version": [f"v{old_t.version} 以上です"]})
    moved = upgrade_answers(answers_of(old), old=old_t, new=target)
    new = PlanVersion(number=old.number + 1, template_version=target.version, status=after, created_at=now,
                      created_by=actor.user_id, change_note=(note or "").strip()[:2000] or None)
    sources = {(a.section_key, a.field_key): a for a in old.answers}
    for sk, fields in moved.answers.items():
        for fk, value in fields.items():
            src = moved.moved.get(f"{sk}.{fk}")
            prev = sources.get(tuple(src.split("."))) if src else sources.get((sk, fk))
            new.answers.append(PlanAnswer(
                section_key=sk, field_key=fk, value=value, source=prev.source if prev else af.SOURCE_PERSON,
                updated_at=prev.updated_at if prev else now, updated_by=prev.updated_by if prev else None,
                autofill_value=prev.autofill_value if prev else None,
                autofilled_at=prev.autofilled_at if prev else None))
    plan.versions.append(new)
    plan.current_number = new.number
    plan.status = after
    plan.updated_at = now
    session.flush()
    report = moved.as_dict() | {"from_template": old_t.version, "to_template": target.version}
    record_event(session, plan, actor, "revise", now, report, number=new.number)
    return plan, report

"""Plan use cases. Each function takes a session and does one thing in the caller's transaction.

Access rule (enforced here, not only in pages):
- admin: every plan. hub_staff: every plan of their 圏域 (create any type, edit, approve).
- institution_staff: their own organisation's 機関型 plan (create, edit, submit, revise); read and
  comment on a 連携型 plan their organisation is a member of. They never approve.
- prefecture_reviewer: the status list of their prefecture (type, state, completeness, review
  dates), never the contents: a plan holds names and phone numbers of patients and staff.
- field_team: no access to plans.
Approval rule: only hub_staff or admin approve, and never the person who submitted that version
(four eyes, also for the 拠点's own 連携型/地域BCP).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bcp_service.auth import Actor, Role
from bcp_service.auth import audit
from bcp_service.auth.models import User
from bcp_service.auth.scope import check_region, visible_region_codes
from bcp_service.errors import Conflict, Invalid, NotFound, OutOfScope, Unprocessable
from bcp_service.orgs.models import Organization, Region

from . import autofill as af
from . import bindings
from .answers import check_section
from .completeness import PlanProgress, plan_progress
from .diff import Change, diff_answers
from .export import HistoryEntry, PlanDoc
from .models import Plan, PlanAnswer, PlanComment, PlanEvent, PlanMember, PlanVersion
from .reminders import next_reminder_at, review_due
from .templates import PLAN_TYPES, Template, TemplateLibrary
from .upgrade import upgrade_answers

EDIT_COALESCE = timedelta(minutes=30)   # autosave every few seconds must not flood the history
ACTION_LABELS = {
    "create": "作成", "edit": "編集", "autofill": "自動入力", "submit": "提出", "approve": "承認",
    "return": "差し戻し", "revise": "改訂開始", "upgrade": "テンプレート更新", "comment": "コメント",
}

_default_library: TemplateLibrary | None = None


def get_library() -> TemplateLibrary:
    """The app's checked templates (loaded at start-up), or the shipped ones outside an app."""
    global _default_library
    if has_app_context() and "plans_templates" in current_app.extensions:
        return current_app.extensions["plans_templates"]
    if _default_library is None:
        _default_library = TemplateLibrary.load()
    return _default_library


# ------------------------------------------------------------------ access

def _may_read(session: Session, actor: Actor, plan: Plan) -> bool:
    if actor.role is Role.ADMIN:
        return True
    if actor.role is Role.HUB_STAFF:
        return plan.region_code == actor.scope
    if actor.role is Role.INSTITUTION_STAFF and actor.organization_id is not None:
        if plan.type == "kikan":
            return plan.organization_id == actor.organization_id
        if plan.type == "renkei":
            return actor.organization_id in plan.member_org_ids
    return False


def _may_edit(actor: Actor, plan: Plan) -> bool:
    if actor.role is Role.ADMIN:
        return True
    if actor.role is Role.HUB_STAFF:
        return plan.region_code == actor.scope
    return (actor.role is Role.INSTITUTION_STAFF and plan.type == "kikan"
            and actor.organization_id is not None and plan.organization_id == actor.organization_id)


def get_plan(session: Session, actor: Actor, plan_id: int, *, for_edit: bool = False, lock: bool = False) -> Plan:
    # lock: state changes take the plan row (FOR UPDATE on PostgreSQL) so two people approving or
    # saving at the same moment are applied one after the other, never both on the same old state
    plan = session.get(Plan, plan_id, with_for_update=True if lock else None)
    if plan is None or not _may_read(session, actor, plan):
        if plan is not None and actor.role is Role.PREFECTURE_REVIEWER:
            raise OutOfScope("都道府県担当は計画の状態の一覧のみ閲覧できます（内容は閲覧できません）")
        # do not reveal plans outside the actor's scope
        raise NotFound(f"計画 {plan_id} が見つかりません")
    if for_edit and not _may_edit(actor, plan):
        raise OutOfScope("この計画を編集する権限がありません")
    return plan


def read_plan(session: Session, actor: Actor, plan_id: int) -> Plan:
    """get_plan for showing contents: a plan may hold patients' names and phones, so reads are audited."""
    plan = get_plan(session, actor, plan_id)
    audit.record(session, actor, "read", "plan", plan.id)
    return plan


def current_version(plan: Plan) -> PlanVersion:
    return next(v for v in plan.versions if v.number == plan.current_number)


def version_of(plan: Plan, number: int | None) -> PlanVersion:
    if number is None:
        return current_version(plan)
    for v in plan.versions:
        if v.number == number:
            return v
    raise NotFound(f"第{number}版はありません")


def template_of(plan: Plan, version: PlanVersion) -> Template:
    t = get_library().get(plan.type, version.template_version)
    if t is None:
        raise Conflict(f"テンプレート {plan.type} v{version.template_version} が見つかりません（削除された可能性があります）")
    return t


def answers_of(version: PlanVersion) -> dict[str, dict[str, Any]]:
    # copies: a caller editing the result must never change the ORM's JSON in place (that change
    # would be invisible to the "did a person edit this?" comparison)
    out: dict[str, dict[str, Any]] = {}
    for a in version.answers:
        if a.value is not None:
            out.setdefault(a.section_key, {})[a.field_key] = copy.deepcopy(a.value)
    return out


def progress_of(plan: Plan, version: PlanVersion | None = None) -> PlanProgress:
    version = version or current_version(plan)
    return plan_progress(template_of(plan, version), answers_of(version))


def _event(session: Session, plan: Plan, actor: Actor | None, action: str, now: datetime,
           detail: dict | None = None, *, number: int | None = None) -> PlanEvent:
    ev = PlanEvent(plan_id=plan.id, version_number=number or plan.current_number, action=action,
                   user_id=actor.user_id if actor else None, at=now, detail=detail)
    session.add(ev)
    return ev


# ------------------------------------------------------------------ create

@dataclass(frozen=True)
class NewPlan:
    type: str
    title: str
    organization_id: int | None = None
    member_org_ids: tuple[int, ...] = ()
    region_code: str | None = None


def create_plan(session: Session, actor: Actor, cmd: NewPlan, *, now: datetime) -> Plan:
    if cmd.type not in PLAN_TYPES:
        raise Invalid("未知の計画種別です", fields={"type": [f"{', '.join(PLAN_TYPES)} のいずれかです"]})
    if actor.role not in (Role.ADMIN, Role.HUB_STAFF, Role.INSTITUTION_STAFF):
        raise OutOfScope("この役割では計画を作成できません")
    members: list[Organization] = []
    organization = None
    if cmd.type == "kikan":
        if cmd.organization_id is None:
            raise Invalid("機関型BCPには organization_id が必要です", fields={"organization_id": ["必須です"]})
        organization = session.get(Organization, cmd.organization_id)
        if organization is None:
            raise Invalid("機関が見つかりません", fields={"organization_id": ["存在しない機関です"]})
        if actor.role is Role.INSTITUTION_STAFF and actor.organization_id != organization.id:
            raise OutOfScope("自分の機関の機関型BCPのみ作成できます")
        check_region(session, actor, organization.region_code)
        region_code = organization.region_code
        existing = session.scalar(select(Plan.id).where(Plan.type == "kikan", Plan.organization_id == organization.id))
        if existing is not None:
            raise Conflict("この機関の機関型BCPは既にあります。改訂してください。", extra={"plan_id": existing})
    elif cmd.type == "renkei":
        if actor.role is Role.INSTITUTION_STAFF:
            raise OutOfScope("連携型BCPは拠点職員が作成します")
        ids = list(dict.fromkeys(cmd.member_org_ids))
        if len(ids) < 2:
            raise Invalid("連携型BCPには2つ以上の参加機関が必要です", fields={"member_org_ids": ["2機関以上を指定してください"]})
        found = {o.id: o for o in session.scalars(select(Organization).where(Organization.id.in_(ids)))}
        missing = [i for i in ids if i not in found]
        if missing:
            raise Invalid("参加機関が見つかりません", fields={"member_org_ids": [f"存在しない機関: {missing}"]})
        members = [found[i] for i in ids]
        for o in members:
            check_region(session, actor, o.region_code)
        region_code = cmd.region_code or (actor.scope if actor.role is Role.HUB_STAFF else members[0].region_code)
        check_region(session, actor, region_code)
    else:
        if actor.role is Role.INSTITUTION_STAFF:
            raise OutOfScope("地域BCPは拠点職員が作成します")
        if not cmd.region_code:
            raise Invalid("地域BCPには region_code が必要です", fields={"region_code": ["必須です"]})
        if session.get(Region, cmd.region_code) is None and actor.is_admin:
            raise Invalid("圏域が見つかりません", fields={"region_code": ["存在しない圏域です"]})
        check_region(session, actor, cmd.region_code)
        region_code = cmd.region_code
    title = (cmd.title or "").strip()
    if not title or len(title) > 200:
        raise Invalid("計画名を200文字以内で入力してください", fields={"title": ["1〜200文字で入力してください"]})

    template = get_library().current(cmd.type)
    plan = Plan(type=cmd.type, title=title, organization_id=organization.id if organization else None,
                region_code=region_code, status="draft", current_number=1, created_by=actor.user_id,
                created_at=now, updated_at=now)
    plan.members = [PlanMember(organization_id=o.id, position=i) for i, o in enumerate(members)]
    version = PlanVersion(number=1, template_version=template.version, status="draft", created_at=now,
                          created_by=actor.user_id)
    plan.versions.append(version)
    session.add(plan)
    session.flush()
    _event(session, plan, actor, "create", now, {"template_version": template.version})
    audit.record(session, actor, "create", "plan", plan.id, {"type": plan.type})
    # A new plan starts with whatever live data is there, so a solo clinic sees its patients at once.
    _autofill(session, actor, plan, version, template, now=now, only=None, overwrite=())
    return plan


# ------------------------------------------------------------------ edit

def _require_draft(version: PlanVersion) -> None:
    if version.status == "in_review":
        raise Conflict("確認中の版は編集できません。差し戻されてから編集してください。")
    if version.status != "draft":
        raise Conflict("承認済みの版は編集できません。改訂（revise）して新しい版を作ってください。")


def _stored(a: PlanAnswer | None) -> af.Stored | None:
    return None if a is None else af.Stored(a.value, a.source, a.autofill_value)


def save_section(session: Session, actor: Actor, plan_id: int, section_key: str, answers: Any, *,
                 now: datetime, template_version: int | None = None) -> Plan:
    plan = get_plan(session, actor, plan_id, for_edit=True, lock=True)
    version = current_version(plan)
    if template_version is not None and template_version != version.template_version:
        raise Conflict(f"この計画はテンプレート v{version.template_version} です。"
                       f"v{template_version} 向けの回答は受け付けません。",
                       fields={"template_version": [f"v{version.template_version} を指定してください"]})
    _require_draft(version)
    template = template_of(plan, version)
    section = template.section(section_key)
    if section is None:
        raise NotFound(f"この計画に「{section_key}」という章はありません",
                       fields={"section": [f"使える章: {', '.join(s.key for s in template.sections)}"]})
    checked = check_section(section, answers)
    if not checked.ok:
        raise Invalid("入力内容に誤りがあります", fields=checked.errors)
    stored = {(a.section_key, a.field_key): a for a in version.answers}
    changed = []
    for key, value in checked.values.items():
        row = stored.get((section_key, key))
        if row is not None and row.value == value:
            continue
        changed.append(key)
        if row is None:
            row = PlanAnswer(section_key=section_key, field_key=key, source=af.SOURCE_PERSON, updated_at=now)
            version.answers.append(row)
        row.source = af.source_after_edit(_stored(row) if row.id else None, value)
        row.value = value
        row.updated_at = now
        row.updated_by = actor.user_id
    if changed:
        plan.updated_at = now
        _record_edit(session, plan, actor, section_key, changed, now)
        audit.record(session, actor, "update", "plan", plan.id, {"section": section_key, "fields": changed})
    return plan


def _record_edit(session: Session, plan: Plan, actor: Actor, section_key: str, fields: list[str], now: datetime):
    last = session.scalars(select(PlanEvent).where(PlanEvent.plan_id == plan.id)
                           .order_by(PlanEvent.id.desc()).limit(1)).first()
    if (last is not None and last.action == "edit" and last.user_id == actor.user_id
            and last.version_number == plan.current_number and (last.detail or {}).get("section") == section_key
            and now - last.at < EDIT_COALESCE):
        last.at = now
        last.detail = {"section": section_key, "fields": sorted(set(last.detail.get("fields", [])) | set(fields))}
        return
    _event(session, plan, actor, "edit", now, {"section": section_key, "fields": fields})


# ------------------------------------------------------------------ auto-fill

@dataclass(frozen=True)
class FillResult:
    section_key: str
    field_key: str
    binding: str
    outcome: str
    message: str
    autofilled_at: datetime | None


def _autofill(session: Session, actor: Actor, plan: Plan, version: PlanVersion, template: Template, *,
              now: datetime, only: set[str] | None, overwrite: tuple[str, ...] | set[str]) -> list[FillResult]:
    from .answers import normalise

    stored = {(a.section_key, a.field_key): a for a in version.answers}
    results = []
    for s in template.sections:
        for f in s.fields:
            full = f"{s.key}.{f.key}"
            if not f.binding or (only is not None and full not in only):
                continue
            got = bindings.fetch(session, f.binding, plan)
            row = stored.get((s.key, f.key))
            if not got.available:
                results.append(FillResult(s.key, f.key, f.binding, "unavailable", got.reason,
                                          row.autofilled_at if row else None))
                continue
            fresh = af.carry_person_columns(got.rows or [], row.value if row else None,
                                            bindings.PRODUCED_COLUMNS.get(f.binding, ()))
            fresh = normalise(f, fresh)   # same stored form as a person's save, so equality means equal
            decision = af.decide(_stored(row), fresh, overwrite=full in overwrite)
            if row is None:
                row = PlanAnswer(section_key=s.key, field_key=f.key, source=af.SOURCE_AUTOFILL, updated_at=now)
                version.answers.append(row)
            row.autofill_value = fresh
            row.autofilled_at = now
            row.autofill_pending = decision.outcome == "kept_manual"
            if decision.write_value:
                row.value = fresh
                row.source = af.SOURCE_AUTOFILL
                row.updated_at = now
                row.updated_by = actor.user_id
            results.append(FillResult(s.key, f.key, f.binding, decision.outcome, decision.message, now))
            if f.binding in bindings.PATIENT_BINDINGS:
                audit.record(session, actor, "read", "patient", None,
                             {"purpose": "plan_autofill", "plan_id": plan.id, "rows": len(fresh or [])})
    return results


def refresh_autofill(session: Session, actor: Actor, plan_id: int, *, now: datetime,
                     fields: list[str] | None = None, overwrite: list[str] | None = None) -> list[FillResult]:
    plan = get_plan(session, actor, plan_id, for_edit=True, lock=True)
    version = current_version(plan)
    _require_draft(version)
    template = template_of(plan, version)
    bound = {f"{s.key}.{f.key}" for s in template.sections for f in s.fields if f.binding}
    unknown = sorted(set(fields or []) - bound) + sorted(set(overwrite or []) - bound)
    if unknown:
        raise Invalid("自動入力できない項目です", fields={"fields": [f"自動入力の対象ではありません: {', '.join(unknown)}"]})
    results = _autofill(session, actor, plan, version, template, now=now,
                        only=set(fields) | set(overwrite or []) if fields else None, overwrite=set(overwrite or []))
    plan.updated_at = now
    _event(session, plan, actor, "autofill", now,
           {"results": {f"{r.section_key}.{r.field_key}": r.outcome for r in results}})
    return results


# ------------------------------------------------------------------ workflow

def submit(session: Session, actor: Actor, plan_id: int, *, now: datetime) -> Plan:
    plan = get_plan(session, actor, plan_id, for_edit=True, lock=True)
    version = current_version(plan)
    if version.status != "draft":
        raise Conflict(f"提出できるのは下書きだけです（現在: {version.status}）")
    progress = progress_of(plan, version)
    if not progress.complete:
        missing = {s.key: list(s.missing_labels) for s in progress.sections if s.missing}
        raise Unprocessable(f"必須項目が{progress.required - progress.filled}件未記入のため提出できません",
                            fields=missing, code="incomplete")
    version.status = plan.status = "in_review"
    version.submitted_at, version.submitted_by = now, actor.user_id
    plan.updated_at = now
    _event(session, plan, actor, "submit", now)
    return plan


def approve(session: Session, actor: Actor, plan_id: int, *, now: datetime) -> Plan:
    plan = get_plan(session, actor, plan_id, lock=True)
    if actor.role not in (Role.ADMIN, Role.HUB_STAFF) or not _may_edit(actor, plan):
        raise OutOfScope("承認できるのは圏域の拠点職員または管理者です")
    version = current_version(plan)
    if version.status != "in_review":
        raise Conflict(f"承認できるのは確認中の版だけです（現在: {version.status}）")
    if version.submitted_by is not None and version.submitted_by == actor.user_id:
        raise OutOfScope("提出した本人は承認できません。別の拠点職員または管理者が承認してください。")
    for v in plan.versions:
        if v.status == "approved":
            v.status = "superseded"
    version.status = plan.status = "approved"
    version.approved_at, version.approved_by = now, actor.user_id
    template = template_of(plan, version)
    stated = _stated_review_date(template, answers_of(version))
    plan.last_approved_at = now
    plan.review_due_on = review_due(now, template.review_months, stated)
    plan.next_reminder_at = next_reminder_at(plan.review_due_on, now)
    plan.updated_at = now
    _event(session, plan, actor, "approve", now, {"review_due_on": plan.review_due_on.isoformat()})
    return plan


def _stated_review_date(template: Template, answers: dict) -> str | None:
    for s in template.sections:
        for f in s.fields:
            if f.key == "next_review_date" and f.type == "date":
                return answers.get(s.key, {}).get(f.key)
    return None


def send_back(session: Session, actor: Actor, plan_id: int, *, now: datetime, comment: str | None = None) -> Plan:
    plan = get_plan(session, actor, plan_id, lock=True)
    if actor.role not in (Role.ADMIN, Role.HUB_STAFF) or not _may_edit(actor, plan):
        raise OutOfScope("差し戻しできるのは圏域の拠点職員または管理者です")
    version = current_version(plan)
    if version.status != "in_review":
        raise Conflict(f"差し戻しできるのは確認中の版だけです（現在: {version.status}）")
    version.status = plan.status = "draft"
    version.submitted_at = version.submitted_by = None
    plan.updated_at = now
    if comment and comment.strip():
        session.add(PlanComment(version_id=version.id, section_key="_plan", body=comment.strip()[:4000],
                                author_id=actor.user_id, created_at=now))
    _event(session, plan, actor, "return", now)
    return plan


def revise(session: Session, actor: Actor, plan_id: int, *, now: datetime,
           template_version: int | None = None, note: str | None = None) -> tuple[Plan, dict]:
    """approved → a new draft n+1 with the answers carried over (onto the newest template by default)."""
    plan = get_plan(session, actor, plan_id, for_edit=True, lock=True)
    old = current_version(plan)
    if old.status != "approved":
        raise Conflict(f"改訂できるのは承認済みの版だけです（現在: {old.status}）")
    lib = get_library()
    target = lib.current(plan.type) if template_version is None else lib.get(plan.type, template_version)
    if target is None:
        raise Invalid("そのテンプレートの版はありません", fields={"template_version": [f"使える版: {lib.versions(plan.type)}"]})
    old_t = template_of(plan, old)
    if target.version < old_t.version:
        raise Invalid("古いテンプレートには戻せません", fields={"template_version": [f"v{old_t.version} 以上です"]})
    moved = upgrade_answers(answers_of(old), old=old_t, new=target)
    new = PlanVersion(number=old.number + 1, template_version=target.version, status="draft", created_at=now,
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
    plan.status = "draft"
    plan.updated_at = now
    session.flush()
    report = moved.as_dict() | {"from_template": old_t.version, "to_template": target.version}
    _event(session, plan, actor, "revise", now, report, number=new.number)
    return plan, report


def upgrade_draft(session: Session, actor: Actor, plan_id: int, *, now: datetime,
                  template_version: int | None = None) -> tuple[Plan, dict]:
    """Move a draft pinned to an older template onto a newer one, in place.

    Values that no longer fit are listed in the response and in the plan's history (with the
    value), so nothing disappears without a trace.
    """
    plan = get_plan(session, actor, plan_id, for_edit=True, lock=True)
    version = current_version(plan)
    _require_draft(version)
    lib = get_library()
    target = lib.current(plan.type) if template_version is None else lib.get(plan.type, template_version)
    if target is None:
        raise Invalid("そのテンプレートの版はありません", fields={"template_version": [f"使える版: {lib.versions(plan.type)}"]})
    old_t = template_of(plan, version)
    if target.version <= old_t.version:
        raise Conflict(f"この計画は既にテンプレート v{old_t.version} です")
    moved = upgrade_answers(answers_of(version), old=old_t, new=target)
    rows = {(a.section_key, a.field_key): a for a in version.answers}
    keep: list[PlanAnswer] = []
    for sk, fields in moved.answers.items():
        for fk, value in fields.items():
            src = moved.moved.get(f"{sk}.{fk}")
            row = rows.get(tuple(src.split("."))) if src else rows.get((sk, fk))
            row.section_key, row.field_key, row.value = sk, fk, value
            keep.append(row)
    version.answers[:] = keep
    version.template_version = target.version
    plan.updated_at = now
    report = moved.as_dict() | {"from_template": old_t.version, "to_template": target.version}
    detail = dict(report, dropped_values=[{"section": d.section_key, "field": d.field_key, "value": d.value}
                                          for d in moved.dropped])
    _event(session, plan, actor, "upgrade", now, detail)
    return plan, report


# ------------------------------------------------------------------ comments, history, diff

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
    _event(session, plan, actor, "comment", now, {"section": section_key})
    return c


def comments(session: Session, actor: Actor, plan_id: int) -> list[PlanComment]:
    plan = get_plan(session, actor, plan_id)
    ids = [v.id for v in plan.versions]
    return list(session.scalars(select(PlanComment).where(PlanComment.version_id.in_(ids)).order_by(PlanComment.id)))


def events(session: Session, actor: Actor, plan_id: int) -> list[PlanEvent]:
    plan = get_plan(session, actor, plan_id)
    return list(session.scalars(select(PlanEvent).where(PlanEvent.plan_id == plan.id).order_by(PlanEvent.id)))


def diff_versions(session: Session, actor: Actor, plan_id: int, a: int, b: int) -> list[Change]:
    plan = get_plan(session, actor, plan_id)
    va, vb = version_of(plan, a), version_of(plan, b)
    return diff_answers(answers_of(va), answers_of(vb), old_template=template_of(plan, va),
                        new_template=template_of(plan, vb))


# ------------------------------------------------------------------ lists

def list_plans_stmt(session: Session, actor: Actor, *, type_: str | None = None, status: str | None = None,
                    region_code: str | None = None):
    if actor.role is Role.FIELD_TEAM:
        raise OutOfScope("この役割では計画を閲覧できません")
    # lists show completeness: load versions and answers in batches, not one plan at a time
    stmt = (select(Plan).order_by(Plan.id)
            .options(selectinload(Plan.versions).selectinload(PlanVersion.answers)))
    visible = visible_region_codes(session, actor)
    if actor.role is Role.INSTITUTION_STAFF:
        member_plans = select(PlanMember.plan_id).where(PlanMember.organization_id == actor.organization_id)
        stmt = stmt.where(((Plan.type == "kikan") & (Plan.organization_id == actor.organization_id))
                          | ((Plan.type == "renkei") & Plan.id.in_(member_plans)))
    elif visible is not None:
        stmt = stmt.where(Plan.region_code.in_(visible))
    if region_code:
        check_region(session, actor, region_code)
        stmt = stmt.where(Plan.region_code == region_code)
    if type_:
        stmt = stmt.where(Plan.type == type_)
    if status:
        stmt = stmt.where(Plan.status == status)
    return stmt


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
    version = version_of(plan, number)
    evs = list(session.scalars(select(PlanEvent).where(PlanEvent.plan_id == plan.id).order_by(PlanEvent.id)))
    names = user_names(session, [version.approved_by] + [e.user_id for e in evs])
    history = tuple(HistoryEntry(e.at, names.get(e.user_id, "システム"), ACTION_LABELS.get(e.action, e.action),
                                 f"第{e.version_number}版") for e in evs if e.action != "edit")
    audit.record(session, actor, "export", "plan", plan.id, {"version": version.number})
    return PlanDoc(
        template=template_of(plan, version), answers=answers_of(version), title=plan.title, owner=owner_label(plan),
        version_number=version.number, status=version.status, created_at=version.created_at,
        approved_at=version.approved_at, approved_by=names.get(version.approved_by),
        review_due_on=plan.review_due_on if version.status == "approved" else None,
        autofilled_at={f"{a.section_key}.{a.field_key}": a.autofilled_at for a in version.answers
                       if a.autofilled_at and a.source == af.SOURCE_AUTOFILL},
        history=history,
    )

"""Writing a plan: create it, save a section, refresh auto-filled answers, move a draft to a newer template.

Each function does one use case in the caller's transaction; access is checked here (plans.access).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bcp_service.auth import Actor, Role, audit
from bcp_service.auth.scope import check_region
from bcp_service.errors import Conflict, Invalid, NotFound, OutOfScope
from bcp_service.orgs.models import Organization, Region

from . import autofill as af
from . import bindings
from .access import get_plan
from .answers import check_section, normalise
from .history import record_edit, record_event
from .models import Plan, PlanAnswer, PlanMember, PlanVersion
from .states import PlanStatus, is_editable
from .templates import PLAN_TYPES, Template
from .upgrade import upgrade_through
from .versions import answers_of, current_version, get_library, template_of


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
                region_code=region_code, status=PlanStatus.DRAFT, current_number=1, created_by=actor.user_id,
                created_at=now, updated_at=now)
    plan.members = [PlanMember(organization_id=o.id, position=i) for i, o in enumerate(members)]
    version = PlanVersion(number=1, template_version=template.version, status=PlanStatus.DRAFT, created_at=now,
                          created_by=actor.user_id)
    plan.versions.append(version)
    session.add(plan)
    session.flush()
    record_event(session, plan, actor, "create", now, {"template_version": template.version})
    audit.record(session, actor, "create", "plan", plan.id, {"type": plan.type})
    # A new plan starts with whatever live data is there, so a solo clinic sees its patients at once.
    _autofill(session, actor, plan, version, template, now=now, only=None, overwrite=())
    return plan


def _require_draft(version: PlanVersion) -> None:
    if version.status == PlanStatus.IN_REVIEW:
        raise Conflict("確認中の版は編集できません。差し戻されてから編集してください。")
    if not is_editable(version.status):
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
        record_edit(session, plan, actor, section_key, changed, now)
        audit.record(session, actor, "update", "plan", plan.id, {"section": section_key, "fields": changed})
    return plan


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
    record_event(session, plan, actor, "autofill", now,
           {"results": {f"{r.section_key}.{r.field_key}": r.outcome for r in results}})
    return results


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
    steps = [old_t] + [lib.get(plan.type, n) for n in lib.versions(plan.type) if old_t.version < n < target.version]
    moved = upgrade_through(answers_of(version), steps + [target])
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
    # fields bound to live data that the old template did not have (e.g. 搬送計画) are filled now
    empty_bound = {f"{s.key}.{f.key}" for s in target.sections for f in s.fields
                   if f.binding and f.key not in moved.answers.get(s.key, {})}
    filled = _autofill(session, actor, plan, version, target, now=now, only=empty_bound, overwrite=()) \
        if empty_bound else []
    report = moved.as_dict() | {"from_template": old_t.version, "to_template": target.version,
                                "autofilled": [f"{r.section_key}.{r.field_key}" for r in filled
                                               if r.outcome == "filled"]}
    detail = dict(report, dropped_values=[{"section": d.section_key, "field": d.field_key, "value": d.value}
                                          for d in moved.dropped])
    record_event(session, plan, actor, "upgrade", now, detail)
    return plan, report

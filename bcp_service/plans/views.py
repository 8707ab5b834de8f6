"""Plans API (contract: API.md "Plans") and the authoring wizard pages. Views stay thin."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from bcp_service.api import api_doc, json_body, page_args
from bcp_service.auth import Role, current_actor, require
from bcp_service.clock import get_clock, iso_local, to_local
from bcp_service.db import db
from bcp_service.errors import DomainError, NotFound

from . import review, services
from .completeness import PlanProgress
from .export import STATUS_LABELS, to_docx, to_html, to_markdown
from .models import Plan
from .schemas import (AutofillSchema, CommentSchema, CreatePlanSchema, DiffQuery, ExportQuery, PlanListQuery,
                      PlanSchema, ReturnSchema, ReviseSchema, SaveSectionSchema, TemplateSummarySchema)
from .templates import TYPE_LABELS, Template, TemplateLibrary

bp = Blueprint("plans", __name__)

READ_ROLES = (Role.ADMIN, Role.HUB_STAFF, Role.INSTITUTION_STAFF)
LIST_ROLES = READ_ROLES + (Role.PREFECTURE_REVIEWER,)
EXPORT_TYPES = {
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
    "html": ("text/html; charset=utf-8", "html"),
    "md": ("text/markdown; charset=utf-8", "md"),
}


@bp.record_once
def _load_templates(state) -> None:
    # The schema check runs at start-up: a broken template stops the app with the file and place named.
    state.app.extensions["plans_templates"] = TemplateLibrary.load(state.app.config.get("PLANS_DIR"))


# --- JSON shapes -------------------------------------------------------------------------------

def progress_json(p: PlanProgress) -> tuple[list[dict], float]:
    sections = [{"key": s.key, "title": s.title, "completeness": s.ratio, "required": s.required,
                 "filled": s.filled, "answered": s.answered, "missing": list(s.missing)} for s in p.sections]
    return sections, p.ratio


def plan_json(plan: Plan, *, detail: bool = False) -> dict:
    version = services.current_version(plan)
    sections, ratio = progress_json(services.progress_of(plan, version))
    body = {
        "id": plan.id, "type": plan.type, "type_label": TYPE_LABELS[plan.type], "title": plan.title,
        "status": plan.status, "version": version.number, "version_status": version.status,
        "template_version": version.template_version, "organization_id": plan.organization_id,
        "member_org_ids": plan.member_org_ids, "region_code": plan.region_code,
        "completeness": ratio, "sections": sections,
        "created_at": iso_local(plan.created_at), "updated_at": iso_local(plan.updated_at),
        "last_approved_at": iso_local(plan.last_approved_at),
        "review_due_on": plan.review_due_on.isoformat() if plan.review_due_on else None,
        "review_overdue": bool(plan.review_due_on and plan.review_due_on < _today()),
    }
    if detail:
        body["answers"] = services.answers_of(version)
        body["fields"] = {f"{a.section_key}.{a.field_key}": {
            "source": a.source, "updated_at": iso_local(a.updated_at), "autofilled_at": iso_local(a.autofilled_at),
            "autofill_pending": a.autofill_pending,
            **({"autofill_value": a.autofill_value} if a.autofill_pending else {}),
        } for a in version.answers}
    return body


def template_json(t: Template, lib: TemplateLibrary, *, full: bool = False) -> dict:
    body = {"type": t.type, "type_label": TYPE_LABELS[t.type], "title": t.title, "version": t.version,
            "versions": lib.versions(t.type), "section_keys": [s.key for s in t.sections],
            "sections": [{"key": s.key, "title": s.title, "part": s.part, "fields": len(s.fields),
                          "required": sum(f.required for f in s.fields)} for s in t.sections],
            "field_count": t.field_count, "required_count": t.required_count}
    if full:
        body["description"] = t.description
        body["sections"] = [{
            "key": s.key, "title": s.title, "part": s.part, "guidance": s.guidance, "why": s.why,
            "fields": [{"key": f.key, "label": f.label, "type": f.type, "required": f.required,
                        "guidance": f.guidance, "example": f.example, "unit": f.unit, "min": f.min, "max": f.max,
                        "binding": f.binding, "options": [{"value": o.value, "label": o.label} for o in f.options],
                        "columns": [{"key": c.key, "label": c.label, "type": c.type,
                                     "options": [{"value": o.value, "label": o.label} for o in c.options]}
                                    for c in f.columns]} for f in s.fields]} for s in t.sections]
    return body


def _now():
    return get_clock().now()


def _today():
    """Today in Tokyo: a review due "today" is not overdue until the Japanese day is over."""
    return to_local(get_clock().now()).date()


# --- API: templates --------------------------------------------------------------------------------

@bp.get("/api/v1/plan-templates")
@require()
@api_doc(summary="計画テンプレート（3種類）の版と章", response_schema=TemplateSummarySchema, many=True)
def list_templates():
    lib = services.get_library()
    items = [template_json(lib.current(t), lib) for t in lib.types()]
    return {"items": items, "total": len(items)}


@bp.get("/api/v1/plan-templates/<plan_type>")
@require()
@api_doc(summary="計画テンプレートの全内容（章・項目・ガイダンス）")
def get_template(plan_type: str):
    lib = services.get_library()
    version = request.args.get("version", type=int)
    try:
        t = lib.current(plan_type) if version is None else lib.get(plan_type, version)
    except KeyError:
        t = None
    if t is None:
        raise NotFound(f"テンプレート {plan_type}{f' v{version}' if version else ''} はありません")
    return template_json(t, lib, full=True)


# --- API: plans -------------------------------------------------------------------------------------

@bp.get("/api/v1/plans")
@require(*LIST_ROLES)
@api_doc(summary="計画の一覧（状態・記入率。都道府県担当は内容なし）", response_schema=PlanSchema, many=True,
         query_schema=PlanListQuery)
def list_plans():
    q = PlanListQuery().load(request.args.to_dict())
    limit, offset = page_args()
    stmt = services.list_plans_stmt(db.session, current_actor(), type_=q.get("type"), status=q.get("status"),
                                    region_code=q.get("region_code"))
    from sqlalchemy import func, select

    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    plans = db.session.scalars(stmt.limit(limit).offset(offset)).all()
    return {"items": [plan_json(p) for p in plans], "total": total}


@bp.post("/api/v1/plans")
@require(*READ_ROLES)
@api_doc(summary="計画を作成する（下書き第1版）", request_schema=CreatePlanSchema, response_schema=PlanSchema, status=201)
def create_plan():
    data = CreatePlanSchema().load(json_body())
    cmd = services.NewPlan(type=data["type"], title=data["title"], organization_id=data.get("organization_id"),
                           member_org_ids=tuple(data.get("member_org_ids", ())), region_code=data.get("region_code"))
    plan = services.create_plan(db.session, current_actor(), cmd, now=_now())
    db.session.commit()
    return plan_json(plan, detail=True), 201


@bp.get("/api/v1/plans/<int:plan_id>")
@require(*LIST_ROLES)
@api_doc(summary="計画の内容と記入率", response_schema=PlanSchema)
def get_plan(plan_id: int):
    plan = services.read_plan(db.session, current_actor(), plan_id)
    body = plan_json(plan, detail=True)
    db.session.commit()   # the audit row
    return body


@bp.put("/api/v1/plans/<int:plan_id>/sections/<section_key>")
@require(*READ_ROLES)
@api_doc(summary="章の回答を保存する（自動保存）", request_schema=SaveSectionSchema, response_schema=PlanSchema)
def save_section(plan_id: int, section_key: str):
    data = SaveSectionSchema().load(json_body())
    plan = services.save_section(db.session, current_actor(), plan_id, section_key, data["answers"], now=_now(),
                                 template_version=data.get("template_version"))
    db.session.commit()
    return plan_json(plan, detail=True)


def _transition(fn, plan_id: int, **kw):
    plan = fn(db.session, current_actor(), plan_id, now=_now(), **kw)
    db.session.commit()
    return plan_json(plan, detail=True)


@bp.post("/api/v1/plans/<int:plan_id>/submit")
@require(*READ_ROLES)
@api_doc(summary="提出する（下書き → 確認中）", response_schema=PlanSchema)
def submit(plan_id: int):
    return _transition(services.submit, plan_id)


@bp.post("/api/v1/plans/<int:plan_id>/approve")
@require(Role.ADMIN, Role.HUB_STAFF)
@api_doc(summary="承認する（確認中 → 承認済み。提出者以外）", response_schema=PlanSchema)
def approve(plan_id: int):
    return _transition(services.approve, plan_id)


@bp.post("/api/v1/plans/<int:plan_id>/return")
@require(Role.ADMIN, Role.HUB_STAFF)
@api_doc(summary="差し戻す（確認中 → 下書き）", request_schema=ReturnSchema, response_schema=PlanSchema)
def send_back(plan_id: int):
    data = ReturnSchema().load(request.get_json(silent=True) or {})
    return _transition(services.send_back, plan_id, comment=data.get("comment"))


@bp.post("/api/v1/plans/<int:plan_id>/revise")
@require(*READ_ROLES)
@api_doc(summary="改訂する（承認済み → 新しい版の下書き）", request_schema=ReviseSchema, response_schema=PlanSchema)
def revise(plan_id: int):
    data = ReviseSchema().load(request.get_json(silent=True) or {})
    plan, report = services.revise(db.session, current_actor(), plan_id, now=_now(),
                                   template_version=data.get("template_version"), note=data.get("note"))
    db.session.commit()
    return plan_json(plan, detail=True) | {"upgrade": report}


@bp.post("/api/v1/plans/<int:plan_id>/upgrade")
@require(*READ_ROLES)
@api_doc(summary="下書きを新しいテンプレートの版へ移す", request_schema=ReviseSchema, response_schema=PlanSchema)
def upgrade(plan_id: int):
    data = ReviseSchema().load(request.get_json(silent=True) or {})
    plan, report = services.upgrade_draft(db.session, current_actor(), plan_id, now=_now(),
                                          template_version=data.get("template_version"))
    db.session.commit()
    return plan_json(plan, detail=True) | {"upgrade": report}


@bp.post("/api/v1/plans/<int:plan_id>/autofill")
@require(*READ_ROLES)
@api_doc(summary="自動入力を最新のデータで更新する（手入力は上書きしない）", request_schema=AutofillSchema)
def autofill(plan_id: int):
    data = AutofillSchema().load(request.get_json(silent=True) or {})
    results = services.refresh_autofill(db.session, current_actor(), plan_id, now=_now(),
                                        fields=data.get("fields_"), overwrite=data.get("overwrite"))
    db.session.commit()
    plan = services.get_plan(db.session, current_actor(), plan_id)
    return {"results": [{"section": r.section_key, "field": r.field_key, "binding": r.binding, "outcome": r.outcome,
                         "message": r.message, "autofilled_at": iso_local(r.autofilled_at)} for r in results],
            "plan": plan_json(plan, detail=True)}


@bp.get("/api/v1/plans/<int:plan_id>/versions")
@require(*READ_ROLES)
@api_doc(summary="版の一覧")
def versions(plan_id: int):
    plan = services.get_plan(db.session, current_actor(), plan_id)
    names = services.user_names(db.session, [v.approved_by for v in plan.versions] + [v.submitted_by for v in plan.versions])
    items = []
    for v in plan.versions:
        p = services.progress_of(plan, v)
        items.append({"number": v.number, "status": v.status, "template_version": v.template_version,
                      "completeness": p.ratio, "created_at": iso_local(v.created_at),
                      "submitted_at": iso_local(v.submitted_at), "submitted_by": names.get(v.submitted_by),
                      "approved_at": iso_local(v.approved_at), "approved_by": names.get(v.approved_by),
                      "change_note": v.change_note})
    return {"items": items, "total": len(items)}


@bp.get("/api/v1/plans/<int:plan_id>/diff")
@require(*READ_ROLES)
@api_doc(summary="2つの版の差分", query_schema=DiffQuery)
def diff(plan_id: int):
    q = DiffQuery().load(request.args.to_dict())
    changes = services.diff_versions(db.session, current_actor(), plan_id, q["from_"], q["to"])
    return {"from": q["from_"], "to": q["to"], "items": [c.as_dict() for c in changes], "total": len(changes)}


@bp.get("/api/v1/plans/<int:plan_id>/events")
@require(*READ_ROLES)
@api_doc(summary="誰がいつ何をしたか")
def plan_events(plan_id: int):
    evs = services.events(db.session, current_actor(), plan_id)
    names = services.user_names(db.session, [e.user_id for e in evs])
    items = [{"at": iso_local(e.at), "version": e.version_number, "action": e.action,
              "action_label": services.ACTION_LABELS.get(e.action, e.action), "user_id": e.user_id,
              "user": names.get(e.user_id), "detail": e.detail} for e in evs]
    return {"items": items, "total": len(items)}


@bp.get("/api/v1/plans/<int:plan_id>/comments")
@require(*READ_ROLES)
@api_doc(summary="章ごとのコメント")
def list_comments(plan_id: int):
    cs = services.comments(db.session, current_actor(), plan_id)
    return {"items": [_comment_json(c) for c in cs], "total": len(cs)}


@bp.post("/api/v1/plans/<int:plan_id>/sections/<section_key>/comments")
@require(*READ_ROLES)
@api_doc(summary="章にコメントする", request_schema=CommentSchema, status=201)
def add_comment(plan_id: int, section_key: str):
    data = CommentSchema().load(json_body())
    c = services.add_comment(db.session, current_actor(), plan_id, section_key, data["body"], now=_now())
    db.session.commit()
    return _comment_json(c), 201


def _comment_json(c) -> dict:
    names = services.user_names(db.session, [c.author_id])
    return {"id": c.id, "section": c.section_key, "body": c.body, "author": names.get(c.author_id),
            "created_at": iso_local(c.created_at)}


def _export_response(plan_id: int, fmt: str, number: int | None) -> Response:
    doc = services.plan_doc(db.session, current_actor(), plan_id, number)
    db.session.commit()   # the audit row of the export
    mime, ext = EXPORT_TYPES[fmt]
    body = {"docx": to_docx, "html": to_html, "md": to_markdown}[fmt](doc)
    resp = Response(body, mimetype=mime.split(";")[0], content_type=mime)
    name = f"plan-{plan_id}-v{doc.version_number}.{ext}"
    if fmt != "html":
        resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return resp


@bp.get("/api/v1/plans/<int:plan_id>/export")
@require(*READ_ROLES)
@api_doc(summary="書き出し（DOCX / HTML / Markdown）", query_schema=ExportQuery)
def export(plan_id: int):
    q = ExportQuery().load(request.args.to_dict())
    return _export_response(plan_id, q["format"], q.get("version"))


@bp.get("/api/v1/plans/<int:plan_id>/evidence-pack")
@require(Role.ADMIN, Role.HUB_STAFF, Role.INSTITUTION_STAFF)
@api_doc(summary="監査用資料一式（計画書・承認履歴・見直し日・訓練）を zip で")
def evidence_pack(plan_id: int):
    name, data = review.evidence_pack(db.session, current_actor(), plan_id)
    db.session.commit()
    resp = Response(data, mimetype="application/zip")
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return resp


@bp.get("/api/v1/plan-reminders")
@require()
@api_doc(summary="自分あての見直しリマインダー（未読）")
def my_reminders():
    rs = review.my_reminders(db.session, current_actor())
    return {"items": [{"id": r.id, "plan_id": r.plan_id, "kind": r.kind, "due_on": r.due_on.isoformat(),
                       "message": r.message, "channel": r.channel, "created_at": iso_local(r.created_at)} for r in rs],
            "total": len(rs)}


# --- pages ------------------------------------------------------------------------------------------


@bp.get("/plans")
@require(*LIST_ROLES)
def plans_page():
    actor = current_actor()
    plans = db.session.scalars(services.list_plans_stmt(db.session, actor)).all()
    rows = [(p, services.progress_of(p)) for p in plans]
    orgs = []
    if actor.role in READ_ROLES:
        from bcp_service.orgs.services import list_organizations_stmt

        orgs = db.session.scalars(list_organizations_stmt(db.session, actor)).all()
        if actor.role is Role.INSTITUTION_STAFF:
            orgs = [o for o in orgs if o.id == actor.organization_id]
    reminders = review.my_reminders(db.session, actor)
    return render_template("plans/list.html", rows=rows, actor=actor, Role=Role, orgs=orgs,
                           type_labels=TYPE_LABELS, status_labels=STATUS_LABELS, reminders=reminders,
                           today=_today())


@bp.post("/plans")
@require(*READ_ROLES)
def create_plan_page():
    form = request.form
    plan_type = form.get("type", "")
    try:
        cmd = services.NewPlan(
            type=plan_type, title=form.get("title", ""),
            organization_id=form.get("organization_id", type=int) if plan_type == "kikan" else None,
            member_org_ids=tuple(int(i) for i in form.getlist("member_org_ids") if i.isdigit()),
            region_code=(form.get("region_code") or current_actor().scope) if plan_type == "chiiki" else None)
        plan = services.create_plan(db.session, current_actor(), cmd, now=_now())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(_message(exc), "error")
        return redirect(url_for("plans.plans_page"))
    return redirect(url_for("plans.plan_page", plan_id=plan.id))


def _message(exc: DomainError) -> str:
    details = "；".join(f"{'、'.join(v)}" for v in exc.fields.values()) if exc.fields else ""
    return exc.message + (f"（{details}）" if details else "")


@bp.get("/plans/<int:plan_id>")
@require(*READ_ROLES)
def plan_page(plan_id: int):
    actor = current_actor()
    plan = services.get_plan(db.session, actor, plan_id)
    version = services.current_version(plan)
    template = services.template_of(plan, version)
    progress = services.progress_of(plan, version)
    lib = services.get_library()
    comments = services.comments(db.session, actor, plan_id)
    names = services.user_names(db.session, [c.author_id for c in comments])
    return render_template("plans/overview.html", plan=plan, version=version, template=template, progress=progress,
                           may_edit=services._may_edit(actor, plan), actor=actor, Role=Role,
                           newer_template=lib.current(plan.type).version > version.template_version,
                           comments=comments, names=names, type_labels=TYPE_LABELS, status_labels=STATUS_LABELS)


@bp.get("/plans/<int:plan_id>/sections/<section_key>")
@require(*READ_ROLES)
def section_page(plan_id: int, section_key: str):
    actor = current_actor()
    plan = services.read_plan(db.session, actor, plan_id)
    db.session.commit()
    version = services.current_version(plan)
    template = services.template_of(plan, version)
    section = template.section(section_key)
    if section is None:
        abort(404)
    keys = [s.key for s in template.sections]
    i = keys.index(section_key)
    rows = {(a.section_key, a.field_key): a for a in version.answers}
    comments = [c for c in services.comments(db.session, actor, plan_id) if c.section_key == section_key]
    names = services.user_names(db.session, [c.author_id for c in comments])
    return render_template(
        "plans/section.html", plan=plan, version=version, template=template, section=section,
        progress=services.progress_of(plan, version), answers=services.answers_of(version).get(section_key, {}),
        rows=rows, prev_key=keys[i - 1] if i > 0 else None, next_key=keys[i + 1] if i + 1 < len(keys) else None,
        editable=services._may_edit(actor, plan) and version.status == "draft", comments=comments, names=names,
        index=i + 1, count=len(keys), status_labels=STATUS_LABELS)


@bp.post("/plans/<int:plan_id>/action/<action>")
@require(*READ_ROLES)
def action_page(plan_id: int, action: str):
    actions = {
        "submit": (services.submit, "提出しました。拠点の確認を待っています。"),
        "approve": (services.approve, "承認しました。"),
        "return": (lambda s, a, p, now: services.send_back(s, a, p, now=now, comment=request.form.get("comment")),
                   "差し戻しました。"),
        "revise": (lambda s, a, p, now: services.revise(s, a, p, now=now)[0], "新しい版の下書きを作りました。"),
        "upgrade": (lambda s, a, p, now: services.upgrade_draft(s, a, p, now=now)[0], "新しいテンプレートに移しました。"),
        "autofill": (lambda s, a, p, now: services.refresh_autofill(s, a, p, now=now,
                                                                    overwrite=request.form.getlist("overwrite")),
                     "自動入力を更新しました。"),
    }
    if action not in actions:
        abort(404)
    fn, ok = actions[action]
    try:
        fn(db.session, current_actor(), plan_id, now=_now())
        db.session.commit()
        flash(ok, "info")
    except DomainError as exc:
        db.session.rollback()
        flash(_message(exc), "error")
    back = request.form.get("next") or url_for("plans.plan_page", plan_id=plan_id)
    if not back.startswith("/plans/"):
        back = url_for("plans.plan_page", plan_id=plan_id)
    return redirect(back)


@bp.post("/plans/<int:plan_id>/sections/<section_key>/comments")
@require(*READ_ROLES)
def comment_page(plan_id: int, section_key: str):
    try:
        services.add_comment(db.session, current_actor(), plan_id, section_key, request.form.get("body", ""), now=_now())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(_message(exc), "error")
    return redirect(url_for("plans.section_page", plan_id=plan_id, section_key=section_key) + "#comments")


@bp.get("/plans/<int:plan_id>/print")
@require(*READ_ROLES)
def print_page(plan_id: int):
    return _export_response(plan_id, "html", request.args.get("version", type=int))


@bp.get("/plans/<int:plan_id>/history")
@require(*READ_ROLES)
def history_page(plan_id: int):
    actor = current_actor()
    plan = services.get_plan(db.session, actor, plan_id)
    evs = services.events(db.session, actor, plan_id)
    names = services.user_names(db.session, [e.user_id for e in evs] + [v.approved_by for v in plan.versions])
    a = request.args.get("from", type=int)
    b = request.args.get("to", type=int)
    changes = None
    if a and b:
        try:
            changes = services.diff_versions(db.session, actor, plan_id, a, b)
        except DomainError as exc:
            flash(_message(exc), "error")
    return render_template("plans/history.html", plan=plan, events=evs, names=names, changes=changes, a=a, b=b,
                           action_labels=services.ACTION_LABELS, status_labels=STATUS_LABELS)

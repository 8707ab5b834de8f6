"""Plans pages: the list, the authoring wizard (overview, sections), actions, history, print."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from bcp_service.auth import Role, current_actor, require
from bcp_service.db import db
from bcp_service.drills.evaluations import open_actions_for_plan
from bcp_service.errors import DomainError
from bcp_service.orgs.services import list_organizations_stmt

from .. import access, authoring, history, review, versions, workflow
from ..export import STATUS_LABELS
from ..states import is_editable
from ..templates import TYPE_LABELS
from .common import LIST_ROLES, READ_ROLES, clock_now, export_response, tokyo_today

bp = Blueprint("plans", __name__)


@bp.get("/plans")
@require(*LIST_ROLES)
def plans_page():
    actor = current_actor()
    plans = db.session.scalars(access.list_plans_stmt(db.session, actor)).all()
    rows = [(p, versions.progress_of(p)) for p in plans]
    orgs = []
    if actor.role in READ_ROLES:
        orgs = db.session.scalars(list_organizations_stmt(db.session, actor)).all()
        if actor.role is Role.INSTITUTION_STAFF:
            orgs = [o for o in orgs if o.id == actor.organization_id]
    reminders = review.my_reminders(db.session, actor)
    return render_template("plans/list.html", rows=rows, actor=actor, Role=Role, orgs=orgs,
                           type_labels=TYPE_LABELS, status_labels=STATUS_LABELS, reminders=reminders,
                           today=tokyo_today())


@bp.post("/plans")
@require(*READ_ROLES)
def create_plan_page():
    form = request.form
    plan_type = form.get("type", "")
    try:
        cmd = authoring.NewPlan(
            type=plan_type, title=form.get("title", ""),
            organization_id=form.get("organization_id", type=int) if plan_type == "kikan" else None,
            member_org_ids=tuple(int(i) for i in form.getlist("member_org_ids") if i.isdigit()),
            region_code=(form.get("region_code") or current_actor().scope) if plan_type == "chiiki" else None)
        plan = authoring.create_plan(db.session, current_actor(), cmd, now=clock_now())
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
    plan = access.get_plan(db.session, actor, plan_id)
    version = access.shown_version(actor, plan)
    template = versions.template_of(plan, version)
    progress = versions.progress_of(plan, version)
    lib = versions.get_library()
    comments = history.comments(db.session, actor, plan_id)
    names = history.user_names(db.session, [c.author_id for c in comments])
    return render_template("plans/overview.html", plan=plan, version=version, template=template, progress=progress,
                           may_edit=access.may_edit(actor, plan), actor=actor, Role=Role,
                           newer_template=lib.current(plan.type).version > version.template_version,
                           comments=comments, names=names, type_labels=TYPE_LABELS, status_labels=STATUS_LABELS)


@bp.get("/plans/<int:plan_id>/sections/<section_key>")
@require(*READ_ROLES)
def section_page(plan_id: int, section_key: str):
    actor = current_actor()
    plan = access.read_plan(db.session, actor, plan_id)
    db.session.commit()
    version = access.shown_version(actor, plan)
    template = versions.template_of(plan, version)
    section = template.section(section_key)
    if section is None:
        abort(404)
    keys = [s.key for s in template.sections]
    i = keys.index(section_key)
    rows = {(a.section_key, a.field_key): a for a in version.answers}
    comments = [c for c in history.comments(db.session, actor, plan_id) if c.section_key == section_key]
    names = history.user_names(db.session, [c.author_id for c in comments])
    return render_template(
        "plans/section.html", plan=plan, version=version, template=template, section=section,
        progress=versions.progress_of(plan, version), answers=versions.answers_of(version).get(section_key, {}),
        rows=rows, prev_key=keys[i - 1] if i > 0 else None, next_key=keys[i + 1] if i + 1 < len(keys) else None,
        editable=access.may_edit(actor, plan) and is_editable(version.status),
        open_actions=open_actions_for_plan(db.session, plan.id, today=tokyo_today()).get(section_key, []), comments=comments, names=names,
        index=i + 1, count=len(keys), status_labels=STATUS_LABELS)


@bp.post("/plans/<int:plan_id>/action/<action>")
@require(*READ_ROLES)
def action_page(plan_id: int, action: str):
    actions = {
        "submit": (workflow.submit, "提出しました。拠点の確認を待っています。"),
        "approve": (workflow.approve, "承認しました。"),
        "return": (lambda s, a, p, now: workflow.send_back(s, a, p, now=now, comment=request.form.get("comment")),
                   "差し戻しました。"),
        "revise": (lambda s, a, p, now: workflow.revise(s, a, p, now=now)[0], "新しい版の下書きを作りました。"),
        "upgrade": (lambda s, a, p, now: authoring.upgrade_draft(s, a, p, now=now)[0], "新しいテンプレートに移しました。"),
        "autofill": (lambda s, a, p, now: authoring.refresh_autofill(s, a, p, now=now,
                                                                    overwrite=request.form.getlist("overwrite")),
                     "自動入力を更新しました。"),
    }
    if action not in actions:
        abort(404)
    fn, ok = actions[action]
    try:
        fn(db.session, current_actor(), plan_id, now=clock_now())
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
        history.add_comment(db.session, current_actor(), plan_id, section_key, request.form.get("body", ""), now=clock_now())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(_message(exc), "error")
    return redirect(url_for("plans.section_page", plan_id=plan_id, section_key=section_key) + "#comments")


@bp.get("/plans/<int:plan_id>/print")
@require(*READ_ROLES)
def print_page(plan_id: int):
    return export_response(plan_id, "html", request.args.get("version", type=int))


@bp.get("/plans/<int:plan_id>/history")
@require(*READ_ROLES)
def history_page(plan_id: int):
    actor = current_actor()
    plan = access.get_plan(db.session, actor, plan_id)
    evs = history.events(db.session, actor, plan_id)
    names = history.user_names(db.session, [e.user_id for e in evs] + [v.approved_by for v in plan.versions])
    a = request.args.get("from", type=int)
    b = request.args.get("to", type=int)
    changes = None
    if a and b:
        try:
            changes = history.diff_versions(db.session, actor, plan_id, a, b)
        except DomainError as exc:
            flash(_message(exc), "error")
    return render_template("plans/history.html", plan=plan, events=evs, names=names, changes=changes, a=a, b=b,
                           action_labels=history.ACTION_LABELS, status_labels=STATUS_LABELS,
                           labels=_section_labels(plan))


def _section_labels(plan) -> dict[str, str]:
    """Section and ``section.field`` keys of every template the plan's versions used → their titles."""
    labels: dict[str, str] = {}
    for v in plan.versions:
        template = versions.get_library().get(plan.type, v.template_version)
        for sec in template.sections if template else ():
            labels[sec.key] = sec.title
            labels.update({f"{sec.key}.{f.key}": f"{sec.title}／{f.label}" for f in sec.fields})
    return labels

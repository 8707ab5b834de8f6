"""Drills pages: calendar, new drill, detail, facilitator console, evaluation, report."""
from __future__ import annotations

import base64
import calendar as pycal
from datetime import date, datetime, timedelta

import jpholiday
from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError

from bcp_service.auth import current_actor, require
from bcp_service.clock import to_local
from bcp_service.db import db
from bcp_service.drills import access, adapters, after_action, booking, evaluations, running
from bcp_service.drills import evaluation as ev
from bcp_service.drills.models import CorrectiveAction, Drill
from bcp_service.drills.report import HAZARD_JA, MODE_JA, checkin_chart_png, metric_rows, render_html
from bcp_service.drills.scenarios import TABLETOP_QUESTIONS
from bcp_service.drills.scheduling import TOKYO
from bcp_service.drills.schemas import ActionUpdateSchema, DrillCreateSchema, DrillUpdateSchema, EvaluationCreateSchema
from bcp_service.drills.states import DrillStatus, may_change_plan
from bcp_service.errors import DomainError, Invalid, NotFound
from bcp_service.orgs.services import list_organizations_stmt, list_regions_stmt

from .common import (STAFF, WRITERS, base_url, calendar_response, clock_now, docx_response, drill_calendar_response,
                     library)

bp = Blueprint("drills", __name__)


def _month_arg() -> date:
    raw = request.args.get("month")
    today = to_local(clock_now()).date()
    if raw:
        try:
            y, m = (int(x) for x in raw.split("-"))
            return date(y, m, 1)
        except ValueError:
            flash("月の指定が正しくありません（例: 2026-11）", "error")
    return today.replace(day=1)


@bp.get("/drills")
@require(*STAFF)
def calendar_page():
    actor = current_actor()
    month = _month_arg()
    start = datetime(month.year, month.month, 1, tzinfo=TOKYO)
    nxt = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    end = datetime(nxt.year, nxt.month, 1, tzinfo=TOKYO)
    drills = db.session.scalars(access.list_drills_stmt(db.session, actor, start=start, end=end)).all()
    upcoming = db.session.scalars(access.list_drills_stmt(db.session, actor, start=clock_now(), status=DrillStatus.SCHEDULED)
                                  .limit(10)).all()
    by_day: dict[int, list[Drill]] = {}
    for d in drills:
        by_day.setdefault(to_local(d.scheduled_at).day, []).append(d)
    prev = (month - timedelta(days=1)).replace(day=1)
    holidays = {d.day: n for d, n in jpholiday.month_holidays(month.year, month.month)}
    return render_template("drills/calendar.html", month=month, weeks=pycal.Calendar(0).monthdayscalendar(month.year, month.month),
                           by_day=by_day, holidays=holidays, upcoming=upcoming, prev=prev, nxt=nxt,
                           can_write=actor.role in WRITERS, MODE_JA=MODE_JA)


def _create_form_context(form: dict | None = None, errors: dict | None = None):
    actor = current_actor()
    regions = db.session.scalars(list_regions_stmt(db.session, actor)).all()
    orgs = db.session.scalars(list_organizations_stmt(db.session, actor)).all()
    plans = evaluations.visible_plans(db.session, actor)
    return dict(scenarios=list(library().values()), regions=regions, orgs=orgs, plans=plans,
                form=form or {}, errors=errors or {}, HAZARD_JA=HAZARD_JA)


@bp.get("/drills/new")
@require(*WRITERS)
def new_page():
    return render_template("drills/new.html", **_create_form_context())


@bp.post("/drills/new")
@require(*WRITERS)
def new_submit():
    form = request.form
    raw = {
        "title": form.get("title", ""), "scenario": form.get("scenario", ""), "mode": form.get("mode", ""),
        "scheduled_at": form.get("scheduled_at", ""), "region_code": form.get("region_code", ""),
        "duration_minutes": form.get("duration_minutes") or 120,
        "participant_org_ids": form.getlist("participant_org_ids"),
        "plan_ids": form.getlist("plan_ids"),
        "objectives": [line.strip() for line in form.get("objectives", "").splitlines() if line.strip()],
        "location": form.get("location") or None, "contact": form.get("contact") or None,
    }
    try:
        data = DrillCreateSchema().load(raw)
        drill, warnings = booking.create_drill(db.session, current_actor(), data, now=clock_now(), library=library(),
                                                notifier=adapters.notifier(), base_url=base_url())
    except ValidationError as exc:
        db.session.rollback()
        return render_template("drills/new.html", **_create_form_context(form.to_dict(), exc.messages)), 400
    except Invalid as exc:
        db.session.rollback()
        return render_template("drills/new.html", **_create_form_context(form.to_dict(), exc.fields)), 400
    db.session.commit()
    flash("訓練を登録しました。", "success")
    for w in warnings:
        flash(w.message, "warning")
    return redirect(url_for("drills.detail_page", drill_id=drill.id))


@bp.get("/drills/<int:drill_id>")
@require(*STAFF)
def detail_page(drill_id: int):
    actor = current_actor()
    drill = access.get_drill(db.session, actor, drill_id)
    scenario = library().get(drill.scenario_key)
    warnings = booking.schedule_warnings(db.session, drill) if may_change_plan(drill.status) else []
    metrics = after_action.drill_metrics(db.session, drill, adapters.outage_desk())
    chart = base64.b64encode(checkin_chart_png(metrics)).decode("ascii") if metrics and metrics.targets else None
    today = to_local(clock_now()).date()
    can_write = actor.role in WRITERS
    desk = adapters.outage_desk()
    real_outages = (desk.active_real_outages(db.session, drill.region_code)
                    if can_write and drill.mode == ev.LIVE_MODE and drill.status == "scheduled" else [])
    excluded = desk.excluded_patients(db.session, drill.outage_id) if drill.outage_id else []
    return render_template("drills/detail.html", drill=drill, scenario=scenario, warnings=warnings,
                           real_outages=real_outages, excluded=excluded,
                           can_write=can_write, metrics=metrics, chart=chart,
                           metric_rows=metric_rows(metrics) if metrics else None, MODE_JA=MODE_JA,
                           RATING_LONG_JA=ev.RATING_LONG_JA, ELEMENTS=ev.ELEMENTS,
                           ACTION_STATUSES=ev.ACTION_STATUSES, today=today,
                           participant_choices=(_participant_choices(drill)
                                                if can_write and may_change_plan(drill.status) else []))


def _participant_choices(drill: Drill) -> list:
    """Organisations for the 参加機関の変更 form: those in the actor's scope (as on the new-drill form)
    and the current participants, so that one outside the scope is not dropped by being left out."""
    orgs = list(db.session.scalars(list_organizations_stmt(db.session, current_actor())))
    shown = {o.id for o in orgs}
    orgs += [p.organization for p in drill.participants if p.organization_id not in shown and p.organization]
    return orgs


def _page_action(drill_id: int, fn, ok: str):
    try:
        fn()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message + "".join(f"（{'、'.join(v)}）" for v in (exc.fields or {}).values()), "error")
        return redirect(url_for("drills.detail_page", drill_id=drill_id))
    db.session.commit()
    flash(ok, "success")
    return None


@bp.post("/drills/<int:drill_id>/start")
@require(*WRITERS)
def start_page(drill_id: int):
    failed = _page_action(drill_id, lambda: running.start_drill(
        db.session, current_actor(), drill_id, now=clock_now(), library=library(), desk=adapters.outage_desk(),
        notifier=adapters.notifier(), base_url=base_url(), confirm_overlap=request.form.get("confirm_overlap") == "1"),
        "訓練を開始しました。")
    if failed:
        return failed
    drill = db.session.get(Drill, drill_id)
    target = "drills.console_page" if drill.mode == "tabletop" else "drills.detail_page"
    return redirect(url_for(target, drill_id=drill_id))


@bp.post("/drills/<int:drill_id>/finish")
@require(*WRITERS)
def finish_page(drill_id: int):
    failed = _page_action(drill_id, lambda: running.finish_drill(
        db.session, current_actor(), drill_id, now=clock_now(), desk=adapters.outage_desk()), "訓練を終了しました。")
    return failed or redirect(url_for("drills.detail_page", drill_id=drill_id))


@bp.post("/drills/<int:drill_id>/summary")
@require(*WRITERS)
def summary_page(drill_id: int):
    try:
        data = DrillUpdateSchema().load({"summary": (request.form.get("summary") or "").strip() or None})
    except ValidationError as exc:
        flash("総括が長すぎます。" + "".join(str(m) for m in exc.messages.get("summary", [])), "error")
        return redirect(url_for("drills.detail_page", drill_id=drill_id))
    failed = _page_action(drill_id, lambda: booking.update_drill(db.session, current_actor(), drill_id, data,
                                                                  now=clock_now()), "総括を保存しました。")
    return failed or redirect(url_for("drills.detail_page", drill_id=drill_id))


@bp.post("/drills/<int:drill_id>/participants")
@require(*WRITERS)
def participants_page(drill_id: int):
    try:
        data = DrillUpdateSchema().load({"participant_org_ids": request.form.getlist("participant_org_ids")})
    except ValidationError:
        flash("参加機関の指定が正しくありません。", "error")
        return redirect(url_for("drills.detail_page", drill_id=drill_id))
    failed = _page_action(drill_id, lambda: booking.update_drill(
        db.session, current_actor(), drill_id, data, now=clock_now(), notifier=adapters.notifier(),
        base_url=base_url()), "参加機関を更新しました。")
    return failed or redirect(url_for("drills.detail_page", drill_id=drill_id))


@bp.post("/drills/actions/<int:action_id>/status")
@require(*WRITERS)
def action_status_page(action_id: int):
    action = db.session.get(CorrectiveAction, action_id)
    if action is None:
        raise NotFound(f"corrective action {action_id} not found")
    drill_id = action.drill_id
    try:
        data = ActionUpdateSchema().load({"status": request.form.get("status", "")})
    except ValidationError:
        flash("状況の指定が正しくありません。", "error")
        return redirect(url_for("drills.detail_page", drill_id=drill_id))
    failed = _page_action(drill_id, lambda: evaluations.update_action(db.session, current_actor(), action_id, data,
                                                                   now=clock_now()), "是正措置の状況を更新しました。")
    return failed or redirect(url_for("drills.detail_page", drill_id=drill_id))


@bp.get("/drills/<int:drill_id>/console")
@require(*WRITERS)
def console_page(drill_id: int):
    drill = access.get_drill(db.session, current_actor(), drill_id)
    scenario = running.scenario_for(library(), drill.scenario_key)
    inject = scenario.injects[drill.current_inject]
    answers = [e for e in drill.log_entries if e.inject_id == inject.id and e.kind == "answer"]
    return render_template("drills/console.html", drill=drill, scenario=scenario, inject=inject,
                           position=drill.current_inject + 1, total=len(scenario.injects),
                           questions=TABLETOP_QUESTIONS, answers=answers,
                           log=list(reversed(drill.log_entries))[:50],
                           question_labels=dict(TABLETOP_QUESTIONS))


@bp.post("/drills/<int:drill_id>/console/answers")
@require(*WRITERS)
def console_answers(drill_id: int):
    actor = current_actor()
    org_id = request.form.get("organization_id", type=int)
    inject_id = request.form.get("inject_id") or None
    entered = [(key, (request.form.get(key) or "").strip()) for key, _ in TABLETOP_QUESTIONS]
    entered = [(k, t) for k, t in entered if t]
    if not entered:
        flash("回答が入力されていません。", "error")
        return redirect(url_for("drills.console_page", drill_id=drill_id))
    try:
        for key, text in entered:
            running.add_log(db.session, actor, drill_id,
                             {"text": text, "question": key, "inject_id": inject_id, "organization_id": org_id},
                             now=clock_now(), library=library())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message + "".join(f"（{', '.join(v)}）" for v in exc.fields.values()), "error")
        return redirect(url_for("drills.console_page", drill_id=drill_id))
    db.session.commit()
    flash(f"回答を{len(entered)}件記録しました。", "success")
    return redirect(url_for("drills.console_page", drill_id=drill_id))


@bp.post("/drills/<int:drill_id>/console/next")
@require(*WRITERS)
def console_next(drill_id: int):
    _page_action(drill_id, lambda: running.advance_inject(
        db.session, current_actor(), drill_id, now=clock_now(), library=library()), "次の状況付与に進みました。")
    # Either way the facilitator stays on the console; a failure was flashed.
    return redirect(url_for("drills.console_page", drill_id=drill_id))


def _evaluate_context(drill, form=None, errors=None):
    actor = current_actor()
    orgs = db.session.scalars(list_organizations_stmt(db.session, actor)).all()
    evaluated = {e.objective for e in drill.evaluations}
    plans = evaluations.visible_plans(db.session, actor)
    sections = {p.id: evaluations.plan_sections(p) for p in plans}
    return dict(drill=drill, objectives=[o for o in drill.objectives if o not in evaluated], orgs=orgs,
                plans=plans, sections=sections, RATINGS=ev.RATINGS, ELEMENTS=ev.ELEMENTS,
                form=form or {}, errors=errors or {})


@bp.get("/drills/<int:drill_id>/evaluate")
@require(*WRITERS)
def evaluate_page(drill_id: int):
    drill = access.get_drill(db.session, current_actor(), drill_id, write=True)
    return render_template("drills/evaluate.html", **_evaluate_context(drill))


@bp.post("/drills/<int:drill_id>/evaluate")
@require(*WRITERS)
def evaluate_submit(drill_id: int):
    actor = current_actor()
    drill = access.get_drill(db.session, actor, drill_id, write=True)
    form = request.form
    raw = {"objective": form.get("objective", ""), "rating": form.get("rating", ""),
           "strengths": form.get("strengths", ""), "improvements": form.get("improvements", ""),
           "root_cause": form.get("root_cause", ""), "corrective_actions": []}
    if form.get("action_title", "").strip():
        plan_section = form.get("plan_section") or ""
        plan_id, _, section_key = plan_section.partition(":")
        raw["corrective_actions"].append({
            "title": form["action_title"].strip(), "owner_org_id": form.get("owner_org_id") or None,
            "due": form.get("due") or None, "start": form.get("start") or None,
            "element": form.get("element") or "planning", "contact": form.get("contact") or None,
            "plan_id": int(plan_id) if plan_id.isdigit() else None, "section_key": section_key or None})
    try:
        data = EvaluationCreateSchema().load(raw)
        evaluations.add_evaluation(db.session, actor, drill_id, data, now=clock_now())
    except ValidationError as exc:
        db.session.rollback()
        return render_template("drills/evaluate.html", **_evaluate_context(drill, form.to_dict(), _flatten(exc.messages))), 400
    except Invalid as exc:
        db.session.rollback()
        return render_template("drills/evaluate.html", **_evaluate_context(drill, form.to_dict(), exc.fields)), 400
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("drills.evaluate_page", drill_id=drill_id))
    db.session.commit()
    flash("評価を記録しました。", "success")
    return redirect(url_for("drills.detail_page", drill_id=drill_id))


def _flatten(messages, prefix="") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for k, v in messages.items():
            for kk, vv in _flatten(v, f"{prefix}{k}.").items():
                out[kk] = vv
    else:
        out[prefix.rstrip(".")] = [str(m) for m in (messages if isinstance(messages, list) else [messages])]
    return out


@bp.get("/drills/<int:drill_id>/report")
@require(*STAFF)
def report_page(drill_id: int):
    report = after_action.build_report(db.session, current_actor(), drill_id, now=clock_now(), library=library(),
                                         desk=adapters.outage_desk())
    db.session.commit()
    return Response(render_html(report), mimetype="text/html")


@bp.get("/drills/<int:drill_id>/report.docx")
@require(*STAFF)
def report_docx(drill_id: int):
    report = after_action.build_report(db.session, current_actor(), drill_id, now=clock_now(), library=library(),
                                         desk=adapters.outage_desk())
    db.session.commit()
    return docx_response(report, drill_id)


@bp.get("/drills/<int:drill_id>.ics")
@require(*STAFF)
def drill_ics(drill_id: int):
    return drill_calendar_response(drill_id)


@bp.get("/drills/calendar.ics")
@require(*STAFF)
def calendar_ics():
    return calendar_response()

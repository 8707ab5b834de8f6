"""Drills API (API.md, Drills) and pages: calendar, detail, facilitator console, evaluation, report."""
from __future__ import annotations

import base64
import calendar as pycal
from datetime import date, datetime, timedelta
from urllib.parse import urlparse

from flask import (Blueprint, Response, current_app, flash, redirect, render_template, request, url_for)
from marshmallow import ValidationError

from bcp_service.api import api_doc, json_body, page_args, paginate
from bcp_service.auth import Role, current_actor, require
from bcp_service.clock import get_clock, to_local
from bcp_service.db import db
from bcp_service.drills import adapters, services
from bcp_service.drills import evaluation as ev
from bcp_service.drills.ics import build_calendar
from bcp_service.drills.models import CorrectiveAction, Drill
from bcp_service.drills.report import (MODE_JA, HAZARD_JA, checkin_chart_png, metric_rows, render_docx,
                                       render_html)
from bcp_service.drills.scenarios import DEFAULT_DIR, TABLETOP_QUESTIONS, load_library
from bcp_service.drills.scheduling import TOKYO
from bcp_service.drills.schemas import (ActionUpdateSchema, CorrectiveActionSchema, DrillCreateSchema, DrillQuery,
                                        DrillSchema, DrillUpdateSchema, EvaluationCreateSchema, EvaluationSchema,
                                        LogCreateSchema, LogEntrySchema)
from bcp_service.errors import Invalid, NotFound, DomainError

bp = Blueprint("drills", __name__)

STAFF = (Role.ADMIN, Role.HUB_STAFF, Role.INSTITUTION_STAFF, Role.FIELD_TEAM)
WRITERS = (Role.ADMIN, Role.HUB_STAFF)


@bp.record_once
def _load_scenarios(state) -> None:
    # Validated at start-up: a broken scenario file stops the app with the file and field named.
    app = state.app
    app.extensions["drill_scenarios"] = load_library(app.config.get("DRILLS_DIR") or DEFAULT_DIR)


@bp.app_template_global("drill_open_actions")
def drill_open_actions(plan_id: int, section_key: str | None) -> list[dict]:
    """Open corrective actions from drills for one plan section (used by the plans section page).

    The plans view has already checked that the user may see this plan.
    """
    today = to_local(_now()).date()
    return services.open_actions_for_plan(db.session, plan_id, today=today).get(section_key, [])


def library():
    return current_app.extensions["drill_scenarios"]


def _now() -> datetime:
    return get_clock().now()


def _base_url() -> str:
    return current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/")


def _host() -> str:
    return urlparse(_base_url()).hostname or "bcp-service"


def _drill_json(drill: Drill, warnings=None) -> dict:
    body = DrillSchema().dump(drill)
    body["participants"] = [
        {"organization_id": p.organization_id, "organization_name": p.organization_name,
         "contact_name": p.contact_name, "invited": p.invited_at is not None}
        for p in drill.participants]
    if warnings is not None:
        body["warnings"] = [w.as_dict() for w in warnings]
    return body


# --- API: scenarios ---------------------------------------------------------------------------------

@bp.get("/api/v1/drill-scenarios")
@require()
@api_doc(summary="訓練シナリオの一覧 (drills/ の YAML)")
def list_scenarios():
    items = [{"key": s.key, "title": s.title, "hazard": s.hazard, "duration_hours": s.duration_hours,
              "injects": len(s.injects), "objectives": [o.text for o in s.objectives], "metrics": list(s.metrics)}
             for s in library().values()]
    return {"items": items, "total": len(items)}


@bp.get("/api/v1/drill-scenarios/<key>")
@require()
@api_doc(summary="訓練シナリオの詳細（状況付与・目標・指標）")
def get_scenario(key: str):
    s = library().get(key)
    if s is None:
        raise NotFound(f"scenario {key} not found")
    return {
        "key": s.key, "title": s.title, "hazard": s.hazard, "duration_hours": s.duration_hours, "summary": s.summary,
        "functional": {"cause": s.cause, "expected_restoration_hours": s.expected_restoration_hours},
        "injects": [{"id": i.id, "at_minutes": i.at_minutes, "title": i.title, "situation": i.situation,
                     "to": list(i.to), "expected_actions": list(i.expected_actions)} for i in s.injects],
        "objectives": [{"key": o.key, "text": o.text,
                        "plan_sections": [{"plan_type": r.plan_type, "section_key": r.section_key}
                                          for r in o.plan_sections]} for o in s.objectives],
        "metrics": list(s.metrics),
        "questions": [{"key": k, "text": t} for k, t in TABLETOP_QUESTIONS],
    }


# --- API: drills -------------------------------------------------------------------------------------

@bp.post("/api/v1/drills")
@require(*WRITERS)
@api_doc(summary="訓練を登録する（祝日・重複の警告つき）", request_schema=DrillCreateSchema,
         response_schema=DrillSchema, status=201)
def create_drill():
    data = DrillCreateSchema().load(json_body())
    drill, warnings = services.create_drill(db.session, current_actor(), data, now=_now(), library=library(),
                                            notifier=adapters.notifier(), base_url=_base_url())
    db.session.commit()
    return _drill_json(drill, warnings), 201


@bp.get("/api/v1/drills")
@require(*STAFF)
@api_doc(summary="訓練の一覧（予定表）", response_schema=DrillSchema, query_schema=DrillQuery, many=True)
def list_drills():
    q = DrillQuery().load(request.args)
    limit, offset = page_args()
    stmt = services.list_drills_stmt(db.session, current_actor(), region_code=q.get("region_code"),
                                     status=q.get("status"), start=q.get("start"), end=q.get("end"))
    return paginate(db.session, stmt, DrillSchema(), limit=limit, offset=offset)


@bp.get("/api/v1/drills/<int:drill_id>")
@require(*STAFF)
@api_doc(summary="訓練の詳細", response_schema=DrillSchema)
def get_drill(drill_id: int):
    drill = services.get_drill(db.session, current_actor(), drill_id)
    warnings = services.schedule_warnings(db.session, drill) if drill.status == "scheduled" else []
    return _drill_json(drill, warnings)


@bp.patch("/api/v1/drills/<int:drill_id>")
@require(*WRITERS)
@api_doc(summary="訓練の日時・総括・参加機関の変更、中止（参加機関は participant_org_ids と participants で"
                 "新しい全体を指定。追加した機関の連絡先に案内を送る）",
         request_schema=DrillUpdateSchema, response_schema=DrillSchema)
def update_drill(drill_id: int):
    data = DrillUpdateSchema().load(json_body())
    drill, warnings = services.update_drill(db.session, current_actor(), drill_id, data, now=_now(),
                                            notifier=adapters.notifier(), base_url=_base_url())
    db.session.commit()
    return _drill_json(drill, warnings)


@bp.post("/api/v1/drills/<int:drill_id>/start")
@require(*WRITERS)
@api_doc(summary="訓練を開始する（機能訓練は drill: true の停電を開く）", response_schema=DrillSchema)
def start_drill(drill_id: int):
    drill = services.start_drill(db.session, current_actor(), drill_id, now=_now(), library=library(),
                                 desk=adapters.outage_desk(), notifier=adapters.notifier(), base_url=_base_url())
    db.session.commit()
    return _drill_json(drill)


@bp.post("/api/v1/drills/<int:drill_id>/next-inject")
@require(*WRITERS)
@api_doc(summary="次の状況付与へ進む", response_schema=DrillSchema)
def next_inject(drill_id: int):
    drill = services.advance_inject(db.session, current_actor(), drill_id, now=_now(), library=library())
    db.session.commit()
    return _drill_json(drill)


@bp.post("/api/v1/drills/<int:drill_id>/finish")
@require(*WRITERS)
@api_doc(summary="訓練を終了する", response_schema=DrillSchema)
def finish_drill(drill_id: int):
    drill = services.finish_drill(db.session, current_actor(), drill_id, now=_now(), desk=adapters.outage_desk())
    db.session.commit()
    return _drill_json(drill)


@bp.post("/api/v1/drills/<int:drill_id>/log")
@require(*STAFF)
@api_doc(summary="訓練記録（3つの問いへの回答・メモ）を時刻つきで残す", request_schema=LogCreateSchema,
         response_schema=LogEntrySchema, status=201)
def add_log(drill_id: int):
    data = LogCreateSchema().load(json_body())
    entry = services.add_log(db.session, current_actor(), drill_id, data, now=_now(), library=library())
    db.session.commit()
    return LogEntrySchema().dump(entry), 201


@bp.get("/api/v1/drills/<int:drill_id>/log")
@require(*STAFF)
@api_doc(summary="訓練記録", response_schema=LogEntrySchema, many=True)
def get_log(drill_id: int):
    drill = services.get_drill(db.session, current_actor(), drill_id)
    return {"items": LogEntrySchema().dump(drill.log_entries, many=True), "total": len(drill.log_entries)}


@bp.post("/api/v1/drills/<int:drill_id>/evaluations")
@require(*WRITERS)
@api_doc(summary="目標ごとの評価 (P/S/M/U) と是正措置", request_schema=EvaluationCreateSchema,
         response_schema=EvaluationSchema, status=201)
def add_evaluation(drill_id: int):
    data = EvaluationCreateSchema().load(json_body())
    evaluation = services.add_evaluation(db.session, current_actor(), drill_id, data, now=_now())
    db.session.commit()
    return EvaluationSchema().dump(evaluation), 201


@bp.get("/api/v1/drills/<int:drill_id>/evaluations")
@require(*STAFF)
@api_doc(summary="評価の一覧", response_schema=EvaluationSchema, many=True)
def list_evaluations(drill_id: int):
    drill = services.get_drill(db.session, current_actor(), drill_id)
    return {"items": EvaluationSchema().dump(drill.evaluations, many=True), "total": len(drill.evaluations)}


@bp.patch("/api/v1/corrective-actions/<int:action_id>")
@require(*WRITERS)
@api_doc(summary="是正措置の状況・期限を更新する", request_schema=ActionUpdateSchema,
         response_schema=CorrectiveActionSchema)
def update_action(action_id: int):
    data = ActionUpdateSchema().load(json_body())
    action = services.update_action(db.session, current_actor(), action_id, data, now=_now())
    db.session.commit()
    return CorrectiveActionSchema().dump(action)


@bp.get("/api/v1/plans/<int:plan_id>/open-actions")
@require(*STAFF)
@api_doc(summary="計画の章ごとの未完了の是正措置")
def plan_open_actions(plan_id: int):
    services.check_plan_visible(db.session, current_actor(), plan_id)
    today = to_local(_now()).date()
    grouped = services.open_actions_for_plan(db.session, plan_id, today=today)
    return {"sections": {k or "": [{**a, "due": a["due"].isoformat()} for a in v] for k, v in grouped.items()}}


@bp.get("/api/v1/drills/<int:drill_id>/metrics")
@require(*STAFF)
@api_doc(summary="機能訓練の指標（50/90/100%到達、応答率、最初の搬送、連絡不能）")
def get_metrics(drill_id: int):
    drill = services.get_drill(db.session, current_actor(), drill_id)
    m = services.drill_metrics(db.session, drill, adapters.outage_desk())
    if m is None:
        return {"drill_id": drill.id, "metrics": None, "curve": []}
    return {"drill_id": drill.id, "metrics": m.as_dict(), "curve": [list(p) for p in m.curve]}


@bp.get("/api/v1/drills/<int:drill_id>/report")
@require(*STAFF)
@api_doc(summary="訓練事後報告書・改善計画 (format=docx|html)")
def get_report(drill_id: int):
    fmt = request.args.get("format", "html")
    if fmt not in ("docx", "html"):
        raise Invalid("format は docx か html です", fields={"format": ["docx か html を指定してください"]})
    report = services.build_report(db.session, current_actor(), drill_id, now=_now(), library=library(),
                                   desk=adapters.outage_desk())
    db.session.commit()   # the audit row of this read
    if fmt == "docx":
        return Response(render_docx(report),
                        mimetype="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                        headers={"Content-Disposition": f'attachment; filename="drill-{drill_id}-aar.docx"'})
    return Response(render_html(report), mimetype="text/html")


@bp.get("/api/v1/drills/<int:drill_id>/calendar.ics")
@bp.get("/drills/<int:drill_id>.ics")
@require(*STAFF)
@api_doc(summary="訓練1件の iCalendar (.ics)")
def drill_ics(drill_id: int):
    drill = services.get_drill(db.session, current_actor(), drill_id)
    body = build_calendar([services.calendar_event(drill, _base_url(), _host())], stamp=_now(),
                          name=f"訓練: {drill.title}")
    return Response(body, mimetype="text/calendar",
                    headers={"Content-Disposition": f'attachment; filename="drill-{drill_id}.ics"'})


@bp.get("/api/v1/drills/calendar.ics")
@bp.get("/drills/calendar.ics")
@require(*STAFF)
@api_doc(summary="圏域の訓練予定表 (.ics)")
def calendar_ics():
    q = DrillQuery().load({k: v for k, v in request.args.items() if k in ("region_code", "from", "to")})
    stmt = services.list_drills_stmt(db.session, current_actor(), region_code=q.get("region_code"),
                                     start=q.get("start"), end=q.get("end"))
    drills = db.session.scalars(stmt).all()
    body = build_calendar([services.calendar_event(d, _base_url(), _host()) for d in drills], stamp=_now())
    return Response(body, mimetype="text/calendar",
                    headers={"Content-Disposition": 'attachment; filename="drills.ics"'})


# --- pages -------------------------------------------------------------------------------------------


def _month_arg() -> date:
    raw = request.args.get("month")
    today = to_local(_now()).date()
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
    drills = db.session.scalars(services.list_drills_stmt(db.session, actor, start=start, end=end)).all()
    upcoming = db.session.scalars(services.list_drills_stmt(db.session, actor, start=_now(), status="scheduled")
                                  .limit(10)).all()
    by_day: dict[int, list[Drill]] = {}
    for d in drills:
        by_day.setdefault(to_local(d.scheduled_at).day, []).append(d)
    prev = (month - timedelta(days=1)).replace(day=1)
    import jpholiday
    holidays = {d.day: n for d, n in jpholiday.month_holidays(month.year, month.month)}
    return render_template("drills/calendar.html", month=month, weeks=pycal.Calendar(0).monthdayscalendar(month.year, month.month),
                           by_day=by_day, holidays=holidays, upcoming=upcoming, prev=prev, nxt=nxt,
                           can_write=actor.role in WRITERS, MODE_JA=MODE_JA)


def _create_form_context(form: dict | None = None, errors: dict | None = None):
    from bcp_service.orgs.services import list_organizations_stmt, list_regions_stmt

    actor = current_actor()
    regions = db.session.scalars(list_regions_stmt(db.session, actor)).all()
    orgs = db.session.scalars(list_organizations_stmt(db.session, actor)).all()
    plans = services.visible_plans(db.session, actor)
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
        drill, warnings = services.create_drill(db.session, current_actor(), data, now=_now(), library=library(),
                                                notifier=adapters.notifier(), base_url=_base_url())
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
    drill = services.get_drill(db.session, actor, drill_id)
    scenario = library().get(drill.scenario_key)
    warnings = services.schedule_warnings(db.session, drill) if drill.status == "scheduled" else []
    metrics = services.drill_metrics(db.session, drill, adapters.outage_desk())
    chart = base64.b64encode(checkin_chart_png(metrics)).decode("ascii") if metrics and metrics.targets else None
    today = to_local(_now()).date()
    can_write = actor.role in WRITERS
    return render_template("drills/detail.html", drill=drill, scenario=scenario, warnings=warnings,
                           can_write=can_write, metrics=metrics, chart=chart,
                           metric_rows=metric_rows(metrics) if metrics else None, MODE_JA=MODE_JA,
                           RATING_LONG_JA=ev.RATING_LONG_JA, ELEMENTS=ev.ELEMENTS,
                           ACTION_STATUSES=ev.ACTION_STATUSES, today=today,
                           participant_choices=(_participant_choices(drill)
                                                if can_write and drill.status == "scheduled" else []))


def _participant_choices(drill: Drill) -> list:
    """Organisations for the 参加機関の変更 form: those in the actor's scope (as on the new-drill form)
    and the current participants, so that one outside the scope is not dropped by being left out."""
    from bcp_service.orgs.services import list_organizations_stmt

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
    failed = _page_action(drill_id, lambda: services.start_drill(
        db.session, current_actor(), drill_id, now=_now(), library=library(), desk=adapters.outage_desk(),
        notifier=adapters.notifier(), base_url=_base_url()),
        "訓練を開始しました。")
    if failed:
        return failed
    drill = db.session.get(Drill, drill_id)
    target = "drills.console_page" if drill.mode == "tabletop" else "drills.detail_page"
    return redirect(url_for(target, drill_id=drill_id))


@bp.post("/drills/<int:drill_id>/finish")
@require(*WRITERS)
def finish_page(drill_id: int):
    failed = _page_action(drill_id, lambda: services.finish_drill(
        db.session, current_actor(), drill_id, now=_now(), desk=adapters.outage_desk()), "訓練を終了しました。")
    return failed or redirect(url_for("drills.detail_page", drill_id=drill_id))


@bp.post("/drills/<int:drill_id>/summary")
@require(*WRITERS)
def summary_page(drill_id: int):
    try:
        data = DrillUpdateSchema().load({"summary": (request.form.get("summary") or "").strip() or None})
    except ValidationError as exc:
        flash("総括が長すぎます。" + "".join(str(m) for m in exc.messages.get("summary", [])), "error")
        return redirect(url_for("drills.detail_page", drill_id=drill_id))
    failed = _page_action(drill_id, lambda: services.update_drill(db.session, current_actor(), drill_id, data,
                                                                  now=_now()), "総括を保存しました。")
    return failed or redirect(url_for("drills.detail_page", drill_id=drill_id))


@bp.post("/drills/<int:drill_id>/participants")
@require(*WRITERS)
def participants_page(drill_id: int):
    try:
        data = DrillUpdateSchema().load({"participant_org_ids": request.form.getlist("participant_org_ids")})
    except ValidationError:
        flash("参加機関の指定が正しくありません。", "error")
        return redirect(url_for("drills.detail_page", drill_id=drill_id))
    failed = _page_action(drill_id, lambda: services.update_drill(
        db.session, current_actor(), drill_id, data, now=_now(), notifier=adapters.notifier(),
        base_url=_base_url()), "参加機関を更新しました。")
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
    failed = _page_action(drill_id, lambda: services.update_action(db.session, current_actor(), action_id, data,
                                                                   now=_now()), "是正措置の状況を更新しました。")
    return failed or redirect(url_for("drills.detail_page", drill_id=drill_id))


@bp.get("/drills/<int:drill_id>/console")
@require(*WRITERS)
def console_page(drill_id: int):
    drill = services.get_drill(db.session, current_actor(), drill_id)
    scenario = services.scenario_for(library(), drill.scenario_key)
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
            services.add_log(db.session, actor, drill_id,
                             {"text": text, "question": key, "inject_id": inject_id, "organization_id": org_id},
                             now=_now(), library=library())
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
    failed = _page_action(drill_id, lambda: services.advance_inject(
        db.session, current_actor(), drill_id, now=_now(), library=library()), "次の状況付与に進みました。")
    # Either way the facilitator stays on the console; a failure was flashed.
    return redirect(url_for("drills.console_page", drill_id=drill_id))


def _evaluate_context(drill, form=None, errors=None):
    from bcp_service.orgs.services import list_organizations_stmt

    actor = current_actor()
    orgs = db.session.scalars(list_organizations_stmt(db.session, actor)).all()
    evaluated = {e.objective for e in drill.evaluations}
    plans = services.visible_plans(db.session, actor)
    sections = {p.id: services.plan_sections(p) for p in plans}
    return dict(drill=drill, objectives=[o for o in drill.objectives if o not in evaluated], orgs=orgs,
                plans=plans, sections=sections, RATINGS=ev.RATINGS, ELEMENTS=ev.ELEMENTS,
                form=form or {}, errors=errors or {})


@bp.get("/drills/<int:drill_id>/evaluate")
@require(*WRITERS)
def evaluate_page(drill_id: int):
    drill = services.get_drill(db.session, current_actor(), drill_id, write=True)
    return render_template("drills/evaluate.html", **_evaluate_context(drill))


@bp.post("/drills/<int:drill_id>/evaluate")
@require(*WRITERS)
def evaluate_submit(drill_id: int):
    actor = current_actor()
    drill = services.get_drill(db.session, actor, drill_id, write=True)
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
        services.add_evaluation(db.session, actor, drill_id, data, now=_now())
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
    report = services.build_report(db.session, current_actor(), drill_id, now=_now(), library=library(),
                                   desk=adapters.outage_desk())
    db.session.commit()
    return Response(render_html(report), mimetype="text/html")


@bp.get("/drills/<int:drill_id>/report.docx")
@require(*STAFF)
def report_docx(drill_id: int):
    report = services.build_report(db.session, current_actor(), drill_id, now=_now(), library=library(),
                                   desk=adapters.outage_desk())
    db.session.commit()
    return Response(render_docx(report),
                    mimetype="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    headers={"Content-Disposition": f'attachment; filename="drill-{drill_id}-aar.docx"'})

"""Drills API (API.md, Drills): scenarios, drills, run log, evaluations, corrective actions, report, calendar."""
from __future__ import annotations

from flask import Blueprint, Response, request
from sqlalchemy import select

from bcp_service.api import api_doc, json_body, page_args, paginate
from bcp_service.auth import current_actor, require
from bcp_service.db import db
from bcp_service.drills import access, adapters, after_action, booking, evaluations, running
from bcp_service.drills.models import DrillLogEntry, Evaluation
from bcp_service.drills.report import render_html
from bcp_service.drills.scenarios import DEFAULT_DIR, TABLETOP_QUESTIONS, load_library
from bcp_service.drills.schemas import (ActionUpdateSchema, CorrectiveActionSchema, DrillCreateSchema, DrillQuery,
                                        DrillSchema, DrillUpdateSchema, EvaluationCreateSchema, EvaluationSchema,
                                        LogCreateSchema, LogEntrySchema)
from bcp_service.drills.states import may_change_plan
from bcp_service.errors import Invalid, NotFound

from .common import (STAFF, WRITERS, base_url, calendar_response, clock_now, docx_response, drill_calendar_response,
                     drill_json, library)

bp = Blueprint("drills_api", __name__)


@bp.record_once
def _load_scenarios(state) -> None:
    # Validated at start-up: a broken scenario file stops the app with the file and field named.
    app = state.app
    app.extensions["drill_scenarios"] = load_library(app.config.get("DRILLS_DIR") or DEFAULT_DIR)


@bp.get("/api/v1/drill-scenarios")
@require()
@api_doc(summary="訓練シナリオの一覧 (drills/ の YAML)")
def list_scenarios():
    limit, offset = page_args()
    return paginate(None, list(library().values()), limit=limit, offset=offset, dump=lambda s: {
        "key": s.key, "title": s.title, "hazard": s.hazard, "duration_hours": s.duration_hours,
        "injects": len(s.injects), "objectives": [o.text for o in s.objectives], "metrics": list(s.metrics)})


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


@bp.post("/api/v1/drills")
@require(*WRITERS)
@api_doc(summary="訓練を登録する（祝日・重複の警告つき）", request_schema=DrillCreateSchema,
         response_schema=DrillSchema, status=201)
def create_drill():
    data = DrillCreateSchema().load(json_body())
    drill, warnings = booking.create_drill(db.session, current_actor(), data, now=clock_now(), library=library(),
                                            notifier=adapters.notifier(), base_url=base_url())
    db.session.commit()
    return drill_json(drill, warnings), 201


@bp.get("/api/v1/drills")
@require(*STAFF)
@api_doc(summary="訓練の一覧（予定表）", response_schema=DrillSchema, query_schema=DrillQuery, many=True)
def list_drills():
    q = DrillQuery().load(request.args)
    limit, offset = page_args()
    stmt = access.list_drills_stmt(db.session, current_actor(), region_code=q.get("region_code"),
                                     status=q.get("status"), start=q.get("start"), end=q.get("end"))
    return paginate(db.session, stmt, DrillSchema(), limit=limit, offset=offset)


@bp.get("/api/v1/drills/<int:drill_id>")
@require(*STAFF)
@api_doc(summary="訓練の詳細", response_schema=DrillSchema)
def get_drill(drill_id: int):
    drill = access.get_drill(db.session, current_actor(), drill_id)
    warnings = booking.schedule_warnings(db.session, drill) if may_change_plan(drill.status) else []
    return drill_json(drill, warnings)


@bp.patch("/api/v1/drills/<int:drill_id>")
@require(*WRITERS)
@api_doc(summary="訓練の日時・総括・参加機関の変更、中止（参加機関は participant_org_ids と participants で"
                 "新しい全体を指定。追加した機関の連絡先に案内を送る）",
         request_schema=DrillUpdateSchema, response_schema=DrillSchema)
def update_drill(drill_id: int):
    data = DrillUpdateSchema().load(json_body())
    drill, warnings = booking.update_drill(db.session, current_actor(), drill_id, data, now=clock_now(),
                                            notifier=adapters.notifier(), base_url=base_url())
    db.session.commit()
    return drill_json(drill, warnings)


@bp.post("/api/v1/drills/<int:drill_id>/start")
@require(*WRITERS)
@api_doc(summary="訓練を開始する（機能訓練は drill: true の停電を開く。圏域で実際の停電が対応中なら "
                 "{\"confirm_overlap\": true} が必要で、なければ 409。実災害対応中の患者には連絡しない）",
         response_schema=DrillSchema)
def start_drill(drill_id: int):
    body = request.get_json(silent=True) if request.content_length else {}
    if not isinstance(body, dict):
        raise Invalid("request body must be a JSON object", fields={"_body": ["JSON オブジェクトを送ってください"]})
    confirm = body.get("confirm_overlap", False)
    if not isinstance(confirm, bool):
        raise Invalid("confirm_overlap は true / false です。", fields={"confirm_overlap": ["true か false です"]})
    drill = running.start_drill(db.session, current_actor(), drill_id, now=clock_now(), library=library(),
                                 desk=adapters.outage_desk(), notifier=adapters.notifier(), base_url=base_url(),
                                 confirm_overlap=confirm)
    db.session.commit()
    return drill_json(drill)


@bp.post("/api/v1/drills/<int:drill_id>/next-inject")
@require(*WRITERS)
@api_doc(summary="次の状況付与へ進む", response_schema=DrillSchema)
def next_inject(drill_id: int):
    drill = running.advance_inject(db.session, current_actor(), drill_id, now=clock_now(), library=library())
    db.session.commit()
    return drill_json(drill)


@bp.post("/api/v1/drills/<int:drill_id>/finish")
@require(*WRITERS)
@api_doc(summary="訓練を終了する", response_schema=DrillSchema)
def finish_drill(drill_id: int):
    drill = running.finish_drill(db.session, current_actor(), drill_id, now=clock_now(), desk=adapters.outage_desk())
    db.session.commit()
    return drill_json(drill)


@bp.post("/api/v1/drills/<int:drill_id>/log")
@require(*STAFF)
@api_doc(summary="訓練記録（3つの問いへの回答・メモ）を時刻つきで残す", request_schema=LogCreateSchema,
         response_schema=LogEntrySchema, status=201)
def add_log(drill_id: int):
    data = LogCreateSchema().load(json_body())
    entry = running.add_log(db.session, current_actor(), drill_id, data, now=clock_now(), library=library())
    db.session.commit()
    return LogEntrySchema().dump(entry), 201


@bp.get("/api/v1/drills/<int:drill_id>/log")
@require(*STAFF)
@api_doc(summary="訓練記録", response_schema=LogEntrySchema, many=True)
def get_log(drill_id: int):
    limit, offset = page_args()
    drill = access.get_drill(db.session, current_actor(), drill_id)
    stmt = select(DrillLogEntry).where(DrillLogEntry.drill_id == drill.id).order_by(DrillLogEntry.id)
    return paginate(db.session, stmt, LogEntrySchema(), limit=limit, offset=offset)


@bp.post("/api/v1/drills/<int:drill_id>/evaluations")
@require(*WRITERS)
@api_doc(summary="目標ごとの評価 (P/S/M/U) と是正措置", request_schema=EvaluationCreateSchema,
         response_schema=EvaluationSchema, status=201)
def add_evaluation(drill_id: int):
    data = EvaluationCreateSchema().load(json_body())
    evaluation = evaluations.add_evaluation(db.session, current_actor(), drill_id, data, now=clock_now())
    db.session.commit()
    return EvaluationSchema().dump(evaluation), 201


@bp.get("/api/v1/drills/<int:drill_id>/evaluations")
@require(*STAFF)
@api_doc(summary="評価の一覧", response_schema=EvaluationSchema, many=True)
def list_evaluations(drill_id: int):
    limit, offset = page_args()
    drill = access.get_drill(db.session, current_actor(), drill_id)
    stmt = select(Evaluation).where(Evaluation.drill_id == drill.id).order_by(Evaluation.id)
    return paginate(db.session, stmt, EvaluationSchema(), limit=limit, offset=offset)


@bp.patch("/api/v1/corrective-actions/<int:action_id>")
@require(*WRITERS)
@api_doc(summary="是正措置の状況・期限を更新する", request_schema=ActionUpdateSchema,
         response_schema=CorrectiveActionSchema)
def update_action(action_id: int):
    data = ActionUpdateSchema().load(json_body())
    action = evaluations.update_action(db.session, current_actor(), action_id, data, now=clock_now())
    db.session.commit()
    return CorrectiveActionSchema().dump(action)


@bp.get("/api/v1/drills/<int:drill_id>/metrics")
@require(*STAFF)
@api_doc(summary="機能訓練の指標（50/90/100%到達、応答率、最初の搬送、連絡不能）")
def get_metrics(drill_id: int):
    drill = access.get_drill(db.session, current_actor(), drill_id)
    m = after_action.drill_metrics(db.session, drill, adapters.outage_desk())
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
    report = after_action.build_report(db.session, current_actor(), drill_id, now=clock_now(), library=library(),
                                         desk=adapters.outage_desk())
    db.session.commit()   # the audit row of this read
    if fmt == "docx":
        return docx_response(report, drill_id)
    return Response(render_html(report), mimetype="text/html")


@bp.get("/api/v1/drills/<int:drill_id>/calendar.ics")
@require(*STAFF)
@api_doc(summary="訓練1件の iCalendar (.ics)")
def drill_ics(drill_id: int):
    return drill_calendar_response(drill_id)


@bp.get("/api/v1/drills/calendar.ics")
@require(*STAFF)
@api_doc(summary="圏域の訓練予定表 (.ics)")
def calendar_ics():
    return calendar_response()

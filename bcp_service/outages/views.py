"""Outage desk: the API (API.md, Outages) and the desk pages. Views parse, call a service, render."""
from __future__ import annotations

import io
import json
from datetime import timedelta

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, send_file, url_for
from sqlalchemy import select

from bcp_service.api import api_doc, csrf_exempt, json_body
from bcp_service.auth import Role, current_actor, require
from bcp_service.auth.audit import record as audit
from bcp_service.auth.scope import check_region
from bcp_service.clock import get_clock, iso_local, to_local
from bcp_service.db import db
from bcp_service.errors import Invalid, NotFound, OutOfScope
from bcp_service.messaging.signature import twilio_signature_ok
from bcp_service.outages import hooks, queries, report, services  # noqa: F401 - hooks register with messaging
from bcp_service.outages.models import CHECKIN_LABELS, TRANSPORT_LABELS, FieldTask, Outage, Transport
from bcp_service.outages.notify import notifier_for
from bcp_service.outages.schemas import (
    CheckinAnswerSchema, ChangeOutageSchema, DeclareOutageSchema, FieldReportSchema, OutageSchema,
    TransportPatchSchema, TransportRequestSchema, TriageRowSchema,
)
from bcp_service.web import register_nav

bp = Blueprint("outages", __name__)
DESK = (Role.ADMIN, Role.HUB_STAFF)
TEAM = (Role.ADMIN, Role.HUB_STAFF, Role.FIELD_TEAM)

register_nav("outages.desk", "停電対応", [Role.ADMIN, Role.HUB_STAFF], order=20,
             description="停電の宣言・トリアージ・安否確認・搬送")


def _now():
    return get_clock().now()


def _tiers() -> dict:
    return {"red_hours": float(current_app.config.get("RUNWAY_RED_HOURS", 6)),
            "yellow_hours": float(current_app.config.get("RUNWAY_YELLOW_HOURS", 24))}


def _load_outage(outage_id: int, *, for_update: bool = False):
    outage = services.get_outage(db.session, outage_id, for_update=for_update)
    queries.check_scope(db.session, current_actor(), outage)
    return outage


def _declare_command(data: dict):
    actor = current_actor()
    region = data.get("region_code")
    if not actor.is_admin:
        region = region or actor.scope
        if region != actor.scope:
            raise OutOfScope("this region is outside your scope")
    if region is not None:
        check_region(db.session, actor, region)
    now = _now()
    silence = data.get("silence_minutes") or float(current_app.config.get("CHECKIN_SILENCE_MINUTES", 15))
    return services.DeclareOutage(
        area=data["area"], started_at=data.get("started_at") or now,
        expected_restoration_at=data.get("expected_restoration_at"), cause=data.get("cause"),
        drill=data.get("drill", False), region_code=region, silence_minutes=silence,
        safety_margin_minutes=data.get("safety_margin_minutes", 60.0),
        patient_filter=data.get("patient_filter"), declared_by=actor.user_id)


# --- API --------------------------------------------------------------------------------------

@bp.post("/api/v1/outages")
@require(*DESK)
@api_doc(summary="停電を宣言する（第1回安否確認を同一トランザクションで送信待ちに）",
         request_schema=DeclareOutageSchema, response_schema=OutageSchema, status=201)
def create_outage():
    cmd = _declare_command(DeclareOutageSchema().load(json_body()))
    now = _now()
    result = services.declare_outage(db.session, cmd, now=now, notifier=notifier_for(current_app))
    audit(db.session, current_actor(), "create", "outage", result.outage.id,
          {"affected": result.affected, "drill": cmd.drill})
    db.session.commit()
    _propose_after_declare(result.outage.id)
    body = queries.outage_dict(result.outage)
    body.update(affected=result.affected, messaged=result.messaged, covered_by_other_outage=result.covered)
    return body, 201


def _propose_after_declare(outage_id: int) -> None:
    """Transport proposals right away (own transaction: the declaration must never wait on them)."""
    try:
        services.propose_transports(db.session, outage_id, now=_now())
        db.session.commit()
    except Exception:  # noqa: BLE001 - the clock tick proposes again; the desk must get its 201
        db.session.rollback()
        current_app.logger.exception("outage %s: transport proposals failed; the clock will retry", outage_id)


@bp.get("/api/v1/outages")
@require(*DESK)
@api_doc(summary="停電の一覧", response_schema=OutageSchema, many=True)
def list_outages():
    items = [queries.outage_dict(o) for o in queries.visible_outages(db.session, current_actor(),
                                                                     status=request.args.get("status"))]
    return {"items": items, "total": len(items)}


@bp.get("/api/v1/outages/<int:outage_id>")
@require(*DESK)
@api_doc(summary="停電の状況（安否確認状態・区分ごとの件数）", response_schema=OutageSchema)
def get_outage(outage_id: int):
    outage = _load_outage(outage_id)
    rows = queries.triage_rows(db.session, outage, now=_now(), **_tiers())
    return queries.outage_dict(outage, queries.counts(rows, outage))


@bp.patch("/api/v1/outages/<int:outage_id>")
@require(*DESK)
@api_doc(summary="停電の範囲を広げる・狭める／復旧見込みを変更する", request_schema=ChangeOutageSchema,
         response_schema=OutageSchema)
def change_outage(outage_id: int):
    data = ChangeOutageSchema().load(json_body())
    outage = _load_outage(outage_id, for_update=True)
    now, actor = _now(), current_actor()
    changes = {}
    if data.get("expected_restoration_at") is not None:
        services.change_restoration(db.session, outage.id, data["expected_restoration_at"], now=now,
                                    actor_user_id=actor.user_id)
    if data.get("area") is not None:
        changes = services.change_area(db.session, outage.id, data["area"], now=now,
                                       notifier=notifier_for(current_app), actor_user_id=actor.user_id)
    audit(db.session, actor, "update", "outage", outage.id, {"fields": sorted(k for k, v in data.items() if v)})
    db.session.commit()
    _propose_after_declare(outage.id)
    rows = queries.triage_rows(db.session, outage, now=_now(), **_tiers())
    return {**queries.outage_dict(outage, queries.counts(rows, outage)), "changes": changes}


@bp.get("/api/v1/outages/<int:outage_id>/patients")
@require(*DESK)
@api_doc(summary="トリアージ順の対象者一覧（電源が早く尽きる順）", response_schema=TriageRowSchema, many=True)
def outage_patients(outage_id: int):
    outage = _load_outage(outage_id)
    rows = queries.triage_rows(db.session, outage, now=_now(), **_tiers())
    audit(db.session, current_actor(), "read", "outage_patients", outage.id, {"count": len(rows)})
    db.session.commit()
    total = len(rows)
    limit, offset = request.args.get("limit", type=int), request.args.get("offset", 0, type=int)
    if (limit is not None and limit < 1) or offset < 0:
        raise Invalid("limit / offset が不正です。", fields={"limit": ["1 以上"], "offset": ["0 以上"]})
    rows = rows[offset: offset + limit if limit else None]
    # Plain json.dumps (no key sorting, compact): the whole list of 20,000 must leave within a second.
    return Response(json.dumps({"items": rows, "total": total}, ensure_ascii=False, separators=(",", ":")),
                    mimetype="application/json")


@bp.post("/api/v1/outages/<int:outage_id>/patients/<int:patient_id>/answer")
@require(*DESK)
@api_doc(summary="電話などで受けた安否確認の答えを記録する", request_schema=CheckinAnswerSchema)
def desk_answer(outage_id: int, patient_id: int):
    data = CheckinAnswerSchema().load(json_body())
    _load_outage(outage_id)
    row = services.record_answer(db.session, outage_id=outage_id, patient_id=patient_id, answer=data["answer"],
                                 channel="desk", now=_now(), notifier=notifier_for(current_app),
                                 reported_hours=data.get("reported_hours"),
                                 actor_user_id=current_actor().user_id)
    db.session.commit()
    return {"patient_id": patient_id, "checkin": row.checkin, "runs_out_at": iso_local(row.runs_out_at),
            "transport_id": row.transport_id}


@bp.post("/api/v1/outages/<int:outage_id>/patients/<int:patient_id>/transport")
@require(*DESK)
@api_doc(summary="搬送を手配する（最寄りの受入可能施設、ベッド確保）", request_schema=TransportRequestSchema, status=201)
def desk_transport(outage_id: int, patient_id: int):
    data = TransportRequestSchema().load(request.get_json(silent=True) or {})
    _load_outage(outage_id)
    t = services.request_transport(db.session, outage_id=outage_id, patient_id=patient_id, reason="desk",
                                   now=_now(), notifier=notifier_for(current_app),
                                   facility_id=data.get("facility_id"), actor_user_id=current_actor().user_id)
    db.session.commit()
    return queries.transport_dict(t), 201


@bp.get("/api/v1/outages/<int:outage_id>/patients/<int:patient_id>/charging-points")
@require(*DESK)
@api_doc(summary="近くの充電できる場所（搬送が不要な場合）")
def charging_points(outage_id: int, patient_id: int):
    _load_outage(outage_id)
    items = services.charging_points(db.session, outage_id, patient_id)
    return {"items": items, "total": len(items)}


@bp.get("/api/v1/outages/<int:outage_id>/transports")
@require(*DESK)
@api_doc(summary="搬送の一覧")
def outage_transports(outage_id: int):
    _load_outage(outage_id)
    items = queries.transports(db.session, outage_id)
    return {"items": items, "total": len(items)}


@bp.patch("/api/v1/transports/<int:transport_id>")
@require(*TEAM)
@api_doc(summary="搬送の状態・搬送先を変更する", request_schema=TransportPatchSchema)
def patch_transport(transport_id: int):
    data = TransportPatchSchema().load(json_body())
    t = db.session.get(Transport, transport_id)
    if t is None:
        raise NotFound(f"transport {transport_id} not found")
    _load_outage(t.outage_id)
    t = services.update_transport(db.session, transport_id, status=data.get("status"),
                                  facility_id=data.get("facility_id"), now=_now(),
                                  notifier=notifier_for(current_app), actor_user_id=current_actor().user_id)
    db.session.commit()
    return queries.transport_dict(t)


@bp.get("/api/v1/outages/<int:outage_id>/events")
@require(*DESK)
@api_doc(summary="経過（タイムライン）")
def outage_events(outage_id: int):
    _load_outage(outage_id)
    items = queries.events(db.session, outage_id)
    return {"items": items, "total": len(items)}


@bp.get("/api/v1/outages/<int:outage_id>/tasks")
@require(*TEAM)
@api_doc(summary="現場チームへの依頼の一覧")
def outage_tasks(outage_id: int):
    _load_outage(outage_id)
    items = queries.tasks(db.session, outage_id)
    return {"items": items, "total": len(items)}


@bp.post("/api/v1/tasks/<int:task_id>/ack")
@require(*TEAM)
@api_doc(summary="依頼を受諾する")
def ack_task(task_id: int):
    task = _task_in_scope(task_id)
    services.acknowledge_task(db.session, task.id, now=_now(), actor_user_id=current_actor().user_id)
    db.session.commit()
    return queries.task_dict(task)


@bp.post("/api/v1/tasks/<int:task_id>/report")
@require(*TEAM)
@api_doc(summary="訪問の結果を報告する（搬送が必要か）", request_schema=FieldReportSchema)
def report_task(task_id: int):
    data = FieldReportSchema().load(json_body())
    task = _task_in_scope(task_id)
    t = services.field_report(db.session, task.id, needs_transport=data["needs_transport"], now=_now(),
                              notifier=notifier_for(current_app), actor_user_id=current_actor().user_id)
    db.session.commit()
    return {"task": queries.task_dict(task), "transport": queries.transport_dict(t) if t else None}


def _task_in_scope(task_id: int) -> FieldTask:
    task = db.session.get(FieldTask, task_id)
    if task is None:
        raise NotFound("task not found")
    _load_outage(task.outage_id)
    return task


@bp.post("/api/v1/outages/<int:outage_id>/propose-transports")
@require(*DESK)
@api_doc(summary="復旧前に電源が尽きる人の搬送案を作る")
def propose(outage_id: int):
    _load_outage(outage_id)
    n = services.propose_transports(db.session, outage_id, now=_now())
    db.session.commit()
    return {"proposed": n}


@bp.post("/api/v1/outages/<int:outage_id>/resolve")
@require(*DESK)
@api_doc(summary="復旧（復旧の連絡、ワンタップリンクの失効、事後報告）", response_schema=OutageSchema)
def resolve(outage_id: int):
    _load_outage(outage_id, for_update=True)
    outage = services.resolve_outage(db.session, outage_id, now=_now(), notifier=notifier_for(current_app),
                                     actor_user_id=current_actor().user_id)
    audit(db.session, current_actor(), "update", "outage", outage.id, {"status": "resolved"})
    db.session.commit()
    return queries.outage_dict(outage)


@bp.get("/api/v1/outages/<int:outage_id>/report")
@require(*DESK)
@api_doc(summary="事後報告書（format=docx|html）")
def incident_report(outage_id: int):
    outage = _load_outage(outage_id)
    fmt = request.args.get("format", "html")
    if fmt not in ("html", "docx"):
        raise Invalid("format は docx か html です。", fields={"format": ["docx|html"]})
    data = report.build(db.session, outage, now=_now())
    audit(db.session, current_actor(), "export", "outage_report", outage.id, {"format": fmt})
    db.session.commit()
    if fmt == "docx":
        return send_file(io.BytesIO(report.to_docx(data)), as_attachment=True,
                         download_name=f"outage-{outage.id}-report.docx",
                         mimetype="application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    return render_template("outages/report.html", r=data)


# --- desk pages -------------------------------------------------------------------------------

@bp.get("/outages")
@require(*DESK)
def desk():
    outages = queries.visible_outages(db.session, current_actor())
    return render_template("outages/index.html", outages=outages)


@bp.post("/outages")
@require(*DESK)
def desk_declare():
    form = request.form
    area = _area_from_form(form)
    data = {"area": area, "cause": form.get("cause") or None, "drill": form.get("drill") == "1"}
    for key in ("started_at", "expected_restoration_at"):
        if form.get(key):
            data[key] = _local_form_time(form[key])
    cmd = _declare_command(DeclareOutageSchema().load(data))
    result = services.declare_outage(db.session, cmd, now=_now(), notifier=notifier_for(current_app))
    audit(db.session, current_actor(), "create", "outage", result.outage.id, {"affected": result.affected})
    db.session.commit()
    _propose_after_declare(result.outage.id)
    return redirect(url_for("outages.dashboard", outage_id=result.outage.id))


def _area_from_form(form) -> dict:
    try:
        if form.get("area_kind") == "municipality_codes":
            return {"municipality_codes": [c.strip() for c in form.get("municipality_codes", "").replace("、", ",")
                                           .split(",") if c.strip()]}
        if form.get("area_kind") == "geometry":
            return {"geometry": current_app.json.loads(form.get("geometry") or "null")}
    except ValueError:
        raise Invalid("GeoJSON が読めません。", fields={"geometry": ["JSON として読めません"]}) from None
    return {"center": {"lat": form.get("lat"), "lon": form.get("lon")}, "radius_km": form.get("radius_km")}


@bp.post("/outages/<int:outage_id>/change")
@require(*DESK)
def desk_change(outage_id: int):
    """Widen / narrow the area, or move the expected restoration, from the dashboard."""
    _load_outage(outage_id, for_update=True)
    now, actor = _now(), current_actor()
    if request.form.get("expected_restoration_at"):
        data = ChangeOutageSchema().load({"expected_restoration_at": _local_form_time(request.form["expected_restoration_at"])})
        services.change_restoration(db.session, outage_id, data["expected_restoration_at"], now=now,
                                    actor_user_id=actor.user_id)
    if request.form.get("area_kind"):
        services.change_area(db.session, outage_id, _area_from_form(request.form), now=now,
                             notifier=notifier_for(current_app), actor_user_id=actor.user_id)
    audit(db.session, actor, "update", "outage", outage_id, {"via": "desk"})
    db.session.commit()
    _propose_after_declare(outage_id)
    return redirect(url_for("outages.dashboard", outage_id=outage_id))


def _local_form_time(value: str) -> str:
    """<input type=datetime-local> gives Tokyo wall time without an offset."""
    if value.endswith("Z") or "+" in value[10:]:
        return value
    return f"{value}:00+09:00" if len(value) == 16 else f"{value}+09:00"


@bp.get("/outages/<int:outage_id>")
@require(*DESK)
def dashboard(outage_id: int):
    outage = _load_outage(outage_id)
    audit(db.session, current_actor(), "read", "outage_dashboard", outage.id)
    db.session.commit()
    return render_template("outages/dashboard.html", outage=outage, checkin_labels=CHECKIN_LABELS,
                           transport_labels=TRANSPORT_LABELS, event_labels=report.EVENT_LABELS)


@bp.get("/outages/<int:outage_id>/live.json")
@require(*DESK)
def live(outage_id: int):
    """Everything the dashboard shows; it polls this every few seconds."""
    outage = _load_outage(outage_id)
    now = _now()
    rows = queries.triage_rows(db.session, outage, now=now, with_people=True, **_tiers())
    body = {
        "now": iso_local(now),
        "outage": queries.outage_dict(outage, queries.counts(rows, outage)),
        "patients": rows,
        "transports": queries.transports(db.session, outage.id, with_people=True),
        "events": queries.events(db.session, outage.id, limit=100),
        "tasks": queries.tasks(db.session, outage.id),
        "facilities": queries.facilities_for_map(db.session, outage.region_code),
        "charging": _charging_suggestions(outage, rows),
    }
    return Response(current_app.json.dumps(body), mimetype="application/json",
                    headers={"Cache-Control": "no-store"})


def _charging_suggestions(outage, rows: list[dict]) -> dict:
    """Where a family with a low battery but no need for transport can charge (nearest 2 with power)."""
    wanted = [r for r in rows if r["checkin"] == "low_battery" and r["transport_id"] is None][:50]
    if not wanted:
        return {}
    matcher = services.Matcher(services._facility_infos(db.session, count_proposed=False))
    return {str(r["patient_id"]): [{"name": m.facility_name, "distance_km": m.km}
                                   for m in matcher.charging_points(r["lat"], r["lon"], k=2)]
            for r in wanted}


@bp.get("/outages/<int:outage_id>/runsheet")
@require(*DESK)
def runsheet(outage_id: int):
    """The current list on paper, for when the network fails."""
    outage = _load_outage(outage_id)
    now = _now()
    rows = queries.triage_rows(db.session, outage, now=now, with_people=True, **_tiers())
    audit(db.session, current_actor(), "export", "outage_runsheet", outage.id, {"count": len(rows)})
    db.session.commit()
    return render_template("outages/runsheet.html", outage=outage, rows=rows, now=now,
                           summary=queries.counts(rows, outage), checkin_labels=CHECKIN_LABELS,
                           transports={t["id"]: t for t in queries.transports(db.session, outage.id)},
                           transport_labels=TRANSPORT_LABELS)


@bp.post("/outages/<int:outage_id>/resolve")
@require(*DESK)
def desk_resolve(outage_id: int):
    _load_outage(outage_id, for_update=True)
    services.resolve_outage(db.session, outage_id, now=_now(), notifier=notifier_for(current_app),
                            actor_user_id=current_actor().user_id)
    db.session.commit()
    return redirect(url_for("outages.dashboard", outage_id=outage_id))


@bp.post("/outages/<int:outage_id>/transports/<int:transport_id>")
@require(*DESK)
def desk_transport_status(outage_id: int, transport_id: int):
    _load_outage(outage_id)
    facility = request.form.get("facility_id", type=int)
    services.update_transport(db.session, transport_id, status=request.form.get("status") or None,
                              facility_id=facility, now=_now(), notifier=notifier_for(current_app),
                              actor_user_id=current_actor().user_id)
    db.session.commit()
    return redirect(url_for("outages.dashboard", outage_id=outage_id) + "#transports")


# --- one-tap task pages (the link in a field/transport team's SMS) ------------------------------

TASK_ACTIONS = {
    "visit": {"ack": "受諾する", "report_ok": "訪問済み・問題なし", "report_transport": "訪問済み・搬送が必要"},
    "transport": {"ack": "受諾する", "en_route": "出発した（搬送中）", "arrived": "施設に到着した"},
}


def _task_from_token(token: str) -> FieldTask:
    from bcp_service.messaging.tokens import InvalidToken, read_token

    try:
        claims = read_token(current_app.config["SECRET_KEY"], token)
    except InvalidToken:
        raise NotFound("リンクが正しくありません。") from None
    if claims.purpose not in ("field_task", "transport_task"):
        raise NotFound("リンクが正しくありません。")
    task = db.session.get(FieldTask, claims.subject_id)
    if task is None or task.outage_id != claims.context_id:
        raise NotFound("依頼が見つかりません。")
    if not hooks.still_open(db.session, claims):
        from bcp_service.errors import Gone
        raise Gone("この停電は復旧済みです。依頼は終了しました。")
    return task


@bp.get("/t/<token>")
def task_page(token: str):
    task = _task_from_token(token)
    transport = db.session.get(Transport, task.transport_id) if task.transport_id else None
    # Names and addresses are shown only to signed-in staff; the link alone gives ids and actions.
    details = task.details if _signed_in_staff_of(task) else None
    audit(db.session, current_actor() if details is not None else None, "read", "field_task", task.id,
          detail={"via": "task_link", "details_shown": details is not None})
    db.session.commit()
    return render_template("outages/task.html", task=task, transport=transport, token=token,
                           actions=TASK_ACTIONS[task.kind], transport_labels=TRANSPORT_LABELS,
                           login_url=url_for("auth.login", next=url_for("outages.task_page", token=token)),
                           details=details)


def _signed_in_staff_of(task: FieldTask) -> bool:
    """Personal details only for signed-in desk or field staff of the outage's region."""
    from flask_login import current_user

    if not (current_user.is_authenticated and current_user.role in ("admin", "hub_staff", "field_team")):
        return False
    if current_user.role == "admin":
        return True
    region = db.session.scalar(select(Outage.region_code).where(Outage.id == task.outage_id))
    return region is not None and region == current_user.scope


@bp.post("/t/<token>")
@csrf_exempt
def task_action(token: str):
    task = _task_from_token(token)
    action = request.form.get("action", "")
    if action not in TASK_ACTIONS[task.kind]:
        raise Invalid("操作が正しくありません。", fields={"action": list(TASK_ACTIONS[task.kind])})
    now, n = _now(), notifier_for(current_app)
    if action == "ack":
        services.acknowledge_task(db.session, task.id, now=now)
    elif action in ("report_ok", "report_transport"):
        services.field_report(db.session, task.id, needs_transport=action == "report_transport", now=now, notifier=n)
    else:
        services.acknowledge_task(db.session, task.id, now=now)
        services.update_transport(db.session, task.transport_id, status=action, facility_id=None, now=now,
                                  notifier=n, via="one_tap")
    db.session.commit()
    return redirect(url_for("outages.task_page", token=token, done=action))


# --- voice: restoration notice for landlines --------------------------------------------------------

@bp.route("/outages/voice/restoration", methods=["POST"])
@csrf_exempt
def voice_restoration():
    """TwiML for the restoration call to a landline: one short ``<Say>`` in Japanese, then hang up.
    Valid after the outage is resolved (that is when it is called); the token names the outage."""
    from twilio.twiml.voice_response import VoiceResponse

    from bcp_service.messaging import texts
    from bcp_service.outages.notify import read_restoration_token

    if not twilio_signature_ok():
        return Response("forbidden", status=403, mimetype="text/plain")
    vr = VoiceResponse()
    ids = read_restoration_token(current_app.config["SECRET_KEY"], request.args.get("t", ""))
    outage = db.session.get(Outage, ids[1]) if ids is not None else None
    if outage is None:
        vr.say("このお電話は無効です。", language="ja-JP")
    else:
        text = texts.render("restoration", {"hub_name": notifier_for(current_app).hub_name})
        if outage.drill:
            text = texts.DRILL_VOICE_PREFIX["ja"] + text
        vr.say(text, language="ja-JP")
        vr.pause(length=1)
        vr.say(text, language="ja-JP")
    vr.hangup()
    return Response(str(vr), mimetype="application/xml")


# --- voice: tasks for teams whose phone is a landline -------------------------------------------------

def _open_task_for_call() -> FieldTask | None:
    """The task a signed task call names, or None when it is closed, resolved or the token is bad."""
    from bcp_service.errors import Gone

    try:
        task = _task_from_token(request.args.get("t", ""))
    except (NotFound, Gone):
        return None
    return None if task.status in ("done", "cancelled") else task


def _twiml_say(key: str) -> Response:
    """A call that only says one thing from alerts/messages.yaml and hangs up."""
    from twilio.twiml.voice_response import VoiceResponse

    from bcp_service.messaging import texts

    vr = VoiceResponse()
    vr.say(texts.render_voice(key, {}), language="ja-JP")
    vr.hangup()
    return Response(str(vr), mimetype="application/xml")


@bp.route("/outages/voice/task", methods=["POST"])
@csrf_exempt
def voice_task():
    """TwiML for a task call to a landline team: the request read twice at most, 1 accepts (as the
    SMS link's 受諾 does), 9 repeats. Ids only: whoever picks up a station's phone hears no name."""
    from twilio.twiml.voice_response import VoiceResponse

    from bcp_service.messaging import texts

    if not twilio_signature_ok():
        return Response("forbidden", status=403, mimetype="text/plain")
    task = _open_task_for_call()
    if task is None:
        return _twiml_say("task_closed")
    vr = VoiceResponse()
    action = url_for("outages.voice_task_answer", t=request.args.get("t", ""))
    gather = vr.gather(num_digits=1, action=action, method="POST", timeout=10, language="ja-JP")
    gather.say(notifier_for(current_app).task_call_text(task, db.session.get(Outage, task.outage_id)),
               language="ja-JP")
    vr.say(texts.render_voice("task_no_input", {}), language="ja-JP")
    vr.hangup()
    return Response(str(vr), mimetype="application/xml")


@bp.route("/outages/voice/task/answer", methods=["POST"])
@csrf_exempt
def voice_task_answer():
    from twilio.twiml.voice_response import VoiceResponse

    if not twilio_signature_ok():
        return Response("forbidden", status=403, mimetype="text/plain")
    task = _open_task_for_call()
    if task is None:
        return _twiml_say("task_closed")
    if (request.form.get("Digits") or "").strip() == "1":
        services.acknowledge_task(db.session, task.id, now=_now())
        db.session.commit()
        return _twiml_say("task_accepted")
    vr = VoiceResponse()        # 9, or anything else: read it again
    vr.redirect(url_for("outages.voice_task", t=request.args.get("t", "")), method="POST")
    return Response(str(vr), mimetype="application/xml")

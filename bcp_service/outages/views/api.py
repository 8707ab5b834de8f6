"""The outage desk's JSON API (API.md, "Outages"). Views parse, call a service, render; the services
check role and region scope (``outages.access``)."""
from __future__ import annotations

import io
import json

from flask import Blueprint, Response, current_app, render_template, request, send_file

from bcp_service.api import api_doc, json_body, page_args, paginate
from bcp_service.auth import current_actor, require
from bcp_service.auth.audit import record as audit
from bcp_service.clock import iso_local
from bcp_service.db import db
from bcp_service.errors import Invalid
from bcp_service.outages import access, checkins, declare, field_tasks, loans, queries, report, restorations, transport
from bcp_service.outages.access import DESK, TEAM
from bcp_service.outages.models import FieldTask
from bcp_service.outages.notify import notifier_for
from bcp_service.registry.services import RunwayPolicy
from bcp_service.outages.schemas import (
    ChangeOutageSchema, CheckinAnswerSchema, DeclareOutageSchema, EventItemSchema, FieldReportSchema,
    OutageItemSchema, OutageSchema, RestorationSchema, TaskItemSchema, TransportItemSchema, TransportPatchSchema,
    TransportRequestSchema, TriageRowSchema,
)
from bcp_service.outages.views.request_parts import declare_command, now, tiers

bp = Blueprint("outages_api", __name__)


@bp.post("/api/v1/outages")
@require(*DESK)
@api_doc(summary="停電を宣言する（第1回安否確認を同一トランザクションで送信待ちに）",
         request_schema=DeclareOutageSchema, response_schema=OutageSchema, status=201)
def create_outage():
    cmd = declare_command(DeclareOutageSchema().load(json_body()))
    actor = current_actor()
    result = declare.declare_outage(db.session, actor, cmd, now=now(), notifier=notifier_for(current_app))
    audit(db.session, actor, "create", "outage", result.outage.id, {"affected": result.affected, "drill": cmd.drill})
    db.session.commit()
    body = queries.outage_dict(result.outage)
    body.update(affected=result.affected, messaged=result.messaged, covered_by_other_outage=result.covered)
    return body, 201


@bp.get("/api/v1/outages")
@require(*DESK)
@api_doc(summary="停電の一覧", response_schema=OutageSchema, many=True)
def list_outages():
    limit, offset = page_args()
    stmt = queries.outages_stmt(current_actor(), status=request.args.get("status"))
    return paginate(db.session, stmt, OutageItemSchema(), limit=limit, offset=offset)


@bp.get("/api/v1/outages/<int:outage_id>")
@require(*DESK)
@api_doc(summary="停電の状況（安否確認状態・区分ごとの件数）", response_schema=OutageSchema)
def get_outage(outage_id: int):
    outage = access.outage_for(db.session, current_actor(), outage_id)
    rows = queries.triage_rows(db.session, outage, now=now(), **tiers())
    return queries.outage_dict(outage, queries.summary(db.session, outage, rows))


@bp.patch("/api/v1/outages/<int:outage_id>")
@require(*DESK)
@api_doc(summary="停電の範囲を広げる・狭める／復旧見込みを変更する", request_schema=ChangeOutageSchema,
         response_schema=OutageSchema)
def change_outage(outage_id: int):
    data = ChangeOutageSchema().load(json_body())
    actor = current_actor()
    outage = access.outage_for(db.session, actor, outage_id, for_update=True)
    changes = {}
    if data.get("area") is not None:
        changes = declare.change_area(db.session, actor, outage.id, data["area"], now=now(),
                                      notifier=notifier_for(current_app))
    if data.get("expected_restoration_at") is not None:
        # Re-triage at once: proposals for whoever now runs out first, flags on those not needed.
        changes["retriage"] = restorations.change_restoration(db.session, actor, outage.id,
                                                              data["expected_restoration_at"], now=now())
    audit(db.session, actor, "update", "outage", outage.id, {"fields": sorted(k for k, v in data.items() if v)})
    db.session.commit()
    rows = queries.triage_rows(db.session, outage, now=now(), **tiers())
    return {**queries.outage_dict(outage, queries.summary(db.session, outage, rows)), "changes": changes}


@bp.post("/api/v1/outages/<int:outage_id>/restorations")
@require(*DESK)
@api_doc(summary="範囲の一部が復旧した（対象者に復旧の連絡、以後の確認なし）", request_schema=RestorationSchema)
def restore_part(outage_id: int):
    data = RestorationSchema().load(json_body())
    actor = current_actor()
    result = restorations.restore_area(db.session, actor, outage_id, data["area"], now=now(),
                                       notifier=notifier_for(current_app))
    audit(db.session, actor, "update", "outage", outage_id, {"restored": result["restored"]})
    db.session.commit()
    return {"restored": result["restored"], "outage_resolved": result["resolved"]}


@bp.get("/api/v1/outages/<int:outage_id>/patients")
@require(*DESK)
@api_doc(summary="トリアージ順の対象者一覧（電源が早く尽きる順）", response_schema=TriageRowSchema, many=True)
def outage_patients(outage_id: int):
    outage = access.outage_for(db.session, current_actor(), outage_id)
    rows = queries.triage_rows(db.session, outage, now=now(), **tiers())
    audit(db.session, current_actor(), "read", "outage_patients", outage.id, {"count": len(rows)})
    db.session.commit()
    total = len(rows)
    # The triage order is computed over every row (covering outages, live tiers), so the page is cut
    # here; without ?limit the whole list is returned, as the desk's export expects.
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
    row = checkins.record_answer(db.session, current_actor(), outage_id=outage_id, patient_id=patient_id,
                                 answer=data["answer"], channel="desk", now=now(),
                                 notifier=notifier_for(current_app), reported_hours=data.get("reported_hours"))
    db.session.commit()
    return {"patient_id": patient_id, "checkin": row.checkin, "runs_out_at": iso_local(row.runs_out_at),
            "transport_id": row.transport_id}


@bp.post("/api/v1/outages/<int:outage_id>/patients/<int:patient_id>/transport")
@require(*DESK)
@api_doc(summary="搬送を手配する（最寄りの受入可能施設、ベッド確保）", request_schema=TransportRequestSchema, status=201)
def desk_transport(outage_id: int, patient_id: int):
    data = TransportRequestSchema().load(request.get_json(silent=True) or {})
    t = transport.request_transport(db.session, current_actor(), outage_id=outage_id, patient_id=patient_id,
                                    reason="desk", now=now(), notifier=notifier_for(current_app),
                                    facility_id=data.get("facility_id"))
    db.session.commit()
    return queries.transport_dict(t), 201


@bp.get("/api/v1/outages/<int:outage_id>/patients/<int:patient_id>/charging-points")
@require(*DESK)
@api_doc(summary="近くの充電できる場所（搬送が不要な場合）")
def charging_points(outage_id: int, patient_id: int):
    items = transport.charging_points(db.session, current_actor(), outage_id, patient_id)
    return {"items": items, "total": len(items)}   # the k nearest: every one of them is returned


@bp.get("/api/v1/outages/<int:outage_id>/transports")
@require(*DESK)
@api_doc(summary="搬送の一覧")
def outage_transports(outage_id: int):
    outage = access.outage_for(db.session, current_actor(), outage_id)
    limit, offset = page_args()
    return paginate(db.session, queries.transports_stmt(outage.id), TransportItemSchema(), limit=limit, offset=offset)


@bp.patch("/api/v1/transports/<int:transport_id>")
@require(*TEAM)
@api_doc(summary="搬送の状態・搬送先を変更する", request_schema=TransportPatchSchema)
def patch_transport(transport_id: int):
    data = TransportPatchSchema().load(json_body())
    actor = current_actor()
    t = transport.update_transport(db.session, actor, transport_id, status=data.get("status"),
                                   facility_id=data.get("facility_id"), now=now(),
                                   notifier=notifier_for(current_app))
    db.session.commit()
    return queries.transport_dict(t)


@bp.get("/api/v1/outages/<int:outage_id>/events")
@require(*DESK)
@api_doc(summary="経過（タイムライン）")
def outage_events(outage_id: int):
    outage = access.outage_for(db.session, current_actor(), outage_id)
    limit, offset = page_args()
    return paginate(db.session, queries.events_stmt(outage.id), EventItemSchema(), limit=limit, offset=offset)


@bp.get("/api/v1/outages/<int:outage_id>/tasks")
@require(*TEAM)
@api_doc(summary="現場チームへの依頼の一覧（現場チームは自機関の依頼のみ）")
def outage_tasks(outage_id: int):
    actor = current_actor()
    outage = access.outage_for(db.session, actor, outage_id, roles=TEAM)
    limit, offset = page_args()
    page = paginate(db.session, field_tasks.tasks_stmt_for(actor, outage.id), TaskItemSchema(), limit=limit, offset=offset)
    # Tasks carry names, addresses, phones and contacts: the read is audited (issue 18).
    audit(db.session, actor, "read", "outage_tasks", outage.id, {"count": len(page["items"])}, now=now())
    db.session.commit()
    return page


@bp.post("/api/v1/tasks/<int:task_id>/ack")
@require(*TEAM)
@api_doc(summary="依頼を受諾する")
def ack_task(task_id: int):
    task = field_tasks.acknowledge_task(db.session, current_actor(), task_id, now=now())
    db.session.commit()
    return queries.task_dict(task)


@bp.post("/api/v1/tasks/<int:task_id>/decline")
@require(*TEAM)
@api_doc(summary="依頼を辞退する（当番順の次のチームへ移る）")
def decline_task(task_id: int):
    moved_to = field_tasks.decline_task(db.session, current_actor(), task_id, now=now(),
                                        notifier=notifier_for(current_app))
    db.session.commit()
    task = db.session.get(FieldTask, task_id)
    return {**queries.task_dict(task), "moved_to": queries.task_dict(moved_to) if moved_to else None}


@bp.post("/api/v1/tasks/<int:task_id>/report")
@require(*TEAM)
@api_doc(summary="訪問の結果を報告する（搬送が必要か）", request_schema=FieldReportSchema)
def report_task(task_id: int):
    data = FieldReportSchema().load(json_body())
    actor = current_actor()
    t = field_tasks.field_report(db.session, actor, task_id, needs_transport=data["needs_transport"], now=now(),
                                 notifier=notifier_for(current_app))
    db.session.commit()
    task = field_tasks.task_for(db.session, actor, task_id)
    return {"task": queries.task_dict(task), "transport": queries.transport_dict(t) if t else None}


@bp.post("/api/v1/outages/<int:outage_id>/propose-transports")
@require(*DESK)
@api_doc(summary="復旧前に電源が尽きる人の搬送案を作る")
def propose(outage_id: int):
    n = transport.propose_transports(db.session, current_actor(), outage_id, now=now())
    db.session.commit()
    return {"proposed": n}


@bp.post("/api/v1/outages/<int:outage_id>/resolve")
@require(*DESK)
@api_doc(summary="復旧（復旧の連絡、ワンタップリンクの失効、事後報告）", response_schema=OutageSchema)
def resolve(outage_id: int):
    actor = current_actor()
    outage = declare.resolve_outage(db.session, actor, outage_id, now=now(), notifier=notifier_for(current_app))
    audit(db.session, actor, "update", "outage", outage.id, {"status": "resolved"})
    db.session.commit()
    return queries.outage_dict(outage)


@bp.get("/api/v1/outages/<int:outage_id>/report")
@require(*DESK)
@api_doc(summary="事後報告書（format=docx|html）")
def incident_report(outage_id: int):
    outage = access.outage_for(db.session, current_actor(), outage_id)
    fmt = request.args.get("format", "html")
    if fmt not in ("html", "docx"):
        raise Invalid("format は docx か html です。", fields={"format": ["docx|html"]})
    data = report.build(db.session, outage, now=now())
    audit(db.session, current_actor(), "export", "outage_report", outage.id, {"format": fmt})
    db.session.commit()
    if fmt == "docx":
        return send_file(io.BytesIO(report.to_docx(data)), as_attachment=True,
                         download_name=f"outage-{outage.id}-report.docx",
                         mimetype="application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    return render_template("outages/report.html", r=data)


@bp.post("/api/v1/equipment")
@require(*loans.EQUIPMENT_ROLES)
@api_doc(summary="貸出用の予備電源を登録する（ポータブル電源・発電機・外部バッテリー）", status=201)
def create_equipment():
    actor = current_actor()
    eq = loans.add_equipment(db.session, actor, json_body(), now=now())
    audit(db.session, actor, "create", "loan_equipment", eq.id)
    db.session.commit()
    return loans.equipment_dict(eq), 201


@bp.get("/api/v1/equipment")
@require(*loans.EQUIPMENT_ROLES)
@api_doc(summary="貸出用の予備電源の一覧（?organization_id=&status=&kind=）")
def list_equipment():
    limit, offset = page_args()
    stmt = loans.equipment_stmt(db.session, current_actor(), organization_id=request.args.get("organization_id", type=int),
                                status=request.args.get("status"), kind=request.args.get("kind"))
    return paginate(db.session, stmt, dump=loans.equipment_dict, limit=limit, offset=offset)


@bp.post("/api/v1/outages/<int:outage_id>/patients/<int:patient_id>/loans")
@require(*DESK)
@api_doc(summary="予備電源を貸し出す（引き渡し時に記録、この停電の予備電源に加えて電源切れ時刻を再計算）", status=201)
def lend(outage_id: int, patient_id: int):
    actor = current_actor()
    loan = loans.lend(db.session, actor, outage_id=outage_id, patient_id=patient_id,
                      equipment_id=json_body().get("equipment_id"), now=now(),
                      policy=RunwayPolicy.from_config(current_app.config))
    audit(db.session, actor, "create", "power_loan", loan.id, {"outage_id": outage_id})
    db.session.commit()
    return loans.loan_dict(loan), 201


@bp.get("/api/v1/outages/<int:outage_id>/loans")
@require(*DESK)
@api_doc(summary="この停電の予備電源の貸出（返却状況つき）")
def outage_loans(outage_id: int):
    outage = access.outage_for(db.session, current_actor(), outage_id)
    limit, offset = page_args()
    return paginate(db.session, loans.loans_stmt(outage.id), dump=loans.loan_dict, limit=limit, offset=offset)


@bp.post("/api/v1/loans/<int:loan_id>/return")
@require(*DESK)
@api_doc(summary="貸し出した予備電源の返却を記録する（復旧後）")
def return_loan(loan_id: int):
    loan = loans.return_loan(db.session, current_actor(), loan_id, now=now())
    db.session.commit()
    return loans.loan_dict(loan)

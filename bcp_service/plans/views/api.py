"""Plans API (contract: API.md "Plans"). Views stay thin: parse, call a service, serialise."""
from __future__ import annotations

from flask import Blueprint, Response, request

from bcp_service.api import api_doc, json_body, page_args, paginate
from bcp_service.auth import Role, current_actor, require
from bcp_service.clock import iso_local, to_local
from bcp_service.db import db
from bcp_service.drills.evaluations import open_actions_for_plan
from bcp_service.errors import Invalid, NotFound
from bcp_service.orgs.models import Organization

from .. import access, authoring, history, review, versions, workflow
from ..schemas import (AutofillSchema, CommentSchema, CreatePlanSchema, DiffQuery, ExportQuery, PlanListQuery,
                       PlanSchema, ReturnSchema, ReviseSchema, SaveSectionSchema, TemplateSummarySchema)
from ..states import PlanStatus
from ..templates import TemplateLibrary
from .common import LIST_ROLES, READ_ROLES, clock_now, export_response, plan_json, template_json

bp = Blueprint("plans_api", __name__)


@bp.record_once
def _load_templates(state) -> None:
    # The schema check runs at start-up: a broken template stops the app with the file and place named.
    state.app.extensions["plans_templates"] = TemplateLibrary.load(state.app.config.get("PLANS_DIR"))


@bp.get("/api/v1/plan-templates")
@require()
@api_doc(summary="計画テンプレート（3種類）の版と章", response_schema=TemplateSummarySchema, many=True)
def list_templates():
    lib = versions.get_library()
    limit, offset = page_args()
    return paginate(None, [lib.current(t) for t in lib.types()], dump=lambda t: template_json(t, lib),
                    limit=limit, offset=offset)


@bp.get("/api/v1/plan-templates/<plan_type>")
@require()
@api_doc(summary="計画テンプレートの全内容（章・項目・ガイダンス）")
def get_template(plan_type: str):
    lib = versions.get_library()
    version = request.args.get("version", type=int)
    try:
        t = lib.current(plan_type) if version is None else lib.get(plan_type, version)
    except KeyError:
        t = None
    if t is None:
        raise NotFound(f"テンプレート {plan_type}{f' v{version}' if version else ''} はありません")
    org_arg = request.args.get("organization_id")
    if org_arg is None:
        return template_json(t, lib, full=True)
    if not org_arg.isdigit():
        raise Invalid("organization_id が正しくありません", fields={"organization_id": ["機関の番号（整数）を指定してください"]})
    org = db.session.get(Organization, int(org_arg))
    if org is None:
        raise NotFound(f"機関 {org_arg} が見つかりません")
    # required as it applies to that organisation (a clinic: the solo-clinic path)
    return template_json(t.for_kind(org.kind), lib, full=True) | {"organization_id": org.id,
                                                                  "organization_kind": org.kind}


@bp.get("/api/v1/plans")
@require(*LIST_ROLES)
@api_doc(summary="計画の一覧（状態・記入率。都道府県担当は内容なし）", response_schema=PlanSchema, many=True,
         query_schema=PlanListQuery)
def list_plans():
    q = PlanListQuery().load(request.args.to_dict())
    limit, offset = page_args()
    stmt = access.list_plans_stmt(db.session, current_actor(), type_=q.get("type"), status=q.get("status"),
                                    region_code=q.get("region_code"))
    return paginate(db.session, stmt, dump=plan_json, limit=limit, offset=offset)


@bp.post("/api/v1/plans")
@require(*READ_ROLES)
@api_doc(summary="計画を作成する（下書き第1版）", request_schema=CreatePlanSchema, response_schema=PlanSchema, status=201)
def create_plan():
    data = CreatePlanSchema().load(json_body())
    cmd = authoring.NewPlan(type=data["type"], title=data["title"], organization_id=data.get("organization_id"),
                           member_org_ids=tuple(data.get("member_org_ids", ())), region_code=data.get("region_code"))
    plan = authoring.create_plan(db.session, current_actor(), cmd, now=clock_now())
    db.session.commit()
    return plan_json(plan, detail=True), 201


@bp.get("/api/v1/plans/<int:plan_id>")
@require(*LIST_ROLES)
@api_doc(summary="計画の内容と記入率", response_schema=PlanSchema)
def get_plan(plan_id: int):
    actor = current_actor()
    plan = access.read_plan(db.session, actor, plan_id)
    body = plan_json(plan, detail=True, version=access.shown_version(actor, plan))
    db.session.commit()   # the audit row
    return body


@bp.put("/api/v1/plans/<int:plan_id>/sections/<section_key>")
@require(*READ_ROLES)
@api_doc(summary="章の回答を保存する（自動保存）", request_schema=SaveSectionSchema, response_schema=PlanSchema)
def save_section(plan_id: int, section_key: str):
    data = SaveSectionSchema().load(json_body())
    plan = authoring.save_section(db.session, current_actor(), plan_id, section_key, data["answers"], now=clock_now(),
                                 template_version=data.get("template_version"))
    db.session.commit()
    return plan_json(plan, detail=True)


def _transition(fn, plan_id: int, **kw):
    plan = fn(db.session, current_actor(), plan_id, now=clock_now(), **kw)
    db.session.commit()
    return plan_json(plan, detail=True)


@bp.post("/api/v1/plans/<int:plan_id>/submit")
@require(*READ_ROLES)
@api_doc(summary="提出する（下書き → 確認中）", response_schema=PlanSchema)
def submit(plan_id: int):
    return _transition(workflow.submit, plan_id)


@bp.post("/api/v1/plans/<int:plan_id>/approve")
@require(Role.ADMIN, Role.HUB_STAFF)
@api_doc(summary="承認する（確認中 → 承認済み。提出者以外）", response_schema=PlanSchema)
def approve(plan_id: int):
    return _transition(workflow.approve, plan_id)


@bp.post("/api/v1/plans/<int:plan_id>/return")
@require(Role.ADMIN, Role.HUB_STAFF)
@api_doc(summary="差し戻す（確認中 → 下書き）", request_schema=ReturnSchema, response_schema=PlanSchema)
def send_back(plan_id: int):
    data = ReturnSchema().load(request.get_json(silent=True) or {})
    return _transition(workflow.send_back, plan_id, comment=data.get("comment"))


@bp.post("/api/v1/plans/<int:plan_id>/revise")
@require(*READ_ROLES)
@api_doc(summary="改訂する（承認済み → 新しい版の下書き）", request_schema=ReviseSchema, response_schema=PlanSchema)
def revise(plan_id: int):
    data = ReviseSchema().load(request.get_json(silent=True) or {})
    plan, report = workflow.revise(db.session, current_actor(), plan_id, now=clock_now(),
                                   template_version=data.get("template_version"), note=data.get("note"))
    db.session.commit()
    return plan_json(plan, detail=True) | {"upgrade": report}


@bp.post("/api/v1/plans/<int:plan_id>/upgrade")
@require(*READ_ROLES)
@api_doc(summary="下書きを新しいテンプレートの版へ移す", request_schema=ReviseSchema, response_schema=PlanSchema)
def upgrade(plan_id: int):
    data = ReviseSchema().load(request.get_json(silent=True) or {})
    plan, report = authoring.upgrade_draft(db.session, current_actor(), plan_id, now=clock_now(),
                                          template_version=data.get("template_version"))
    db.session.commit()
    return plan_json(plan, detail=True) | {"upgrade": report}


@bp.post("/api/v1/plans/<int:plan_id>/autofill")
@require(*READ_ROLES)
@api_doc(summary="自動入力を最新のデータで更新する（手入力は上書きしない）", request_schema=AutofillSchema)
def autofill(plan_id: int):
    data = AutofillSchema().load(request.get_json(silent=True) or {})
    results = authoring.refresh_autofill(db.session, current_actor(), plan_id, now=clock_now(),
                                        fields=data.get("fields_"), overwrite=data.get("overwrite"))
    db.session.commit()
    plan = access.get_plan(db.session, current_actor(), plan_id)
    return {"results": [{"section": r.section_key, "field": r.field_key, "binding": r.binding, "outcome": r.outcome,
                         "message": r.message, "autofilled_at": iso_local(r.autofilled_at)} for r in results],
            "plan": plan_json(plan, detail=True)}


@bp.get("/api/v1/plans/<int:plan_id>/versions")
@require(*READ_ROLES)
@api_doc(summary="版の一覧")
def list_versions(plan_id: int):
    limit, offset = page_args()
    plan = access.get_plan(db.session, current_actor(), plan_id)
    names = history.user_names(db.session, [v.approved_by for v in plan.versions] + [v.submitted_by for v in plan.versions])

    def item(v) -> dict:
        return {"number": v.number, "status": v.status, "template_version": v.template_version,
                "completeness": versions.progress_of(plan, v).ratio, "created_at": iso_local(v.created_at),
                "submitted_at": iso_local(v.submitted_at), "submitted_by": names.get(v.submitted_by),
                "approved_at": iso_local(v.approved_at), "approved_by": names.get(v.approved_by),
                "change_note": v.change_note}
    shown = [v for v in plan.versions
             if not access.reads_approved_only(current_actor(), plan) or v.status == PlanStatus.APPROVED]
    return paginate(None, shown, dump=item, limit=limit, offset=offset)


@bp.get("/api/v1/plans/<int:plan_id>/diff")
@require(*READ_ROLES)
@api_doc(summary="2つの版の差分", query_schema=DiffQuery)
def diff(plan_id: int):
    q = DiffQuery().load({k: v for k, v in request.args.items() if k not in ("limit", "offset")})
    limit, offset = page_args()
    changes = history.diff_versions(db.session, current_actor(), plan_id, q["from_"], q["to"])
    return {"from": q["from_"], "to": q["to"],
            **paginate(None, changes, dump=lambda c: c.as_dict(), limit=limit, offset=offset)}


@bp.get("/api/v1/plans/<int:plan_id>/events")
@require(*READ_ROLES)
@api_doc(summary="誰がいつ何をしたか")
def plan_events(plan_id: int):
    limit, offset = page_args()
    page = paginate(db.session, history.events_stmt(db.session, current_actor(), plan_id), limit=limit, offset=offset)
    names = history.user_names(db.session, [e.user_id for e in page["items"]])
    page["items"] = [{"at": iso_local(e.at), "version": e.version_number, "action": e.action,
                      "action_label": history.ACTION_LABELS.get(e.action, e.action), "user_id": e.user_id,
                      "user": names.get(e.user_id), "detail": e.detail} for e in page["items"]]
    return page


@bp.get("/api/v1/plans/<int:plan_id>/comments")
@require(*READ_ROLES)
@api_doc(summary="章ごとのコメント")
def list_comments(plan_id: int):
    limit, offset = page_args()
    return paginate(db.session, history.comments_stmt(db.session, current_actor(), plan_id), dump=_comment_json,
                    limit=limit, offset=offset)


@bp.post("/api/v1/plans/<int:plan_id>/sections/<section_key>/comments")
@require(*READ_ROLES)
@api_doc(summary="章にコメントする", request_schema=CommentSchema, status=201)
def add_comment(plan_id: int, section_key: str):
    data = CommentSchema().load(json_body())
    c = history.add_comment(db.session, current_actor(), plan_id, section_key, data["body"], now=clock_now())
    db.session.commit()
    return _comment_json(c), 201


def _comment_json(c) -> dict:
    names = history.user_names(db.session, [c.author_id])
    return {"id": c.id, "section": c.section_key, "body": c.body, "author": names.get(c.author_id),
            "created_at": iso_local(c.created_at)}


@bp.get("/api/v1/plans/<int:plan_id>/export")
@require(*READ_ROLES)
@api_doc(summary="書き出し（DOCX / HTML / Markdown）", query_schema=ExportQuery)
def export(plan_id: int):
    q = ExportQuery().load(request.args.to_dict())
    return export_response(plan_id, q["format"], q.get("version"))


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
    limit, offset = page_args()
    return paginate(db.session, review.my_reminders_stmt(current_actor()), limit=limit, offset=offset,
                    dump=lambda r: {"id": r.id, "plan_id": r.plan_id, "kind": r.kind, "due_on": r.due_on.isoformat(),
                                    "message": r.message, "channel": r.channel,
                                    "created_at": iso_local(r.created_at)})


@bp.get("/api/v1/plans/<int:plan_id>/open-actions")
@require(*READ_ROLES)
@api_doc(summary="計画の章ごとの未完了の是正措置（訓練から）")
def plan_open_actions(plan_id: int):
    plan = access.get_plan(db.session, current_actor(), plan_id)
    grouped = open_actions_for_plan(db.session, plan.id, today=to_local(clock_now()).date())
    return {"sections": {k or "": [{**a, "due": a["due"].isoformat()} for a in v] for k, v in grouped.items()}}

"""協議の場: API and pages. Views parse, call a service, render."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from bcp_service.api import api_doc, json_body, page_args, paginate
from bcp_service.appclock import get_clock
from bcp_service.auth import current_actor, require
from bcp_service.clock import iso_local
from bcp_service.db import db
from bcp_service.drills.schemas import CorrectiveActionInSchema, CorrectiveActionSchema
from bcp_service.orgs.models import ORGANIZATION_KIND_LABELS

from . import services
from .models import Meeting
from .schemas import MeetingInSchema, MeetingQuery

bp = Blueprint("meetings", __name__)


def meeting_json(m: Meeting) -> dict:
    actions = {a.id: a for a in m.actions}
    return {
        "id": m.id, "region_code": m.region_code, "held_on": m.held_on.isoformat(), "title": m.title,
        "agenda": m.agenda, "notes": m.notes, "created_at": iso_local(m.created_at),
        "attendees": [{"organization_id": a.organization_id, "name": a.organization.name,
                       "kind": a.organization.kind, "names": a.names} for a in m.attendees],
        "decisions": [{"id": d.id, "text": d.text, "action_id": d.action_id,
                       "corrective_action": CorrectiveActionSchema().dump(actions[d.action_id])
                       if d.action_id in actions else None} for d in m.decisions],
    }


@bp.post("/api/v1/meetings")
@require(*services.WRITE_ROLES)
@api_doc(summary="協議の場の記録を登録する（日付・参加機関・議題・決定事項、決定事項から是正措置）",
         request_schema=MeetingInSchema, status=201)
def create_meeting():
    data = MeetingInSchema().load(json_body())
    meeting = services.create_meeting(db.session, current_actor(), data, now=get_clock().now())
    db.session.commit()
    return meeting_json(meeting), 201


@bp.get("/api/v1/meetings")
@require(*services.READ_ROLES)
@api_doc(summary="協議の場の記録の一覧（新しい順）", query_schema=MeetingQuery)
def list_meetings():
    q = MeetingQuery().load({k: v for k, v in request.args.items() if k not in ("limit", "offset")})
    limit, offset = page_args()
    stmt = services.list_meetings_stmt(db.session, current_actor(), q.get("region_code"))
    return paginate(db.session, stmt, dump=meeting_json, limit=limit, offset=offset)


@bp.get("/api/v1/meetings/<int:meeting_id>")
@require(*services.READ_ROLES)
@api_doc(summary="協議の場の記録")
def get_meeting(meeting_id: int):
    return meeting_json(services.get_meeting(db.session, current_actor(), meeting_id))


@bp.post("/api/v1/meetings/<int:meeting_id>/decisions/<int:decision_id>/action")
@require(*services.WRITE_ROLES)
@api_doc(summary="決定事項を是正措置にする（計画の章に結び付ける）", request_schema=CorrectiveActionInSchema, status=201)
def decision_to_action(meeting_id: int, decision_id: int):
    data = CorrectiveActionInSchema().load(json_body())
    action = services.decision_to_action(db.session, current_actor(), meeting_id, decision_id, data,
                                         now=get_clock().now())
    db.session.commit()
    return CorrectiveActionSchema().dump(action), 201


@bp.get("/meetings")
@require(*services.READ_ROLES)
def meetings_page():
    meetings = list(db.session.scalars(services.list_meetings_stmt(db.session, current_actor(),
                                                                   request.args.get("region_code") or None)))
    return render_template("meetings/list.html", meetings=meetings)


@bp.get("/meetings/<int:meeting_id>")
@require(*services.READ_ROLES)
def meeting_page(meeting_id: int):
    meeting = services.get_meeting(db.session, current_actor(), meeting_id)
    return render_template("meetings/detail.html", m=meeting_json(meeting), kind_labels=ORGANIZATION_KIND_LABELS)

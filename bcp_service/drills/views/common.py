"""What the drills API and pages share: the scenario library, the clock, the drill's JSON, downloads."""
from __future__ import annotations

from datetime import datetime
from urllib.parse import urlparse

from flask import Response, current_app, request

from bcp_service.auth import Role, current_actor
from bcp_service.appclock import get_clock
from bcp_service.db import db
from bcp_service.drills import access, notices
from bcp_service.drills.ics import build_calendar
from bcp_service.drills.models import Drill
from bcp_service.drills.report import render_docx
from bcp_service.drills.schemas import DrillQuery, DrillSchema


STAFF = (Role.ADMIN, Role.HUB_STAFF, Role.INSTITUTION_STAFF, Role.FIELD_TEAM)


WRITERS = (Role.ADMIN, Role.HUB_STAFF)


def library():
    return current_app.extensions["drill_scenarios"]


def clock_now() -> datetime:
    return get_clock().now()


def base_url() -> str:
    return current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/")


def host() -> str:
    return urlparse(base_url()).hostname or "bcp-service"


def drill_json(drill: Drill, warnings=None) -> dict:
    body = DrillSchema().dump(drill)
    body["participants"] = [
        {"organization_id": p.organization_id, "organization_name": p.organization_name,
         "contact_name": p.contact_name, "invited": p.invited_at is not None}
        for p in drill.participants]
    if warnings is not None:
        body["warnings"] = [w.as_dict() for w in warnings]
    return body


DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def docx_response(report, drill_id: int) -> Response:
    return Response(render_docx(report), mimetype=DOCX_MIME,
                    headers={"Content-Disposition": f'attachment; filename="drill-{drill_id}-aar.docx"'})


def drill_calendar_response(drill_id: int) -> Response:
    """One drill as an iCalendar download."""
    drill = access.get_drill(db.session, current_actor(), drill_id)
    body = build_calendar([notices.calendar_event(drill, base_url(), host())], stamp=clock_now(),
                          name=f"訓練: {drill.title}")
    return Response(body, mimetype="text/calendar",
                    headers={"Content-Disposition": f'attachment; filename="drill-{drill_id}.ics"'})


def calendar_response() -> Response:
    """The drills the actor sees (``?region_code=&from=&to=``) as an iCalendar download."""
    q = DrillQuery().load({k: v for k, v in request.args.items() if k in ("region_code", "from", "to")})
    stmt = access.list_drills_stmt(db.session, current_actor(), region_code=q.get("region_code"),
                                   start=q.get("start"), end=q.get("end"))
    drills = db.session.scalars(stmt).all()
    body = build_calendar([notices.calendar_event(d, base_url(), host()) for d in drills], stamp=clock_now())
    return Response(body, mimetype="text/calendar",
                    headers={"Content-Disposition": 'attachment; filename="drills.ics"'})

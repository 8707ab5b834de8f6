"""BCP status for the fee rule (API.md "Plans: sharing and the fee rule"): the API and the 拠点's page."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from bcp_service.auth import current_actor, require
from bcp_service.api import api_doc
from bcp_service.db import db
from bcp_service.orgs.models import Region

from ..bcp_status import STATUS_ROLES, region_status
from ..fee_rule import load_rule
from .common import tokyo_today

bp = Blueprint("plans_status", __name__)


@bp.get("/api/v1/bcp-status")
@require(*STATUS_ROLES)
@api_doc(summary="在宅療養支援診療所・病院のBCP策定状況（承認済みの機関型BCPの有無・期限・残り日数）")
def bcp_status_api():
    rows = region_status(db.session, current_actor(), request.args.get("region_code") or None, today=tokyo_today())
    return {"items": [r.as_dict() for r in rows]}


@bp.get("/plans/bcp-status")
@require(*STATUS_ROLES)
def bcp_status_page():
    actor = current_actor()
    region_code = request.args.get("region_code") or None
    rows = region_status(db.session, actor, region_code, today=tokyo_today())
    region = db.session.get(Region, region_code or actor.scope) if (region_code or actor.scope) else None
    return render_template("plans/bcp_status.html", rows=rows, rule=load_rule(), region=region,
                           missing=sum(1 for r in rows if not r.has_approved_kikan))

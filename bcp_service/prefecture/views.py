"""Prefecture review: ``GET /api/v1/reports/prefecture/<pref_code>``, the page with charts, and CSV.

URL paths stay under ``/reports/prefecture`` (API.md); the package is ``prefecture`` so that it is not
confused with documents such as the drill after-action report.
"""
from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, url_for
from sqlalchemy import select

from bcp_service.api import api_doc
from bcp_service.auth import Role, current_actor, require
from bcp_service.appclock import get_clock
from bcp_service.clock import iso_local, to_local
from bcp_service.db import db
from bcp_service.drills import adapters
from bcp_service.errors import NotFound
from bcp_service.orgs.models import Region
from bcp_service.prefecture import services
from bcp_service.prefecture.aggregate import (PLAN_STATE_JA, PLAN_STATES, PLAN_TYPE_JA, PLAN_TYPES, TIER_JA, TIERS,
                                           to_csv)

bp = Blueprint("prefecture", __name__)
REVIEWERS = (Role.ADMIN, Role.PREFECTURE_REVIEWER)


def _report(pref_code: str):
    now = get_clock().now()
    rows = services.prefecture_report(db.session, current_actor(), pref_code, now=now,
                                      today=to_local(now).date(), desk=adapters.outage_desk())
    db.session.commit()   # the audit row of this read
    return now, rows


@bp.get("/api/v1/reports/prefecture/<pref_code>")
@require(*REVIEWERS)
@api_doc(summary="都道府県の圏域別集計（個人情報なし）")
def prefecture_json(pref_code: str):
    now, rows = _report(pref_code)
    return {"prefecture_code": pref_code, "generated_at": iso_local(now),
            "regions": [r.as_dict() for r in rows], "totals": services.totals(rows)}


@bp.get("/api/v1/reports/prefecture/<pref_code>.csv")
@bp.get("/reports/prefecture/<pref_code>.csv")
@require(*REVIEWERS)
@api_doc(summary="都道府県の圏域別集計 (CSV, 個人情報なし)")
def prefecture_csv(pref_code: str):
    _now, rows = _report(pref_code)
    return Response(to_csv(rows).encode("utf-8"), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="prefecture-{pref_code}.csv"'})


@bp.get("/reports/prefecture")
@require(*REVIEWERS)
def prefecture_home():
    actor = current_actor()
    if actor.role is Role.PREFECTURE_REVIEWER:
        return redirect(url_for("prefecture.prefecture_page", pref_code=actor.scope))
    codes = sorted(set(db.session.scalars(select(Region.prefecture_code))))
    if not codes:
        raise NotFound("圏域が登録されていません")
    return redirect(url_for("prefecture.prefecture_page", pref_code=codes[0]))


@bp.get("/reports/prefecture/<pref_code>")
@require(*REVIEWERS)
def prefecture_page(pref_code: str):
    now, rows = _report(pref_code)
    totals = services.totals(rows)
    max_patients = max([sum(r.patients_by_tier.values()) for r in rows] + [1])
    max_plans = max([sum(sum(s.values()) for s in r.plans.values()) for r in rows] + [1])
    max_actions = max([r.corrective_actions_open for r in rows] + [1])
    max_drills = max([r.drills_held for r in rows] + [1])
    return render_template("prefecture/report.html", pref_code=pref_code, rows=rows, totals=totals, now=now,
                           PLAN_TYPES=PLAN_TYPES, PLAN_STATES=PLAN_STATES, PLAN_TYPE_JA=PLAN_TYPE_JA,
                           PLAN_STATE_JA=PLAN_STATE_JA, TIERS=TIERS, TIER_JA=TIER_JA,
                           max_patients=max_patients, max_plans=max_plans, max_actions=max_actions,
                           max_drills=max_drills)

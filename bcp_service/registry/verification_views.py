"""Re-verification pages and API: the overdue list, the one-page confirm/correct form, confirming on
a visit. A nested blueprint of ``registry`` (endpoints ``registry.reverify.*``). Thin: parse → service → render."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for

from bcp_service.api import api_doc, page_args
from bcp_service.auth import STAFF_ROLES, Role, current_actor, require
from bcp_service.appclock import get_clock
from bcp_service.clock import to_local
from bcp_service.db import db
from bcp_service.registry import services, verification
from bcp_service.registry import models as m
from bcp_service.registry import runway as rw
from bcp_service.registry.phones import display_phone

bp = Blueprint("reverify", __name__)
WRITERS = (Role.ADMIN, Role.HUB_STAFF, Role.INSTITUTION_STAFF)


def _policy() -> verification.VerificationPolicy:
    return verification.VerificationPolicy.from_config(current_app.config)


def _today():
    return to_local(get_clock().now()).date()


@bp.get("/api/v1/patients/reverification")
@require(*STAFF_ROLES)
@api_doc(summary="電源情報の再確認が期限切れの患者（看護ステーション・主治医機関ごと）")
def api_overdue():
    limit, offset = page_args()
    rows, total = verification.overdue_patients(db.session, current_actor(), _today(), _policy(),
                                                limit=limit, offset=offset)
    db.session.commit()
    return {"items": [{"patient_id": o.patient.id, "name": o.patient.name,
                       "nursing_org_id": o.patient.nursing_org_id, "primary_org_id": o.patient.primary_org_id,
                       "last_confirmed_on": o.confirmed.isoformat() if o.confirmed else None,
                       "reason": o.reason} for o in rows],
            "total": total, "cutoff": verification.due_cutoff(_today(), _policy()).isoformat()}


@bp.get("/patients/reverify")
@require(*STAFF_ROLES)
def overdue_page():
    actor = current_actor()
    rows, total = verification.overdue_patients(db.session, actor, _today(), _policy(), limit=500)
    db.session.commit()
    return render_template("registry/reverify_list.html", rows=rows, total=total,
                           cutoff=verification.due_cutoff(_today(), _policy()),
                           in_season=verification.in_season(_today(), _policy()), may_write=actor.role in WRITERS)


@bp.get("/patients/<int:patient_id>/reverify")
@require(*STAFF_ROLES)
def form_page(patient_id: int):
    actor = current_actor()
    p = services.get_patient(db.session, actor, patient_id)
    db.session.commit()
    confirmed = verification.last_confirmed(p.power_checked_on, [b.checked_on for b in p.backups])
    return render_template("registry/reverify_form.html", p=p, m=m, rw=rw, phone=display_phone,
                           confirmed=confirmed, printed_at=get_clock().now(),
                           may_write=services.may_write(actor, p))


@bp.post("/patients/<int:patient_id>/reverify")
@require(*WRITERS)
def confirm(patient_id: int):
    now = get_clock().now()
    verification.confirm(db.session, current_actor(), patient_id, today=to_local(now).date(), now=now,
                         policy=services.RunwayPolicy.from_config(current_app.config))
    db.session.commit()
    flash("電源情報を確認済みにしました", "success")
    return redirect(url_for("registry.patient_detail", patient_id=patient_id))

"""Registry pages (Japanese): the patient list, form, detail, printable plan, import and map.
Thin: parse → service → render. Blueprint ``registry``."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy import select

from bcp_service.auth import STAFF_ROLES, Role, audit, current_actor, require
from bcp_service.appclock import get_clock
from bcp_service.clock import to_local
from bcp_service.db import db
from bcp_service.errors import Invalid, OutOfScope
from bcp_service.orgs.models import Organization, Region
from bcp_service.registry import forms, quality, queries, services, tabular, verification, verification_views
from bcp_service.registry import models as m
from bcp_service.registry import runway as rw
from bcp_service.registry.access import may_write
from bcp_service.registry.presets import load_presets
from bcp_service.registry.schemas import PatientIn, PatientListArgs
from bcp_service.registry.views.api import WRITERS, read_upload, run_import, runway_policy

bp = Blueprint("registry", __name__)
bp.register_blueprint(verification_views.bp)  # re-verification pages: registry.reverify.*

# A browser draws a few thousand markers at most; the setting exists so tests can show the cap.
MAP_LIMIT = 5000


def _org_choices(actor) -> list[Organization]:
    from bcp_service.auth.scope import visible_region_codes

    stmt = select(Organization).order_by(Organization.kind, Organization.name)
    regions = visible_region_codes(db.session, actor)
    if regions is not None:
        stmt = stmt.where(Organization.region_code.in_(regions))
    return list(db.session.scalars(stmt))


def _region_choices(actor) -> list[Region]:
    from bcp_service.auth.scope import visible_region_codes

    stmt = select(Region).order_by(Region.code)
    regions = visible_region_codes(db.session, actor)
    if regions is not None:
        stmt = stmt.where(Region.code.in_(regions))
    return list(db.session.scalars(stmt))


def _page_context(actor) -> dict:
    from bcp_service.orgs.models import ORGANIZATION_KIND_LABELS
    from bcp_service.registry.phones import display_phone

    return {"m": m, "rw": rw, "presets": load_presets(), "orgs": _org_choices(actor),
            "regions": _region_choices(actor), "may_write": actor.role in WRITERS, "phone": display_phone,
            "org_kinds": ORGANIZATION_KIND_LABELS}


@bp.get("/patients")
@require(*STAFF_ROLES)
def patient_list():
    actor = current_actor()
    filters, args, filter_errors = _list_filters(request.args)
    limit = 50
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    rows, total = queries.list_patients(db.session, actor, filters, limit=limit, offset=(page - 1) * limit)
    today = to_local(get_clock().now()).date()
    policy = verification.VerificationPolicy.from_config(current_app.config)
    overdue = verification.overdue_count(db.session, actor, today, policy)
    # Data-quality problems on the plain list only (a filtered list shows just what was asked for).
    plain = set(args) <= {"status"} and args.get("status", "active") == "active"
    quality_rows, quality_total = quality.problems(db.session, actor) if plain and page == 1 else ([], 0)
    flags = {p.id: quality.row_flags(p, today=today, policy=policy) for p in rows}
    db.session.commit()
    return render_template("registry/list.html", patients=rows, total=total, page=page, limit=limit,
                           filters=filters, args=args, filter_errors=filter_errors, flags=flags, overdue=overdue,
                           quality=quality_rows, quality_total=quality_total, **_page_context(actor))


def _list_filters(query) -> tuple[dict, dict, dict]:
    """(filters for the query, the arguments to keep in links, {field: Japanese message}).

    A select left at 「すべて」 sends an empty string: that means "no filter" for that field only, never
    for the others. Status defaults to active patients (``status=all`` shows every status). A value that
    is not valid is reported beside its field; the other filters still apply."""
    args = {k: v.strip() for k, v in query.items() if k != "page" and v and v.strip()}
    status = args.get("status", "active")
    raw = {k: v for k, v in args.items() if k != "status"}
    if status != "all":
        raw["status"] = status
    try:
        return PatientListArgs().load(raw), args, {}
    except ValidationError as exc:
        errors = exc.messages if isinstance(exc.messages, dict) else {}
        valid = {k: v for k, v in (exc.valid_data or {}).items() if k not in errors}
        return valid, {k: v for k, v in args.items() if k not in errors}, {k: list(v) for k, v in errors.items()}


def _slots(values: dict) -> dict[str, int]:
    """Rows per repeated group: those filled in, plus blank ones to add more."""
    import re

    used = {"devices": 0, "backups": 0, "contacts": 0}
    for key in values:
        mt = re.match(r"^(devices|backups|contacts)-(\d+)-", key)
        if mt:
            used[mt[1]] = max(used[mt[1]], int(mt[2]) + 1)
    return {"devices": max(used["devices"] + 1, 2), "backups": max(used["backups"] + 2, 4),
            "contacts": max(used["contacts"] + 1, 2)}


def _render_form(actor, values: dict, errors: dict, patient=None, status: int = 200):
    if "consent_scope" not in values or isinstance(values.get("consent_scope"), str):
        values = dict(values, consent_scope=request.form.getlist("consent_scope") if request.method == "POST"
                      else values.get("consent_scope") or [])
    return render_template("registry/form.html", values=values, errors=errors, patient=patient,
                           slots=_slots(values), **_page_context(actor)), status


def _save_form(actor, patient_id: int | None):
    payload, where = forms.form_to_payload(request.form, request.form.getlist)
    try:
        data = PatientIn().load(payload)
        if patient_id is None:
            p = services.create_patient(db.session, actor, data, now=get_clock().now(), policy=runway_policy())
        else:
            p = services.update_patient(db.session, actor, patient_id, data, now=get_clock().now(),
                                        policy=runway_policy())
        db.session.commit()
        return p, {}
    except ValidationError as e:
        db.session.rollback()
        return None, tabular.flatten_errors(e.messages, where)
    except Invalid as e:
        db.session.rollback()
        return None, tabular.flatten_errors(e.fields, where)


@bp.route("/patients/new", methods=["GET", "POST"])
@require(*WRITERS)
def patient_new():
    actor = current_actor()
    if request.method == "GET":
        values = {"status": "active", "evacuation_plan_status": "none"}
        if actor.role is Role.INSTITUTION_STAFF and actor.organization_id:
            values["primary_org_id"] = str(actor.organization_id)
        return _render_form(actor, values, {})
    p, errors = _save_form(actor, None)
    if p is None:
        return _render_form(actor, request.form.to_dict(), errors, status=400)
    flash("患者を登録しました", "success")
    return redirect(url_for("registry.patient_detail", patient_id=p.id))


@bp.get("/patients/<int:patient_id>")
@require(*STAFF_ROLES)
def patient_detail(patient_id: int):
    actor = current_actor()
    p = services.get_patient(db.session, actor, patient_id)
    flags = quality.row_flags(p, today=to_local(get_clock().now()).date(),
                              policy=verification.VerificationPolicy.from_config(current_app.config))
    db.session.commit()
    return render_template("registry/detail.html", p=p, quality=flags, **_page_context(actor))


@bp.route("/patients/<int:patient_id>/edit", methods=["GET", "POST"])
@require(*WRITERS)
def patient_edit(patient_id: int):
    actor = current_actor()
    p = services.get_patient(db.session, actor, patient_id, purpose="read_for_edit")
    if not may_write(actor, p):
        raise OutOfScope("担当圏域外の患者です")
    db.session.commit()
    if request.method == "GET":
        return _render_form(actor, forms.patient_to_form(p), {}, patient=p)
    saved, errors = _save_form(actor, patient_id)
    if saved is None:
        return _render_form(actor, request.form.to_dict(), errors, patient=p, status=400)
    flash("変更を保存しました", "success")
    return redirect(url_for("registry.patient_detail", patient_id=patient_id))


@bp.post("/patients/<int:patient_id>/delete")
@require(*WRITERS)
def patient_delete(patient_id: int):
    services.delete_patient(db.session, current_actor(), patient_id, now=get_clock().now())
    db.session.commit()
    flash("台帳から削除しました", "success")
    return redirect(url_for("registry.patient_list"))


@bp.get("/patients/<int:patient_id>/plan")
@require(*STAFF_ROLES)
def patient_plan(patient_id: int):
    """The printable A4 「災害時個別支援計画」 the family keeps by the ventilator."""
    actor = current_actor()
    p = services.get_patient(db.session, actor, patient_id, purpose="print_plan")
    db.session.commit()
    devices, backups = p.runway_inputs()
    return render_template("registry/plan.html", p=p, printed_at=get_clock().now(),
                           ladder=rw.ladder(devices, backups), **_page_context(actor))


@bp.route("/patients/import", methods=["GET", "POST"])
@require(*WRITERS)
def patient_import():
    actor = current_actor()
    if request.method == "GET":
        return render_template("registry/import.html", rows=None, message=None, **_page_context(actor))
    try:
        filename, content = read_upload()
        n = run_import(filename, content)
        db.session.commit()
    except Invalid as e:
        db.session.rollback()
        return render_template("registry/import.html", rows=e.extra.get("rows"), message=e.message,
                               **_page_context(actor)), 400
    flash(f"{n}件を登録しました", "success")
    return redirect(url_for("registry.patient_list"))


@bp.get("/patients/map")
@require(*STAFF_ROLES)
def patient_map():
    actor = current_actor()
    limit = int(current_app.config.get("REGISTRY_MAP_LIMIT") or MAP_LIMIT)
    shown = queries.map_patients(db.session, actor, limit=limit)
    patients = shown.patients
    facilities = list(db.session.scalars(queries.facilities_query(db.session, actor)))
    audit.record(db.session, actor, "map", "patient", None, {"ids": [p.id for p in patients]})
    db.session.commit()
    points = ([{"id": p.id, "name": p.name, "lat": p.lat, "lon": p.lon, "tier": p.runway_tier, "type": "patient",
                "url": url_for("registry.patient_detail", patient_id=p.id)} for p in patients]
              + [{"id": f.id, "name": f.name, "lat": f.lat, "lon": f.lon, "type": "facility"}
                 for f in facilities if f.lat is not None and f.lon is not None])
    return render_template("registry/map.html", patients=patients, facilities=facilities, map_points=points,
                           plot=_svg_plot(patients, facilities), located_total=shown.located_total,
                           without_coordinates=shown.without_coordinates, map_limit=limit,
                           **_page_context(actor))


def _svg_plot(patients, facilities, width: int = 640, height: int = 480) -> dict:
    """Points projected into an SVG box: the map that works without tiles or JavaScript."""
    pts = [(p.lat, p.lon) for p in patients] + [(f.lat, f.lon) for f in facilities if f.lat is not None]
    if not pts:
        return {"width": width, "height": height, "patients": [], "facilities": []}
    import math

    lat0, lat1 = min(a for a, _ in pts), max(a for a, _ in pts)
    lon0, lon1 = min(b for _, b in pts), max(b for _, b in pts)
    k = math.cos(math.radians((lat0 + lat1) / 2))  # a degree of longitude is shorter than one of latitude
    span = max(lat1 - lat0, (lon1 - lon0) * k, 0.01)
    pad = 20

    def xy(lat, lon):
        return (round(pad + (lon - lon0) * k / span * (width - 2 * pad), 1),
                round(height - pad - (lat - lat0) / span * (height - 2 * pad), 1))

    return {"width": width, "height": height,
            "patients": [(p, *xy(p.lat, p.lon)) for p in patients],
            "facilities": [(f, *xy(f.lat, f.lon)) for f in facilities if f.lat is not None and f.lon is not None]}

"""Registry views: the Patients API (API.md) and the Japanese pages. Thin: parse → service → dump."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy import select

from bcp_service.api import api_doc, json_body, page_args
from bcp_service.auth import STAFF_ROLES, Role, current_actor, require
from bcp_service.clock import get_clock
from bcp_service.db import db
from bcp_service.errors import DomainError, Invalid, OutOfScope
from bcp_service.orgs.models import Organization, Region
from bcp_service.geo.checks import data_quality
from bcp_service.registry import forms, quality, services, tabular
from bcp_service.registry import models as m
from bcp_service.registry import runway as rw
from bcp_service.registry.presets import load_presets
from bcp_service.registry.schemas import BackupIn, DeviceIn, PatientIn, PatientListArgs, PatientOut, PowerOut
from bcp_service.web import register_nav

bp = Blueprint("registry", __name__)

WRITERS = (Role.ADMIN, Role.HUB_STAFF, Role.INSTITUTION_STAFF)
MAX_UPLOAD = 20 * 1024 * 1024

register_nav("registry.patient_list", "患者台帳", STAFF_ROLES, order=20, description="人工呼吸器等の在宅患者と予備電源")
register_nav("registry.patient_map", "地図", STAFF_ROLES, order=25, description="患者と受入施設の地図")


def _policy() -> services.RunwayPolicy:
    return services.RunwayPolicy.from_config(current_app.config)


# --- API ----------------------------------------------------------------------------------------

@bp.get("/api/v1/patients")
@require(*STAFF_ROLES)
@api_doc(summary="患者の一覧（自立電源時間の短い順）", response_schema=PatientOut, query_schema=PatientListArgs, many=True)
def api_list_patients():
    filters = PatientListArgs().load(request.args)
    limit, offset = page_args()
    rows, total = services.list_patients(db.session, current_actor(), filters, limit=limit, offset=offset)
    db.session.commit()
    return {"items": PatientOut(many=True).dump(rows), "total": total}


@bp.post("/api/v1/patients")
@require(*WRITERS)
@api_doc(summary="患者を登録する", request_schema=PatientIn, response_schema=PatientOut, status=201)
def api_create_patient():
    data = PatientIn().load(json_body())
    p = services.create_patient(db.session, current_actor(), data, now=get_clock().now(), policy=_policy())
    db.session.commit()
    return PatientOut().dump(p), 201


@bp.get("/api/v1/patients/<int:patient_id>")
@require(*STAFF_ROLES)
@api_doc(summary="患者の詳細", response_schema=PatientOut)
def api_get_patient(patient_id: int):
    p = services.get_patient(db.session, current_actor(), patient_id)
    db.session.commit()
    return PatientOut().dump(p)


@bp.patch("/api/v1/patients/<int:patient_id>")
@require(*WRITERS)
@api_doc(summary="患者を更新する（渡した項目のみ。機器・予備電源・連絡先の一覧は置き換え）",
         request_schema=PatientIn, response_schema=PatientOut)
def api_update_patient(patient_id: int):
    # Partial at the top level only: a device or backup given in full gets its defaults.
    data = PatientIn().load(json_body(), partial=tuple(PatientIn().fields))
    p = services.update_patient(db.session, current_actor(), patient_id, data, now=get_clock().now(),
                                policy=_policy())
    db.session.commit()
    return PatientOut().dump(p)


@bp.delete("/api/v1/patients/<int:patient_id>")
@require(*WRITERS)
@api_doc(summary="患者を台帳から削除する", status=204)
def api_delete_patient(patient_id: int):
    services.delete_patient(db.session, current_actor(), patient_id, now=get_clock().now())
    db.session.commit()
    return "", 204


@bp.get("/api/v1/patients/import-template.csv")
@require(*STAFF_ROLES)
@api_doc(summary="取込用CSVの見出し行（UTF-8 BOM付き）")
def api_import_template():
    return Response(tabular.template_csv(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="import-template.csv"'})


def _uploaded() -> tuple[str, bytes]:
    f = request.files.get("file")
    if f is None:
        raise Invalid("ファイルを選んでください", fields={"file": ["ファイルを選んでください (multipart field 'file')"]})
    content = f.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        raise Invalid("ファイルが大きすぎます", fields={"file": ["20MBまでのファイルにしてください"]})
    return f.filename or "", content


def run_import(filename: str, content: bytes) -> int:
    """Read, validate and store every row, or none. Raises Invalid with ``rows`` on bad rows."""
    try:
        rows = tabular.read_table(filename, content)
    except tabular.TableError as e:
        raise Invalid(str(e), fields={"file": [str(e)]}) from None
    good, bad = tabular.parse_rows(rows, PatientIn())
    if bad:
        raise Invalid(f"{len(bad)}行に誤りがあります。1件も登録していません", extra={"rows": bad})
    return services.import_patients(db.session, current_actor(), good, now=get_clock().now(), policy=_policy())


@bp.post("/api/v1/patients/import")
@require(*WRITERS)
@api_doc(summary="CSV / XLSX から一括登録（全行成功か、1件も登録しない）")
def api_import():
    filename, content = _uploaded()
    n = run_import(filename, content)
    db.session.commit()
    return {"imported": n}


@bp.get("/api/v1/patients/export.xlsx")
@require(*WRITERS)
@api_doc(summary="情報共有に同意した患者を XLSX で出力", query_schema=PatientListArgs)
def api_export():
    filters = PatientListArgs().load(request.args)
    filters.pop("consent_to_share", None)
    rows = services.export_patients(db.session, current_actor(), filters)
    body = tabular.export_xlsx(rows)
    db.session.commit()
    return Response(body, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": 'attachment; filename="patients.xlsx"'})


@bp.post("/api/v1/runway")
@require(*STAFF_ROLES)
@api_doc(summary="機器と予備電源から自立電源時間を試算する（保存しない）", response_schema=PowerOut)
def api_runway():
    body = json_body()
    errors = {}
    try:
        devices = DeviceIn(many=True).load(body.get("devices") or [])
    except ValidationError as e:
        errors["devices"] = e.messages
    try:
        backups = BackupIn(many=True).load(body.get("backups") or [])
    except ValidationError as e:
        errors["backups"] = e.messages
    if errors:
        raise ValidationError(errors)
    r = services.compute_runway([rw.Device(**{k: d.get(k) for k in ("kind", "mode", "watts", "hours_per_day",
                                                                   "internal_battery_hours", "life_sustaining")})
                                 for d in devices],
                                [rw.Backup(b["kind"], b.get("hours"), b.get("count", 1), b.get("watt_hours"))
                                 for b in backups], _policy())
    return {"runway_hours": r.hours, "tier": r.tier, "explain": r.explain}


@bp.get("/api/v1/postal-codes/<code>")
@require(*STAFF_ROLES)
@api_doc(summary="郵便番号から住所と市区町村コード（オフライン）")
def api_postal(code: str):
    from bcp_service.errors import NotFound
    from bcp_service.geo.postal import PostalCodeError, lookup, normalize_postal_code

    try:
        normalize_postal_code(code)
    except PostalCodeError as e:
        raise Invalid(str(e), fields={"postal_code": [str(e)]}) from None
    try:
        a = lookup(code)
    except PostalCodeError as e:
        raise NotFound(str(e), fields={"postal_code": [str(e)]}) from None
    return {"postal_code": a.postal_code, "prefecture": a.prefecture, "city": a.city, "town": a.town,
            "address": a.address, "municipality_code": a.municipality_code}


@bp.post("/api/v1/geocode")
@require(*STAFF_ROLES)
@api_doc(summary="住所から座標（GEOCODER 設定による。失敗は明示）")
def api_geocode():
    from bcp_service.geo.geocoders import (
        AddressNotFound, GeocoderUnavailable, GeocodingDisabled, make_geocoder,
    )

    address = (json_body().get("address") or "").strip()
    if not address:
        raise Invalid("住所を入力してください", fields={"address": ["住所を入力してください"]})
    try:
        r = make_geocoder(current_app.config).geocode(address)
    except AddressNotFound as e:
        raise _error(404, "address_not_found", e.message) from None
    except GeocodingDisabled as e:
        raise _error(422, "geocoding_disabled", e.message) from None
    except GeocoderUnavailable as e:
        current_app.logger.warning("geocoder unavailable (%s)", current_app.config.get("GEOCODER"))
        raise _error(503, "geocoder_unavailable", e.message) from None
    return {"lat": r.lat, "lon": r.lon, "matched_address": r.address, "source": r.source}


def _error(status: int, code: str, message: str) -> DomainError:
    err = DomainError(message, code=code)
    err.status = status
    return err


# --- pages --------------------------------------------------------------------------------------

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
    try:
        filters = PatientListArgs().load(request.args)
    except ValidationError:
        filters = {}
    limit = 50
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    rows, total = services.list_patients(db.session, actor, filters, limit=limit, offset=(page - 1) * limit)
    # Data-quality problems on the plain list only (a filtered list shows just what was asked for).
    quality_rows, quality_total = quality.problems(db.session, actor) if not filters and page == 1 else ([], 0)
    db.session.commit()
    return render_template("registry/list.html", patients=rows, total=total, page=page, limit=limit,
                           filters=filters, quality=quality_rows, quality_total=quality_total,
                           **_page_context(actor))


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
            p = services.create_patient(db.session, actor, data, now=get_clock().now(), policy=_policy())
        else:
            p = services.update_patient(db.session, actor, patient_id, data, now=get_clock().now(),
                                        policy=_policy())
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
    db.session.commit()
    return render_template("registry/detail.html", p=p, quality=data_quality(p.municipality_code, p.lat, p.lon),
                           **_page_context(actor))


@bp.route("/patients/<int:patient_id>/edit", methods=["GET", "POST"])
@require(*WRITERS)
def patient_edit(patient_id: int):
    actor = current_actor()
    p = services.get_patient(db.session, actor, patient_id, purpose="read_for_edit")
    if not services.may_write(actor, p):
        raise OutOfScope("this patient is outside your scope")
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
        filename, content = _uploaded()
        n = run_import(filename, content)
        db.session.commit()
    except Invalid as e:
        db.session.rollback()
        return render_template("registry/import.html", rows=e.extra.get("rows"), message=e.message,
                               **_page_context(actor)), 400
    flash(f"{n}件を登録しました", "success")
    return redirect(url_for("registry.patient_list"))


MAP_LIMIT = 5000


@bp.get("/patients/map")
@require(*STAFF_ROLES)
def patient_map():
    actor = current_actor()
    shown = services.map_patients(db.session, actor, limit=MAP_LIMIT)
    patients = shown.patients
    facilities = list(db.session.scalars(services.facilities_query(db.session, actor)))
    from bcp_service.auth import audit

    audit.record(db.session, actor, "map", "patient", None, {"ids": [p.id for p in patients]})
    db.session.commit()
    points = ([{"id": p.id, "name": p.name, "lat": p.lat, "lon": p.lon, "tier": p.runway_tier, "type": "patient",
                "url": url_for("registry.patient_detail", patient_id=p.id)} for p in patients]
              + [{"id": f.id, "name": f.name, "lat": f.lat, "lon": f.lon, "type": "facility"}
                 for f in facilities if f.lat is not None and f.lon is not None])
    return render_template("registry/map.html", patients=patients, facilities=facilities, map_points=points,
                           plot=_svg_plot(patients, facilities), located_total=shown.located_total,
                           without_coordinates=shown.without_coordinates, map_limit=MAP_LIMIT,
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

"""Registry API (API.md): patients, import/export, the runway calculator, postal codes and geocoding.
Thin: parse → service → dump. Blueprint ``registry_api``."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, request
from marshmallow import ValidationError

from bcp_service.api import api_doc, json_body, page_args
from bcp_service.auth import STAFF_ROLES, Role, current_actor, require
from bcp_service.appclock import get_clock
from bcp_service.clock import to_local
from bcp_service.db import db
from bcp_service.errors import DomainError, Invalid
from bcp_service.registry import bulk_import, queries, services, tabular, workbooks
from bcp_service.registry.power import core_inputs, power_errors
from bcp_service.registry.schemas import BackupIn, DeviceIn, PatientIn, PatientListArgs, PatientOut, PowerOut

bp = Blueprint("registry_api", __name__)

WRITERS = (Role.ADMIN, Role.HUB_STAFF, Role.INSTITUTION_STAFF)
MAX_UPLOAD = 20 * 1024 * 1024


def runway_policy() -> services.RunwayPolicy:
    return services.RunwayPolicy.from_config(current_app.config)


# --- patients ----------------------------------------------------------------------------------------

@bp.get("/api/v1/patients")
@require(*STAFF_ROLES)
@api_doc(summary="患者の一覧（自立電源時間の短い順）", response_schema=PatientOut, query_schema=PatientListArgs, many=True)
def api_list_patients():
    filters = PatientListArgs().load(request.args)
    limit, offset = page_args()
    rows, total = queries.list_patients(db.session, current_actor(), filters, limit=limit, offset=offset)
    db.session.commit()
    return {"items": PatientOut(many=True).dump(rows), "total": total}


@bp.post("/api/v1/patients")
@require(*WRITERS)
@api_doc(summary="患者を登録する", request_schema=PatientIn, response_schema=PatientOut, status=201)
def api_create_patient():
    data = PatientIn().load(json_body())
    p = services.create_patient(db.session, current_actor(), data, now=get_clock().now(), policy=runway_policy())
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
                                policy=runway_policy())
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


@bp.get("/api/v1/patients/import-template.xlsx")
@require(*STAFF_ROLES)
@api_doc(summary="取込用Excelテンプレート（日本語の見出し・選択リスト・列の説明シート）")
def api_import_template_xlsx():
    return Response(workbooks.template_xlsx(),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": 'attachment; filename="import-template.xlsx"'})


def read_upload() -> tuple[str, bytes]:
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
    return bulk_import.import_patients(db.session, current_actor(), good, now=get_clock().now(), policy=runway_policy())


@bp.post("/api/v1/patients/import")
@require(*WRITERS)
@api_doc(summary="CSV / XLSX から一括登録（全行成功か、1件も登録しない）")
def api_import():
    filename, content = read_upload()
    n = run_import(filename, content)
    db.session.commit()
    return {"imported": n}


@bp.get("/api/v1/patients/export.xlsx")
@require(*WRITERS)
@api_doc(summary="情報共有に同意した患者を XLSX で出力", query_schema=PatientListArgs)
def api_export():
    filters = PatientListArgs().load(request.args)
    filters.pop("consent_to_share", None)
    rows = queries.export_patients(db.session, current_actor(), filters)
    body = workbooks.export_xlsx(rows)
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
    today = to_local(get_clock().now()).date()
    errors = errors or power_errors(devices, backups, today)
    if errors:
        raise ValidationError(errors)
    r = services.compute_runway(*core_inputs(devices, backups), runway_policy(), today)
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

"""The offline municipality table over HTTP: ``GET /api/v1/municipalities?q=`` (API.md)."""
from __future__ import annotations

from flask import Blueprint, request
from marshmallow import Schema, fields, validate

from bcp_service.api import api_doc
from bcp_service.auth import require
from bcp_service.geo import municipalities

bp = Blueprint("geo", __name__)


class MunicipalityQuery(Schema):
    q = fields.String(required=True, metadata={"description": "name (part), 東京都千代田, or code prefix"})
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100))


class MunicipalitySchema(Schema):
    code = fields.String(metadata={"description": "JIS X 0402, 6 digits with check digit"})
    name = fields.String()
    prefecture = fields.String()


@bp.get("/api/v1/municipalities")
@require()
@api_doc(summary="市区町村を名前・コードで検索する（全国地方公共団体コード）", response_schema=MunicipalitySchema,
         query_schema=MunicipalityQuery, many=True)
def search_municipalities():
    args = MunicipalityQuery().load(request.args)
    return {"items": [m.to_json() for m in municipalities.search(args["q"], limit=args["limit"])]}

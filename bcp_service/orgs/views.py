from __future__ import annotations

from flask import Blueprint, render_template, request

from bcp_service.api import api_doc, json_body, page_args, paginate
from bcp_service.appclock import get_clock
from bcp_service.auth import Role, current_actor, require
from bcp_service.db import db
from bcp_service.orgs import services
from bcp_service.orgs.schemas import (OrganizationPatchSchema, OrganizationQuery, OrganizationSchema, RegionQuery,
                                      RegionSchema)
from bcp_service.orgs.models import ORGANIZATION_KIND_LABELS, ORGANIZATION_KINDS

bp = Blueprint("orgs", __name__)


@bp.post("/api/v1/regions")
@require(Role.ADMIN)
@api_doc(summary="圏域を登録する", request_schema=RegionSchema, response_schema=RegionSchema, status=201)
def create_region():
    data = RegionSchema().load(json_body())
    region = services.create_region(db.session, current_actor(), data, now=get_clock().now())
    db.session.commit()
    return RegionSchema().dump(region), 201


@bp.get("/api/v1/regions")
@require()
@api_doc(summary="圏域の一覧", response_schema=RegionSchema, query_schema=RegionQuery, many=True)
def list_regions():
    limit, offset = page_args()
    stmt = services.list_regions_stmt(db.session, current_actor(),
                                      prefecture_code=request.args.get("prefecture_code"))
    return paginate(db.session, stmt, RegionSchema(), limit=limit, offset=offset)


@bp.post("/api/v1/organizations")
@require(Role.ADMIN, Role.HUB_STAFF)
@api_doc(summary="機関・施設を登録する", request_schema=OrganizationSchema,
         response_schema=OrganizationSchema, status=201)
def create_organization():
    data = OrganizationSchema().load(json_body())
    org = services.create_organization(db.session, current_actor(), data, now=get_clock().now())
    db.session.commit()
    return OrganizationSchema().dump(org), 201


@bp.patch("/api/v1/organizations/<int:org_id>")
@require(Role.ADMIN, Role.HUB_STAFF)
@api_doc(summary="機関の在宅療養支援の区分・受入能力を更新する", request_schema=OrganizationPatchSchema,
         response_schema=OrganizationSchema)
def update_organization(org_id: int):
    data = OrganizationPatchSchema().load(json_body())
    org = services.update_organization(db.session, current_actor(), org_id, data, now=get_clock().now())
    db.session.commit()
    return OrganizationSchema().dump(org)


@bp.get("/api/v1/organizations")
@require()
@api_doc(summary="機関・施設の一覧", response_schema=OrganizationSchema, query_schema=OrganizationQuery, many=True)
def list_organizations():
    query = OrganizationQuery().load(request.args)
    limit, offset = page_args()
    stmt = services.list_organizations_stmt(db.session, current_actor(), kind=query.get("kind"),
                                            region_code=query.get("region_code"), capability=query.get("capability"))
    return paginate(db.session, stmt, OrganizationSchema(), limit=limit, offset=offset)


# --- pages --------------------------------------------------------------------------------------


@bp.get("/organizations")
@require()
def organizations_page():
    kind = request.args.get("kind") or None
    if kind not in (None, *ORGANIZATION_KINDS):
        kind = None
    stmt = services.list_organizations_stmt(db.session, current_actor(), kind=kind)
    orgs = db.session.scalars(stmt).all()
    return render_template("orgs/organizations.html", orgs=orgs, kind=kind,
                           kind_labels=ORGANIZATION_KIND_LABELS)

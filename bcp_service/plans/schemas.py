from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from bcp_service.dates import JaDate
from .states import PlanStatus
from .templates import PLAN_TYPES


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class CreatePlanSchema(_Strict):
    type = fields.String(required=True, validate=validate.OneOf(PLAN_TYPES))
    title = fields.String(required=True, validate=validate.Length(1, 200))
    organization_id = fields.Integer()
    member_org_ids = fields.List(fields.Integer(), validate=validate.Length(max=200))
    region_code = fields.String(validate=validate.Length(1, 32))

    @validates_schema
    def _target(self, data, **_kw):
        need = {"kikan": "organization_id", "renkei": "member_org_ids", "chiiki": "region_code"}[data["type"]]
        if need not in data:
            raise ValidationError({need: [f"{data['type']} の計画には {need} が必要です"]})


class SaveSectionSchema(_Strict):
    answers = fields.Dict(keys=fields.String(), required=True)
    template_version = fields.Integer()


class ReviseSchema(_Strict):
    template_version = fields.Integer()
    note = fields.String(validate=validate.Length(max=2000))


class ReturnSchema(_Strict):
    comment = fields.String(validate=validate.Length(max=4000))


class AutofillSchema(_Strict):
    fields_ = fields.List(fields.String(), data_key="fields")
    overwrite = fields.List(fields.String())


class CommentSchema(_Strict):
    body = fields.String(required=True, validate=validate.Length(1, 4000))


class ExportQuery(Schema):
    format = fields.String(required=True, validate=validate.OneOf(("docx", "html", "md")))
    version = fields.Integer()


class DiffQuery(Schema):
    from_ = fields.Integer(required=True, data_key="from")
    to = fields.Integer(required=True)


class PlanListQuery(Schema):
    type = fields.String(validate=validate.OneOf(PLAN_TYPES))
    status = fields.String(validate=validate.OneOf((PlanStatus.DRAFT, PlanStatus.IN_REVIEW, PlanStatus.APPROVED)))
    region_code = fields.String()
    limit = fields.Integer()     # paging (api.page_args)
    offset = fields.Integer()


# --- response shapes (for the OpenAPI document; bodies are built in views.plan_json) ---

class SectionProgressSchema(Schema):
    key = fields.String()
    title = fields.String()
    completeness = fields.Float()
    required = fields.Integer()
    filled = fields.Integer()
    missing = fields.List(fields.String())


class PlanSchema(Schema):
    id = fields.Integer()
    type = fields.String()
    title = fields.String()
    status = fields.String()
    version = fields.Integer()
    template_version = fields.Integer()
    completeness = fields.Float()
    sections = fields.List(fields.Nested(SectionProgressSchema))
    review_due_on = JaDate(allow_none=True)     # none until the plan is first approved
    answers = fields.Dict()


class TemplateSummarySchema(Schema):
    type = fields.String()
    title = fields.String()
    version = fields.Integer()
    section_keys = fields.List(fields.String())

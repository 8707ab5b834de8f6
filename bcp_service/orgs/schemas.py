from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate, validates_schema, ValidationError

from bcp_service.orgs.capabilities import NEEDS
from bcp_service.orgs.models import ORGANIZATION_KINDS, REGION_KINDS


class RegionSchema(Schema):
    class Meta:
        unknown = RAISE

    code = fields.String(required=True, validate=[validate.Length(1, 32), validate.Regexp(r"^[0-9A-Za-z_-]+$")])
    name = fields.String(required=True, validate=validate.Length(1, 200))
    prefecture_code = fields.String(required=True, validate=validate.Regexp(r"^(0[1-9]|[1-3][0-9]|4[0-7])$",
                                                                        error="01〜47 の都道府県コードです"))
    kind = fields.String(required=True, validate=validate.OneOf(REGION_KINDS))
    municipality_codes = fields.List(fields.String(validate=validate.Regexp(r"^\d{6}$",
                                                                          error="6 桁の全国地方公共団体コードです")),
                                     load_default=list)


class RegionQuery(Schema):
    prefecture_code = fields.String()


class CapabilitiesSchema(Schema):
    class Meta:
        unknown = RAISE

    has_generator = fields.Boolean(load_default=False)
    accepts_ventilator = fields.Boolean(load_default=False)
    ventilator_beds = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10000))
    power_supply_point = fields.Boolean(load_default=False)
    on_call_24h = fields.Boolean(load_default=False)
    pediatric_ventilation = fields.Boolean(load_default=False, metadata={"description": "小児の人工呼吸器の受入"})
    medical_care_children = fields.Boolean(load_default=False, metadata={"description": "医療的ケア児の受入"})


class OrganizationSchema(Schema):
    class Meta:
        unknown = RAISE

    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(1, 200))
    kind = fields.String(required=True, validate=validate.OneOf(ORGANIZATION_KINDS))
    region_code = fields.String(required=True)
    address = fields.String(allow_none=True, validate=validate.Length(max=500))
    municipality_code = fields.String(allow_none=True, validate=validate.Regexp(r"^\d{6}$"))
    lat = fields.Float(allow_none=True, validate=validate.Range(-90, 90))
    lon = fields.Float(allow_none=True, validate=validate.Range(-180, 180))
    phone = fields.String(allow_none=True, validate=validate.Length(max=32))
    capabilities = fields.Nested(CapabilitiesSchema, load_default=dict)
    home_care_support = fields.Boolean(load_default=False, metadata={"description": "在宅療養支援診療所・病院"})

    @validates_schema
    def _both_coordinates(self, data, **_kwargs):
        if (data.get("lat") is None) != (data.get("lon") is None):
            raise ValidationError("lat と lon は両方指定してください", field_name="lat")


class OrganizationPatchSchema(Schema):
    """What the 拠点 updates on an existing organisation: the fee-rule flag and capabilities."""

    class Meta:
        unknown = RAISE

    home_care_support = fields.Boolean()
    capabilities = fields.Dict(keys=fields.String(), values=fields.Raw())


class OrganizationQuery(Schema):
    kind = fields.String(validate=validate.OneOf(ORGANIZATION_KINDS))
    region_code = fields.String()
    capability = fields.String(validate=validate.OneOf(NEEDS), metadata={
        "description": "受入能力で絞り込む: pediatric_ventilation | medical_care_children"})
    limit = fields.Integer()
    offset = fields.Integer()

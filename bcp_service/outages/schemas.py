"""Request schemas for the outage API (marshmallow). Responses are built in ``queries``."""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, post_dump, validate, validates_schema

from bcp_service.geo.area import area_summary
from bcp_service.outages import queries
from bcp_service.outages.states import REQUESTABLE_TRANSPORT


class AreaField(fields.Dict):
    """The area object is checked by ``geo.area.area_from`` (one place for every error text)."""


class DeclareOutageSchema(Schema):
    class Meta:
        unknown = RAISE

    area = AreaField(required=True)
    started_at = fields.AwareDateTime(load_default=None, allow_none=True)
    expected_restoration_at = fields.AwareDateTime(load_default=None, allow_none=True)
    cause = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))
    drill = fields.Boolean(load_default=False)
    region_code = fields.String(load_default=None, allow_none=True)
    silence_minutes = fields.Float(load_default=None, allow_none=True, validate=validate.Range(1, 240))
    safety_margin_minutes = fields.Float(load_default=60.0, validate=validate.Range(0, 24 * 60))
    patient_filter = fields.Dict(load_default=None, allow_none=True)


class ChangeOutageSchema(Schema):
    class Meta:
        unknown = RAISE

    area = AreaField(load_default=None)
    expected_restoration_at = fields.AwareDateTime(load_default=None, allow_none=True)

    @validates_schema
    def _something(self, data, **_):
        if data.get("area") is None and data.get("expected_restoration_at") is None:
            raise ValidationError("area または expected_restoration_at を指定してください。", "_schema")


class RestorationSchema(Schema):
    class Meta:
        unknown = RAISE

    area = AreaField(required=True)


class CheckinAnswerSchema(Schema):
    class Meta:
        unknown = RAISE

    answer = fields.String(required=True)
    reported_hours = fields.Float(load_default=None, allow_none=True, validate=validate.Range(0, 744))


class TransportPatchSchema(Schema):
    class Meta:
        unknown = RAISE

    status = fields.String(load_default=None, validate=validate.OneOf([s.value for s in REQUESTABLE_TRANSPORT]))
    facility_id = fields.Integer(load_default=None, allow_none=True)


class TransportRequestSchema(Schema):
    class Meta:
        unknown = RAISE

    facility_id = fields.Integer(load_default=None, allow_none=True)


class FieldReportSchema(Schema):
    class Meta:
        unknown = RAISE

    needs_transport = fields.Boolean(required=True)


class OutageSchema(Schema):
    """For OpenAPI only: the shape of an outage in responses."""

    id = fields.Integer()
    status = fields.String()
    affected = fields.Integer()
    municipality_unknown = fields.Integer()      # included although their municipality is unknown
    drill = fields.Boolean()
    started_at = fields.String()
    expected_restoration_at = fields.String()


class TriageRowSchema(Schema):
    patient_id = fields.Integer()
    runs_out_at = fields.String()
    runway_hours_left = fields.Float()
    tier = fields.String()
    checkin = fields.String()
    transport_id = fields.Integer(allow_none=True)
    municipality_unknown = fields.Boolean()      # included by the area's municipalities, own one unknown
    next_contact_at = fields.String(allow_none=True)
    runs_out_source = fields.String()


# --- list items for ``api.paginate``: each row dumped in the shape ``queries`` gives it ------------

class OutageItemSchema(Schema):
    @post_dump(pass_original=True)
    def _item(self, data, original, **kwargs):
        # A list carries the area's summary, never a whole drawn geometry (GET /outages/<id> has it).
        return {**queries.outage_dict(original), "area": area_summary(original.area)}


class TransportItemSchema(Schema):
    @post_dump(pass_original=True)
    def _item(self, data, original, **kwargs):
        return queries.transport_item(original)


class EventItemSchema(Schema):
    @post_dump(pass_original=True)
    def _item(self, data, original, **kwargs):
        return queries.event_dict(original)


class TaskItemSchema(Schema):
    @post_dump(pass_original=True)
    def _item(self, data, original, **kwargs):
        return queries.task_dict(original)

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from bcp_service.drills.schemas import CorrectiveActionInSchema


class AttendeeInSchema(Schema):
    class Meta:
        unknown = RAISE

    organization_id = fields.Integer(required=True)
    names = fields.String(allow_none=True, validate=validate.Length(max=500))


class DecisionInSchema(Schema):
    class Meta:
        unknown = RAISE

    text = fields.String(required=True, validate=validate.Length(1, 5000))
    corrective_action = fields.Nested(CorrectiveActionInSchema, allow_none=True)


class MeetingInSchema(Schema):
    class Meta:
        unknown = RAISE

    region_code = fields.String(required=True)
    held_on = fields.Date(required=True)
    title = fields.String(required=True, validate=validate.Length(1, 200))
    agenda = fields.String(load_default="", validate=validate.Length(max=10000))
    notes = fields.String(allow_none=True, validate=validate.Length(max=20000))
    attendees = fields.List(fields.Nested(AttendeeInSchema), required=True, validate=validate.Length(min=1))
    decisions = fields.List(fields.Nested(DecisionInSchema), load_default=list)


class MeetingQuery(Schema):
    region_code = fields.String()

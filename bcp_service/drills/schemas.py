"""marshmallow schemas of the Drills API (API.md, Drills). Unknown fields are refused (400)."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from bcp_service.clock import iso_local
from bcp_service.dates import JaDate
from bcp_service.drills.evaluation import (ACTION_STATUSES, ELEMENT_ALIASES, ELEMENTS, MODE_ALIASES, MODES, RATINGS,
                                           normalise_mode)
from bcp_service.drills.scenarios import QUESTION_KEYS
from bcp_service.drills.states import OPEN_ACTION_STATUSES, ActionStatus, DrillStatus

TOKYO = ZoneInfo("Asia/Tokyo")


class LocalDateTime(fields.AwareDateTime):
    """ISO 8601 in; a time without an offset is read as Tokyo time. Out: ISO with +09:00."""

    def __init__(self, **kwargs):
        super().__init__(default_timezone=TOKYO, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return iso_local(value)


class ParticipantInSchema(Schema):
    class Meta:
        unknown = RAISE

    organization_id = fields.Integer(required=True)
    contact_name = fields.String(allow_none=True, validate=validate.Length(max=200))
    contact_phone = fields.String(allow_none=True, validate=validate.Length(max=32))
    contact_email = fields.Email(allow_none=True)


class DrillCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    title = fields.String(required=True, validate=validate.Length(1, 200))
    scenario = fields.String(required=True)
    mode = fields.String(required=True, validate=validate.OneOf(MODES + tuple(MODE_ALIASES)),
                         metadata={"description": "tabletop | drill（functional は drill の旧名として受け付けます）"})

    @post_load
    def _hseep_mode(self, data, **_kwargs):
        data["mode"] = normalise_mode(data["mode"])
        return data
    scheduled_at = LocalDateTime(required=True)
    duration_minutes = fields.Integer(load_default=120, validate=validate.Range(15, 60 * 24 * 7))
    region_code = fields.String(required=True)
    participant_org_ids = fields.List(fields.Integer(), load_default=list)
    participants = fields.List(fields.Nested(ParticipantInSchema), load_default=list)
    plan_ids = fields.List(fields.Integer(), load_default=list)
    objectives = fields.List(fields.String(validate=validate.Length(1, 500)), load_default=list)
    location = fields.String(allow_none=True, validate=validate.Length(max=200))
    contact = fields.String(allow_none=True, validate=validate.Length(max=200))

    @validates_schema
    def _no_duplicates(self, data, **_kw):
        ids = list(data.get("participant_org_ids", [])) + [p["organization_id"] for p in data.get("participants", [])]
        if len(ids) != len(set(ids)):
            raise ValidationError("同じ機関が重複しています", field_name="participant_org_ids")
        objectives = data.get("objectives", [])
        if len(objectives) != len(set(objectives)):
            raise ValidationError("同じ目標が重複しています", field_name="objectives")


class DrillUpdateSchema(Schema):
    class Meta:
        unknown = RAISE

    title = fields.String(validate=validate.Length(1, 200))
    scheduled_at = LocalDateTime()
    duration_minutes = fields.Integer(validate=validate.Range(15, 60 * 24 * 7))
    location = fields.String(allow_none=True, validate=validate.Length(max=200))
    contact = fields.String(allow_none=True, validate=validate.Length(max=200))
    summary = fields.String(allow_none=True, validate=validate.Length(max=20000))
    status = fields.String(validate=validate.OneOf([DrillStatus.CANCELLED]))
    # The new complete set of participating organisations (while scheduled): the ids in
    # participant_org_ids plus those in participants, which also carries contact details.
    participant_org_ids = fields.List(fields.Integer())
    participants = fields.List(fields.Nested(ParticipantInSchema))

    @validates_schema
    def _no_duplicates(self, data, **_kw):
        # An organisation may be listed in both (the id in the set, its contact details in participants),
        # but not twice in the same list.
        ids = list(data.get("participant_org_ids") or [])
        if len(ids) != len(set(ids)):
            raise ValidationError("同じ機関が重複しています", field_name="participant_org_ids")
        ids = [p["organization_id"] for p in data.get("participants") or []]
        if len(ids) != len(set(ids)):
            raise ValidationError("同じ機関が重複しています", field_name="participants")


class ParticipantSchema(Schema):
    organization_id = fields.Integer()
    organization_name = fields.Function(lambda p: p.organization_name)
    contact_name = fields.String()
    invited_at = LocalDateTime()


class DrillSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    scenario = fields.String(attribute="scenario_key")
    mode = fields.String()
    status = fields.String()
    region_code = fields.String()
    scheduled_at = LocalDateTime()
    duration_minutes = fields.Integer()
    location = fields.String(allow_none=True)
    contact = fields.String(allow_none=True)
    participant_org_ids = fields.List(fields.Integer())
    plan_ids = fields.List(fields.Integer())
    objectives = fields.List(fields.String())
    summary = fields.String(allow_none=True)
    started_at = LocalDateTime(allow_none=True)
    ended_at = LocalDateTime(allow_none=True)
    current_inject = fields.Integer()
    outage_id = fields.Integer(allow_none=True)      # set only for a functional drill that declared one


class LogCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    text = fields.String(required=True, validate=validate.Length(1, 10000))
    inject_id = fields.String(allow_none=True)
    question = fields.String(allow_none=True, validate=validate.OneOf(QUESTION_KEYS))
    organization_id = fields.Integer(allow_none=True)
    kind = fields.String(validate=validate.OneOf(["answer", "note"]))


class LogEntrySchema(Schema):
    id = fields.Integer()
    at = LocalDateTime()
    kind = fields.String()
    inject_id = fields.String(allow_none=True)
    question = fields.String(allow_none=True)
    organization_id = fields.Integer(allow_none=True)
    text = fields.String()


class CorrectiveActionInSchema(Schema):
    class Meta:
        unknown = RAISE

    title = fields.String(required=True, validate=validate.Length(1, 500))
    owner_org_id = fields.Integer(required=True)
    due = JaDate(required=True)
    start = JaDate(allow_none=True)
    element = fields.String(load_default="planning", validate=validate.OneOf(list(ELEMENTS) + list(ELEMENT_ALIASES)))
    contact = fields.String(allow_none=True, validate=validate.Length(max=200))
    plan_id = fields.Integer(allow_none=True)
    section_key = fields.String(allow_none=True, validate=validate.Length(1, 100))
    status = fields.String(load_default=ActionStatus.OPEN, validate=validate.OneOf(sorted(OPEN_ACTION_STATUSES)))

    @validates_schema
    def _section_needs_plan(self, data, **_kw):
        if data.get("section_key") and not data.get("plan_id"):
            raise ValidationError("章を指定するときは計画 (plan_id) も指定してください", field_name="plan_id")
        if data.get("start") and data["start"] > data["due"]:
            raise ValidationError("開始日が期限より後です", field_name="start")


class EvaluationCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    objective = fields.String(required=True, validate=validate.Length(1, 500))
    rating = fields.String(required=True, validate=validate.OneOf(list(RATINGS), error="P, S, M, U のいずれかです"))
    strengths = fields.String(load_default="", validate=validate.Length(max=10000))
    improvements = fields.String(load_default="", validate=validate.Length(max=10000))
    root_cause = fields.String(load_default="", validate=validate.Length(max=10000))
    corrective_actions = fields.List(fields.Nested(CorrectiveActionInSchema), load_default=list)


class CorrectiveActionSchema(Schema):
    id = fields.Integer()
    drill_id = fields.Integer()
    evaluation_id = fields.Integer(allow_none=True)
    title = fields.String()
    element = fields.String()
    owner_org_id = fields.Integer()
    contact = fields.String(allow_none=True)
    start = JaDate(allow_none=True)
    due = JaDate()
    status = fields.String()
    plan_id = fields.Integer(allow_none=True)
    section_key = fields.String(allow_none=True)
    closed_at = LocalDateTime(allow_none=True)


class EvaluationSchema(Schema):
    id = fields.Integer()
    drill_id = fields.Integer()
    objective = fields.String()
    rating = fields.String()
    strengths = fields.String()
    improvements = fields.String()
    root_cause = fields.String()
    created_at = LocalDateTime()
    corrective_actions = fields.List(fields.Nested(CorrectiveActionSchema))


class ActionUpdateSchema(Schema):
    class Meta:
        unknown = RAISE

    status = fields.String(validate=validate.OneOf(list(ACTION_STATUSES)))
    due = JaDate()
    contact = fields.String(allow_none=True, validate=validate.Length(max=200))


class DrillQuery(Schema):
    region_code = fields.String()
    status = fields.String(validate=validate.OneOf(list(DrillStatus)))
    start = LocalDateTime(data_key="from")
    end = LocalDateTime(data_key="to")
    limit = fields.Integer()
    offset = fields.Integer()

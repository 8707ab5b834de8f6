"""marshmallow schemas of the Patients contract (API.md). Input schemas validate and normalise
(phone → E.164, postal code → 7 digits); output schemas are what the API answers."""
from __future__ import annotations

from datetime import date

from marshmallow import (
    EXCLUDE, RAISE, Schema, ValidationError, fields, post_load, pre_load, validate, validates,
    validates_schema,
)

from bcp_service.dates import JaDate
from bcp_service.geo import checks as place
from bcp_service.geo.postal import PostalCodeError, normalize_postal_code
from bcp_service.registry import models as m
from bcp_service.registry import runway as rw
from bcp_service.registry.phones import PHONE_KINDS, PhoneError, display_phone, parse_phone

_NUM = {"allow_nan": False}
# Fields the API answers that a client may echo back on PATCH: ignored, never written.
READ_ONLY = ("id", "phone_e164", "power", "created_at", "updated_at", "contactable", "power_checked_on",
             "data_quality")


def _blank_to_none(data, keys):
    for k in keys:
        if isinstance(data.get(k), str) and not data[k].strip():
            data[k] = None
    return data


class DeviceIn(Schema):
    class Meta:
        unknown = RAISE

    kind = fields.String(required=True, validate=validate.OneOf(rw.DEVICE_KINDS, error="不明な機器の種類です"))
    mode = fields.String(allow_none=True, validate=validate.OneOf(rw.VENTILATOR_MODES,
                                                                 error="TPPV または NPPV を指定してください"))
    model = fields.String(allow_none=True, validate=validate.Length(max=100))
    watts = fields.Float(allow_none=True, validate=validate.Range(0, 5000, error="0〜5000Wで指定してください"), **_NUM)
    hours_per_day = fields.Float(load_default=24.0, validate=validate.Range(
        0, 24, min_inclusive=False, error="0より大きく24以下で指定してください"), **_NUM)
    internal_battery_hours = fields.Float(load_default=0.0, validate=validate.Range(
        0, 200, error="0〜200時間で指定してください"), **_NUM)
    life_sustaining = fields.Boolean(allow_none=True, load_default=None)
    settings = fields.String(allow_none=True, validate=validate.Length(max=500))
    role = fields.String(load_default="primary", validate=validate.OneOf(
        rw.DEVICE_ROLES, error="primary（使用中）または spare（予備機）を指定してください"))
    flow_lpm = fields.Float(allow_none=True, validate=validate.Range(
        0, rw.MAX_FLOW_LPM, min_inclusive=False, error="酸素流量は0より大きく15L/分以下で指定してください"), **_NUM)
    # {"start": "HH:MM", "end": "HH:MM"} in Asia/Tokyo; replaces hours_per_day for timing (issue 13).
    daily_schedule = fields.Raw(allow_none=True, load_default=None)

    @pre_load
    def _blanks(self, data, **_):
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k != "id"}  # echoed from a GET
            data = _blank_to_none(data, ("mode", "model", "watts", "settings", "flow_lpm", "daily_schedule"))
            sched = data.get("daily_schedule")
            if isinstance(sched, dict) and sched and all(v is None or (isinstance(v, str) and not v.strip())
                                                         for v in sched.values()):
                data["daily_schedule"] = None   # an empty pair of time fields from the form
            for k in ("hours_per_day", "internal_battery_hours", "role"):
                if data.get(k) is None or data.get(k) == "":
                    data.pop(k, None)
        return data

    @validates_schema
    def _mode_only_for_ventilators(self, data, **_):
        if data.get("mode") and data.get("kind") != "ventilator":
            raise ValidationError("換気モードは人工呼吸器にのみ指定できます", "mode")

    @validates_schema
    def _schedule(self, data, **_):
        try:
            rw.parse_schedule(data.get("daily_schedule"))
        except rw.ScheduleError as e:
            sub = e.field.partition(".")[2]
            raise ValidationError({sub: [e.message]} if sub else [e.message], "daily_schedule") from None

    @post_load
    def _schedule_sets_hours(self, data, **_):
        """A schedule is stored in its normal form and its length becomes ``hours_per_day`` (so
        lists and the 24-hour-dependent rule agree with the timing)."""
        sched = rw.parse_schedule(data.get("daily_schedule"))
        if sched is not None:
            data["daily_schedule"] = sched.to_json()
            data["hours_per_day"] = round(sched.hours, 4)
        return data


class BackupIn(Schema):
    class Meta:
        unknown = RAISE

    kind = fields.String(required=True, validate=validate.OneOf(rw.BACKUP_KINDS, error="不明な予備電源の種類です"))
    hours = fields.Float(allow_none=True, validate=validate.Range(0, 1000, error="0〜1000時間で指定してください"), **_NUM)
    count = fields.Integer(load_default=1, validate=validate.Range(1, 50, error="1〜50で指定してください"))
    watt_hours = fields.Float(allow_none=True, validate=validate.Range(
        0, 100000, error="0〜100000Whで指定してください"), **_NUM)
    note = fields.String(allow_none=True, validate=validate.Length(max=500))
    device_kind = fields.String(allow_none=True, validate=validate.OneOf(rw.DEVICE_KINDS, error="不明な機器の種類です"))
    liters = fields.Float(allow_none=True, validate=validate.Range(
        0, rw.MAX_LITERS, min_inclusive=False, error="ボンベ1本の酸素量は0より大きく10,000L以下で指定してください"), **_NUM)
    conserver_ratio = fields.Float(allow_none=True, validate=validate.Range(
        1, 10, error="呼吸同調器の倍率は1〜10で指定してください"), **_NUM)
    dc_output = fields.Boolean(load_default=False)
    fuel_cans = fields.Integer(allow_none=True, validate=validate.Range(0, 200, error="0〜200本で指定してください"))
    fuel_liters = fields.Float(allow_none=True, validate=validate.Range(0, 1000, error="0〜1000Lで指定してください"), **_NUM)
    checked_on = JaDate(allow_none=True)
    purchased_on = JaDate(allow_none=True)

    @pre_load
    def _blanks(self, data, **_):
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k != "id"}  # echoed from a GET
            data = _blank_to_none(data, ("hours", "watt_hours", "note", "device_kind", "liters", "conserver_ratio",
                                         "fuel_cans", "fuel_liters", "checked_on", "purchased_on"))
            for k in ("count", "dc_output"):
                if data.get(k) in (None, ""):
                    data.pop(k, None)
        return data

    @validates_schema
    def _figures_needed(self, data, **_):
        kind = data.get("kind")
        if kind == "external_battery" and not data.get("hours"):
            raise ValidationError("外部バッテリーの使用可能時間を入力してください", "hours")
        if kind == "oxygen_cylinder" and not data.get("hours") and not data.get("liters"):
            raise ValidationError("酸素ボンベ1本の容量(L)を入力してください", "liters")
        if data.get("device_kind") and kind != "external_battery":
            raise ValidationError("接続先の機器は外部バッテリーにのみ指定できます", "device_kind")
        if data.get("dc_output") and kind != "power_station":
            raise ValidationError("直流出力はポータブル電源にのみ指定できます", "dc_output")
        if kind == "power_station" and not data.get("watt_hours"):
            raise ValidationError("ポータブル電源の容量(Wh)を入力してください", "watt_hours")


class ContactIn(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(1, 100))
    relation = fields.String(allow_none=True, validate=validate.Length(max=50))
    phone = fields.String(allow_none=True)

    @pre_load
    def _echoed(self, data, **_):
        # phone_e164 / phone_kind are derived from phone; a GET response sent back is fine.
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k not in ("phone_e164", "phone_kind")}
        return data

    @post_load
    def _phone(self, data, **_):
        phone = data.pop("phone", None)
        data["phone_e164"] = data["phone_kind"] = None
        if phone:
            try:
                p = parse_phone(phone)
            except PhoneError as e:
                raise ValidationError(str(e), "phone") from None
            data["phone_e164"], data["phone_kind"] = p.e164, p.kind
        return data


class PatientIn(Schema):
    """POST body; PATCH loads it with ``partial=True`` (lists given replace the stored ones)."""

    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(1, 100, error="1〜100文字で入力してください"))
    name_kana = fields.String(allow_none=True, validate=validate.Length(max=100))
    birth_date = JaDate(allow_none=True)
    sex = fields.String(allow_none=True, validate=validate.OneOf(m.SEXES))
    phone = fields.String(required=True)
    phone_kind = fields.String(allow_none=True, validate=validate.OneOf(PHONE_KINDS))
    address = fields.String(allow_none=True, validate=validate.Length(max=300))
    postal_code = fields.String(allow_none=True)
    municipality_code = fields.String(allow_none=True)
    lat = fields.Float(allow_none=True, validate=validate.Range(-90, 90, error="緯度は-90〜90です"), **_NUM)
    lon = fields.Float(allow_none=True, validate=validate.Range(-180, 180, error="経度は-180〜180です"), **_NUM)
    region_code = fields.String(allow_none=True)
    primary_org_id = fields.Integer(allow_none=True)
    nursing_org_id = fields.Integer(allow_none=True)
    care_manager_org_id = fields.Integer(allow_none=True)
    care_manager_name = fields.String(allow_none=True, validate=validate.Length(max=100))
    consent_to_share = fields.Boolean(load_default=False)
    consent_date = JaDate(allow_none=True)
    consent_scope = fields.List(fields.String(validate=validate.OneOf(m.CONSENT_SCOPES)), load_default=list)
    drill_opt_in = fields.Boolean(load_default=False)
    designated_facility_id = fields.Integer(allow_none=True)
    transport_needs = fields.String(allow_none=True, validate=validate.OneOf(m.TRANSPORT_NEEDS))
    transport_equipment = fields.String(allow_none=True, validate=validate.Length(max=500))
    power_company_registered = fields.Boolean(load_default=False)
    evacuation_plan_status = fields.String(load_default="none", validate=validate.OneOf(m.EVACUATION_PLAN_STATUSES))
    evacuation_plan_updated_on = JaDate(allow_none=True)
    status = fields.String(load_default="active", validate=validate.OneOf(m.PATIENT_STATUSES))
    notes = fields.String(allow_none=True, validate=validate.Length(max=2000))
    devices = fields.List(fields.Nested(DeviceIn), load_default=list)
    backups = fields.List(fields.Nested(BackupIn), load_default=list)
    contacts = fields.List(fields.Nested(ContactIn), load_default=list)

    @pre_load
    def _drop_read_only(self, data, **_):
        if not isinstance(data, dict):
            return data
        data = {k: v for k, v in data.items() if k not in READ_ONLY}
        return _blank_to_none(data, ("name_kana", "birth_date", "sex", "phone_kind", "address", "postal_code",
                                     "municipality_code", "region_code", "consent_date", "transport_needs",
                                     "care_manager_name", "transport_equipment", "evacuation_plan_updated_on",
                                     "notes"))

    @validates("name")
    def _name(self, value, **_):
        if not value.strip():
            raise ValidationError("氏名を入力してください")

    @validates("phone")
    def _phone(self, value, **_):
        try:
            parse_phone(value)
        except PhoneError as e:
            raise ValidationError(str(e)) from None

    @validates("postal_code")
    def _postal(self, value, **_):
        if value:
            try:
                normalize_postal_code(value)
            except PostalCodeError as e:
                raise ValidationError(str(e)) from None

    @validates("birth_date")
    def _birth(self, value, **_):
        if value is not None and value < date(1900, 1, 1):
            raise ValidationError("生年月日が古すぎます")

    @validates("municipality_code")
    def _muni(self, value, **_):
        # 6 digits with check digit, or 5 (completed in _normalise); must exist (geo.municipalities).
        if (problem := place.municipality_code_error(value)) is not None:
            raise ValidationError(problem)

    @validates_schema
    def _in_japan(self, data, **_):
        if errors := place.coordinate_errors(data.get("lat"), data.get("lon")):
            raise ValidationError(errors)

    @validates_schema
    def _kind_matches_number(self, data, **_):
        # The kind decides SMS versus voice in an outage: a landline marked "mobile" would get
        # SMS that never arrives. The number's own range is the truth.
        if data.get("phone") and data.get("phone_kind"):
            try:
                derived = parse_phone(data["phone"]).kind
            except PhoneError:
                return
            if derived != data["phone_kind"]:
                label = {"mobile": "携帯電話", "landline": "固定電話", "ip": "IP電話"}[derived]
                raise ValidationError(f"この番号は{label}の番号です", "phone_kind")

    @validates_schema
    def _coords_pair(self, data, **_):
        if ("lat" in data or "lon" in data) and (data.get("lat") is None) != (data.get("lon") is None):
            raise ValidationError("緯度と経度は両方入力してください", "lat" if data.get("lat") is None else "lon")

    @post_load
    def _normalise(self, data, **_):
        # Validated above; here only converted.
        if "phone" in data:
            p = parse_phone(data.pop("phone"))
            data["phone_e164"] = p.e164
            if not data.get("phone_kind"):
                data["phone_kind"] = p.kind
        if data.get("postal_code"):
            data["postal_code"] = normalize_postal_code(data["postal_code"])
        place.fill_municipality(data)     # 5 → 6 digits; from the postal code when absent
        return data


# --- output -------------------------------------------------------------------------------------

class DeviceOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    mode = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    watts = fields.Float(allow_none=True)
    hours_per_day = fields.Float()
    internal_battery_hours = fields.Float()
    life_sustaining = fields.Boolean(attribute="is_life_sustaining")
    settings = fields.String(allow_none=True)
    role = fields.String()
    flow_lpm = fields.Float(allow_none=True)
    daily_schedule = fields.Raw(allow_none=True)


class BackupOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    hours = fields.Float(allow_none=True)
    count = fields.Integer()
    watt_hours = fields.Float(allow_none=True)
    note = fields.String(allow_none=True)
    device_kind = fields.String(allow_none=True)
    liters = fields.Float(allow_none=True)
    conserver_ratio = fields.Float(allow_none=True)
    dc_output = fields.Boolean()
    fuel_cans = fields.Integer(allow_none=True)
    fuel_liters = fields.Float(allow_none=True)
    checked_on = JaDate(allow_none=True)
    purchased_on = JaDate(allow_none=True)


class ContactOut(Schema):
    name = fields.String()
    relation = fields.String(allow_none=True)
    phone = fields.Function(lambda c: display_phone(c.phone_e164))
    phone_e164 = fields.String(allow_none=True)
    phone_kind = fields.String(allow_none=True)


class PowerOut(Schema):
    runway_hours = fields.Float()
    tier = fields.String()
    explain = fields.String()


class PatientOut(Schema):
    id = fields.Integer()
    name = fields.String()
    name_kana = fields.String(allow_none=True)
    birth_date = JaDate(allow_none=True)
    sex = fields.String(allow_none=True)
    phone = fields.Function(lambda p: display_phone(p.phone_e164))
    phone_e164 = fields.String()
    phone_kind = fields.String()
    address = fields.String(allow_none=True)
    postal_code = fields.String(allow_none=True)
    municipality_code = fields.String(allow_none=True)
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    region_code = fields.String()
    primary_org_id = fields.Integer(allow_none=True)
    nursing_org_id = fields.Integer(allow_none=True)
    care_manager_org_id = fields.Integer(allow_none=True)
    care_manager_name = fields.String(allow_none=True)
    consent_to_share = fields.Boolean()
    consent_date = JaDate(allow_none=True)
    consent_scope = fields.List(fields.String())
    drill_opt_in = fields.Boolean()
    designated_facility_id = fields.Integer(allow_none=True)
    transport_needs = fields.String(allow_none=True)
    transport_equipment = fields.String(allow_none=True)
    power_company_registered = fields.Boolean()
    evacuation_plan_status = fields.String()
    evacuation_plan_updated_on = JaDate(allow_none=True)
    power_checked_on = JaDate(allow_none=True)
    status = fields.String()
    contactable = fields.Boolean(attribute="is_contactable")  # active and not deleted: reached in outages
    notes = fields.String(allow_none=True)
    devices = fields.List(fields.Nested(DeviceOut))
    backups = fields.List(fields.Nested(BackupOut))
    contacts = fields.List(fields.Nested(ContactOut))
    power = fields.Nested(PowerOut)
    data_quality = fields.Function(lambda p: [q.to_json() for q in place.data_quality(p.municipality_code, p.lat, p.lon)])
    created_at = fields.Function(lambda p: _iso(p.created_at))
    updated_at = fields.Function(lambda p: _iso(p.updated_at))


def _iso(dt):
    from bcp_service.clock import iso_local

    return iso_local(dt) if dt else None


class PatientListArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    region_code = fields.String()
    tier = fields.String(validate=validate.OneOf(rw.TIERS))
    status = fields.String(validate=validate.OneOf(m.PATIENT_STATUSES))
    municipality_code = fields.String()
    org_id = fields.Integer()
    q = fields.String(validate=validate.Length(max=100))
    consent_to_share = fields.Boolean()
    drill_opt_in = fields.Boolean()

"""Messaging HTTP surface: one-tap page, voice TwiML, Twilio webhooks, roll-call API, phone simulator.

Thin views: verify (signature / signed token), call an ``inbound`` or ``rollcall`` service, commit,
render. Webhooks are CSRF-exempt (they authenticate by ``X-Twilio-Signature``) and rate-limited on
*failed* signatures only, so a fan-out's thousands of genuine callbacks are never throttled while a
forger is.
"""
from __future__ import annotations

import hashlib
import uuid

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from bcp_service.api import api_doc, csrf_exempt, json_body
from bcp_service.appclock import get_clock
from bcp_service.auth import Role, audit, current_actor, require
from bcp_service.db import db
from bcp_service.errors import Invalid
from bcp_service.extensions import limiter
from bcp_service.messaging import answers, callbacks_fast, inbound, rollcall, texts
from bcp_service.messaging import simulator as simulator_service
from bcp_service.messaging.models import OutboxMessage
from bcp_service.messaging.hours_left import parse_hours_left
from bcp_service.messaging.signature import twilio_signature_ok
from bcp_service.messaging.tokens import InvalidToken, TapClaims, read_token

bp = Blueprint("messaging", __name__)

WEBHOOK_FAILURE_LIMIT = "30 per minute"
TAP_LIMIT = "10 per minute"


def _now():
    return get_clock().now()


def _hub_name() -> str:
    return current_app.config.get("HUB_NAME") or "在宅医療連携拠点"


def _twiml(xml: str, status: int = 200) -> Response:
    return Response(xml, status=status, mimetype="text/xml")


# --- signature ---------------------------------------------------------------------------------

def _forbidden() -> Response:
    # Nothing is read from the body or stored before this point.
    return Response("invalid signature", status=403, mimetype="text/plain")


# Genuine (correctly signed) requests are exempt and never counted, so forged traffic cannot starve
# Twilio's callbacks even when both arrive through one proxy address; only failures are counted.
_only_failures = dict(deduct_when=lambda response: response.status_code == 403,
                      exempt_when=lambda: twilio_signature_ok())


# --- webhooks ----------------------------------------------------------------------------------

@bp.post("/sms/status")
@csrf_exempt
@limiter.limit(WEBHOOK_FAILURE_LIMIT, **_only_failures)
def sms_status():
    if not twilio_signature_ok():
        return _forbidden()
    outbox_id = request.args.get("o", type=int)
    if callbacks_fast.record_status(db.engine, request.form, outbox_id=outbox_id, now=_now()) is None:
        inbound.handle_status(db.session, request.form.to_dict(), outbox_id=outbox_id, now=_now())
        db.session.commit()
    return Response(status=204)


@bp.post("/sms/inbound")
@csrf_exempt
@limiter.limit(WEBHOOK_FAILURE_LIMIT, **_only_failures)
def sms_inbound():
    if not twilio_signature_ok():
        return _forbidden()
    inbound.handle_inbound_sms(db.session, request.form.to_dict(), now=_now())
    db.session.commit()
    # No auto-reply: in Japan SMS is one-way for most senders, and a reply costs a segment.
    return _twiml('<?xml version="1.0" encoding="UTF-8"?><Response/>')


def _is_drill(claims: TapClaims) -> bool:
    """A check-in link or call that came in a drill message (the outbox row says so): 訓練 on page and call."""
    return claims.purpose == "checkin" and db.session.scalar(select(OutboxMessage.id).where(
        OutboxMessage.outage_id == claims.context_id, OutboxMessage.patient_id == claims.subject_id,
        OutboxMessage.drill.is_(True)).limit(1)) is not None


def _restoration_said(claims: TapClaims, ctx: dict) -> str:
    text = texts.render("restoration", ctx)
    return texts.DRILL_VOICE_PREFIX["ja"] + text if _is_drill(claims) else text


def _voice_claims() -> TapClaims | None:
    try:
        claims = read_token(current_app.config["SECRET_KEY"], request.args.get("t", ""))
    except InvalidToken:
        return None
    return claims if claims.purpose in ("checkin", "contact_checkin") else None


@bp.route("/voice/checkin", methods=["POST"])
@csrf_exempt
@limiter.limit(WEBHOOK_FAILURE_LIMIT, **_only_failures)
def voice_checkin():
    from twilio.twiml.voice_response import Gather, VoiceResponse

    if not twilio_signature_ok():
        return _forbidden()
    claims = _voice_claims()
    vr = VoiceResponse()
    if claims is None:
        vr.say("このお電話は無効です。", language="ja-JP")
        vr.hangup()
        return _twiml(str(vr))
    ctx = {"hub_name": _hub_name()}
    now = _now()
    if not answers.token_is_valid(db.session, claims):
        vr.say(_restoration_said(claims, ctx), language="ja-JP")
        vr.hangup()
        return _twiml(str(vr))
    digits = request.form.get("Digits")
    if digits:
        result = inbound.handle_voice_digits(db.session, claims, request.form.to_dict(), now=now)
        db.session.commit()
        if result.outcome.startswith("answer:") or result.replay or result.outcome == "unhandled":
            vr.say(texts.render_voice("thanks", ctx), language="ja-JP")
            vr.hangup()
            return _twiml(str(vr))
        if result.outcome == "gone":
            vr.say(_restoration_said(claims, ctx), language="ja-JP")
            vr.hangup()
            return _twiml(str(vr))
        vr.say(texts.render_voice("again", ctx), language="ja-JP")
    action = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + request.full_path.rstrip("?")
    gather = Gather(num_digits=1, action=action, method="POST", timeout=10)
    script = "contact_checkin" if claims.purpose == "contact_checkin" else "checkin"   # a family contact
    drill = _is_drill(claims)      # a drill call starts with 「これは訓練です。」
    gather.say(texts.render_voice(script, ctx, drill=drill), language="ja-JP")
    gather.pause(length=1)
    gather.say(texts.render_voice(script, ctx, drill=drill), language="ja-JP")
    vr.append(gather)
    vr.say(texts.render_voice("no_input", ctx), language="ja-JP")
    return _twiml(str(vr))


# --- one-tap page ------------------------------------------------------------------------------

ETA_CHOICES = ((30, "30分以内"), (60, "1時間以内"), (180, "3時間以内"), (360, "6時間以内"))


def _tap_claims(token: str) -> TapClaims:
    try:
        return read_token(current_app.config["SECRET_KEY"], token)
    except InvalidToken:
        abort(404)


def _tap_page(claims: TapClaims, token: str, *, status: int = 200, error: str | None = None):
    return render_template("messaging/tap.html", claims=claims, token=token, error=error,
                           eta_choices=ETA_CHOICES, drill=_is_drill(claims)), status


@bp.get("/r/<token>")
def tap_page(token: str):
    claims = _tap_claims(token)
    if not answers.token_is_valid(db.session, claims):
        return render_template("messaging/tap_gone.html", claims=claims), 410
    return _tap_page(claims, token)


def _per_token() -> str:
    """One-tap answers are limited per link, not per address: behind a carrier's or a shelter's NAT
    every family shares one address, and a mass outage must not throttle them."""
    return "tap:" + hashlib.sha256((request.view_args or {}).get("token", "").encode()).hexdigest()[:32]


@bp.post("/r/<token>")
@csrf_exempt
@limiter.limit(TAP_LIMIT, key_func=_per_token)
def tap_answer(token: str):
    claims = _tap_claims(token)
    raw = (request.form.get("answer") or "").strip()
    if raw not in ("1", "2", "3"):
        return _tap_page(claims, token, status=400, error="1・2・3 のいずれかを押してください。")
    eta = request.form.get("eta_minutes", type=int)
    if eta is not None and eta not in {c for c, _ in ETA_CHOICES}:
        return _tap_page(claims, token, status=400, error="参集可能時間を選び直してください。")
    hours = parse_hours_left(request.form.get("hours_left")) if raw == "2" else None   # only with 「2」
    if hours is not None and hours.error:
        return _tap_page(claims, token, status=400, error=hours.error)
    result = inbound.handle_tap(db.session, claims, raw, now=_now(), eta_minutes=eta,
                                hours_left=hours.hours if hours else None)
    if result.outcome == "gone":
        db.session.rollback()
        return render_template("messaging/tap_gone.html", claims=claims), 410
    db.session.commit()
    return render_template("messaging/tap_done.html", claims=claims, answer=raw, drill=_is_drill(claims))


# --- staff roll-call API -----------------------------------------------------------------------

class MemberSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 100))
    phone = fields.String(required=True, validate=validate.Length(1, 30))


class RollcallCreateSchema(Schema):
    title = fields.String(required=True, validate=validate.Length(1, 60))
    organization_id = fields.Integer(load_default=None, allow_none=True)
    drill = fields.Boolean(load_default=False)
    members = fields.List(fields.Nested(MemberSchema), load_default=None, allow_none=True)


class RollcallMemberOut(Schema):
    id = fields.Integer()
    name = fields.String()
    answer = fields.String(allow_none=True)
    eta_minutes = fields.Integer(allow_none=True)
    channel = fields.String(allow_none=True)
    answered_at = fields.Function(lambda m: _iso(m.answered_at))


def _iso(dt):
    from bcp_service.clock import iso_local

    return iso_local(dt)


class RollcallOut(Schema):
    id = fields.Integer()
    title = fields.String()
    organization_id = fields.Integer(allow_none=True)
    drill = fields.Boolean()
    status = fields.Function(lambda r: "closed" if r.closed_at else "open")
    created_at = fields.Function(lambda r: _iso(r.created_at))
    members = fields.List(fields.Nested(RollcallMemberOut))
    tally = fields.Function(lambda r: rollcall.tally_members(r.members).__dict__)


def _phone_e164(raw: str) -> str:
    import phonenumbers

    try:
        num = phonenumbers.parse(raw, "JP")
    except phonenumbers.NumberParseException:
        num = None
    # "possible", not "valid": the synthetic 090-0000-xxxx test ranges are not allocated numbers.
    if num is None or not phonenumbers.is_possible_number(num):
        raise Invalid("電話番号が不正です。", fields={"members": [f"{raw}: 電話番号として読めません"]})
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


@bp.post("/api/v1/rollcalls")
@require(Role.ADMIN, Role.HUB_STAFF, Role.INSTITUTION_STAFF)
@api_doc(summary="職員安否確認を開始する (staff roll-call)", request_schema=RollcallCreateSchema,
         response_schema=RollcallOut, status=201)
def create_rollcall():
    from bcp_service.auth.models import User

    actor = current_actor()
    data = RollcallCreateSchema().load(json_body())
    org_id = data["organization_id"]
    if org_id is None and actor.role == Role.INSTITUTION_STAFF:
        org_id = actor.organization_id
    rollcall.check_scope(db.session, actor, organization_id=org_id, created_by=actor.user_id)
    if data["members"] is not None:
        members = [rollcall.MemberIn(name=m["name"], phone=_phone_e164(m["phone"])) for m in data["members"]]
    else:
        if org_id is None:
            raise Invalid("organization_id か members が必要です。", fields={"organization_id": ["必須です"]})
        users = db.session.scalars(select(User).where(User.organization_id == org_id, User.active.is_(True),
                                                      User.phone_e164.is_not(None)).order_by(User.id)).all()
        members = [rollcall.MemberIn(name=u.display_name or u.email, phone=u.phone_e164, user_id=u.id)
                   for u in users]
    rc = rollcall.start_rollcall(db.session, title=data["title"], organization_id=org_id, members=members,
                                 drill=data["drill"], created_by=actor.user_id, now=_now(),
                                 secret=current_app.config["SECRET_KEY"],
                                 base_url=current_app.config["PUBLIC_BASE_URL"], hub_name=_hub_name())
    audit.record(db.session, actor, "create", "rollcall", rc.id, detail={"members": len(members)})
    db.session.commit()
    return RollcallOut().dump(rc), 201


@bp.get("/api/v1/rollcalls/<int:rollcall_id>")
@require(Role.ADMIN, Role.HUB_STAFF, Role.INSTITUTION_STAFF)
@api_doc(summary="職員安否確認の集計 (roll-call tally)", response_schema=RollcallOut)
def get_rollcall(rollcall_id: int):
    actor = current_actor()
    rc = rollcall.get_rollcall(db.session, rollcall_id, actor)
    audit.record(db.session, actor, "read", "rollcall", rc.id)
    db.session.commit()
    return RollcallOut().dump(rc)


@bp.post("/api/v1/rollcalls/<int:rollcall_id>/close")
@require(Role.ADMIN, Role.HUB_STAFF, Role.INSTITUTION_STAFF)
@api_doc(summary="職員安否確認を締め切る", response_schema=RollcallOut)
def close_rollcall(rollcall_id: int):
    rc = rollcall.close_rollcall(db.session, rollcall_id, now=_now(), actor=current_actor())
    audit.record(db.session, current_actor(), "close", "rollcall", rc.id)
    db.session.commit()
    return RollcallOut().dump(rc)


# --- the demo's phone simulator (MESSAGING_SIMULATOR, console channel only) ---------------------

def _simulator_enabled() -> None:
    # Simulated inbound traffic is a forging tool: off unless explicitly enabled (``bcp-service demo``
    # does), and never with a real provider (config refuses it for twilio).
    if not current_app.config.get("MESSAGING_SIMULATOR") or \
            current_app.config.get("MESSAGING_CHANNEL", "console") != "console":
        abort(404)


@bp.get("/messaging/simulator")
@require(Role.ADMIN, Role.HUB_STAFF)
def simulator():
    _simulator_enabled()
    phone = request.args.get("phone") or None
    shown = simulator_service.view(db.session, current_actor(), phone=phone)
    db.session.commit()   # the audit row
    return render_template("messaging/simulator.html", messages=shown.messages, phones=shown.phones,
                           phone=phone, events=shown.events, queued=shown.queued)


@bp.post("/messaging/simulator/reply")
@require(Role.ADMIN, Role.HUB_STAFF)
def simulator_reply():
    _simulator_enabled()
    phone = request.form.get("phone", "")
    body = request.form.get("body", "")
    if not phone or not body.strip():
        raise Invalid("電話番号と本文が必要です。", fields={"body": ["必須です"]})
    simulator_service.check_reply(db.session, current_actor(), phone, inbound.reply_target(db.session, phone))
    inbound.handle_inbound_sms(db.session, {"MessageSid": "SMsim" + uuid.uuid4().hex, "From": phone, "Body": body},
                               now=_now())
    db.session.commit()
    return redirect(url_for("messaging.simulator", phone=phone))


@bp.post("/messaging/simulator/voice/<int:outbox_id>")
@require(Role.ADMIN, Role.HUB_STAFF)
def simulator_voice(outbox_id: int):
    _simulator_enabled()
    msg = simulator_service.voice_message(db.session, current_actor(), outbox_id)
    claims = TapClaims("checkin", msg.patient_id, msg.outage_id)
    inbound.handle_voice_digits(db.session, claims, {"CallSid": msg.provider_id or f"CAsim{msg.id}",
                                                     "Digits": request.form.get("digits", "")}, now=_now())
    db.session.commit()
    return redirect(url_for("messaging.simulator", phone=msg.to))

"""Inbound services: status callbacks, SMS replies, DTMF digits, one-tap answers.

Each provider id is acted on once: a ``ProviderEvent`` row with a unique ``dedupe_key`` is inserted
first (``INSERT … ON CONFLICT DO NOTHING``); if it already existed the webhook is a replay and does
nothing. The insert and the effect share the caller's transaction, so a crash in between loses
neither (Twilio retries a webhook that got no 2xx, and the retry finds no event row).
"""
from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from bcp_service.messaging import answers, replies
from bcp_service.messaging.channels import UNDELIVERABLE_CALLBACK_CODES
from bcp_service.messaging.undeliverable import fallback_or_escalate, record_opt_out
from bcp_service.messaging.models import (
    DELIVERED, QUEUED, SENDING, UNDELIVERED, OptOut, OutboxMessage, ProviderEvent,
)
from bcp_service.messaging.outbox_state import after_callback
from bcp_service.messaging.tokens import TapClaims

log = logging.getLogger(__name__)
ANSWERABLE = ("checkin", "contact_checkin", "field_task", "transport_task", "rollcall")
_TASK_KEY = re.compile(r":task:(\d+):")


def _record_event(session: Session, *, dedupe_key: str, kind: str, sid: str | None, now: datetime,
                  from_number: str | None = None, body: str | None = None, outbox_id: int | None = None,
                  outcome: str | None = None, load: bool = True):
    """Insert the event; None when this dedupe_key was already recorded (a replay).

    Returns the ProviderEvent (``load=True``) or just its id."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    values = dict(dedupe_key=dedupe_key[:160], kind=kind, provider_sid=sid, from_number=from_number, body=body,
                  outbox_id=outbox_id, outcome=outcome, received_at=now)
    result = session.execute(insert(ProviderEvent).values(**values)
                             .on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(ProviderEvent.id))
    row = result.first()
    if row is None:
        return None
    return session.get(ProviderEvent, row[0]) if load else row[0]


# --- status callbacks --------------------------------------------------------------------------

@dataclass(frozen=True)
class StatusResult:
    replay: bool
    outbox_id: int | None = None
    status: str | None = None


def handle_status(session: Session, form: dict, *, outbox_id: int | None, now: datetime) -> StatusResult:
    sid = form.get("MessageSid") or form.get("SmsSid") or form.get("CallSid")
    provider_status = form.get("MessageStatus") or form.get("SmsStatus") or form.get("CallStatus") or ""
    if not sid:
        from bcp_service.errors import Invalid

        raise Invalid("MessageSid or CallSid is required", fields={"MessageSid": ["必須です"]})
    # Look the row up first so the event insert carries its id: three round trips, not five — status
    # callbacks are the bulk of webhook traffic during a fan-out (two per message).
    msg = session.scalars(select(OutboxMessage).where(OutboxMessage.provider_id == sid)).first()
    reconciled = False
    if msg is None and outbox_id is not None:
        # Reconciliation: the provider accepted a send whose result we never committed (crash window).
        candidate = session.get(OutboxMessage, outbox_id)
        if candidate is not None and candidate.provider_id is None:
            msg, reconciled = candidate, True
    event_id = _record_event(session, dedupe_key=f"status:{sid}:{provider_status}", kind="status", sid=sid,
                             now=now, outbox_id=msg.id if msg else outbox_id, outcome=provider_status,
                             load=False)
    if event_id is None:
        return StatusResult(replay=True)
    if session.get_bind().dialect.name == "postgresql":
        # A status update lost in a database crash costs at most a duplicate send (the lease expires),
        # never a lost answer: do not wait for the WAL flush. Answers keep synchronous commits.
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))
    if msg is None:
        return StatusResult(replay=False)
    if reconciled:
        msg.provider_id = sid
        log.warning("outbox %s reconciled from a status callback", msg.id)
    new = after_callback(msg.status, provider_status)
    if new is None:
        return StatusResult(False, msg.id, msg.status)   # unknown, late or out-of-order: never go back
    if msg.status in (QUEUED, SENDING):
        msg.sent_at = msg.sent_at or now
        msg.lease_until = None
    msg.status = new
    msg.updated_at = now
    if new == DELIVERED:
        msg.delivered_at = now
    elif new == UNDELIVERED:
        code = form.get("ErrorCode")
        msg.error_code = int(code) if code and code.isdigit() else None
        msg.error_message = f"provider status {provider_status}"[:200]
        if msg.channel == "sms" and (msg.error_code is None or msg.error_code in UNDELIVERABLE_CALLBACK_CODES):
            fallback_or_escalate(session, msg, reason="undelivered", now=now)
        elif msg.channel == "voice" and provider_status == "failed":
            fallback_or_escalate(session, msg, reason="call_failed", now=now)
    return StatusResult(False, msg.id, msg.status)


# --- answers -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class AnswerResult:
    replay: bool = False
    outcome: str = "unknown"     # answer:<key> | opt_out | opt_in | gone | unmatched | unknown | unhandled
    claims: TapClaims | None = None


def reply_target(session: Session, phone: str) -> OutboxMessage | None:
    """The most recent answerable message we sent to this number: what a reply from it answers."""
    return session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.to == phone, OutboxMessage.purpose.in_(ANSWERABLE),
               OutboxMessage.status.notin_((QUEUED, "cancelled")))
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(1)).first()


def _claims_for_reply(session: Session, phone: str) -> TapClaims | None:
    msg = reply_target(session, phone)
    if msg is None:
        return None
    if msg.purpose == "checkin" and msg.patient_id is not None and msg.outage_id is not None:
        return TapClaims("checkin", msg.patient_id, msg.outage_id)
    if msg.purpose == "contact_checkin" and msg.ref_id is not None and msg.outage_id is not None:
        return TapClaims("contact_checkin", msg.ref_id, msg.outage_id)     # ref_id: the outage's contact row
    if msg.purpose == "rollcall" and msg.ref_id is not None:
        from bcp_service.messaging.models import RollcallMember

        member = session.get(RollcallMember, msg.ref_id)
        return TapClaims("rollcall", member.id, member.rollcall_id) if member else None
    if msg.purpose in ("field_task", "transport_task") and msg.outage_id is not None:
        task_id = msg.ref_id
        if task_id is None:
            m = _TASK_KEY.search(msg.key)
            task_id = int(m.group(1)) if m else None
        return TapClaims(msg.purpose, task_id, msg.outage_id) if task_id is not None else None
    return None


def apply_answer(session: Session, claims: TapClaims, raw: str, *, channel: str, now: datetime,
                 eta_minutes: int | None = None, hours_left: float | None = None) -> AnswerResult:
    """Parse ``raw`` for this claim's purpose and hand it on. Raises nothing for unparseable input."""
    if not answers.token_is_valid(session, claims):
        return AnswerResult(outcome="gone", claims=claims)
    if claims.purpose == "rollcall":
        from bcp_service.messaging import rollcall

        parsed = replies.parse_rollcall_reply(raw)
        if parsed.answer is None:
            return AnswerResult(outcome="unknown", claims=claims)
        ok = rollcall.record_answer(session, member_id=claims.subject_id, rollcall_id=claims.context_id,
                                    answer=parsed.answer, eta_minutes=eta_minutes if eta_minutes is not None
                                    else parsed.eta_minutes, channel=channel, now=now)
        return AnswerResult(outcome=f"answer:{parsed.answer}" if ok else "gone", claims=claims)
    answer = replies.parse_digit(raw) if channel in ("tap", "voice") else None
    if answer is None and channel == "sms":
        parsed = replies.parse_reply(raw)
        answer = parsed.answer
    if answer is None:
        return AnswerResult(outcome="unknown", claims=claims)
    handled = answers.deliver(session, claims, answer=answer, channel=channel, now=now,
                              text=raw if channel == "sms" else None, hours_left=hours_left)
    return AnswerResult(outcome=f"answer:{answer}" if handled else "unhandled", claims=claims)


def _set_outcome(session: Session, event_id: int, outcome: str) -> None:
    session.execute(update(ProviderEvent).where(ProviderEvent.id == event_id).values(outcome=outcome[:32]))


def handle_inbound_sms(session: Session, form: dict, *, now: datetime) -> AnswerResult:
    sid = form.get("MessageSid") or form.get("SmsSid")
    if not sid:
        from bcp_service.errors import Invalid

        raise Invalid("MessageSid is required", fields={"MessageSid": ["必須です"]})
    phone = (form.get("From") or "").strip()
    body = form.get("Body") or ""
    reply = replies.parse_reply(body)
    # Opt-out/in are known before any lookup: record them with the event in one statement.
    early = {"opt_out": "opt_out", "opt_in": "opt_in"}.get(reply.kind)
    event_id = _record_event(session, dedupe_key=f"inbound:{sid}", kind="inbound", sid=sid, now=now,
                             from_number=phone[:20], body=body[:1000], outcome=early, load=False)
    if event_id is None:
        return AnswerResult(replay=True, outcome="replay")
    if reply.kind == "opt_out":
        record_opt_out(session, phone, now=now, source="sms_reply")
        return AnswerResult(outcome="opt_out")
    if reply.kind == "opt_in":
        session.execute(delete(OptOut).where(OptOut.phone == phone))
        return AnswerResult(outcome="opt_in")
    claims = _claims_for_reply(session, phone)
    if claims is None:
        _set_outcome(session, event_id, "unmatched")
        return AnswerResult(outcome="unmatched")
    result = apply_answer(session, claims, body, channel="sms", now=now)
    _set_outcome(session, event_id, result.outcome)
    return result


def handle_voice_digits(session: Session, claims: TapClaims, form: dict, *, now: datetime) -> AnswerResult:
    call_sid = form.get("CallSid") or ""
    digits = form.get("Digits") or ""
    if replies.parse_digit(digits) is None:
        return AnswerResult(outcome="unknown", claims=claims)
    event_id = _record_event(session, dedupe_key=f"voice:{call_sid or uuid.uuid4().hex}", kind="voice",
                             sid=call_sid or None, now=now, body=digits[:8], load=False)
    if event_id is None:
        return AnswerResult(replay=True, outcome="replay", claims=claims)
    result = apply_answer(session, claims, digits, channel="voice", now=now)
    _set_outcome(session, event_id, result.outcome)
    return result


def handle_tap(session: Session, claims: TapClaims, answer_raw: str, *, now: datetime,
               eta_minutes: int | None = None, hours_left: float | None = None) -> AnswerResult:
    result = apply_answer(session, claims, answer_raw, channel="tap", now=now, eta_minutes=eta_minutes,
                          hours_left=hours_left)
    if result.outcome.startswith("answer:") or result.outcome == "unhandled":
        # Every tap is kept (a later tap may change the answer), for the record and the simulator.
        _record_event(session, dedupe_key=f"tap:{uuid.uuid4().hex}", kind="tap", sid=None, now=now,
                      body=answer_raw[:8], outcome=result.outcome[:32], outbox_id=_message_of(session, claims))
    return result


def _message_of(session: Session, claims: TapClaims) -> int | None:
    """The newest message that carried this link, so the tap is shown (and scoped) with it."""
    stmt = select(OutboxMessage.id).where(OutboxMessage.purpose == claims.purpose)
    if claims.purpose == "checkin":
        stmt = stmt.where(OutboxMessage.outage_id == claims.context_id, OutboxMessage.patient_id == claims.subject_id)
    else:
        stmt = stmt.where(OutboxMessage.ref_id == claims.subject_id)
    return session.scalar(stmt.order_by(OutboxMessage.id.desc()).limit(1))

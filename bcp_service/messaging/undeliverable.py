"""What happens to a message that cannot arrive: the opt-out is recorded, a check-in SMS becomes a voice
call, anything else goes to people (the escalation hook). Used by the dispatcher and the webhooks."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bcp_service.messaging import answers
from bcp_service.messaging.models import OptOut, OutboxMessage
from bcp_service.messaging.policy import load_escalation


def record_opt_out(session: Session, phone: str, *, now: datetime, source: str) -> None:
    if session.get(OptOut, phone) is None:
        session.add(OptOut(phone=phone, opted_out_at=now, source=source))
        session.flush()


def fallback_or_escalate(session: Session, msg: OutboxMessage, *, reason: str, now: datetime,
                         voice_for: frozenset | None = None) -> bool:
    """An SMS that cannot arrive becomes a voice call (check-ins); anything else goes to people.

    Returns True when a voice fallback was queued. Idempotent: the fallback has its own key.
    """
    from bcp_service.messaging import outbox

    voice_for = voice_for if voice_for is not None else load_escalation().voice_for
    if msg.channel == "sms" and msg.purpose in voice_for and reason in ("fallback", "opted_out", "undelivered"):
        outbox.enqueue(session, key=f"{msg.key}:fallback:voice", to=msg.to, channel="voice",
                       priority=msg.priority, purpose=msg.purpose, patient_id=msg.patient_id,
                       outage_id=msg.outage_id, round=msg.round, ref_id=msg.ref_id, drill=msg.drill, now=now)
        fb = outbox.get_by_key(session, f"{msg.key}:fallback:voice")
        if fb.fallback_of_id is None:
            fb.fallback_of_id = msg.id
        return True
    if msg.escalated_at is None:
        msg.escalated_at = now
        answers.escalate(session, msg, reason, now)
    return False

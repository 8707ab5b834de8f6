"""Where answers leave the messaging layer (messaging never imports outages or registry).

When a one-tap POST (``/r/<token>``), an SMS reply or a DTMF digit arrives, messaging parses it and
calls the handler listed for the token's purpose in ``bcp_service/wiring.py`` (``ANSWER_HANDLERS``).
Every handler has one signature, ``handler(received: AnswerReceived) -> None``:

* ``received.answer`` is ``"ok" | "low_battery" | "needs_help"`` (rollcall answers are handled in
  messaging itself); ``received.channel`` is ``"tap" | "sms" | "voice"``.
* ``received.context_id`` / ``received.subject_id`` are the token's ids: the outage and the patient for
  ``checkin``, the outage and the task for ``field_task`` / ``transport_task``.
* ``received.text`` is the raw SMS body as received (full-width digits and all), for handlers that read
  more than the answer (「2 あと3時間」 re-computes a runway); ``None`` for one-tap and DTMF answers.
  ``answer`` is already parsed from it.
* The handler runs inside the request's transaction (``received.session``); the view commits. A
  ``DomainError`` it raises (e.g. ``Gone`` because the outage was resolved) becomes the HTTP answer and
  nothing is stored.

Also listed in the wiring: the token validity checks (``fn(session, claims) -> bool``, False → 410) and
the escalation handlers for messages no channel could deliver (``fn(session, message, reason, now)``).
They live on the app (``app.extensions["answers"]``, an :class:`AnswerHooks`), so a test changes them
for its own app only.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Mapping

from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from bcp_service.messaging.tokens import TapClaims

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnswerReceived:
    """One parsed answer to a signed link, SMS or call, as its purpose's handler receives it."""

    session: Session
    purpose: str
    context_id: int
    subject_id: int
    answer: str
    channel: str
    now: datetime
    text: str | None = None
    hours_left: float | None = None    # the one-tap page's 「残り時間」 with answer 2 (0–72), already checked


AnswerHandler = Callable[[AnswerReceived], object]
ValidityCheck = Callable[[Session, TapClaims], bool]
EscalationHandler = Callable[[Session, object, str, datetime], object]


@dataclass(frozen=True)
class AnswerHooks:
    """The app's answer handlers (by purpose), token validity checks and escalation handlers."""

    handlers: Mapping[str, AnswerHandler] = field(default_factory=dict)
    validity_checks: tuple[ValidityCheck, ...] = ()
    escalations: tuple[EscalationHandler, ...] = ()


EXTENSION = "answers"
_NONE = AnswerHooks()


def hooks_of(app=None) -> AnswerHooks:
    """The hooks of ``app`` (default: the current app); none outside an app (e.g. a bare dispatcher)."""
    if app is None:
        if not has_app_context():
            return _NONE
        app = current_app
    return app.extensions.get(EXTENSION, _NONE)


def token_is_valid(session: Session, claims: TapClaims) -> bool:
    return all(check(session, claims) for check in hooks_of().validity_checks)


def deliver(session: Session, claims: TapClaims, *, answer: str, channel: str, now: datetime,
            text: str | None = None, hours_left: float | None = None) -> bool:
    """Hand a parsed answer to its purpose's handler. Returns False when no handler is listed.
    ``text`` is the raw SMS body (None for one-tap/DTMF)."""
    fn = hooks_of().handlers.get(claims.purpose)
    if fn is None:
        log.warning("no answer handler for purpose %s; answer stored only as a provider event", claims.purpose)
        return False
    fn(AnswerReceived(session=session, purpose=claims.purpose, context_id=claims.context_id,
                      subject_id=claims.subject_id, answer=answer, channel=channel, now=now, text=text,
                      hours_left=hours_left))
    return True


def escalate(session: Session, message, reason: str, now: datetime) -> int:
    """Call every escalation handler; returns how many ran. Without handlers the failure is logged."""
    handlers = hooks_of().escalations
    if not handlers:
        log.error("outbox %s undeliverable (%s) and no escalation handler is registered", message.id, reason)
    for fn in handlers:
        fn(session, message, reason, now)
    return len(handlers)

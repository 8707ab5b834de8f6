"""Hooks through which answers leave the messaging layer (messaging never imports outages/registry).

When a one-tap POST (``/r/<token>``), an SMS reply or a DTMF digit arrives, messaging parses it and
calls the handler registered for the token's purpose:

    from bcp_service.messaging import answers

    def on_checkin(session, *, outage_id, patient_id, answer, channel, now): ...
    answers.register_answer_handler("checkin", on_checkin)

* ``answer`` is ``"ok" | "low_battery" | "needs_help"`` (rollcall answers are handled here).
* ``channel`` is ``"tap" | "sms" | "voice"``.
* ``outage_id`` / ``patient_id`` are the token's context and subject ids; for ``field_task`` and
  ``transport_task`` the subject is the task id (passed as ``patient_id``, and also as ``subject_id``
  when the handler accepts it).
* ``text`` (optional keyword, passed only when the handler accepts it — a ``text`` parameter or
  ``**kwargs``): the raw reply as received, for handlers that read more than the answer (e.g. 「2 あと3時間」
  to re-compute a runway). The SMS body, unnormalised (full-width digits and all); ``None`` for one-tap
  and DTMF answers. ``answer`` is already parsed from it; the text is for extra detail only. The parser
  reads lone digits 1–3 as answers (the most severe wins) but not numbers with a unit, so
  「2 あと3時間」, 「2 あと5時間」 and 「２ 残り1.5時間」 all arrive as ``low_battery``. Existing handlers without the parameter keep working unchanged:

      def on_checkin(session, *, outage_id, patient_id, answer, channel, now, text=None): ...
* The handler runs inside the request's transaction; the view commits. A ``DomainError`` it raises
  (e.g. ``Gone`` because the outage was resolved) becomes the HTTP answer and nothing is stored.

Validity of a token beyond its signature (410 once the outage is resolved):

    answers.register_token_validity_check(lambda session, claims: <True while still open>)

Each check sees :class:`~bcp_service.messaging.tokens.TapClaims`; returning False means gone.

Escalation after a message could not be delivered by any channel (invalid number, voice failed):

    answers.register_escalation_handler(fn)  # fn(session, message: OutboxMessage, reason: str, now)

Register from a module every process imports (your ``views.py`` or ``jobs.py``); registering the same
function twice is harmless.
"""
from __future__ import annotations

import inspect
import logging
from datetime import datetime
from typing import Callable

from sqlalchemy.orm import Session

from bcp_service.messaging.tokens import TapClaims

log = logging.getLogger(__name__)

AnswerHandler = Callable[..., object]
ValidityCheck = Callable[[Session, TapClaims], bool]
EscalationHandler = Callable[..., object]

_answer_handlers: dict[str, AnswerHandler] = {}
_validity_checks: list[ValidityCheck] = []
_escalation_handlers: list[EscalationHandler] = []


def register_answer_handler(purpose: str, fn: AnswerHandler) -> None:
    _answer_handlers[purpose] = fn


def register_token_validity_check(fn: ValidityCheck) -> None:
    if fn not in _validity_checks:
        _validity_checks.append(fn)


def register_escalation_handler(fn: EscalationHandler) -> None:
    if fn not in _escalation_handlers:
        _escalation_handlers.append(fn)


def has_handler(purpose: str) -> bool:
    return purpose in _answer_handlers


def token_is_valid(session: Session, claims: TapClaims) -> bool:
    return all(check(session, claims) for check in _validity_checks)


def deliver(session: Session, claims: TapClaims, *, answer: str, channel: str, now: datetime,
            text: str | None = None) -> bool:
    """Hand a parsed answer to its purpose's handler. Returns False when no handler is registered.

    ``text`` is the raw SMS body (None for one-tap/DTMF); ``subject_id`` and ``text`` are passed only to
    handlers that accept them."""
    fn = _answer_handlers.get(claims.purpose)
    if fn is None:
        log.warning("no answer handler for purpose %s; answer stored only as a provider event", claims.purpose)
        return False
    kwargs = dict(outage_id=claims.context_id, patient_id=claims.subject_id, answer=answer,
                  channel=channel, now=now)
    params = inspect.signature(fn).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    if "subject_id" in params or takes_any:
        kwargs["subject_id"] = claims.subject_id
    if "text" in params or takes_any:
        kwargs["text"] = text
    fn(session, **kwargs)
    return True


def escalate(session: Session, message, reason: str, now: datetime) -> int:
    """Call every escalation handler; returns how many ran. Without handlers the failure is logged."""
    if not _escalation_handlers:
        log.error("outbox %s undeliverable (%s) and no escalation handler is registered", message.id, reason)
    for fn in list(_escalation_handlers):
        fn(session, message, reason, now)
    return len(_escalation_handlers)

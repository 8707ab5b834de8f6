"""The outbox row's state machine, as data and pure functions (no database, no clock).

    queued ──claim──▶ sending ──accepted──▶ sent ──callback──▶ delivered | undelivered
      ▲  │               │ retryable error / lease expired → queued (backoff)
      │  └─cancel──▶ cancelled      │ permanent error / attempts exhausted → failed
      └───────────────┘          (a callback may still reveal that a cancelled row's earlier attempt went out)

A provider status callback only ever moves a row forward (``after_callback``): callbacks arrive late
and out of order, and one for a row we still think ``queued``/``sending`` (its send result was never
committed) records what the provider knows.
"""
from __future__ import annotations

from enum import StrEnum


class OutboxStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"          # given up: permanent error, or retries exhausted
    CANCELLED = "cancelled"    # superseded before it was sent


S = OutboxStatus
FINAL = frozenset({S.DELIVERED, S.UNDELIVERED, S.FAILED, S.CANCELLED})

# Every move the service makes; anything else is a bug.
TRANSITIONS: dict[OutboxStatus, frozenset[OutboxStatus]] = {
    S.QUEUED: frozenset({S.SENDING, S.CANCELLED, S.SENT, S.DELIVERED, S.UNDELIVERED}),
    # SENDING → CANCELLED: held by a dispatcher hold (wiring SEND_HOLDS) after the claim, before any send.
    S.SENDING: frozenset({S.SENT, S.QUEUED, S.FAILED, S.DELIVERED, S.UNDELIVERED, S.CANCELLED}),
    S.SENT: frozenset({S.DELIVERED, S.UNDELIVERED}),
    S.DELIVERED: frozenset(),
    S.UNDELIVERED: frozenset(),
    S.FAILED: frozenset(),
    # A cancelled row may have had an earlier attempt whose result we never learnt; its callback counts.
    S.CANCELLED: frozenset({S.SENT, S.DELIVERED, S.UNDELIVERED}),
}

# Provider status → ours. Twilio sends no callback for queued/accepted.
_PROVIDER_STATUS = {
    "sending": S.SENT, "sent": S.SENT, "delivered": S.DELIVERED, "read": S.DELIVERED,
    "undelivered": S.UNDELIVERED, "failed": S.UNDELIVERED,
    # Calls
    "completed": S.DELIVERED, "busy": S.UNDELIVERED, "no-answer": S.UNDELIVERED, "canceled": S.UNDELIVERED,
    "ringing": S.SENT, "in-progress": S.SENT, "initiated": S.SENT,
}
# How far along a row is, for callbacks: a callback never moves a row back or sideways.
_PROGRESS = {S.QUEUED: 0, S.CANCELLED: 0, S.SENDING: 1, S.SENT: 2, S.DELIVERED: 3, S.UNDELIVERED: 3, S.FAILED: 3}


def may_move(current: str, new: str) -> bool:
    """Whether the service ever moves a row from ``current`` to ``new``."""
    return OutboxStatus(new) in TRANSITIONS[OutboxStatus(current)]


def from_provider(provider_status: str | None) -> OutboxStatus | None:
    """Our status for a provider's message or call status; None for one we do not track."""
    return _PROVIDER_STATUS.get((provider_status or "").lower())


def after_callback(current: str, provider_status: str | None) -> OutboxStatus | None:
    """The status a provider callback moves the row to, or None when it changes nothing (an unknown
    status, or a late or out-of-order callback)."""
    new = from_provider(provider_status)
    if new is None or _PROGRESS[new] <= _PROGRESS.get(current, 0):
        return None
    return new


def behind(new: str) -> list[str]:
    """The statuses a callback reporting ``new`` moves forward (the same rule as ``after_callback``,
    for the one-statement SQL path in ``callbacks_fast``)."""
    rank = _PROGRESS[OutboxStatus(new)]
    return [s.value for s, r in _PROGRESS.items() if r < rank]

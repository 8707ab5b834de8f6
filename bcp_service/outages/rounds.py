"""Check-in rounds and escalation timing.

Round 1: SMS with a one-tap link (voice call first for landlines). Silence for N minutes (default 15)
→ round 2: SMS *and* a voice call, and the first registered family contact is asked too; each further
contact gets the next silence (``contacts``). Still silent → round 3 is not a message but a task for
the field team (the patient's nursing station, or the 拠点 on call).

Timers shrink when power is short: the field task must be created no later than
``runs_out_at − safety_margin``. With s steps still to go, each wait is at most the remaining budget
divided by s, and never more than the configured silence. When the budget is already gone the next
step is due immediately. Pure: callers pass ``sent_at`` and ``runs_out_at``; no clock here.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bcp_service.registry.phones import sms_capable_kind

ROUND_SMS = 1          # round 1: SMS (or voice for landlines)
ROUND_SMS_VOICE = 2    # round 2: SMS and voice
ROUND_FIELD = 3        # escalation: field task
LAST_ROUND = ROUND_FIELD

ANSWERED_STATES = frozenset({"ok", "low_battery", "needs_help"})


@dataclass(frozen=True)
class EscalationPolicy:
    silence_minutes: float = 15.0
    safety_margin_minutes: float = 60.0

    def __post_init__(self):
        if self.silence_minutes <= 0:
            raise ValueError("silence_minutes must be positive")
        if self.safety_margin_minutes < 0:
            raise ValueError("safety_margin_minutes must not be negative")


def steps_left(round_sent: int) -> int:
    """Escalation steps that remain after ``round_sent`` went out with no answer."""
    return max(0, LAST_ROUND - round_sent)


def next_action_at(*, round_sent: int, sent_at: datetime, runs_out_at: datetime,
                   policy: EscalationPolicy = EscalationPolicy()) -> datetime | None:
    """When to take the next step if the patient stays silent; None when nothing is left to do."""
    return wait_until(steps=steps_left(round_sent), sent_at=sent_at, runs_out_at=runs_out_at, policy=policy)


def wait_until(*, steps: int, sent_at: datetime, runs_out_at: datetime,
               policy: EscalationPolicy = EscalationPolicy()) -> datetime | None:
    """The next step's time with ``steps`` steps still to go (family contacts add steps between round
    2 and the field team): the remaining budget shared among them, at most one silence each."""
    if steps <= 0:
        return None
    silence = timedelta(minutes=policy.silence_minutes)
    deadline = runs_out_at - timedelta(minutes=policy.safety_margin_minutes)
    budget = (deadline - sent_at) / steps
    wait = max(timedelta(0), min(silence, budget))
    return sent_at + wait


def escalation_deadline(runs_out_at: datetime, policy: EscalationPolicy = EscalationPolicy()) -> datetime:
    return runs_out_at - timedelta(minutes=policy.safety_margin_minutes)


def channels_for_round(round_no: int, phone_kind: str | None) -> tuple[str, ...]:
    """Which channels a round uses. Japanese SMS cannot reach landlines or 050 IP phones, so they get
    voice (``registry.phones``)."""
    if round_no == ROUND_SMS:
        return ("sms",) if sms_capable_kind(phone_kind) else ("voice",)
    if round_no == ROUND_SMS_VOICE:
        return ("sms", "voice") if sms_capable_kind(phone_kind) else ("voice",)
    return ()

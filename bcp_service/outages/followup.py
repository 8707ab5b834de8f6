"""Follow-up after an answer: every affected patient keeps a next step until they are safe.

A check-in answer does not end the contact. The next re-check is the earlier of
* the tier's interval after the answer (``alerts/escalation.yaml``, ``followup.interval_minutes``:
  shorter as the tier worsens, shortest for someone who asked for urgent help), and
* a moment before the patient's own countdown ends: ``runs_out_at`` − the outage's safety margin −
  ``before_runout_lead_minutes`` (time for round 2 and the field team if the re-check meets silence),
but never sooner than ``min_interval_minutes`` from now. Nothing is planned once the patient is safe
(transport arrived), their power is back (restored), they left the area or the outage is over.

Pure: plain values in, a datetime (or None) out; the YAML is read by :func:`load_policy` only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import yaml

from bcp_service.outages.triage import TIERS

ESCALATION_YAML = Path(__file__).resolve().parents[2] / "alerts" / "escalation.yaml"


@dataclass(frozen=True)
class FollowupPolicy:
    interval_minutes: dict = field(default_factory=lambda: {"needs_help": 60.0, "red": 120.0, "yellow": 360.0,
                                                            "green": 720.0})
    before_runout_lead_minutes: float = 45.0
    min_interval_minutes: float = 15.0

    def __post_init__(self):
        missing = {"needs_help", *TIERS} - set(self.interval_minutes)
        if missing:
            raise ValueError(f"escalation.yaml followup.interval_minutes: missing {sorted(missing)}")
        if any(float(v) <= 0 for v in self.interval_minutes.values()):
            raise ValueError("escalation.yaml followup.interval_minutes: every interval must be positive")
        if self.before_runout_lead_minutes < 0 or self.min_interval_minutes <= 0:
            raise ValueError("escalation.yaml followup: lead >= 0 and min_interval > 0")

    def interval(self, *, tier: str, checkin: str) -> timedelta:
        key = "needs_help" if checkin == "needs_help" else tier
        minutes = float(self.interval_minutes[key])
        if checkin == "needs_help":     # never longer than the tier's own interval
            minutes = min(minutes, float(self.interval_minutes[tier]))
        return timedelta(minutes=minutes)


def policy_from_dict(raw: dict) -> FollowupPolicy:
    f = (raw or {}).get("followup") or {}
    default = FollowupPolicy()
    return FollowupPolicy(
        interval_minutes={**default.interval_minutes,
                          **{k: float(v) for k, v in (f.get("interval_minutes") or {}).items()}},
        before_runout_lead_minutes=float(f.get("before_runout_lead_minutes", default.before_runout_lead_minutes)),
        min_interval_minutes=float(f.get("min_interval_minutes", default.min_interval_minutes)))


@lru_cache(maxsize=4)
def load_policy(path: str | None = None) -> FollowupPolicy:
    with Path(path or ESCALATION_YAML).open(encoding="utf-8") as fh:
        return policy_from_dict(yaml.safe_load(fh) or {})


@dataclass(frozen=True)
class FollowupState:
    checkin: str
    tier: str
    runs_out_at: datetime
    in_area: bool = True
    restored: bool = False
    safe_at_facility: bool = False      # a transport has arrived
    covered: bool = False               # another active outage contacts them


def no_further_contact(s: FollowupState) -> bool:
    return s.restored or s.safe_at_facility or not s.in_area or s.covered


def runout_recheck_at(runs_out_at: datetime, *, safety_margin_minutes: float,
                      policy: FollowupPolicy) -> datetime:
    """The latest moment a re-check can go and still leave time to escalate before the margin."""
    return runs_out_at - timedelta(minutes=safety_margin_minutes + policy.before_runout_lead_minutes)


def next_recheck_at(s: FollowupState, *, now: datetime, safety_margin_minutes: float,
                    policy: FollowupPolicy) -> datetime | None:
    """When to contact this patient again after an answer (or after the field team was sent)."""
    if no_further_contact(s):
        return None
    by_tier = now + policy.interval(tier=s.tier, checkin=s.checkin)
    before_runout = runout_recheck_at(s.runs_out_at, safety_margin_minutes=safety_margin_minutes, policy=policy)
    floor = now + timedelta(minutes=policy.min_interval_minutes)
    return max(floor, min(by_tier, before_runout))


def awaiting_answer(*, round_no: int, round_sent_at: datetime | None, last_answer_at: datetime | None,
                    last_round: int = 3) -> bool:
    """A contact cycle is still open: a round went out and no answer came after it."""
    if round_sent_at is None or not (1 <= round_no < last_round):
        return False
    return last_answer_at is None or last_answer_at < round_sent_at

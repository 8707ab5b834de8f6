"""Escalation timing: silence → round 2 → field task, shrunk for short runways."""
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from bcp_service.outages.rounds import (
    EscalationPolicy, channels_for_round, escalation_deadline, next_action_at,
)

T0 = datetime(2026, 9, 1, 13, 0, tzinfo=timezone.utc)
POLICY = EscalationPolicy(silence_minutes=15, safety_margin_minutes=60)


def test_long_runway_waits_the_configured_silence():
    due = next_action_at(round_sent=1, sent_at=T0, runs_out_at=T0 + timedelta(hours=30), policy=POLICY)
    assert due == T0 + timedelta(minutes=15)
    custom = EscalationPolicy(silence_minutes=5)
    assert next_action_at(round_sent=2, sent_at=T0, runs_out_at=T0 + timedelta(hours=30),
                          policy=custom) == T0 + timedelta(minutes=5)


def test_short_runway_splits_what_is_left_before_the_safety_margin():
    # 80 min of power, 60 min margin: 20 min left for two steps → 10 min each.
    due = next_action_at(round_sent=1, sent_at=T0, runs_out_at=T0 + timedelta(minutes=80), policy=POLICY)
    assert due == T0 + timedelta(minutes=10)


def test_past_the_margin_escalates_immediately():
    due = next_action_at(round_sent=1, sent_at=T0, runs_out_at=T0 + timedelta(minutes=30), policy=POLICY)
    assert due == T0


def test_after_the_field_task_nothing_more_is_scheduled():
    assert next_action_at(round_sent=3, sent_at=T0, runs_out_at=T0 + timedelta(hours=1)) is None


def test_policy_rejects_nonsense():
    with pytest.raises(ValueError):
        EscalationPolicy(silence_minutes=0)


def test_landlines_get_voice_instead_of_sms():
    assert channels_for_round(1, "mobile") == ("sms",)
    assert channels_for_round(1, "landline") == ("voice",)
    assert channels_for_round(2, "mobile") == ("sms", "voice")
    assert channels_for_round(2, "landline") == ("voice",)
    assert channels_for_round(3, "mobile") == ()


@given(st.floats(-600, 3000), st.floats(1, 60), st.floats(0, 180))
def test_field_task_never_later_than_deadline_or_two_silences(runway_min, silence, margin):
    policy = EscalationPolicy(silence_minutes=silence, safety_margin_minutes=margin)
    runs_out = T0 + timedelta(minutes=runway_min)
    r2 = next_action_at(round_sent=1, sent_at=T0, runs_out_at=runs_out, policy=policy)
    field = next_action_at(round_sent=2, sent_at=r2, runs_out_at=runs_out, policy=policy)
    assert T0 <= r2 <= field
    assert field <= max(T0, escalation_deadline(runs_out, policy)) + timedelta(microseconds=1)
    assert field <= T0 + 2 * timedelta(minutes=silence)

"""Follow-up after an answer (issue 13, item 1) and the one-tap hours field (item 2): pure functions."""
from datetime import datetime, timedelta, timezone

import pytest

from bcp_service.messaging.hours_left import ERROR, parse_hours_left
from bcp_service.outages.followup import (
    FollowupPolicy, FollowupState, awaiting_answer, load_policy, next_recheck_at, policy_from_dict,
)
from bcp_service.outages.triage import TriageInput, order

T0 = datetime(2026, 9, 1, 0, 0, tzinfo=timezone.utc)
POLICY = FollowupPolicy()


def state(checkin="ok", tier="green", hours=100.0, **kw):
    return FollowupState(checkin=checkin, tier=tier, runs_out_at=T0 + timedelta(hours=hours), **kw)


def test_ok_patient_who_runs_out_before_restoration_is_rechecked_before_runout_minus_margin():
    # 10 h of power, red: the tier's 2 h interval comes first; the last check falls 1 h 45 before runout.
    assert next_recheck_at(state(tier="red", hours=10), now=T0, safety_margin_minutes=60, policy=POLICY) \
        == T0 + timedelta(hours=2)
    at_8h = T0 + timedelta(hours=8)
    assert next_recheck_at(state(tier="red", hours=10), now=at_8h, safety_margin_minutes=60, policy=POLICY) \
        == T0 + timedelta(hours=8, minutes=15)


def test_interval_shortens_as_the_tier_worsens_and_is_shortest_for_a_help_request():
    got = {t: next_recheck_at(state(tier=t), now=T0, safety_margin_minutes=60, policy=POLICY) - T0
           for t in ("green", "yellow", "red")}
    assert got["green"] > got["yellow"] > got["red"]
    helped = next_recheck_at(state("needs_help", tier="red"), now=T0, safety_margin_minutes=60, policy=POLICY)
    assert helped - T0 < got["red"]


def test_never_sooner_than_the_minimum_even_when_power_is_nearly_gone():
    assert next_recheck_at(state(tier="red", hours=0.5), now=T0, safety_margin_minutes=60, policy=POLICY) \
        == T0 + timedelta(minutes=15)


@pytest.mark.parametrize("kw", [dict(restored=True), dict(safe_at_facility=True), dict(in_area=False),
                                dict(covered=True)])
def test_no_further_contact_only_when_safe_restored_gone_or_covered(kw):
    assert next_recheck_at(state(**kw), now=T0, safety_margin_minutes=60, policy=POLICY) is None


def test_intervals_are_data_in_escalation_yaml():
    policy = load_policy()
    assert set(policy.interval_minutes) >= {"needs_help", "red", "yellow", "green"}
    custom = policy_from_dict({"followup": {"interval_minutes": {"green": 30}}})
    assert next_recheck_at(state(), now=T0, safety_margin_minutes=60, policy=custom) == T0 + timedelta(minutes=30)
    with pytest.raises(ValueError):
        policy_from_dict({"followup": {"interval_minutes": {"red": 0}}})


def test_a_cycle_waits_for_an_answer_only_after_a_round_went_out():
    sent = T0 + timedelta(hours=2)
    assert awaiting_answer(round_no=1, round_sent_at=sent, last_answer_at=None)
    assert awaiting_answer(round_no=2, round_sent_at=sent, last_answer_at=T0)           # answered the old cycle
    assert not awaiting_answer(round_no=1, round_sent_at=sent, last_answer_at=sent)
    assert not awaiting_answer(round_no=3, round_sent_at=sent, last_answer_at=None)     # field team sent
    assert not awaiting_answer(round_no=0, round_sent_at=None, last_answer_at=None)     # covered elsewhere


def test_triage_puts_needs_help_first_oldest_request_first_then_runway():
    rows = order([TriageInput(1, 2.0), TriageInput(2, 50.0, checkin="needs_help", help_requested_at=T0 + timedelta(minutes=9)),
                  TriageInput(3, 30.0, checkin="needs_help", help_requested_at=T0 + timedelta(minutes=3)),
                  TriageInput(4, 1.0, reported_at=T0, reported_hours=5)],
                 started_at=T0, now=T0, expected_restoration_at=None)
    assert [r.patient_id for r in rows] == [3, 2, 1, 4]
    assert [r.runs_out_source for r in rows] == ["registry", "registry", "registry", "reported"]


@pytest.mark.parametrize("raw, hours", [("3", 3.0), ("３", 3.0), ("1.5", 1.5), ("１．５", 1.5), ("2時間", 2.0),
                                        ("0", 0.0), ("72", 72.0), (" 4 ", 4.0)])
def test_hours_left_accepts_numbers_from_0_to_72(raw, hours):
    assert parse_hours_left(raw).hours == hours and parse_hours_left(raw).error is None


@pytest.mark.parametrize("raw", ["abc", "72.5", "100", "-1", "nan", "inf", "3時間半くらい", "1e9"])
def test_hours_left_refuses_anything_else_with_a_japanese_message(raw):
    assert parse_hours_left(raw) == type(parse_hours_left(raw))(error=ERROR)


def test_hours_left_may_be_left_empty():
    assert parse_hours_left("").hours is None and parse_hours_left(None).error is None

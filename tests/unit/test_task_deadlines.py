"""Pure parts of issue 19: the acknowledgement deadline from a patient's countdown, the device and
transport-need words of task texts, and the escalation wait once family contacts add steps."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bcp_service.outages import rounds, teams
from bcp_service.outages.contacts import label

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=timezone.utc)
POLICY = teams.TaskPolicy(share=0.25, min_minutes=5, max_minutes={"visit": 30, "transport": 15})


def test_deadline_is_a_share_of_the_budget_within_the_kinds_bounds():
    # 3 h left, 60 min margin → 120 min budget, a quarter is 30 min: the visit cap, above the transport cap.
    runs_out = NOW + timedelta(hours=3)
    assert teams.ack_deadline("visit", runs_out, now=NOW, policy=POLICY) == NOW + timedelta(minutes=30)
    assert teams.ack_deadline("transport", runs_out, now=NOW, policy=POLICY) == NOW + timedelta(minutes=15)
    # 100 min left: budget 40 min, a quarter is 10 min.
    assert teams.ack_deadline("visit", NOW + timedelta(minutes=100), now=NOW, policy=POLICY) == NOW + timedelta(minutes=10)


def test_a_patient_past_the_margin_still_gives_the_team_the_minimum():
    assert teams.ack_deadline("visit", NOW + timedelta(minutes=20), now=NOW, policy=POLICY) == NOW + timedelta(minutes=5)
    assert teams.ack_deadline("transport", NOW - timedelta(hours=1), now=NOW, policy=POLICY) == NOW + timedelta(minutes=5)


def test_unknown_countdown_gets_the_kinds_maximum():
    assert teams.ack_deadline("visit", None, now=NOW, policy=POLICY) == NOW + timedelta(minutes=30)


def test_the_shipped_policy_is_read_from_escalation_yaml():
    p = teams.load_task_policy()
    assert p.max_for("transport") <= p.max_for("visit") and 0 < p.share <= 1


@pytest.mark.parametrize("raw", [{"tasks": {"ack_share": 0}}, {"tasks": {"ack_min_minutes": 0}},
                                 {"tasks": {"ack_min_minutes": 40, "ack_max_minutes": {"visit": 30}}}])
def test_bad_task_policy_is_refused(raw):
    with pytest.raises(ValueError):
        teams.policy_from_dict(raw)


@pytest.mark.parametrize("kinds, phrase", [
    (["ventilator"], "人工呼吸器"), (["oxygen_concentrator"], "酸素濃縮装置"),
    (["suction", "ventilator"], "人工呼吸器・吸引器"), (["other"], "医療機器"), ([], "医療機器"),
])
def test_device_phrase_names_the_most_critical_device(kinds, phrase):
    assert teams.device_phrase([{"kind": k} for k in kinds]) == phrase


def test_transport_need_in_japanese():
    assert teams.needs_phrase("stretcher") == "ストレッチャー"
    assert teams.needs_phrase("wheelchair") == "車いす"
    assert teams.needs_phrase(None) == "搬送手段未登録"


def test_contacts_share_the_budget_before_the_field_team():
    policy = rounds.EscalationPolicy(silence_minutes=15, safety_margin_minutes=60)
    # Plenty of time: one silence per step.
    assert rounds.wait_until(steps=3, sent_at=NOW, runs_out_at=NOW + timedelta(hours=6), policy=policy) == \
        NOW + timedelta(minutes=15)
    # 90 min left, 30 min budget, three steps to go (two contacts, then the field team): 10 min each.
    assert rounds.wait_until(steps=3, sent_at=NOW, runs_out_at=NOW + timedelta(minutes=90), policy=policy) == \
        NOW + timedelta(minutes=10)
    assert rounds.wait_until(steps=0, sent_at=NOW, runs_out_at=NOW, policy=policy) is None


def test_contact_label():
    assert label(1, "長女") == "連絡先1（長女）" and label(2, None) == "連絡先2"

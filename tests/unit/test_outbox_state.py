"""The outbox state machine: stored values unchanged, callbacks only ever move a row forward."""
import pytest

from bcp_service.messaging.outbox_state import FINAL, OutboxStatus, after_callback, from_provider, may_move

S = OutboxStatus


def test_stored_values_are_the_historic_strings():
    assert [s.value for s in S] == ["queued", "sending", "sent", "delivered", "undelivered", "failed", "cancelled"]
    assert S.QUEUED == "queued" and f"{S.SENT}" == "sent"


@pytest.mark.parametrize("current, provider, new", [
    ("sending", "sent", S.SENT), ("sent", "delivered", S.DELIVERED), ("queued", "delivered", S.DELIVERED),
    ("sent", "failed", S.UNDELIVERED), ("sending", "ringing", S.SENT), ("sent", "completed", S.DELIVERED),
    ("cancelled", "delivered", S.DELIVERED),   # an earlier attempt of a cancelled row did go out
    ("delivered", "sent", None), ("delivered", "undelivered", None), ("failed", "delivered", None),
    ("sent", "sent", None), ("sent", "queued", None), ("sent", "accepted", None), ("sent", None, None),
])
def test_a_callback_moves_a_row_only_forward(current, provider, new):
    assert after_callback(current, provider) == new


def test_provider_status_is_case_insensitive():
    assert from_provider("Delivered") is S.DELIVERED and from_provider("") is None


def test_every_callback_move_is_a_declared_transition_and_final_states_stay():
    for current in S:
        for provider in ("sending", "sent", "delivered", "read", "undelivered", "failed", "completed", "busy",
                         "no-answer", "canceled", "ringing", "in-progress", "initiated"):
            new = after_callback(current, provider)
            if new is not None:
                assert may_move(current, new), (current, provider, new)
    for final in FINAL - {S.CANCELLED}:
        assert not any(may_move(final, other) for other in S)

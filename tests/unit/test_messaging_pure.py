"""Pure messaging pieces: one-tap tokens, error classification, backoff, token bucket."""

from datetime import datetime, timezone

import pytest

from bcp_service.messaging.channels import classify
from bcp_service.messaging.policy import TokenBucket, backoff_delay, next_attempt_at
from bcp_service.messaging.tokens import InvalidToken, TapClaims, make_token, read_token


def test_token_round_trip_and_is_short_enough_for_sms():
    claims = TapClaims("checkin", 123456, 12345)
    token = make_token("s3cret", claims)
    assert read_token("s3cret", token) == claims
    assert len(token) <= 42


def test_token_signed_with_another_key_is_rejected():
    token = make_token("s3cret", TapClaims("checkin", 1, 2))
    with pytest.raises(InvalidToken):
        read_token("other", token)


def test_tampered_token_is_rejected():
    token = make_token("s3cret", TapClaims("checkin", 1, 2))
    forged = "c-2-2." + token.split(".")[1]
    with pytest.raises(InvalidToken):
        read_token("s3cret", forged)
    with pytest.raises(InvalidToken):
        read_token("s3cret", "garbage")


@pytest.mark.parametrize("status, code, outcome", [
    (429, 20429, "retry"), (429, None, "retry"), (500, None, "retry"), (503, 20500, "retry"),
    (None, None, "retry"), (400, 21211, "permanent"), (400, 21610, "opted_out"),
    (400, 21614, "fallback"), (400, 21408, "permanent"), (401, 20003, "permanent"),
])
def test_provider_errors_are_classified(status, code, outcome):
    assert classify(status, code) == outcome


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    assert backoff_delay(1, rand=lambda: 0.0) == 2.5
    assert backoff_delay(1, rand=lambda: 1.0) == 5.0
    assert backoff_delay(3, rand=lambda: 1.0) == 20.0
    assert backoff_delay(30, rand=lambda: 1.0) == 300.0
    assert backoff_delay(30, rand=lambda: 0.0) == 150.0
    with pytest.raises(ValueError):
        backoff_delay(0)


def test_next_attempt_is_in_the_future():
    now = datetime(2026, 11, 24, tzinfo=timezone.utc)
    assert next_attempt_at(now, 2, rand=lambda: 0.5) > now


class FakeTime:
    def __init__(self):
        self.t = 0.0

    def monotonic(self):
        return self.t

    def sleep(self, s):
        self.t += s


def test_token_bucket_holds_the_configured_rate_after_the_initial_burst():
    ft = FakeTime()
    bucket = TokenBucket(100, monotonic=ft.monotonic, sleep=ft.sleep)
    for _ in range(100 + 500):
        bucket.acquire()
    assert ft.t == pytest.approx(5.0, rel=1e-6)


def test_token_bucket_reports_wait_without_taking():
    ft = FakeTime()
    bucket = TokenBucket(2, capacity=1, monotonic=ft.monotonic, sleep=ft.sleep)
    assert bucket.try_acquire() == 0.0
    assert bucket.try_acquire() == pytest.approx(0.5)
    ft.t += 0.5
    assert bucket.try_acquire() == 0.0


def test_dispatcher_claims_a_few_seconds_of_sending_and_never_more_than_half_a_lease():
    from bcp_service.messaging.channels import ConsoleChannel
    from bcp_service.messaging.dispatcher import DispatchConfig, Dispatcher

    def d(rate, batch=200, lease=120, claim=5):
        cfg = DispatchConfig(public_base_url="http://x", secret="s", rate_per_second=rate, batch=batch,
                             lease_seconds=lease, claim_seconds=claim)
        return Dispatcher(lambda: None, ConsoleChannel(), cfg, now=lambda: None).batch_limit()

    assert d(100) == 200                     # the configured batch caps fast rates
    assert d(10) == 50                       # 5 s of sending at the default rate
    assert d(1, claim=300) == 60             # half a lease caps a long claim
    assert d(0.01) == 1


def test_escalation_defaults_load_from_alerts_yaml():
    from bcp_service.messaging.policy import load_escalation

    e = load_escalation()
    assert (e.base_seconds, e.cap_seconds, e.max_attempts, e.lease_seconds) == (5.0, 300.0, 12, 120.0)
    assert e.voice_for == frozenset({"checkin"})


@pytest.mark.parametrize("raw", [
    {"retry": {"base_seconds": 0}}, {"retry": {"base_seconds": 600, "cap_seconds": 300}},
    {"retry": {"max_attempts": 0}}, {"lease_seconds": 1}, {"fallback": {"voice_for": ["field_task"]}},
])
def test_impossible_escalation_settings_are_refused(raw):
    from bcp_service.messaging.policy import escalation_from_dict

    with pytest.raises(ValueError):
        escalation_from_dict(raw)


def test_backoff_uses_configured_base_and_cap():
    assert backoff_delay(1, base=2, cap=10, rand=lambda: 1.0) == 2
    assert backoff_delay(5, base=2, cap=10, rand=lambda: 1.0) == 10


def test_drain_finishes_the_pass_in_hand_and_stops_when_the_clock_is_stopping():
    import threading

    from bcp_service.messaging.channels import ConsoleChannel
    from bcp_service.messaging.dispatcher import DispatchConfig, Dispatcher, DispatchStats

    stop = threading.Event()

    class Busy(Dispatcher):
        passes = 0

        def run_once(self):               # a backlog that never ends
            self.passes += 1
            if self.passes == 2:
                stop.set()                # SIGTERM arrives during the second pass
            return DispatchStats(claimed=10, sent=10)

    d = Busy(lambda: None, ConsoleChannel(), DispatchConfig(public_base_url="http://x", secret="s"),
             now=lambda: None)
    assert d.drain(stop=stop).sent == 20 and d.passes == 2
    stop.clear()
    d.passes = 0
    assert d.drain(max_passes=5).sent == 50      # without a stop it runs to its limit

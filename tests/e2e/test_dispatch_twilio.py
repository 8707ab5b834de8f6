"""The dispatcher with the real twilio client against the loopback fake: retries, permanent errors,
fallback to voice, opt-outs, priority order after a provider outage. Time moves by an injected clock."""
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from bcp_service.db import db
from bcp_service.messaging import outbox
from bcp_service.messaging.dispatcher import DispatchConfig, Dispatcher
from bcp_service.messaging.channels import SendError, TwilioChannel
from bcp_service.messaging.models import OptOut, OutboxMessage
from tests.e2e.twilio_fake import ACCOUNT_SID, AUTH_TOKEN

PHONE = "+819000000001"


class NoSleep:
    """Token bucket time that advances when asked to sleep (no real waiting in tests)."""

    def __init__(self):
        self.t = 0.0

    def monotonic(self):
        return self.t

    def sleep(self, s):
        self.t += s


@pytest.fixture
def channel(twilio_fake):
    return TwilioChannel(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number="+815000000000",
                         api_base=twilio_fake.base_url, timeout=5)


@pytest.fixture
def dispatcher(app, channel, clock):
    ns = NoSleep()
    cfg = DispatchConfig(public_base_url="http://bcp.test", secret=app.config["SECRET_KEY"],
                         rate_per_second=1000, concurrency=8, batch=100, lease_seconds=60)
    return Dispatcher(db.session_factory, channel, cfg, now=clock.now, monotonic=ns.monotonic,
                      sleep=ns.sleep, rand=lambda: 1.0)


def _escalate_to(app, handler) -> None:
    """This test's app escalates undeliverable messages to ``handler`` only (the hooks live on the app)."""
    app.extensions["answers"] = replace(app.extensions["answers"], escalations=(handler,))


def _row(session, key):
    session.expire_all()
    return session.scalars(select(OutboxMessage).where(OutboxMessage.key == key)).one()


def test_429_then_500_then_success_sends_exactly_once(session, clock, twilio_fake, dispatcher):
    outbox.enqueue(session, key="k1", to=PHONE, body="安否確認", purpose="checkin")
    session.commit()
    twilio_fake.fail_next(429, 20429)
    twilio_fake.fail_next(500)

    s1 = dispatcher.run_once()
    assert (s1.claimed, s1.retried, s1.sent) == (1, 1, 0)
    row = _row(session, "k1")
    assert row.status == "queued" and row.next_attempt_at == clock.now() + timedelta(seconds=5)
    assert dispatcher.run_once().claimed == 0            # not due yet: backoff holds

    clock.advance(seconds=5)
    assert dispatcher.run_once().retried == 1
    clock.advance(seconds=10)
    assert dispatcher.run_once().sent == 1
    clock.advance(hours=1)
    assert dispatcher.run_once().claimed == 0

    row = _row(session, "k1")
    assert row.status == "sent" and row.attempts == 3 and row.provider_id.startswith("SM")
    assert len(twilio_fake.messages) == 1 and twilio_fake.requests_seen == 3
    assert twilio_fake.messages[0]["status_callback"] == f"http://bcp.test/sms/status?o={row.id}"


def test_invalid_number_fails_permanently_and_escalates(app, session, twilio_fake, dispatcher):
    seen = []
    _escalate_to(app, lambda s, msg, reason, now: seen.append((msg.key, reason)))
    twilio_fake.fail_number("+819000000002", 400, 21211)
    outbox.enqueue(session, key="bad", to="+819000000002", body="x", purpose="field_task")
    session.commit()
    stats = dispatcher.run_once()
    row = _row(session, "bad")
    assert (row.status, row.error_code, stats.failed) == ("failed", 21211, 1)
    assert seen == [("bad", "permanent")] and row.escalated_at is not None


def test_landline_sms_falls_back_to_a_voice_call_with_the_checkin_twiml(session, twilio_fake, dispatcher):
    twilio_fake.fail_number("+81312345678", 400, 21614)
    outbox.enqueue(session, key="outage:1:patient:9:round:1:sms", to="+81312345678", body="x",
                   purpose="checkin", patient_id=9, outage_id=1, round=1)
    session.commit()
    dispatcher.run_once()
    twilio_fake.clear_number("+81312345678")
    dispatcher.run_once()
    sms = _row(session, "outage:1:patient:9:round:1:sms")
    voice = _row(session, "outage:1:patient:9:round:1:sms:fallback:voice")
    assert sms.status == "failed" and sms.error_code == 21614
    assert voice.status == "sent" and voice.fallback_of_id == sms.id and voice.provider_id.startswith("CA")
    assert twilio_fake.calls[0]["url"].startswith("http://bcp.test/voice/checkin?t=")


def test_opted_out_number_is_recorded_and_later_sms_are_not_attempted(session, twilio_fake, dispatcher):
    twilio_fake.fail_number(PHONE, 400, 21610)
    outbox.enqueue(session, key="a", to=PHONE, body="x", purpose="restoration")
    session.commit()
    dispatcher.run_once()
    assert session.get(OptOut, PHONE) is not None
    seen = twilio_fake.requests_seen
    outbox.enqueue(session, key="b", to=PHONE, body="y", purpose="restoration")
    session.commit()
    dispatcher.run_once()
    assert twilio_fake.requests_seen == seen and _row(session, "b").status == "failed"


def test_provider_down_five_minutes_then_backlog_drains_in_priority_order(session, clock, twilio_fake, dispatcher):
    rows = [dict(key=f"p:{i}", to=f"+8190000{i:05d}", body="安否確認", purpose="checkin", priority=p)
            for i, p in enumerate([50, 10, 40, 0, 30, 20, 60, 5])]
    outbox.enqueue_many(session, rows)
    session.commit()
    twilio_fake.down = True
    for _ in range(10):                     # five minutes of 30-second beats against a dead provider
        dispatcher.run_once()
        clock.advance(seconds=30)
    assert twilio_fake.messages == []
    assert {r.status for r in session.scalars(select(OutboxMessage))} == {"queued"}
    twilio_fake.down = False
    dispatcher.config = DispatchConfig(**{**dispatcher.config.__dict__, "concurrency": 1})
    clock.advance(minutes=10)               # every backoff has run out
    stats = dispatcher.drain()
    assert stats.sent == 8
    to_priority = {r["to"]: r["priority"] for r in rows}
    sent_priorities = [to_priority[m["to"]] for m in twilio_fake.messages]
    assert sent_priorities == sorted(sent_priorities)


def test_bounded_concurrency_overlaps_provider_latency(session, twilio_fake, dispatcher):
    twilio_fake.latency = 0.2
    outbox.enqueue_many(session, [dict(key=f"c:{i}", to=f"+8190000{i:05d}", body="x", purpose="checkin")
                                  for i in range(16)])
    session.commit()
    assert dispatcher.run_once().sent == 16
    # Several requests were at the provider at once, and never more than the configured 8.
    assert 2 <= twilio_fake.max_in_flight <= 8


def test_expired_lease_is_recovered_and_sent_once(session, clock, twilio_fake, dispatcher):
    from bcp_service.messaging.claims import claim_due

    outbox.enqueue(session, key="stuck", to=PHONE, body="x", purpose="checkin")
    session.commit()
    other = db.session_factory()
    claimed = claim_due(other, now=clock.now(), limit=10, lease_seconds=60)   # a dispatcher that then died
    other.commit()
    other.close()
    assert [c.key for c in claimed] == ["stuck"]
    assert dispatcher.run_once().claimed == 0          # lease still held
    clock.advance(seconds=61)
    s = dispatcher.run_once()
    assert (s.recovered, s.sent) == (1, 1)
    assert _row(session, "stuck").attempts == 2 and len(twilio_fake.messages) == 1


def test_retries_exhausted_give_up_and_escalate(app, session, clock, twilio_fake, dispatcher):
    seen = []
    _escalate_to(app, lambda s, msg, reason, now: seen.append((msg.key, reason)))
    dispatcher.config = DispatchConfig(**{**dispatcher.config.__dict__, "max_attempts": 3})
    twilio_fake.down = True
    outbox.enqueue(session, key="doomed", to=PHONE, body="x", purpose="field_task")
    session.commit()
    for _ in range(5):
        dispatcher.run_once()
        clock.advance(minutes=10)
    row = _row(session, "doomed")
    assert (row.status, row.attempts, row.error_code) == ("failed", 3, 503)
    # Three attempts: a send answered 503 (maybe taken), then two lookups that could not tell whether
    # the provider had it — so nothing was sent blind.
    assert seen == [("doomed", "retry")] and (twilio_fake.requests_seen, twilio_fake.lookups) == (1, 2)


def test_unknown_outbox_purpose_for_voice_without_twiml_is_escalated_not_sent(session, twilio_fake, dispatcher):
    outbox.enqueue(session, key="v", to=PHONE, channel="voice", purpose="field_task")
    session.commit()
    dispatcher.run_once()
    assert _row(session, "v").status == "failed" and twilio_fake.calls == []


def test_messages_to_one_person_go_out_in_enqueue_order(session, twilio_fake, dispatcher):
    twilio_fake.latency = 0.02
    outbox.enqueue_many(session, [dict(key=f"o:{i}", to=PHONE if i % 2 else f"+8190000{i:05d}", body=f"{i}",
                                       purpose="drill") for i in range(20)])
    session.commit()
    assert dispatcher.run_once().sent == 20
    assert [m["body"] for m in twilio_fake.messages if m["to"] == PHONE] == [str(i) for i in range(1, 20, 2)]


def test_api_base_override_holds_even_with_twilio_edge_and_region_set(monkeypatch, twilio_fake):
    monkeypatch.setenv("TWILIO_EDGE", "tokyo")
    monkeypatch.setenv("TWILIO_REGION", "jp1")
    ch = TwilioChannel(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number="+815000000000",
                       api_base=twilio_fake.base_url, timeout=5)
    assert ch.send_sms(PHONE, "試験", callback_url=None).provider_id.startswith("SM")
    assert len(twilio_fake.messages) == 1


def test_wrong_credentials_are_a_permanent_error_not_a_retry(twilio_fake):
    ch = TwilioChannel(account_sid=ACCOUNT_SID, auth_token="wrong", from_number="+815000000000",
                       api_base=twilio_fake.base_url, timeout=5)
    with pytest.raises(SendError) as exc:
        ch.send_sms(PHONE, "x", callback_url=None)
    assert (exc.value.status, exc.value.code, exc.value.outcome) == (401, 20003, "permanent")


def test_unreachable_provider_is_retried():
    ch = TwilioChannel(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number="+815000000000",
                       api_base="http://127.0.0.1:9", timeout=2)
    with pytest.raises(SendError) as exc:
        ch.send_sms(PHONE, "x", callback_url=None)
    assert exc.value.status is None and exc.value.outcome == "retry"


def test_dispatcher_that_died_after_the_provider_accepted_is_not_resent(session, clock, twilio_fake, channel,
                                                                        dispatcher):
    """The crash window: the provider accepted the SMS, the dispatcher died before recording it and no
    status callback came. The next dispatcher asks the provider and records what it finds."""
    from bcp_service.messaging.claims import claim_due

    twilio_fake.now = clock.now
    outbox.enqueue(session, key="accepted-then-died", to=PHONE, body="安否確認 https://bcp.test/r/abc",
                   purpose="checkin")
    outbox.enqueue(session, key="claimed-not-sent", to="+819000000002", body="安否確認 https://bcp.test/r/def",
                   purpose="checkin")
    session.commit()
    other = db.session_factory()
    claimed = claim_due(other, now=clock.now(), limit=10, lease_seconds=60)
    other.commit()
    other.close()
    receipt = channel.send_sms(claimed[0].to, claimed[0].body, callback_url=None)   # then SIGKILL
    # The same number got another text earlier, and the same text went to someone else: neither is ours.
    twilio_fake.messages.insert(0, {"sid": "SM" + "1" * 32, "to": PHONE, "from": "+815000000000",
                                    "body": "前の連絡", "status": "delivered", "status_callback": None,
                                    "date_created": clock.now()})
    clock.advance(seconds=61)
    s = dispatcher.run_once()
    assert (s.recovered, s.reconciled, s.sent) == (2, 1, 2)
    row = _row(session, "accepted-then-died")
    assert row.status == "sent" and row.provider_id == receipt.provider_id and row.unknown_since is None
    assert [m["to"] for m in twilio_fake.messages[1:]] == [PHONE, "+819000000002"]   # one each, no resend
    assert twilio_fake.lookups == 2


def test_timed_out_request_that_the_provider_took_is_not_sent_twice(app, session, clock, twilio_fake):
    twilio_fake.now = clock.now
    slow = TwilioChannel(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number="+815000000000",
                         api_base=twilio_fake.base_url, timeout=0.3)
    cfg = DispatchConfig(public_base_url="http://bcp.test", secret=app.config["SECRET_KEY"],
                         rate_per_second=1000, concurrency=1, batch=10, lease_seconds=60)
    d = Dispatcher(db.session_factory, slow, cfg, now=clock.now, rand=lambda: 1.0)
    outbox.enqueue(session, key="slow", to=PHONE, body="安否確認", purpose="checkin")
    session.commit()
    twilio_fake.latency = 1.0                     # the provider answers after we gave up waiting
    s1 = d.run_once()
    assert (s1.retried, s1.sent) == (1, 0)
    while twilio_fake.in_flight or not twilio_fake.messages:
        time.sleep(0.05)
    twilio_fake.latency = 0
    row = _row(session, "slow")
    assert row.status == "queued" and row.unknown_since is not None
    clock.advance(seconds=10)                     # past the retry's backoff
    s2 = d.run_once()
    assert (s2.reconciled, s2.sent) == (1, 1)
    assert len(twilio_fake.messages) == 1 and _row(session, "slow").provider_id == twilio_fake.messages[0]["sid"]


def test_when_the_provider_cannot_be_asked_nothing_is_sent_blind(session, clock, twilio_fake, dispatcher):
    from bcp_service.messaging.claims import claim_due

    outbox.enqueue(session, key="unsure", to=PHONE, body="x", purpose="checkin")
    session.commit()
    other = db.session_factory()
    claim_due(other, now=clock.now(), limit=10, lease_seconds=60)
    other.commit()
    other.close()
    clock.advance(seconds=61)
    twilio_fake.down = True                        # lookups and creates both answer 503
    s = dispatcher.run_once()
    assert (s.recovered, s.sent, s.retried) == (1, 0, 1) and twilio_fake.messages == []
    row = _row(session, "unsure")
    assert row.status == "queued" and row.unknown_since is not None
    twilio_fake.down = False
    clock.advance(seconds=30)
    s = dispatcher.run_once()
    assert (s.reconciled, s.sent) == (0, 1) and len(twilio_fake.messages) == 1

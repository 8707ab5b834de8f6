"""Kill the dispatcher (SIGKILL, a real subprocess) in the middle of a 1,000-message fan-out, restart
it, and check that no message is lost and no key is sent twice.

The window — the provider accepted a message but we died before committing its id — is closed two
ways: by the status callbacks, which carry our row id (``?o=<id>``) and reconcile the row (first
test), and, when no callback arrives in time, by the restarted dispatcher asking the provider for
what it already accepted before resending anything (second test).

A third test restarts the way production does — a new clock process takes the leader lock — and
checks that the dead dispatcher's claims are recovered at once, not after their lease: every
check-in of the interrupted fan-out is at the provider within 30 s of the new clock starting.

Run as a script, this module is the dispatcher worker the tests start and kill.
"""
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from bcp_service.db import db
from bcp_service.messaging import outbox
from bcp_service.messaging.channels import TwilioChannel
from bcp_service.messaging.dispatcher import DispatchConfig, Dispatcher
from bcp_service.messaging.models import OutboxMessage
from tests.e2e.twilio_fake import ACCOUNT_SID, AUTH_TOKEN

ROOT = Path(__file__).resolve().parents[2]
N = 1000
CONCURRENCY = 8
COMMIT_EVERY = 20
BATCH = 100
KILL_AT = 310          # accepted by the provider; not a multiple of COMMIT_EVERY, so some are unrecorded
T0 = datetime(2026, 11, 24, 1, 0, tzinfo=timezone.utc)   # the app fixture's frozen clock


def _config(secret: str) -> DispatchConfig:
    return DispatchConfig(public_base_url="http://bcp.test", secret=secret, rate_per_second=100_000,
                          concurrency=CONCURRENCY, batch=BATCH, lease_seconds=60, commit_every=COMMIT_EVERY)


def _channel(base: str) -> TwilioChannel:
    return TwilioChannel(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number="+815000000000",
                         api_base=base, timeout=10)


@pytest.fixture
def app_config():
    return {"TWILIO_AUTH_TOKEN": AUTH_TOKEN, "PUBLIC_BASE_URL": "http://bcp.test"}


def _fan_out_and_kill(app, session, twilio_fake) -> tuple[int, int]:
    rows = [dict(key=f"outage:1:patient:{i}:round:1:sms", to=f"+8190{i:08d}", body="【停電安否確認】試験",
                 purpose="checkin", patient_id=i, outage_id=1, round=1, priority=i % 50) for i in range(N)]
    outbox.enqueue_many(session, rows)
    session.commit()
    twilio_fake.latency = 0.01
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tests.e2e.test_dispatch_kill", app.config["DATABASE_URL"],
                             twilio_fake.base_url, app.config["SECRET_KEY"]], cwd=ROOT, env=env)
    deadline = time.monotonic() + 120
    while len(twilio_fake.messages) < KILL_AT:
        assert proc.poll() is None, "worker exited before it could be killed"
        assert time.monotonic() < deadline, "worker made no progress"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # Requests the dead worker had already sent still complete at the provider: let them land.
    while twilio_fake.in_flight:
        time.sleep(0.01)
    accepted_at_kill = len(twilio_fake.messages)
    session.expire_all()
    committed = len(session.scalars(select(OutboxMessage.id).where(OutboxMessage.status == "sent")).all())
    assert 0 < accepted_at_kill < N, "the kill must land mid fan-out"
    return accepted_at_kill, committed


def _restart(app, twilio_fake, clock):
    later = clock.now() + timedelta(seconds=61)   # past every lease the dead worker held
    return Dispatcher(db.session_factory, _channel(twilio_fake.base_url), _config(app.config["SECRET_KEY"]),
                      now=lambda: later).drain()


def _assert_none_lost(session):
    session.expire_all()
    rows = session.scalars(select(OutboxMessage)).all()
    assert len(rows) == N
    assert Counter(r.status for r in rows) == Counter({"sent": N}) or all(r.status in ("sent", "delivered") for r in rows)


def test_sigkill_mid_fan_out_with_callbacks_loses_nothing_and_sends_each_key_once(app, session, client, clock,
                                                                                twilio_fake):
    accepted, committed = _fan_out_and_kill(app, session, twilio_fake)

    # Status callbacks for what the provider accepted arrive (signed), and reconcile our rows.
    def post(url, form, headers):
        assert client.post(url.replace("http://bcp.test", ""), data=form, headers=headers).status_code == 204
    twilio_fake.callbacks(post, status="sent")

    _restart(app, twilio_fake, clock)
    _assert_none_lost(session)
    sent_per_id = Counter(twilio_fake.keys_sent())
    assert len(sent_per_id) == N and max(sent_per_id.values()) == 1, \
        f"duplicates: {[k for k, v in sent_per_id.items() if v > 1][:5]}"
    print(f"\nkilled with {accepted} accepted, {committed} committed; after restart: {N} sent, 0 duplicates")


def test_sigkill_without_callbacks_loses_nothing_and_asks_the_provider_before_resending(app, session, clock,
                                                                                       twilio_fake):
    twilio_fake.now = lambda: T0 + timedelta(seconds=1)      # the provider's clock agrees with ours
    accepted, committed = _fan_out_and_kill(app, session, twilio_fake)
    stats = _restart(app, twilio_fake, clock)
    _assert_none_lost(session)
    sent_per_id = Counter(twilio_fake.keys_sent())
    assert len(sent_per_id) == N and max(sent_per_id.values()) == 1, \
        f"duplicates: {[k for k, v in sent_per_id.items() if v > 1][:5]}"
    # Exactly the rows the provider had but we had not recorded were found by lookup, not resent.
    assert stats.reconciled == accepted - committed
    print(f"\nno callbacks: killed with {accepted} accepted, {committed} committed; "
          f"{stats.reconciled} found at the provider, {stats.sent - stats.reconciled} sent; 0 duplicates")


RECOVERY_SECONDS = 30


@pytest.mark.sqlite_smoke
def test_a_new_clock_recovers_the_killed_dispatchers_claims_within_30_seconds(app, session, clock, twilio_fake):
    """The app's clock stays at T0: every lease the dead worker took (60 s) is still running, so only
    the takeover (``takeover.take_over``, run when the clock gets the leader lock) can free them."""
    from bcp_service import scheduler
    from bcp_service.messaging import wakeup

    twilio_fake.now = lambda: T0 + timedelta(seconds=1)
    accepted, committed = _fan_out_and_kill(app, session, twilio_fake)
    session.expire_all()
    claimed = {str(i) for i in session.scalars(select(OutboxMessage.id).where(OutboxMessage.status == "sending"))}
    assert claimed, "the kill must leave claims behind"
    session.rollback()
    db.session.remove()
    app.config.update(MESSAGING_CHANNEL="twilio", TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_FROM="+815000000000",
                      TWILIO_API_BASE=twilio_fake.base_url, SMS_RATE_PER_SECOND=100_000,
                      DISPATCH_CONCURRENCY=CONCURRENCY)
    app.extensions.pop("messaging.channel", None)
    wakeup.committed.clear()
    stop = threading.Event()
    started = time.monotonic()
    thread = threading.Thread(target=scheduler.run_clock, args=(app,), kwargs={"stop_event": stop}, daemon=True)
    thread.start()
    try:
        while len(set(twilio_fake.keys_sent())) < N and time.monotonic() - started < RECOVERY_SECONDS + 5:
            time.sleep(0.05)
        took = time.monotonic() - started
    finally:
        stop.set()
        thread.join(timeout=30)
    sent_per_id = Counter(twilio_fake.keys_sent())
    missing = claimed - set(sent_per_id)
    assert not missing, f"{len(missing)} claims of the killed dispatcher never reached the provider"
    assert len(sent_per_id) == N and took <= RECOVERY_SECONDS, f"{len(sent_per_id)} of {N} after {took:.1f} s"
    assert max(sent_per_id.values()) == 1, f"duplicates: {[k for k, v in sent_per_id.items() if v > 1][:5]}"
    _assert_none_lost(session)
    print(f"\nnew clock: {len(claimed)} claims recovered, all {N} at the provider {took:.1f} s after it started "
          f"(killed with {accepted} accepted, {committed} committed)")


if __name__ == "__main__":
    # The worker: dispatch everything due at T0 until killed.
    from bcp_service.db import import_all_models, make_engine
    from sqlalchemy.orm import sessionmaker

    import_all_models()
    url, base, secret = sys.argv[1:4]
    factory = sessionmaker(bind=make_engine(url), expire_on_commit=False)
    Dispatcher(factory, _channel(base), _config(secret), now=lambda: T0).drain()

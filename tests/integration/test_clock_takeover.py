"""A clock that takes the leader lock recovers the claims of the dispatcher it replaces at once (issue 12,
item 5): rows left ``sending`` are queued again, due now and marked unknown (the provider is asked
before any is sent again), instead of waiting for their 120 s lease."""
import threading
import time

from sqlalchemy import select, update

from bcp_service import scheduler as clock_module
from bcp_service.db import db
from bcp_service.messaging import outbox
from bcp_service.messaging.claims import claim_due, recover_expired, recover_orphaned
from bcp_service.messaging.takeover import take_over
from bcp_service.messaging.models import OutboxMessage
from bcp_service.scheduler import Schedule, Tick


def _fan_out(session, clock, n=5):
    for i in range(n):
        outbox.enqueue(session, key=f"outage:1:patient:{i}:round:1:sms", to=f"+8190000000{i:02d}",
                       body="【停電安否確認】試験", purpose="checkin", patient_id=i, outage_id=1, round=1,
                       now=clock.now())
    session.commit()


def _claim(session, clock, limit):
    """The replaced clock's dispatcher claimed ``limit`` rows (lease 120 s) and then died."""
    claimed = claim_due(session, now=clock.now(), limit=limit, lease_seconds=120)
    session.commit()
    return {c.id for c in claimed}


def _rows(session):
    session.expire_all()
    return {r.id: r for r in session.scalars(select(OutboxMessage))}


def test_lease_recovery_alone_waits_two_minutes(session, clock):
    _fan_out(session, clock)
    _claim(session, clock, 3)
    clock.advance(seconds=30)
    assert recover_expired(session, now=clock.now()) == 0      # the problem: 30 s on, still held
    session.commit()
    assert sum(r.status == "sending" for r in _rows(session).values()) == 3


def test_recover_orphaned_queues_every_claim_now_and_marks_it_unknown(session, clock):
    _fan_out(session, clock)
    claimed = _claim(session, clock, 3)
    sent_id = next(iter(claimed))
    session.execute(update(OutboxMessage).where(OutboxMessage.id == sent_id)
                    .values(status="sent", provider_id="SM1", lease_until=None))
    session.commit()
    claimed_at = clock.now()
    clock.advance(seconds=5)
    assert recover_orphaned(session, now=clock.now()) == 2
    session.commit()
    rows = _rows(session)
    for oid in claimed - {sent_id}:
        r = rows[oid]
        assert (r.status, r.lease_until, r.next_attempt_at) == ("queued", None, clock.now())
        assert r.unknown_since == claimed_at        # the attempt began when it was claimed: ask since then
        assert r.attempts == 1                       # the dead attempt still counts
    assert rows[sent_id].status == "sent" and rows[sent_id].unknown_since is None
    assert all(r.unknown_since is None for oid, r in rows.items() if oid not in claimed)


def test_take_over_is_wired_to_run_when_a_clock_gets_the_lock(app):
    assert [h.run for h in app.extensions["schedule"].on_leader] == [take_over]


def test_a_new_clock_runs_take_over_as_soon_as_it_holds_the_lock(app, session, clock):
    _fan_out(session, clock)
    claimed = _claim(session, clock, 4)
    db.session.remove()
    ran = threading.Event()

    def hook(app_):
        take_over(app_)
        ran.set()

    # Only the leader hook: this test's schedule has no dispatcher job that could send the rows.
    app.extensions["schedule"] = Schedule(on_leader=(Tick("messaging.take_over", hook),))
    stop = threading.Event()
    thread = threading.Thread(target=clock_module.run_clock, args=(app,), kwargs={"stop_event": stop}, daemon=True)
    started = time.monotonic()
    thread.start()
    try:
        assert ran.wait(10), "the leader hook did not run"
        took = time.monotonic() - started
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    rows = _rows(session)
    assert all(rows[i].status == "queued" and rows[i].unknown_since is not None for i in claimed)
    assert took < 5
    # The dispatcher may take them at once (the clock has not moved: their old leases would still run).
    again = claim_due(session, now=clock.now(), limit=10, lease_seconds=120)
    assert claimed <= {c.id for c in again}
    assert all(c.unknown_since is not None for c in again if c.id in claimed)
    session.rollback()


def test_a_failing_leader_hook_does_not_stop_the_clock(app):
    seen = []

    def bad(app_):
        raise RuntimeError("boom")

    app.extensions["schedule"] = Schedule(ticks=(Tick("beat", lambda a: seen.append(1)),),
                                          on_leader=(Tick("bad", bad),))
    stop = threading.Event()
    thread = threading.Thread(target=clock_module.run_clock, args=(app,), kwargs={"stop_event": stop}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not seen and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=10)
    assert seen, "the metronome never ran after the failing hook"

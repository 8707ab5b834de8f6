"""The dispatcher wakes when a transaction that enqueued commits, not at its next poll.

No timing is asserted: the dispatcher job under test lingers for a minute (its poll would come only
after that), so a message sent within the generous wait below can only have been sent by a wake-up.
"""
import threading
import time

import pytest

from bcp_service.db import db
from bcp_service.messaging import jobs, outbox, wakeup
from bcp_service.messaging.dispatcher import channel_from_app

PHONE = "+819000000001"
WAIT = 20          # seconds; generous for a loaded CI machine, far below the job's 60 s linger


class FakeMonotonic:
    """The job's own deadline clock: frozen, so only a wake-up makes it loop; advanced to end it."""

    def __init__(self):
        self.value = 0.0

    def __call__(self):
        return self.value


def _sent_to(app, phone):
    return [r for r in channel_from_app(app).records if r.to == phone]


def _wait_for(predicate, timeout=WAIT):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def lingering_dispatcher(app):
    """``jobs.dispatch`` running in a thread as the clock runs it, lingering 60 s on its wake event
    (the real in-process event that committing sessions set)."""
    wake = wakeup.committed
    wake.clear()
    monotonic = FakeMonotonic()
    thread = threading.Thread(target=jobs.dispatch, args=(app,), kwargs=dict(linger=60, monotonic=monotonic),
                              daemon=True)
    thread.start()
    yield wake
    monotonic.value = 1_000                 # past the deadline: the job returns after one more drain
    wake.set()
    thread.join(timeout=WAIT)
    assert not thread.is_alive()


def test_commit_that_enqueued_sets_the_in_process_wake_event_and_rollback_does_not(app, session):
    wakeup.committed.clear()
    outbox.enqueue(session, key="w:rb", to=PHONE, body="x", purpose="checkin")
    session.rollback()
    assert not wakeup.committed.is_set()
    outbox.enqueue(session, key="w:1", to=PHONE, body="x", purpose="checkin")
    assert not wakeup.committed.is_set()            # not before the commit
    session.commit()
    assert wakeup.committed.is_set()
    wakeup.committed.clear()
    session.commit()                                 # a commit that enqueued nothing wakes nobody
    assert not wakeup.committed.is_set()


def test_a_session_closed_without_commit_forgets_its_pending_wake_up(app):
    other = db.session_factory()
    outbox.enqueue(other, key="w:closed", to=PHONE, body="x", purpose="checkin")
    assert other.info.get(wakeup._PENDING)
    other.close()                                    # no rollback event, but the transaction ended
    assert not other.info.get(wakeup._PENDING)


def test_lingering_dispatcher_sends_as_soon_as_the_enqueue_commits(app, session, lingering_dispatcher):
    phone = "+819000000002"
    outbox.enqueue(session, key="w:soon", to=phone, body="安否確認", purpose="checkin")
    time.sleep(0.3)
    assert _sent_to(app, phone) == []               # not committed: nothing to send, nobody woken
    session.commit()
    assert _wait_for(lambda: len(_sent_to(app, phone)) == 1)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_notify_reaches_another_connection_only_on_commit(app, session):
    """The clock process's LISTEN: a NOTIFY from any process's committed enqueue wakes it."""
    wake, stop = threading.Event(), threading.Event()
    listener = threading.Thread(target=wakeup.listen, args=(app.config["DATABASE_URL"], stop),
                                kwargs=dict(wake=wake), daemon=True)
    listener.start()
    try:
        assert _wait_for(wake.is_set)                # listening (it wakes once on connect)
        wake.clear()
        other = db.session_factory()
        try:
            outbox.enqueue(other, key="w:pg:rb", to=PHONE, body="x", purpose="checkin")
            other.rollback()
            time.sleep(1.5)
            assert not wake.is_set()                 # a rolled-back transaction notifies nobody
            outbox.enqueue_many(other, [dict(key=f"w:pg:{i}", to=PHONE, body="x", purpose="checkin")
                                        for i in range(outbox.COPY_FROM_ROWS + 5)])
            other.commit()
        finally:
            other.close()
        assert _wait_for(wake.is_set)
    finally:
        stop.set()
        listener.join(timeout=WAIT)
    assert not listener.is_alive()


def test_listen_ignores_sqlite(tmp_path):
    """Nothing to LISTEN to on SQLite: ``listen`` returns at once, wakes nobody and never tries to connect
    (a connection attempt would fail and retry until ``stop``)."""
    stop, wake = threading.Event(), threading.Event()
    listener = threading.Thread(target=wakeup.listen, args=(f"sqlite:///{tmp_path / 'x.sqlite'}", stop),
                                kwargs=dict(wake=wake), daemon=True)
    listener.start()
    listener.join(timeout=5)
    alive = listener.is_alive()
    stop.set()
    assert not alive
    assert not wake.is_set()


def test_skipped_dispatcher_runs_are_not_logged_as_warnings_but_other_jobs_are(app, caplog):
    from apscheduler.schedulers.background import BackgroundScheduler

    from bcp_service.scheduler import build_scheduler

    scheduler = build_scheduler(app, BackgroundScheduler)
    scheduler.add_job(lambda: None, "interval", seconds=60, id="other.job")
    log = scheduler._logger
    message = 'Execution of job "%s" skipped: maximum number of running instances reached (%d)'
    with caplog.at_level("WARNING", logger=log.name):
        log.warning(message, scheduler.get_job(jobs.JOB_ID), 1)
        log.warning(message, scheduler.get_job("other.job"), 1)
    assert [r.args[0].id for r in caplog.records] == ["other.job"]

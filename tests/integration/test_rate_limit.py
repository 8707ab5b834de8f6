"""The provider rate limit shared by dispatcher processes (PostgreSQL row, GCRA reservations)."""
import threading
import time

import pytest
from sqlalchemy import create_engine, text

from bcp_service.db import db
from bcp_service.messaging.policy import TokenBucket
from bcp_service.messaging.rate_limit import (
    STALE_SECONDS, SharedTokenBucket, default_chunk, provider_bucket, slot_times,
)


def test_slot_times_are_the_reserved_span_evenly_spaced():
    assert slot_times(10.0, 4, 100.0) == pytest.approx([9.96, 9.97, 9.98, 9.99])
    assert slot_times(5.0, 1, 2.0) == pytest.approx([4.5])
    assert [default_chunk(r) for r in (1, 10, 100, 1000)] == [1, 1, 5, 20]


def _pg_only(backend):
    if backend != "postgresql":
        pytest.skip("the shared bucket lives in PostgreSQL; SQLite runs one dispatcher with a local bucket")


def test_sqlite_gets_the_local_bucket_and_postgresql_the_shared_one(app, backend):
    bucket = provider_bucket(db.engine, 50)
    assert isinstance(bucket, SharedTokenBucket if backend == "postgresql" else TokenBucket)
    assert bucket.try_acquire() == 0.0


def test_a_quiet_bucket_allows_one_seconds_burst_then_makes_callers_wait(app, backend):
    _pg_only(backend)
    bucket = SharedTokenBucket(db.engine, 20, name="burst-test")
    t0 = time.monotonic()
    got = [bucket.try_acquire() for _ in range(40)]
    elapsed = time.monotonic() - t0
    assert got[:20] == [0.0] * 20
    # Beyond the burst only what refilled meanwhile (20/s), and the others are told how long to wait.
    assert got.count(0.0) <= 20 + 20 * elapsed + 1
    assert all(0 < w <= 1 / 20 + 1e-3 for w in got if w)
    with db.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM messaging_rate_limit WHERE name='burst-test'")).scalar() == 1


def test_two_dispatchers_together_keep_to_the_rate(app, backend):
    """Two buckets on two engines (two processes' pools), four sender threads each, real time."""
    _pg_only(backend)
    rate, seconds = 100.0, 2.0
    url = db.engine.url.render_as_string(hide_password=False)
    engines = [create_engine(url), create_engine(url)]
    # No burst banked: the schedule starts now, so the measured window is the steady rate alone.
    with engines[0].begin() as c:
        c.execute(text("INSERT INTO messaging_rate_limit (name, tat) VALUES ('shared-test', "
                       "extract(epoch FROM clock_timestamp()))"))
    start = time.monotonic()
    buckets = [SharedTokenBucket(e, rate, name="shared-test") for e in engines]
    stamps: list[float] = []
    lock = threading.Lock()

    def sender(bucket):
        while True:
            bucket.acquire()
            t = time.monotonic()
            if t - start > seconds:
                return
            with lock:
                stamps.append(t)

    threads = [threading.Thread(target=sender, args=(b,)) for b in buckets for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in engines:
        e.dispose()
    # Never above the rate: a slot may be used up to STALE_SECONDS late (a thread woken late on a busy
    # host), never later, so that is the only slack ...
    slack = rate * STALE_SECONDS + 2 * default_chunk(rate)
    assert len(stamps) <= rate * seconds + slack
    # ... and both processes got a share (a loaded CI host still sends well over half the rate).
    assert len(stamps) >= 0.5 * rate * seconds
    assert all(b.reservations > 0 for b in buckets)
    # No one-second window holds more than the rate plus a chunk.
    stamps.sort()
    j = 0
    for i, t in enumerate(stamps):
        while stamps[j] < t - 1.0:
            j += 1
        assert i - j + 1 <= rate + slack


def test_database_unreachable_falls_back_to_a_local_share(app, backend):
    _pg_only(backend)
    url = db.engine.url.set(database="bcp_rate_limit_no_such_db")
    broken = create_engine(url)
    bucket = SharedTokenBucket(broken, 10, name="x", fallback_share=2)
    try:
        got = [bucket.try_acquire() for _ in range(6)]
    finally:
        broken.dispose()
    # The local fallback is a bucket of rate/2 = 5 per second: five now, then a wait.
    assert got[:5] == [0.0] * 5 and got[5] > 0
    assert bucket.reservations == 0

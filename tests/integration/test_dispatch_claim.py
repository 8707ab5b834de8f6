"""Claiming due rows: priority order, lease, and (PostgreSQL) two dispatchers never claim the same row."""
from datetime import timedelta

import pytest

from bcp_service.db import db
from bcp_service.messaging import outbox
from bcp_service.messaging.claims import claim_due, recover_expired


def _fill(session, n=10):
    outbox.enqueue_many(session, [dict(key=f"c:{i}", to=f"+8190000{i:05d}", body="x", purpose="checkin",
                                       priority=(n - i)) for i in range(n)])
    session.commit()


def test_claim_takes_due_rows_lowest_priority_first_and_leases_them(session, clock):
    _fill(session)
    outbox.enqueue(session, key="later", to="+819000099999", body="x", purpose="checkin",
                   not_before=clock.now() + timedelta(minutes=5), priority=-1)
    session.commit()
    s = db.session_factory()
    rows = claim_due(s, now=clock.now(), limit=3, lease_seconds=60)
    s.commit()
    assert [r.priority for r in rows] == [1, 2, 3] and all(r.attempts == 1 for r in rows)
    assert "later" not in {r.key for r in rows}
    assert recover_expired(s, now=clock.now() + timedelta(seconds=59)) == 0
    assert recover_expired(s, now=clock.now() + timedelta(seconds=61)) == 3
    s.commit()
    s.close()


def test_two_dispatchers_claim_disjoint_rows(app, session, clock, backend):
    if backend != "postgresql":
        pytest.skip("SQLite has one writer: the second claim simply waits; SKIP LOCKED is PostgreSQL's")
    _fill(session, 10)
    a, b = db.session_factory(), db.session_factory()
    try:
        first = claim_due(a, now=clock.now(), limit=6, lease_seconds=60)     # A's transaction still open
        second = claim_due(b, now=clock.now(), limit=6, lease_seconds=60)    # must skip A's locked rows
        b.commit()
        a.commit()
    finally:
        a.close()
        b.close()
    assert len(first) == 6 and len(second) == 4
    assert not {r.id for r in first} & {r.id for r in second}

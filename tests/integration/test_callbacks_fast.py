"""Status callbacks in one round trip: the same effect as the full path, or nothing written."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bcp_service.db import db
from bcp_service.messaging import callbacks_fast, inbound, outbox
from bcp_service.messaging.models import OutboxMessage, ProviderEvent


def _sent_rows(session, clock, n=2):
    outbox.enqueue_many(session, [dict(key=f"f:{i}", to=f"+8190000{i:05d}", body="x", purpose="checkin")
                                  for i in range(n)], now=clock.now())
    session.flush()
    rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    for i, r in enumerate(rows):
        r.status, r.provider_id, r.lease_until = "sending", f"SMfast{i:026x}", clock.now() + timedelta(minutes=2)
    session.commit()
    return rows


def _events(session):
    return session.scalar(select(func.count()).select_from(ProviderEvent))


def test_sqlite_is_left_to_the_full_path(app, backend, session, clock):
    if backend != "sqlite":
        pytest.skip("PostgreSQL runs the fast path")
    _sent_rows(session, clock, 1)
    assert callbacks_fast.record_status(db.engine, {"MessageSid": "SMfast" + "0" * 26, "MessageStatus": "sent"},
                                        outbox_id=1, now=clock.now()) is None
    assert _events(session) == 0


def test_fast_path_matches_the_full_path_and_never_steps_back(app, backend, session, clock):
    if backend != "postgresql":
        pytest.skip("the one-statement path is PostgreSQL's (SQLite has no DML in WITH)")
    fast, slow = _sent_rows(session, clock)
    t1, t2 = clock.now() + timedelta(seconds=1), clock.now() + timedelta(seconds=3)
    for status, at in (("queued", t1), ("sent", t1), ("delivered", t2)):
        r = callbacks_fast.record_status(db.engine, {"MessageSid": fast.provider_id, "MessageStatus": status},
                                         outbox_id=fast.id, now=at)
        assert r is not None and not r.replay
        inbound.handle_status(db.session, {"MessageSid": slow.provider_id, "MessageStatus": status},
                              outbox_id=slow.id, now=at)
        db.session.commit()
    session.expire_all()
    fast, slow = session.get(OutboxMessage, fast.id), session.get(OutboxMessage, slow.id)
    cols = ("status", "sent_at", "delivered_at", "lease_until", "updated_at")
    assert [getattr(fast, c) for c in cols] == [getattr(slow, c) for c in cols]
    assert fast.status == "delivered" and fast.sent_at == t1 and fast.delivered_at == t2 and fast.lease_until is None
    assert _events(session) == 6
    # A replay writes nothing; a late "sent" is recorded as an event but does not step back.
    again = callbacks_fast.record_status(db.engine, {"MessageSid": fast.provider_id, "MessageStatus": "delivered"},
                                         outbox_id=fast.id, now=t2)
    assert again.replay and _events(session) == 6
    late = callbacks_fast.record_status(db.engine, {"MessageSid": fast.provider_id, "MessageStatus": "read"},
                                        outbox_id=fast.id, now=t2)
    assert late is not None and late.status is None
    session.expire_all()
    assert session.get(OutboxMessage, fast.id).status == "delivered" and _events(session) == 7


def test_unknown_sid_and_failures_are_left_to_the_full_path_with_nothing_written(app, backend, session, clock):
    if backend != "postgresql":
        pytest.skip("PostgreSQL only")
    (row,) = _sent_rows(session, clock, 1)
    for form in ({"MessageSid": "SMnotours", "MessageStatus": "delivered"},          # crash window: reconcile
                 {"MessageSid": row.provider_id, "MessageStatus": "undelivered"},   # fallback / escalation
                 {"MessageStatus": "delivered"}):                                    # no sid: the full path's 400
        assert callbacks_fast.record_status(db.engine, form, outbox_id=row.id, now=clock.now()) is None
    assert _events(session) == 0
    session.expire_all()
    assert session.get(OutboxMessage, row.id).status == "sending"

"""The outbox contract on SQLite and PostgreSQL: idempotent by key, inside the caller's transaction."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bcp_service.errors import Invalid
from bcp_service.messaging import outbox
from bcp_service.messaging.models import OutboxMessage

PHONE = "+819000000001"


def _count(session):
    return session.scalar(select(func.count()).select_from(OutboxMessage))


def test_enqueue_same_key_twice_returns_the_first_row_and_adds_nothing(session, clock):
    a = outbox.enqueue(session, key="k:1", to=PHONE, body="一回目", purpose="checkin", priority=5)
    b = outbox.enqueue(session, key="k:1", to=PHONE, body="二回目", purpose="checkin", priority=1)
    session.commit()
    assert a.id == b.id and _count(session) == 1
    assert session.get(OutboxMessage, a.id).body == "一回目"
    assert a.status == "queued" and a.next_attempt_at == clock.now()


def test_enqueue_is_part_of_the_callers_transaction(session):
    outbox.enqueue(session, key="k:rollback", to=PHONE, body="x", purpose="checkin")
    session.rollback()
    assert _count(session) == 0


def test_key_committed_by_another_transaction_is_not_duplicated(app, session):
    from bcp_service.db import db

    other = db.session_factory()
    outbox.enqueue(other, key="k:race", to=PHONE, body="x", purpose="checkin")
    other.commit()
    other.close()
    row = outbox.enqueue(session, key="k:race", to=PHONE, body="y", purpose="checkin")
    session.commit()
    assert row.body == "x" and _count(session) == 1


@pytest.mark.parametrize("kw, field", [
    (dict(to="090-0000-0001"), "to"), (dict(channel="fax"), "channel"), (dict(body=""), "body"),
    (dict(key=""), "key"), (dict(twiml_url="ftp://x"), "twiml_url"), (dict(priority="1"), "priority"),
])
def test_bad_input_raises_invalid_and_writes_nothing(session, kw, field):
    args = dict(key="k:bad", to=PHONE, body="本文", purpose="checkin", **{})
    args.update(kw)
    with pytest.raises(Invalid) as exc:
        outbox.enqueue(session, **args)
    assert field in exc.value.fields
    session.commit()
    assert _count(session) == 0


def test_enqueue_many_is_idempotent_and_validates_everything_first(session, clock):
    rows = [dict(key=f"fan:{i}", to=f"+8190000{i:05d}", body="本文", purpose="checkin", priority=i % 7)
            for i in range(1200)]
    assert outbox.enqueue_many(session, rows) == 1200
    outbox.enqueue_many(session, rows[:600])
    session.commit()
    assert _count(session) == 1200
    with pytest.raises(Invalid):
        outbox.enqueue_many(session, [dict(key="ok:1", to=PHONE, body="x"), dict(key="bad", to="x", body="x")])
    session.commit()
    assert _count(session) == 1200


def test_not_before_delays_the_first_attempt(session, clock):
    later = clock.now() + timedelta(minutes=15)
    row = outbox.enqueue(session, key="k:later", to=PHONE, body="x", purpose="reminder", not_before=later)
    session.commit()
    assert row.next_attempt_at == later


def test_voice_rows_need_no_body(session):
    row = outbox.enqueue(session, key="k:voice", to=PHONE, channel="voice", purpose="checkin",
                         patient_id=1, outage_id=2, round=1)
    session.commit()
    assert row.channel == "voice" and row.body is None


def test_enqueue_many_keeps_existing_rows_and_the_first_of_a_repeated_key_and_rolls_back(session, clock):
    outbox.enqueue(session, key="fan:old", to=PHONE, body="既存", purpose="checkin", priority=5)
    session.commit()
    rows = [dict(key="fan:old", to=PHONE, body="上書きしない", purpose="checkin", priority=1),
            dict(key="fan:dup", to=PHONE, body="一通目", purpose="checkin"),
            dict(key="fan:dup", to=PHONE, body="二通目", purpose="checkin")]
    assert outbox.enqueue_many(session, rows) == 3          # how many were given, as before
    session.commit()
    assert _count(session) == 2
    old = outbox.get_by_key(session, "fan:old")
    assert old.body == "既存" and old.priority == 5
    assert outbox.get_by_key(session, "fan:dup").body == "一通目"
    outbox.enqueue_many(session, [dict(key=f"fan:rb:{i}", to=PHONE, body="x", purpose="checkin")
                                  for i in range(1500)])
    session.rollback()                                       # the caller's transaction, nothing of its own
    assert _count(session) == 2


def test_large_fan_out_over_existing_and_repeated_keys_keeps_the_first_and_the_order(session, clock):
    """A batch big enough for COPY (outbox.COPY_FROM_ROWS) whose keys partly exist already: on
    PostgreSQL the straight COPY is undone and the temporary-table path runs instead."""
    n = outbox.COPY_FROM_ROWS + 200
    first = [dict(key=f"big:{i}", to=f"+8190000{i:05d}", body="一回目", purpose="checkin", priority=7)
             for i in range(n)]
    assert outbox.enqueue_many(session, first) == n
    session.commit()
    again = [dict(key=f"big:{i}", to=f"+8190000{i:05d}", body="上書きしない", purpose="checkin", priority=1)
             for i in range(n - 100, n + 900)]
    again.append(dict(key=f"big:{n + 5}", to=PHONE, body="後から来た重複", purpose="checkin", priority=1))
    outbox.enqueue_many(session, again)
    session.commit()
    assert _count(session) == n + 900
    assert outbox.get_by_key(session, f"big:{n - 1}").body == "一回目"
    assert outbox.get_by_key(session, f"big:{n + 5}").body == "上書きしない"
    new_ids = session.scalars(select(OutboxMessage.id).where(OutboxMessage.body == "上書きしない")
                              .order_by(OutboxMessage.id)).all()
    keys_in_id_order = [session.get(OutboxMessage, i).key for i in new_ids]
    assert keys_in_id_order == [f"big:{i}" for i in range(n, n + 900)]      # insertion order kept
    assert {r.status for r in session.scalars(select(OutboxMessage))} == {"queued"}


def test_large_fan_out_rolls_back_with_the_caller(session, clock):
    rows = [dict(key=f"rb:{i}", to=f"+8190000{i:05d}", body="x", purpose="checkin")
            for i in range(outbox.COPY_FROM_ROWS + 1)]
    outbox.enqueue_many(session, rows)
    assert _count(session) == len(rows)
    session.rollback()
    assert _count(session) == 0
    outbox.enqueue_many(session, rows)        # the savepoint and temporary table left nothing behind
    session.commit()
    assert _count(session) == len(rows)


def test_large_fan_out_with_one_invalid_row_writes_nothing_and_leaves_the_transaction_usable(session, clock):
    def rows():
        for i in range(outbox.COPY_FROM_ROWS + 300):
            yield dict(key=f"inv:{i}", to=f"+8190000{i:05d}" if i != outbox.COPY_FROM_ROWS + 150 else "090-bad",
                       body="x", purpose="checkin")

    outbox.enqueue(session, key="before", to=PHONE, body="同じトランザクション", purpose="checkin")
    with pytest.raises(Invalid) as exc:
        outbox.enqueue_many(session, rows())          # a generator, validated while it is written
    assert "to" in exc.value.fields
    assert _count(session) == 1                        # the earlier row of the caller's transaction stays
    outbox.enqueue(session, key="after", to=PHONE, body="続けて使える", purpose="checkin")
    session.commit()
    assert _count(session) == 2

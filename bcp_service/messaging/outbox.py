"""The outbox: the contract other subpackages use to send anything.

Every outbound SMS or call is a row first; the dispatcher (``messaging.dispatcher``) sends it later.

    from bcp_service.messaging import outbox

    msg = outbox.enqueue(session, key="outage:7:patient:42:round:1:sms", to="+819000000001",
                         body="…", channel="sms", priority=90, purpose="checkin",
                         patient_id=42, outage_id=7, round=1)

* **Idempotent by key.** Enqueuing an existing key returns the existing row and changes nothing
  (``INSERT … ON CONFLICT DO NOTHING`` then a read), on SQLite and PostgreSQL, inside the caller's
  transaction — no savepoint, no commit. Two transactions racing on one key: PostgreSQL makes the
  second wait for the first and then returns the first's row.
* **The caller commits.** Nothing is sent until the caller's transaction commits, so a rolled-back
  declaration sends nothing, and a committed one is never lost.
* ``priority``: lower goes first (outages pass e.g. minutes of runway left). Equal priority keeps
  insertion order.
* ``channel="voice"`` rows may leave ``twiml_url`` empty for check-ins: the dispatcher fills in
  ``PUBLIC_BASE_URL/voice/checkin?t=<one-tap token>``.
* ``not_before`` delays the first attempt (reminders).
* **The dispatcher wakes on commit** (``wakeup``): no wait for its next poll.
* Bad input raises ``errors.Invalid`` (400) and adds nothing.

``enqueue_many(session, rows, now=...)`` does the same for a list of dicts. A fan-out to thousands of
patients on PostgreSQL is streamed with binary COPY (an executemany of 20,000 rows took 0.6–0.8 s,
COPY about a third of that; see ``_copy_insert_ignore``); small batches and SQLite use an
executemany in chunks of 500.
"""
from __future__ import annotations

import re
from datetime import datetime
from itertools import chain, islice
from typing import Iterable, Iterator

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bcp_service.db import copy_rows
from bcp_service.errors import Invalid
from bcp_service.messaging import wakeup
from bcp_service.messaging.models import (
    CHANNELS, DELIVERED, FAILED, OutboxMessage, QUEUED, SENDING, SENT, UNDELIVERED,
)
from bcp_service.messaging.outbox_state import FINAL, OutboxStatus

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
CHUNK = 500
COPY_FROM_ROWS = 1000          # below this the temporary table costs more than it saves
_COPY_COLUMNS = ("key", "channel", "to", "body", "twiml_url", "purpose", "priority", "patient_id", "outage_id",
                 "round", "ref_id", "drill", "status", "attempts", "next_attempt_at", "created_at", "updated_at")
_FIELDS = ("key", "to", "body", "channel", "priority", "purpose", "patient_id", "outage_id", "round",
           "not_before", "twiml_url", "ref_id", "drill")


def _now(now: datetime | None) -> datetime:
    if now is not None:
        return now
    from bcp_service.appclock import get_clock

    return get_clock().now()


def validate(*, key: str, to: str, body: str | None, channel: str, priority: int, purpose: str,
             twiml_url: str | None = None, **_ignored) -> None:
    fields: dict[str, list[str]] = {}
    if not key or len(key) > 200:
        fields["key"] = ["1〜200 文字のキーが必要です"]
    if channel not in CHANNELS:
        fields["channel"] = [f"{' / '.join(CHANNELS)} のいずれかです"]
    if not isinstance(to, str) or not E164.match(to):
        fields["to"] = ["E.164 形式の電話番号が必要です（例: +819012345678）"]
    if channel == "sms" and not (body and body.strip()):
        fields["body"] = ["SMS には本文が必要です"]
    if twiml_url is not None and not twiml_url.startswith(("http://", "https://")):
        fields["twiml_url"] = ["http(s) の URL が必要です"]
    if not isinstance(priority, int) or isinstance(priority, bool):
        fields["priority"] = ["整数です"]
    if not purpose or len(purpose) > 32:
        fields["purpose"] = ["1〜32 文字です"]
    if fields:
        raise Invalid("送信内容が不正です。", fields=fields)


def _row(now: datetime, *, key: str, to: str, body: str | None = None, channel: str = "sms",
         priority: int = 100, purpose: str = "other", patient_id: int | None = None,
         outage_id: int | None = None, round: int | None = None, not_before: datetime | None = None,
         twiml_url: str | None = None, ref_id: int | None = None, drill: bool = False) -> dict:
    validate(key=key, to=to, body=body, channel=channel, priority=priority, purpose=purpose,
             twiml_url=twiml_url)
    return dict(key=key, channel=channel, to=to, body=body, twiml_url=twiml_url, purpose=purpose,
                priority=priority, patient_id=patient_id, outage_id=outage_id, round=round, ref_id=ref_id,
                drill=drill, status=QUEUED, attempts=0,
                next_attempt_at=max(now, not_before) if not_before else now,
                created_at=now, updated_at=now)


def _insert_ignore(session: Session, rows: list[dict]) -> None:
    if not rows:
        return
    table = OutboxMessage.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only the two supported backends
        raise RuntimeError(f"unsupported database {dialect}")
    # Bind processing (UTCDateTime) needs the column types: pass rows as parameters, not literals.
    session.execute(insert(table).on_conflict_do_nothing(index_elements=["key"]), rows)


class _RepeatedKey(Exception):
    """A key came twice in one batch: the straight COPY cannot keep the first, the slower path can."""


def _copy_insert_ignore(session: Session, rows: Iterator[dict]) -> int:
    """PostgreSQL: the same result as ``_insert_ignore`` for thousands of rows, by binary COPY.

    ``rows`` is consumed lazily: each row is made and checked while the server writes the ones
    before it, so building a fan-out (one-tap links, validation) overlaps with the database's work.
    Usually no key exists yet (a new outage's round 1), so the rows are copied straight into the
    table under a savepoint. A key that already exists (or one repeated in the batch) aborts that
    COPY; the savepoint undoes it and the rows go through a temporary table and one
    ``INSERT … SELECT … ON CONFLICT DO NOTHING`` in the given order instead: existing rows are kept
    and the first of a repeated key wins. An invalid row aborts the COPY too and raises
    ``Invalid`` with nothing written. All of it belongs to the caller's transaction. Returns how
    many rows were given.
    """
    import psycopg

    table = OutboxMessage.__table__.name
    raw = session.connection().connection.driver_connection
    given: list[dict] = []
    keys: set[str] = set()

    def stream():
        for r in rows:                       # _row() validates as the rows are made
            given.append(r)
            if r["key"] in keys:
                raise _RepeatedKey(r["key"])
            keys.add(r["key"])
            yield tuple(r[c] for c in _COPY_COLUMNS)

    def run(*statements: str) -> None:
        with raw.cursor() as cur:
            for statement in statements:
                cur.execute(statement)

    run("SAVEPOINT outbox_copy")
    try:
        copy_rows(session, table, _COPY_COLUMNS, stream())
    except (psycopg.errors.UniqueViolation, _RepeatedKey):
        run("ROLLBACK TO SAVEPOINT outbox_copy")
    except BaseException:
        run("ROLLBACK TO SAVEPOINT outbox_copy")
        raise
    else:
        run("RELEASE SAVEPOINT outbox_copy")
        return len(given)
    given.extend(rows)                       # whatever the aborted COPY had not read yet
    cols = ", ".join(f'"{c}"' for c in _COPY_COLUMNS)
    run(f"CREATE TEMPORARY TABLE outbox_stage ON COMMIT DROP AS SELECT {cols} FROM {table} WITH NO DATA",
        "ALTER TABLE outbox_stage ADD COLUMN ord serial")
    copy_rows(session, "outbox_stage", _COPY_COLUMNS, (tuple(r[c] for c in _COPY_COLUMNS) for r in given))
    run(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM outbox_stage ORDER BY ord ON CONFLICT (key) DO NOTHING",
        "DROP TABLE outbox_stage")
    return len(given)


def enqueue(session: Session, *, key: str, to: str, body: str | None = None, channel: str = "sms",
            priority: int = 100, purpose: str = "other", patient_id: int | None = None,
            outage_id: int | None = None, round: int | None = None, not_before: datetime | None = None,
            twiml_url: str | None = None, ref_id: int | None = None, drill: bool = False,
            now: datetime | None = None) -> OutboxMessage:
    """Add one message to the outbox (or return the row that already has this key)."""
    at = _now(now)
    row = _row(at, key=key, to=to, body=body, channel=channel, priority=priority, purpose=purpose,
               patient_id=patient_id, outage_id=outage_id, round=round, not_before=not_before,
               twiml_url=twiml_url, ref_id=ref_id, drill=drill)
    _insert_ignore(session, [row])
    wakeup.request(session)
    return session.scalars(select(OutboxMessage).where(OutboxMessage.key == key)).one()


def enqueue_many(session: Session, rows: Iterable[dict], *, now: datetime | None = None) -> int:
    """Enqueue many messages, in the given order; nothing is written if any row is invalid.
    ``rows`` may be a generator (a fan-out is then built while it is written). Returns how many
    were given."""
    at = _now(now)
    prepared = (_row(at, **{k: v for k, v in r.items() if k in _FIELDS}) for r in rows)
    if session.get_bind().dialect.name == "postgresql":
        head = list(islice(prepared, COPY_FROM_ROWS))
        if len(head) == COPY_FROM_ROWS:
            n = _copy_insert_ignore(session, chain(head, prepared))
            wakeup.request(session)
            return n
        prepared = iter(head)
    batch = list(prepared)                   # every row validated before the first is written
    for i in range(0, len(batch), CHUNK):
        _insert_ignore(session, batch[i:i + CHUNK])
    if batch:
        wakeup.request(session)
    return len(batch)


def get_by_key(session: Session, key: str) -> OutboxMessage | None:
    return session.scalars(select(OutboxMessage).where(OutboxMessage.key == key)).first()


def counts(session: Session, *, outage_id: int | None = None) -> dict[str, int]:
    """Rows per status (for dashboards and tests)."""
    stmt = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    if outage_id is not None:
        stmt = stmt.where(OutboxMessage.outage_id == outage_id)
    return dict(session.execute(stmt).all())


def cancel_pending(session: Session, *, outage_id: int, patient_id: int | None = None,
                   purpose: str | None = None, now: datetime | None = None) -> int:
    """Cancel rows not yet handed to the provider (e.g. a patient answered before round 2 went out)."""
    stmt = (update(OutboxMessage)
            .where(OutboxMessage.outage_id == outage_id, OutboxMessage.status == QUEUED)
            .values(status=OutboxStatus.CANCELLED, updated_at=_now(now)))
    if patient_id is not None:
        stmt = stmt.where(OutboxMessage.patient_id == patient_id)
    if purpose is not None:
        stmt = stmt.where(OutboxMessage.purpose == purpose)
    return session.execute(stmt.execution_options(synchronize_session=False)).rowcount or 0


__all__ = ["enqueue", "enqueue_many", "get_by_key", "counts", "cancel_pending", "validate",
           "OutboxMessage", "OutboxStatus", "FINAL", "QUEUED", "SENDING", "SENT", "DELIVERED",
           "UNDELIVERED", "FAILED"]

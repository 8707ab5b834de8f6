"""Status callbacks in one database round trip: the common case of a fan-out, without the ORM.

During a declaration every message brings two or three callbacks (queued, sent, delivered): they are
most of the night's webhook traffic. :func:`record_status` handles the ones that only move a row
forward — the row is found by its provider id, the status is ``sent``/``delivered`` (or one with no
outbox effect, such as ``queued``) — as one autocommitted statement::

    WITH m  AS (SELECT id FROM messaging_outbox WHERE provider_id = :sid LIMIT 1),
         ev AS (INSERT INTO messaging_provider_events … SELECT … FROM m ON CONFLICT DO NOTHING RETURNING outbox_id),
         up AS (UPDATE messaging_outbox SET status = :new … FROM ev WHERE id = ev.outbox_id AND status IN (lower ranks))
    SELECT found, recorded, updated

The same effect as :func:`inbound.handle_status` (event once per ``status:<sid>:<status>``, never a
step back, ``sent_at``/``lease_until``/``delivered_at`` as it sets them), and the same durability choice
(``synchronous_commit`` off for this transaction only: a lost status update costs at most a duplicate
send, never an answer). Everything else returns ``None`` and nothing has been written, so the caller
runs the full path: undelivered/failed (fallback and escalation), a row not yet known by provider id
(the reconciliation of the crash window, or a ``queued`` callback that beat the dispatcher's commit),
SQLite. Wiring, in ``views.sms_status`` after the signature check::

    result = callbacks_fast.record_status(db.engine, request.form, outbox_id=outbox_id, now=_now())
    if result is None:
        inbound.handle_status(db.session, request.form.to_dict(), outbox_id=outbox_id, now=_now())
        db.session.commit()
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Engine

from bcp_service.messaging.inbound import StatusResult
from bcp_service.messaging.models import DELIVERED, QUEUED, SENDING, SENT
from bcp_service.messaging.outbox_state import behind, from_provider

FAST_STATUSES = (None, SENT, DELIVERED)

_SQL = """
WITH cfg AS (SELECT set_config('synchronous_commit', 'off', true)),
m AS (SELECT id FROM messaging_outbox WHERE provider_id = :sid LIMIT 1),
ev AS (
  INSERT INTO messaging_provider_events (dedupe_key, kind, provider_sid, outbox_id, outcome, received_at)
  SELECT :key, 'status', :sid, m.id, :outcome, :now FROM m, cfg
  ON CONFLICT (dedupe_key) DO NOTHING
  RETURNING outbox_id
){update}
SELECT (SELECT count(*) FROM m) AS found, (SELECT count(*) FROM ev) AS recorded, {updated} AS updated
"""
_UPDATE = """,
up AS (
  UPDATE messaging_outbox o SET
    status = :new, updated_at = :now,
    sent_at = CASE WHEN o.status IN (:queued, :sending) THEN COALESCE(o.sent_at, :now) ELSE o.sent_at END,
    lease_until = CASE WHEN o.status IN (:queued, :sending) THEN NULL ELSE o.lease_until END,
    delivered_at = COALESCE(:delivered_now, o.delivered_at)
  FROM ev WHERE o.id = ev.outbox_id AND o.status IN :lower
  RETURNING o.id
)"""
_WITH_UPDATE = text(_SQL.format(update=_UPDATE, updated="(SELECT count(*) FROM up)")).bindparams(
    bindparam("lower", expanding=True))
_EVENT_ONLY = text(_SQL.format(update="", updated="0"))


def record_status(engine: Engine, form, *, outbox_id: int | None, now: datetime) -> StatusResult | None:
    """One round trip for a plain forward status callback; ``None``: not handled, nothing written."""
    if engine.dialect.name != "postgresql":
        return None
    sid = form.get("MessageSid") or form.get("SmsSid") or form.get("CallSid")
    provider_status = form.get("MessageStatus") or form.get("SmsStatus") or form.get("CallStatus") or ""
    new = from_provider(provider_status)
    if not sid or new not in FAST_STATUSES:
        return None
    params = {"sid": sid, "key": f"status:{sid}:{provider_status}"[:160], "outcome": provider_status[:32],
              "now": now}
    if new is None:
        stmt = _EVENT_ONLY
    else:
        stmt = _WITH_UPDATE
        params.update(new=new.value, queued=QUEUED, sending=SENDING, delivered_now=now if new == DELIVERED else None,
                      lower=behind(new))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        found, recorded, updated = conn.execute(stmt, params).one()
    if not found:
        return None                    # not known by provider id: the full path reconciles or records it
    if not recorded:
        return StatusResult(replay=True)
    return StatusResult(False, None, new if updated else None)

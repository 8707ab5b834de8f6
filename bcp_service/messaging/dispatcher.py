"""The dispatcher: claims due outbox rows and sends them, never losing one.

One pass (:meth:`Dispatcher.run_once`):

1. **Recover** rows stuck in ``sending`` whose lease has run out (a dispatcher died mid-send): back to
   ``queued``, due now. Their attempt stays counted, so a message that kills its sender every time
   ends in ``failed`` + escalation instead of looping forever.
2. **Claim** up to ``batch`` due ``queued`` rows, lowest ``priority`` first, in one statement:
   ``UPDATE … SET status='sending', lease_until=now+lease, attempts=attempts+1 WHERE id IN (SELECT …
   FOR UPDATE SKIP LOCKED) RETURNING …`` (PostgreSQL: concurrent dispatchers never claim the same
   row; SQLite: the single statement is atomic). Committed before anything is sent.
3. **Send** with a thread pool (``concurrency``) behind a shared token bucket (``rate`` msg/s), so
   provider latency does not serialise sending and the provider's rate limit holds.
4. **Record** each result as it completes, committing in small groups: ``sent`` with the provider id;
   429/5xx/timeouts back to ``queued`` with exponential backoff + jitter (``next_attempt_at``);
   21610 (opted out) recorded as an opt-out; 21614 (landline) and undeliverable SMS fall back to a
   voice call for check-ins; everything else permanent → ``failed`` and the escalation hook.

Order: lowest ``priority`` first across people; messages to one person go out one after another in
the order they were enqueued. The token bucket is per dispatcher process: two dispatchers on one
account share the provider's limit, so give each ``SMS_RATE_PER_SECOND / n``.

**The crash window, and how it is closed.** If the process dies after the provider accepted a message
and before our commit of its provider id (at most one result group, plus what is in flight: about
``concurrency`` messages), nothing tells us whether it went out. Twilio's create APIs take no
idempotency key, so two things close the window from our side:

* every send carries our row id in its ``StatusCallback`` URL (``?o=<id>``); a status callback for a
  row still ``queued``/``sending`` records the provider id and status (normally within seconds);
* a row whose lease expired (or whose request timed out, or got a 5xx) keeps ``unknown_since``, and
  before it is sent again :meth:`Dispatcher._reconcile` asks the provider for an SMS to that number
  with that exact body (or a call to it) created since then and not yet known to us; if there is one
  it is recorded, not resent. Only if that lookup itself fails is the row retried later — never sent
  blind.

What remains: a provider whose message list lags behind its create API by more than a lease.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bcp_service.messaging.channels import Channel, Receipt, SendError
from bcp_service.messaging.claims import (
    PROVIDER_CLOCK_SKEW, Claimed, claim_due, recover_expired, unknown_since,
)
from bcp_service.messaging.dispatch_settings import DispatchConfig, config_from_app
from bcp_service.messaging.models import FAILED, QUEUED, SENDING, SENT, OptOut, OutboxMessage
from bcp_service.messaging.policy import TokenBucket, next_attempt_at
from bcp_service.messaging.undeliverable import fallback_or_escalate, record_opt_out

log = logging.getLogger(__name__)


@dataclass
class DispatchStats:
    recovered: int = 0
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    fallbacks: int = 0
    opted_out: int = 0
    reconciled: int = 0      # rows the provider already had (found by lookup): recorded, not resent
    order: list[int] = field(default_factory=list)   # ids in the order sends completed

    def add(self, other: DispatchStats) -> None:
        for name in ("recovered", "claimed", "sent", "retried", "failed", "fallbacks", "opted_out",
                     "reconciled"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.order.extend(other.order)


def _opted_out(session: Session, phones: set[str]) -> set[str]:
    if not phones:
        return set()
    return set(session.scalars(select(OptOut.phone).where(OptOut.phone.in_(phones))))


@dataclass
class _Result:
    row: Claimed
    receipt: Receipt | None = None
    error: SendError | None = None
    skipped_opt_out: bool = False


class Dispatcher:
    def __init__(self, session_factory: sessionmaker | Callable[[], Session], channel: Channel,
                 config: DispatchConfig, *, now: Callable[[], datetime],
                 monotonic: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 rand: Callable[[], float] = random.random):
        self.session_factory = session_factory
        self.channel = channel
        self.config = config
        self.now = now
        self.rand = rand
        self.bucket = TokenBucket(config.rate_per_second, monotonic=monotonic, sleep=sleep)

    # --- one pass ------------------------------------------------------------------------------
    def batch_limit(self) -> int:
        """Claim no more than the rate sends in ``claim_seconds``: priorities are looked at again at
        every claim, so a new outage's first check-in or a field task (priority 0) waits at most that
        long behind a backlog already in hand (200 rows at 10/s would hold it for 20 s). And never
        more than half a lease: leases must not expire on rows still waiting for a token."""
        cfg = self.config
        per_pass = cfg.rate_per_second * min(cfg.claim_seconds, cfg.lease_seconds / 2)
        return max(1, min(cfg.batch, int(per_pass)))

    def run_once(self) -> DispatchStats:
        stats = DispatchStats()
        session = self.session_factory()
        try:
            now = self.now()
            stats.recovered = recover_expired(session, now=now)
            rows = claim_due(session, now=now, limit=self.batch_limit(), lease_seconds=self.config.lease_seconds)
            blocked = _opted_out(session, {r.to for r in rows if r.channel == "sms"})
            session.commit()
            stats.claimed = len(rows)
            if not rows:
                return stats
            if stats.recovered:
                log.warning("dispatcher: recovered %d rows whose lease expired", stats.recovered)
            self._send_all(session, rows, blocked, stats)
            return stats
        except Exception:
            session.rollback()
            raise
        finally:
            session.close()

    def drain(self, *, max_passes: int = 10_000, time_budget: float | None = None,
              monotonic: Callable[[], float] = time.monotonic,
              stop: threading.Event | None = None) -> DispatchStats:
        """Run passes until nothing is due, the budget is spent or ``stop`` is set (clock shutting
        down: the pass in hand finishes, the rest stays queued for the next clock)."""
        total = DispatchStats()
        start = monotonic()
        for _ in range(max_passes):
            s = self.run_once()
            total.add(s)
            if s.claimed == 0 or (time_budget is not None and monotonic() - start > time_budget):
                break
            if stop is not None and stop.is_set():
                break
        return total

    # --- sending -------------------------------------------------------------------------------
    def _send_one(self, row: Claimed) -> _Result:
        try:
            self.bucket.acquire()
            cb = self.config.status_callback(row.id)
            if row.channel == "sms":
                receipt = self.channel.send_sms(row.to, row.body or "", callback_url=cb)
            else:
                url = row.twiml_url or self.config.voice_url(row.purpose, row.patient_id, row.outage_id)
                if url is None:
                    return _Result(row, error=SendError("no TwiML for this purpose", status=400, code=None))
                receipt = self.channel.place_call(row.to, url, callback_url=cb)
            return _Result(row, receipt=receipt)
        except SendError as exc:
            return _Result(row, error=exc)
        except Exception as exc:  # noqa: BLE001 - a bug in a channel must not lose the row
            log.exception("dispatcher: unexpected error sending outbox %s", row.id)
            return _Result(row, error=SendError(f"unexpected: {type(exc).__name__}", status=None))

    def _send_group(self, rows: list[Claimed]) -> list[_Result]:
        return [self._send_one(r) for r in rows]

    def _reconcile(self, session: Session, rows: list[Claimed], results: list[_Result],
                   stats: DispatchStats) -> list[Claimed]:
        """Rows whose last attempt ended without an answer (the dispatcher died holding the lease, or
        the request timed out) may already be at the provider. Ask it — an SMS to that number with this
        exact body, or a call to it, created since the attempt began and not yet known to us — and
        record what it has instead of sending a second copy. Returns the rows still to send.

        The provider's answer is the only way to close this window: Twilio's create APIs take no
        idempotency key. A lookup that fails sends nothing: its error counts as the attempt's (a 5xx
        or timeout is retried later, the row still marked; bad credentials give up and escalate).
        """
        find = getattr(self.channel, "find_accepted", None)
        unsure = [r for r in rows if r.unknown_since is not None] if find is not None else []
        if not unsure:
            return rows

        def ask(r: Claimed):
            try:
                return find(r.to, channel=r.channel, body=r.body, since=r.unknown_since - PROVIDER_CLOCK_SKEW)
            except SendError as exc:          # classified like a send: 5xx/timeout retry, 401 gives up
                return exc
            except Exception as exc:  # noqa: BLE001 - a bug in a channel must not lose the row
                log.exception("dispatcher: unexpected error asking about outbox %s", r.id)
                return SendError(f"unexpected: {type(exc).__name__}", status=None)

        # After a crash a whole claim may be unsure: ask in parallel, as sends are made.
        with ThreadPoolExecutor(max_workers=max(1, min(self.config.concurrency, len(unsure))),
                                thread_name_prefix="outbox-lookup") as pool:
            answers_by_id = dict(zip((r.id for r in unsure), pool.map(ask, unsure)))
        to_send: list[Claimed] = []
        taken: set[str] = set()
        for r in rows:
            if r.id not in answers_by_id:
                to_send.append(r)
                continue
            found = answers_by_id[r.id]
            if isinstance(found, SendError):
                results.append(_Result(r, error=found))
                continue
            ids = [f.provider_id for f in found]
            known = set(session.scalars(select(OutboxMessage.provider_id)
                                        .where(OutboxMessage.provider_id.in_(ids)))) if ids else set()
            match = next((f for f in found if f.provider_id not in known | taken), None)
            if match is None:
                to_send.append(r)
                continue
            taken.add(match.provider_id)
            stats.reconciled += 1
            log.warning("dispatcher: outbox %s was already accepted by the provider; recorded, not resent", r.id)
            results.append(_Result(r, receipt=match))
        return to_send

    def _send_all(self, session: Session, rows: list[Claimed], blocked: set[str], stats: DispatchStats) -> None:
        pending_results: list[_Result] = []
        to_send = []
        for r in rows:
            if r.channel == "sms" and r.to in blocked:
                pending_results.append(_Result(r, skipped_opt_out=True))
            else:
                to_send.append(r)
        to_send = self._reconcile(session, to_send, pending_results, stats)
        # One task per recipient, sending that person's messages one after another: concurrency across
        # people, enqueue order for each person (an invitation is not overtaken by its follow-up).
        groups: dict[str, list[Claimed]] = {}
        for r in to_send:                      # already in priority order
            groups.setdefault(r.to, []).append(r)
        with ThreadPoolExecutor(max_workers=max(1, min(self.config.concurrency, len(groups) or 1)),
                                thread_name_prefix="outbox") as pool:
            futures = {pool.submit(self._send_group, g) for g in groups.values()}
            while futures:
                done, futures = wait(futures, timeout=1.0, return_when=FIRST_COMPLETED)
                for f in done:
                    pending_results.extend(f.result())
                if len(pending_results) >= self.config.commit_every or (not futures and pending_results):
                    self._record(session, pending_results, stats)
                    pending_results = []
        if pending_results:
            self._record(session, pending_results, stats)

    # --- recording -----------------------------------------------------------------------------
    def _record(self, session: Session, results: list[_Result], stats: DispatchStats) -> None:
        now = self.now()
        try:
            ok = [r for r in results if r.receipt is not None]
            if ok:
                # One executemany for the common case keeps recording ahead of sending (a smaller
                # crash window); a status callback may have got here first, so only move forward.
                t = OutboxMessage.__table__
                session.execute(
                    t.update()
                    .where(t.c.id == bindparam("oid"), or_(t.c.status == QUEUED, t.c.status == SENDING))
                    .values(status=SENT, provider=self.channel.name, provider_id=bindparam("pid"),
                            sent_at=now, lease_until=None, error_code=None, error_message=None,
                            unknown_since=None, updated_at=now),
                    [{"oid": r.row.id, "pid": r.receipt.provider_id} for r in ok])
                stats.sent += len(ok)
                stats.order.extend(r.row.id for r in ok)
            for res in results:
                if res.receipt is None:
                    self._record_one(session, res, now, stats)
            session.commit()
        except Exception:
            session.rollback()
            log.exception("dispatcher: could not record %d results; leases will recover them", len(results))
            raise

    def _record_one(self, session: Session, res: _Result, now: datetime, stats: DispatchStats) -> None:
        row = res.row
        if res.skipped_opt_out:
            stats.opted_out += 1
            self._give_up(session, row, now, stats, code=21610, message="opted out (STOP)", outcome="opted_out")
            return
        err = res.error
        outcome = err.outcome
        if outcome == "retry" and row.attempts < self.config.max_attempts:
            stats.retried += 1
            # No HTTP answer, or a 5xx: the provider may have taken it anyway. 429 means it did not.
            unknown = err.status is None or err.status >= 500
            session.execute(
                update(OutboxMessage).where(OutboxMessage.id == row.id, OutboxMessage.status == SENDING)
                .values(status=QUEUED, lease_until=None, error_code=err.code or err.status,
                        error_message=str(err)[:200], updated_at=now,
                        unknown_since=unknown_since() if unknown else OutboxMessage.unknown_since,
                        next_attempt_at=next_attempt_at(now, row.attempts, rand=self.rand,
                                                        base=self.config.backoff_base,
                                                        cap=self.config.backoff_cap))
                .execution_options(synchronize_session=False))
            return
        if outcome == "opted_out":
            stats.opted_out += 1
            record_opt_out(session, row.to, now=now, source="provider_21610")
        self._give_up(session, row, now, stats, code=err.code or err.status, message=str(err), outcome=outcome)

    def _give_up(self, session: Session, row: Claimed, now: datetime, stats: DispatchStats, *,
                 code: int | None, message: str, outcome: str) -> None:
        stats.failed += 1
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id == row.id)
            .values(status=FAILED, lease_until=None, error_code=code, error_message=message[:200], updated_at=now)
            .execution_options(synchronize_session=False))
        msg = session.get(OutboxMessage, row.id)
        if fallback_or_escalate(session, msg, reason=outcome, now=now, voice_for=self.config.voice_for):
            stats.fallbacks += 1


def channel_from_app(app) -> Channel:
    """The configured channel, one instance per app (the console channel keeps its records there)."""
    ch = app.extensions.get("messaging.channel")
    if ch is not None:
        return ch
    from bcp_service.messaging.channels import ConsoleChannel, TwilioChannel

    cfg = app.config
    if cfg.get("MESSAGING_CHANNEL") == "twilio":
        ch = TwilioChannel(account_sid=cfg["TWILIO_ACCOUNT_SID"], auth_token=cfg["TWILIO_AUTH_TOKEN"],
                           from_number=cfg.get("TWILIO_FROM"),
                           messaging_service_sid=cfg.get("TWILIO_MESSAGING_SERVICE_SID"),
                           api_base=cfg.get("TWILIO_API_BASE"))
    else:
        ch = ConsoleChannel()
    app.extensions["messaging.channel"] = ch
    return ch


def dispatcher_for(app) -> Dispatcher:
    from bcp_service.appclock import get_clock
    from bcp_service.db import db

    clock = app.extensions.get("clock") or get_clock()
    return Dispatcher(db.session_factory, channel_from_app(app), config_from_app(app), now=clock.now)

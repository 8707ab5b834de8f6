"""Dispatcher throughput against a loopback Twilio fake with 50 ms latency per request.

    .venv/bin/python benchmarks/messaging_dispatch.py [--db postgresql|sqlite] [--n 5000] [--repeat 3]

Scenarios (same process, same fake, same database):
  throttled    SMS_RATE_PER_SECOND=100, 5,000 messages: sustained rate vs the configured 100 msg/s
  unthrottled  no rate limit, bounded concurrency (32 threads): msg/s
  sequential   the naive baseline: one send, one commit, next row (on 300 messages)
Each uses the real dispatcher, the real twilio client and a real database (fresh per run).
Results are printed as a Markdown table (copy into benchmarks/results/messaging.md).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pytest_httpserver import HTTPServer  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from bcp_service.db import import_all_models, make_engine  # noqa: E402
from bcp_service.messaging import outbox  # noqa: E402
from bcp_service.messaging.channels import TwilioChannel  # noqa: E402
from bcp_service.messaging.dispatcher import DispatchConfig, Dispatcher  # noqa: E402
from bcp_service.messaging.models import OutboxMessage  # noqa: E402
from bcp_service.migrate import upgrade  # noqa: E402
from tests.e2e.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, TwilioFake  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
LATENCY = 0.05


class Database:
    def __init__(self, kind: str):
        self.kind = kind
        self.name = None
        if kind == "postgresql":
            self.name = f"bcp_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f'CREATE DATABASE "{self.name}"'))
            admin.dispose()
            self.url = PG_ADMIN.rsplit("/", 1)[0] + f"/{self.name}"
        else:
            self.url = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite"
        upgrade(self.url)
        self.engine = make_engine(self.url)
        self.factory = sessionmaker(bind=self.engine, expire_on_commit=False)

    def reset(self):
        with self.engine.begin() as c:
            c.execute(text("DELETE FROM messaging_outbox"))

    def drop(self):
        self.engine.dispose()
        if self.name:
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            admin.dispose()


def fill(db: Database, n: int, now: datetime) -> None:
    s = db.factory()
    outbox.enqueue_many(s, [dict(key=f"outage:1:patient:{i}:round:1:sms", to=f"+8190{i:08d}",
                                 body="在宅医療連携拠点です。停電の安否確認です。1問題なし 2バッテリー残りわずか 3至急支援・搬送 "
                                      f"https://bcp.example.jp/r/c-{i:x}-1.AbCdEfGhIjKlMnOpQrStUvWxYz0",
                                 purpose="checkin", patient_id=i, outage_id=1, round=1, priority=i % 300)
                            for i in range(n)], now=now)
    s.commit()
    s.close()


def channel(fake: TwilioFake) -> TwilioChannel:
    return TwilioChannel(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number="+815000000000",
                         api_base=fake.base_url, timeout=30)


def run_dispatcher(db, fake, n, *, rate, concurrency) -> dict:
    now = datetime.now(timezone.utc)
    db.reset()
    fake.messages.clear()
    fill(db, n, now)
    cfg = DispatchConfig(public_base_url="https://bcp.example.jp", secret="bench-secret", rate_per_second=rate,
                         concurrency=concurrency, batch=max(200, concurrency * 8), lease_seconds=300)
    d = Dispatcher(db.factory, channel(fake), cfg, now=lambda: datetime.now(timezone.utc))
    t0 = time.perf_counter()
    stats = d.drain()
    elapsed = time.perf_counter() - t0
    assert stats.sent == n, stats
    assert len(fake.messages) == n
    return {"elapsed": elapsed, "rate": n / elapsed}


def run_sequential(db, fake, n) -> dict:
    """The naive loop: read a row, send, commit, repeat."""
    now = datetime.now(timezone.utc)
    db.reset()
    fake.messages.clear()
    fill(db, n, now)
    ch = channel(fake)
    s = db.factory()
    t0 = time.perf_counter()
    for row in s.query(OutboxMessage).order_by(OutboxMessage.priority, OutboxMessage.id).all():
        receipt = ch.send_sms(row.to, row.body, callback_url=f"https://bcp.example.jp/sms/status?o={row.id}")
        row.status, row.provider_id = "sent", receipt.provider_id
        s.commit()
    elapsed = time.perf_counter() - t0
    s.close()
    return {"elapsed": elapsed, "rate": n / elapsed}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="postgresql", choices=["postgresql", "sqlite"])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--skip-throttled", action="store_true")
    args = ap.parse_args()

    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    import_all_models()
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    fake = TwilioFake(server)
    fake.latency = LATENCY
    db = Database(args.db)
    rows = []
    try:
        seq = [run_sequential(db, fake, 300)["rate"] for _ in range(args.repeat)]
        seq_med = statistics.median(seq)
        rows.append(("sequential send loop (baseline)", 300, "—", f"{seq_med:.1f}", "1.0×"))
        un = [run_dispatcher(db, fake, args.n, rate=1e9, concurrency=args.concurrency)["rate"]
              for _ in range(args.repeat)]
        un_med = statistics.median(un)
        rows.append((f"dispatcher, unthrottled, {args.concurrency} threads", args.n, "—", f"{un_med:.1f}",
                     f"{un_med / seq_med:.1f}×"))
        if not args.skip_throttled:
            th = run_dispatcher(db, fake, args.n, rate=args.rate, concurrency=16)
            rows.append((f"dispatcher, SMS_RATE_PER_SECOND={args.rate:g}, 16 threads", args.n, f"{args.rate:g}",
                         f"{th['rate']:.1f} ({100 * th['rate'] / args.rate:.1f}% of configured)",
                         f"{th['rate'] / seq_med:.1f}×"))
    finally:
        db.drop()
        server.stop()
    print(f"\nfake provider latency {LATENCY * 1000:.0f} ms · database {args.db} · median of {args.repeat} runs "
          f"(throttled: one run) · runs: sequential {['%.1f' % x for x in seq]}, unthrottled {['%.1f' % x for x in un]}\n")
    print("| scenario | messages | configured msg/s | measured msg/s | vs sequential |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(str(c) for c in r) + " |")


if __name__ == "__main__":
    main()

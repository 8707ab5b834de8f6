"""Bulk enqueue: ``outbox.enqueue_many`` of N rows (an outage declared over N patients).

    .venv/bin/python benchmarks/messaging_enqueue.py [--db postgresql|sqlite] [--n 20000] [--repeat 3]

Strategies, timed in the same run against the same fresh database (outbox emptied before each run),
each including validation of every row and the final commit:
  per_row          naive baseline: one ``INSERT … ON CONFLICT (key) DO NOTHING`` executed per row
  enqueue_many     ``outbox.enqueue_many`` as shipped: on PostgreSQL a binary COPY straight into the
                   table under a savepoint (the replay below takes its fallback: COPY into a temporary
                   table + ``INSERT … SELECT … ON CONFLICT DO NOTHING``); on SQLite an executemany
                   per 500 rows
  multi_values     the candidate: one multi-row ``insert().values([...]).on_conflict_do_nothing`` per
                   1,000 rows via SQLAlchemy Core
  multi_values_raw the same multi-row SQL built once per chunk size and sent with
                   ``exec_driver_sql`` (no SQLAlchemy compilation: the statement's own cost)
Also times a replay of ``enqueue_many`` (the same N keys again: nothing inserted).
Synthetic data only (+8190… numbers). Prints a Markdown table (median of --repeat runs).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402

from bcp_service.db import import_all_models  # noqa: E402
from bcp_service.messaging import outbox  # noqa: E402
from bcp_service.messaging.models import OutboxMessage  # noqa: E402
from benchmarks import messaging_dispatch as dispatch_bench  # noqa: E402

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=timezone.utc)


class Database(dispatch_bench.Database):
    """The dispatcher benchmark's fresh database, plus a row count."""

    def count(self) -> int:
        with self.factory() as s:
            return s.scalar(select(func.count()).select_from(OutboxMessage))


def rows(n: int) -> list[dict]:
    return [dict(key=f"outage:1:patient:{i}:round:1:sms", to=f"+8190{i:08d}", channel="sms",
                 body="【試験】停電のお知らせ。状況を返信してください。", purpose="checkin", priority=i % 600,
                 patient_id=i, outage_id=1, round=1) for i in range(n)]


def per_row(session, data):
    prepared = [outbox._row(NOW, **r) for r in data]
    for row in prepared:
        session.execute(_insert(session).values(row).on_conflict_do_nothing(index_elements=["key"]))


def _insert(session):
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(OutboxMessage.__table__)


def multi_values(session, data, chunk=1000):
    prepared = [outbox._row(NOW, **r) for r in data]
    for i in range(0, len(prepared), chunk):
        session.execute(_insert(session).values(prepared[i:i + chunk])
                        .on_conflict_do_nothing(index_elements=["key"]))


def multi_values_raw(session, data, chunk=1000):
    prepared = [outbox._row(NOW, **r) for r in data]
    conn = session.connection()
    dialect = conn.dialect
    table = OutboxMessage.__table__
    cols = list(prepared[0])
    procs = [table.c[c].type._cached_bind_processor(dialect) for c in cols]
    one = "(" + ", ".join(["%s" if dialect.name == "postgresql" else "?"] * len(cols)) + ")"
    head = f"INSERT INTO {table.name} ({', '.join(dialect.identifier_preparer.quote(c) for c in cols)}) VALUES "
    for i in range(0, len(prepared), chunk):
        part = prepared[i:i + chunk]
        flat = [pr(r[c]) if pr else r[c] for r in part for c, pr in zip(cols, procs)]
        conn.exec_driver_sql(head + ", ".join([one] * len(part)) + " ON CONFLICT (key) DO NOTHING", tuple(flat))


def enqueue_many(session, data):
    outbox.enqueue_many(session, data, now=NOW)


STRATEGIES = {"per_row": per_row, "enqueue_many": enqueue_many, "multi_values": multi_values,
              "multi_values_raw": multi_values_raw}


def timed(db: Database, fn, data, *, reset=True) -> float:
    if reset:
        db.reset()
    with db.factory() as session:
        t0 = time.perf_counter()
        fn(session, data)
        session.commit()
        elapsed = time.perf_counter() - t0
    assert db.count() == len(data), (fn.__name__, db.count())
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="postgresql", choices=["postgresql", "sqlite"])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import_all_models()
    data = rows(args.n)
    db = Database(args.db)
    try:
        results: dict[str, list[float]] = {name: [] for name in STRATEGIES}
        results["enqueue_many (replay)"] = []
        for _ in range(args.repeat):          # interleaved, so host load hits every strategy alike
            for name, fn in STRATEGIES.items():
                results[name].append(timed(db, fn, data))
            results["enqueue_many (replay)"].append(timed(db, enqueue_many, data, reset=False))
        base = statistics.median(results["per_row"])
        print(f"\n{args.db}, {args.n} rows, median of {args.repeat}\n")
        print("| strategy | median s | rows/s | vs per-row | runs (s) |")
        print("|---|---|---|---|---|")
        for name, runs in results.items():
            med = statistics.median(runs)
            print(f"| {name} | {med:.3f} | {args.n / med:,.0f} | {base / med:.1f}× | "
                  f"{' / '.join(f'{r:.3f}' for r in runs)} |")
    finally:
        db.drop()


if __name__ == "__main__":
    main()

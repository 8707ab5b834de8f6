"""Benchmark: import 20,000 patient rows (CSV, Shift_JIS as Excel saves it) on SQLite and PostgreSQL.

Measures the whole path the API runs: decode → parse → validate every row (marshmallow, phones,
postal codes) → references and scope → runway → one transaction with audit events → commit.
Target (issue #3): under 60 s for 20,000 rows on each database.

Baseline, in the same process: the naive way — one ``create_patient`` + commit per row (what a
loop over the single-patient API does), timed on a sample and compared per row.

    .venv/bin/python benchmarks/registry_import.py [--rows 20000] [--repeat 3] [--naive-sample 500]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from registry_common import database, make_app, rows_for, seed_world, to_csv  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "registry.md"


def run(backend: str, n: int, repeat: int, naive_sample: int) -> dict:
    from sqlalchemy import delete, func, select

    from bcp_service.auth.models import AuditEvent
    from bcp_service.auth.roles import Actor, Role
    from bcp_service.appclock import get_clock
    from bcp_service.db import db
    from bcp_service.registry import services, tabular
    from bcp_service.registry.models import Patient
    from bcp_service.registry.schemas import PatientIn

    actor = Actor(user_id=None, role=Role.ADMIN, scope=None)
    policy = services.RunwayPolicy()
    out = {"backend": backend, "rows": n, "import_s": [], "cpu_s": [], "naive_per_row_ms": None}
    with database(backend) as url:
        app = make_app(url)
        with app.app_context():
            region, munis, orgs = seed_world(db.session, get_clock().now())
            content = to_csv(rows_for(n, 7, region, munis, orgs), "cp932")
            out["file_mb"] = round(len(content) / 1e6, 2)
            for _ in range(repeat):
                t0, c0 = time.perf_counter(), time.process_time()
                rows = tabular.read_table("patients.csv", content)
                good, bad = tabular.parse_rows(rows, PatientIn())
                assert not bad, bad[:3]
                imported = services.import_patients(db.session, actor, good, now=get_clock().now(), policy=policy)
                db.session.commit()
                out["import_s"].append(time.perf_counter() - t0)
                out["cpu_s"].append(time.process_time() - c0)
                assert imported == n
                assert db.session.scalar(select(func.count()).select_from(Patient)) == n
                db.session.execute(delete(AuditEvent))
                db.session.execute(delete(Patient))   # children go by ON DELETE CASCADE
                db.session.commit()
                db.session.expunge_all()
            # naive baseline: per-row service call and commit
            sample = rows_for(naive_sample, 8, region, munis, orgs)
            payloads = [PatientIn().load(tabular.row_to_payload(r)[0]) for r in sample]
            t0 = time.perf_counter()
            for data in payloads:
                services.create_patient(db.session, actor, data, now=get_clock().now(), policy=policy)
                db.session.commit()
            out["naive_per_row_ms"] = (time.perf_counter() - t0) / naive_sample * 1000
        db.engine.dispose()
    out["load"] = os.getloadavg()[0]
    med = statistics.median(out["import_s"])
    out["median_s"] = med
    out["per_row_ms"] = med / n * 1000
    out["ratio"] = out["naive_per_row_ms"] / out["per_row_ms"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--naive-sample", type=int, default=500)
    ap.add_argument("--backends", default="sqlite,postgresql")
    args = ap.parse_args()
    results = [run(b, args.rows, args.repeat, args.naive_sample) for b in args.backends.split(",")]
    lines = ["## import", "",
             f"{args.rows:,} synthetic rows, Shift_JIS CSV (decode → validate → runway → one transaction with "
             f"audit events), median of {args.repeat} runs; baseline: one `create_patient` + commit per row "
             f"({args.naive_sample} rows), same process.", "",
             "Wall-clock is what a user waits for; *client CPU* is this process alone (the database server's "
             "work is not in it). *load* is the 1-minute load average of the 2-core machine at the end of the "
             "run: other sessions' test suites were running, so wall-clock figures are pessimistic.", "",
             "| database | file | median wall | all runs | client CPU (median) | per row | naive per row | speed-up "
             "| load | target |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        runs = " / ".join(f"{x:.0f}" for x in r["import_s"])
        lines.append(f"| {r['backend']} | {r['file_mb']} MB | {r['median_s']:.1f} s | {runs} s | "
                     f"{statistics.median(r['cpu_s']):.1f} s | {r['per_row_ms']:.2f} ms | "
                     f"{r['naive_per_row_ms']:.2f} ms | ×{r['ratio']:.1f} | {r['load']:.1f} | "
                     f"{'< 60 s ✓' if r['median_s'] < 60 else '≥ 60 s ✗'} |")
        print(r)
    write_section("import", "\n".join(lines))


def write_section(name: str, body: str) -> None:
    """Replace (or add) one ``## name`` section of results/registry.md."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# registry benchmarks\n"
    parts = text.split("\n## ")
    head, sections = parts[0], {p.split("\n", 1)[0].strip(): "## " + p for p in parts[1:]}
    sections[name] = body.rstrip() + "\n"
    RESULTS.write_text(head.rstrip() + "\n\n" + "\n".join(sections[k] for k in sorted(sections)), encoding="utf-8")


if __name__ == "__main__":
    main()

"""Inbound webhook throughput: signed Twilio status callbacks and SMS replies against gunicorn
(2 workers) on PostgreSQL.

    .venv/bin/python benchmarks/messaging_webhooks.py [--requests 6000] [--workers 2] [--threads 1]

Every request is a distinct, correctly signed callback (computed before the clock starts, so the
load generator only sends bytes) and has a real effect: a ProviderEvent insert plus an outbox update
(status) or a reply lookup (inbound). A second pass replays the same requests to measure the replay
path (one indexed insert that conflicts). The load generator runs in 2 processes on the same 2-core
machine, so the figure is a lower bound for the server.
"""
from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from bcp_service.db import import_all_models, make_engine  # noqa: E402
from bcp_service.messaging import outbox  # noqa: E402
from bcp_service.messaging.models import OutboxMessage  # noqa: E402
from bcp_service.migrate import upgrade  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
AUTH = "bench-auth-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(args):
    port, reqs = args
    latencies = []
    errors = 0
    for path, body, sig in reqs:
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", path, body=body, headers={"Content-Type": "application/x-www-form-urlencoded",
                                                       "X-Twilio-Signature": sig})
        resp = conn.getresponse()
        resp.read()
        conn.close()
        if resp.status not in (200, 204):
            errors += 1
        latencies.append(time.perf_counter() - t0)
    return latencies, errors


def blast(port: int, requests: list, concurrency: int) -> dict:
    chunks = [requests[i::concurrency] for i in range(concurrency)]
    with mp.Pool(concurrency) as pool:
        t0 = time.perf_counter()
        results = pool.map(_worker, [(port, c) for c in chunks])
        elapsed = time.perf_counter() - t0
    lat = sorted(x for r in results for x in r[0])
    return {"rps": len(requests) / elapsed, "errors": sum(r[1] for r in results),
            "p50_ms": 1000 * statistics.median(lat), "p95_ms": 1000 * lat[int(0.95 * len(lat))]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=6000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()

    import_all_models()
    name = f"bcp_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = None
    try:
        upgrade(url)
        engine = make_engine(url)
        n = args.requests
        now = datetime.now(timezone.utc)
        s = sessionmaker(bind=engine)()
        outbox.enqueue_many(s, [dict(key=f"bench:{i}", to=f"+8190{i:08d}", body="x", purpose="checkin",
                                     patient_id=i, outage_id=1, round=1) for i in range(n)], now=now)
        s.flush()
        rows = []
        for i, r in enumerate(s.query(OutboxMessage).order_by(OutboxMessage.id)):
            r.status, r.provider_id = "sent", f"SM{i:032x}"     # as the dispatcher leaves them
            rows.append((r.id, r.to))
        s.commit()
        s.close()
        engine.dispose()

        v = RequestValidator(AUTH)
        status_reqs, inbound_reqs = [], []
        for i, (oid, to) in enumerate(rows):
            path = f"/sms/status?o={oid}"
            form = {"MessageSid": f"SM{i:032x}", "MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32}
            status_reqs.append((path, urlencode(form), v.compute_signature(base + path, form)))
            form = {"MessageSid": f"SMin{i:030x}", "From": to, "Body": "１", "AccountSid": "AC" + "0" * 32}
            inbound_reqs.append(("/sms/inbound", urlencode(form), v.compute_signature(base + "/sms/inbound", form)))

        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-secret-key-0123456789", "BCP_ENV": "production",
               "TWILIO_AUTH_TOKEN": AUTH, "PUBLIC_BASE_URL": base, "MESSAGING_CHANNEL": "console"}
        cmd = [str(ROOT / ".venv/bin/gunicorn"), "-w", str(args.workers), "-b", f"127.0.0.1:{port}",
               "--log-level", "warning", "bcp_service.app:create_app()"]
        if args.threads > 1:
            cmd[1:1] = ["-k", "gthread", "--threads", str(args.threads)]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
        deadline = time.time() + 60
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.3)

        results = {
            "status callbacks (new)": blast(port, status_reqs, args.clients),
            "status callbacks (replayed)": blast(port, status_reqs, args.clients),
            "SMS replies (new)": blast(port, inbound_reqs, args.clients),
        }
        print(f"\ngunicorn {args.workers} workers ({'gthread ' + str(args.threads) if args.threads > 1 else 'sync'}), "
              f"PostgreSQL, {n} requests each, {args.clients} client processes on the same 2-core machine\n")
        print("| webhook | req/s | p50 ms | p95 ms | non-2xx |")
        print("|---|---|---|---|---|")
        for k, r in results.items():
            print(f"| {k} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['errors']} |")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()

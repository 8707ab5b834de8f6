"""The night's load, measured whole: fan-out, status callbacks, replies and the desk's dashboard at once.

    .venv/bin/python benchmarks/night_load.py [--patients 20000] [--window 600] [--workers 2] [--threads 4]
                                              [--dispatchers 2] [--rate 100] [--ceiling-requests 4000]

Small (development, loaded machine): ``--patients 1000 --window 60 --ceiling-requests 1500``.

What runs, all on this machine, against a fresh PostgreSQL database:

* **web**: gunicorn exactly as the Procfile runs it (``gunicorn "bcp_service.app:create_app()"``, which
  reads ``gunicorn.conf.py``; ``WEB_CONCURRENCY`` / ``WEB_THREADS`` from ``--workers`` / ``--threads``);
* **clock**: ``bcp-service clock`` (its dispatcher woken by the declaration's NOTIFY), plus
  ``--dispatchers - 1`` more dispatcher processes (this script, ``--role dispatcher``): all share the
  provider limit ``SMS_RATE_PER_SECOND`` through ``messaging.rate_limit``;
* **provider + families** (``night_provider.py``, own process): the loopback Twilio fake, 50 ms per
  create, signed callbacks queued → sent → delivered for every message; ``--tap-share`` of families
  answer on the one-tap page and ``--reply-share`` by SMS, uniformly within ``--window`` s of delivery;
* **desk**: this process polls ``/outages/<id>/live.json`` every ``--poll`` s as an admin (Bearer);
* the **declaration** itself (``outages.services.declare_outage`` over ``--patients`` synthetic patients).

Then, with the same gunicorn settings, the **ceiling**: a bare Flask endpoint doing one INSERT per
request (``bare_insert_app.py``) and fresh status callbacks, each blasted closed-loop by
``--clients`` processes (``messaging_webhooks.blast``).

Reported: dispatcher rate (accepted creates per second at the provider; busiest second), callback,
reply and tap latencies p50/p99 (request → response), dashboard p50/p99, callbacks lost (non-2xx,
error or timeout) or late (answered more than ``LATE_SECONDS`` after the provider meant to send it),
the database's view at the end (messages not delivered, answers recorded), and the machine's load.
Raw records go to ``benchmarks/out/night_load-<time>.json``.
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

LATE_SECONDS = 5.0
PG_ADMIN = os.environ.get("BCP_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SECRET = "bench-night-secret-0123456789"


def pct(values, p):
    v = sorted(values)
    return 1000 * v[min(len(v) - 1, int(p / 100 * len(v)))] if v else float("nan")


def loadavg() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port: int, path: str = "/healthz", seconds: float = 90) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", path)
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"nothing answered on port {port}")


def gunicorn(app_spec: str, port: int, env: dict, workers: int, threads: int, extra=()) -> subprocess.Popen:
    e = {**env, "PORT": str(port), "WEB_CONCURRENCY": str(workers), "WEB_THREADS": str(threads)}
    return subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), *extra, "--log-level", "warning", app_spec],
                            cwd=ROOT, env=e)


class Logged:
    """A child process whose log lines are kept (dispatcher stats are read from them)."""

    def __init__(self, cmd, env, ready: str):
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.lines: list[str] = []
        while ready not in (line := self.proc.stdout.readline()):
            if not line:
                raise SystemExit(f"{cmd} ended before '{ready}'")
            self.lines.append(line)
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def sent(self) -> int:
        return sum(int(m.group(1)) for line in self.lines if (m := re.search(r"dispatcher: claimed=\d+ sent=(\d+)", line)))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.thread.join(timeout=5)


def role_dispatcher() -> None:
    """A dispatcher process without the clock: the messaging job in a loop, woken by NOTIFY."""
    import signal

    from bcp_service.app import create_app
    from bcp_service.messaging import jobs, wakeup

    app = create_app()
    stop = app.extensions["clock.stopping"] = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=wakeup.listen, args=(app.config["DATABASE_URL"], stop), daemon=True).start()
    while not stop.is_set():
        jobs.dispatch(app)


def desk(port: int, path: str, token: str, every: float, stop: threading.Event, out: list) -> None:
    while not stop.is_set():
        t0 = time.monotonic()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        r = c.getresponse()
        size = len(r.read())
        c.close()
        out.append((t0, time.monotonic() - t0, r.status, size))
        stop.wait(max(0.0, every - (time.monotonic() - t0)))


def seed(url: str, patients: int, web_base: str):
    """Synthetic registry; returns (app, affected municipality codes, bearer token)."""
    from synthetic import generate, load

    from bcp_service.app import create_app
    from bcp_service.auth import services as auth_services
    from bcp_service.db import db

    os.environ.setdefault("BCP_ENV", "test")        # this process only: the children get production
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET, "MESSAGING_CHANNEL": "console",
                      "PUBLIC_BASE_URL": web_base})
    world = generate(patients=max(patients * 5 // 2, 2000), facilities=max(100, min(2000, patients // 10)))
    with app.app_context():
        load(db.session, world, now=datetime.now(timezone.utc))
        admin = auth_services.create_user(db.session, email="desk@example.invalid", password="bench-password-123",
                                          role="admin", scope=None, display_name="試験 太郎")
        db.session.commit()
        token = auth_services.issue_token(db.session, admin)
        db.session.commit()
    return app, world.codes_for(patients)[0], token


def declare(app, codes):
    from bcp_service.db import db
    from bcp_service.outages import services
    from bcp_service.outages.notify import notifier_for

    with app.app_context():
        now = datetime.now(timezone.utc)
        t0 = time.perf_counter()
        r = services.declare_outage(db.session, services.DeclareOutage(
            area={"municipality_codes": codes}, started_at=now, expected_restoration_at=now + timedelta(hours=10)),
            now=now, notifier=notifier_for(app))
        db.session.commit()
        return r.outage.id, r.affected, r.messaged, time.perf_counter() - t0


def db_view(url: str, oid: int) -> dict:
    from sqlalchemy import create_engine, text

    e = create_engine(url)
    with e.connect() as c:
        q = lambda sql: c.execute(text(sql), {"o": oid}).all()  # noqa: E731
        out = {"outbox": dict(q("SELECT status, count(*) FROM messaging_outbox WHERE outage_id=:o GROUP BY status")),
               "events": dict(q("SELECT kind, count(*) FROM messaging_provider_events GROUP BY kind")),
               "checkins": dict(q("SELECT checkin, count(*) FROM outage_patients WHERE outage_id=:o GROUP BY checkin")),
               # the dispatchers' shared bucket (messaging.rate_limit): present once they have sent
               "rate_limit": {n: round(t, 3) for n, t in q("SELECT name, tat FROM messaging_rate_limit")}}
    e.dispose()
    return out


def dashboard_builders(app, oid: int, token: str, repeat: int = 5) -> dict:
    """In-process, after the night: the live.json view as shipped vs ``outages.live_data`` (compact),
    each serialised as the view does; median seconds and bytes."""
    from flask import json as fjson

    from bcp_service.db import db
    from bcp_service.outages import live_data, services

    out = {}
    with app.app_context():
        client = app.test_client()
        times, size = [], 0
        for _ in range(repeat):
            t0 = time.perf_counter()
            r = client.get(f"/outages/{oid}/live.json", headers={"Authorization": f"Bearer {token}"})
            times.append(time.perf_counter() - t0)
            size = len(r.data)
        out["live.json as shipped (view, test client)"] = (statistics.median(times), size)
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            body = live_data.live_body(db.session, services.get_outage(db.session, oid),
                                       now=datetime.now(timezone.utc), red_hours=6, yellow_hours=24)
            data = fjson.dumps(body)
            times.append(time.perf_counter() - t0)
            db.session.rollback()
        out["outages.live_data.live_body (compact) + dumps"] = (statistics.median(times), len(data.encode()))
    return out


def ceiling(url: str, env: dict, args, web_port: int) -> dict:
    """Closed-loop req/s: the bare one-insert endpoint vs fresh status callbacks, same gunicorn settings."""
    from messaging_webhooks import blast
    from sqlalchemy.orm import sessionmaker
    from twilio.request_validator import RequestValidator

    from bcp_service.db import make_engine
    from bcp_service.messaging import outbox
    from bcp_service.messaging.models import OutboxMessage

    n = args.ceiling_requests
    engine = make_engine(url)
    s = sessionmaker(bind=engine)()
    now = datetime.now(timezone.utc)
    outbox.enqueue_many(s, [dict(key=f"ceiling:{i}", to=f"+8190{i:08d}", body="x", purpose="notice",
                                 not_before=now + timedelta(days=1)) for i in range(n)], now=now)
    s.flush()
    rows = []
    for i, r in enumerate(s.query(OutboxMessage).filter(OutboxMessage.key.like("ceiling:%")).order_by(OutboxMessage.id)):
        r.status, r.provider_id = "sent", f"SMceil{i:026x}"
        rows.append(r.id)
    s.commit()
    s.close()
    engine.dispose()
    base = f"http://127.0.0.1:{web_port}"
    v = RequestValidator(env["TWILIO_AUTH_TOKEN"])
    status_reqs, bare_reqs = [], []
    for i, oid in enumerate(rows):
        path = f"/sms/status?o={oid}"
        form = {"MessageSid": f"SMceil{i:026x}", "MessageStatus": "delivered", "AccountSid": env["TWILIO_ACCOUNT_SID"]}
        status_reqs.append((path, urlencode(form), v.compute_signature(base + path, form)))
        bare_reqs.append(("/bare", urlencode(form), ""))
    out = {"status callbacks (fresh, delivered)": blast(web_port, status_reqs, args.clients)}
    from bare_insert_app import TABLE
    from sqlalchemy import create_engine, text

    e = create_engine(url)
    with e.begin() as c:
        c.execute(text(TABLE))
    e.dispose()
    port = free_port()
    proc = gunicorn("bare_insert_app:create_app()", port, env, args.workers, args.threads,
                    extra=("--pythonpath", str(HERE)))
    try:
        wait_http(port)
        out["bare Flask endpoint, one INSERT"] = blast(port, bare_reqs, args.clients)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--role", default="bench", choices=["bench", "dispatcher"])
    ap.add_argument("--patients", type=int, default=20_000)
    ap.add_argument("--window", type=float, default=600.0, help="families answer within this many seconds")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--dispatchers", type=int, default=2)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--tap-share", type=float, default=0.30)
    ap.add_argument("--reply-share", type=float, default=0.10)
    ap.add_argument("--poll", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--ceiling-requests", type=int, default=4000, help="0: skip the ceiling phase")
    args = ap.parse_args()
    if args.role == "dispatcher":
        return role_dispatcher()

    from sqlalchemy import create_engine, text

    from bcp_service.db import import_all_models
    from bcp_service.migrate import upgrade
    from night_provider import run as run_provider

    import_all_models()
    load_start = loadavg()
    name = f"bcp_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    web_port = free_port()
    web_base = f"http://127.0.0.1:{web_port}"
    procs, logged, provider, parent = [], [], None, None
    try:
        upgrade(url)
        t = time.perf_counter()
        app, codes, token = seed(url, args.patients, web_base)
        print(f"seeded in {time.perf_counter() - t:.1f} s; load {loadavg()}", flush=True)

        pending = mp.Value("i", 0)
        parent, child = mp.Pipe()
        provider = mp.get_context("fork").Process(
            target=run_provider, args=(child, web_base, args.latency, args.tap_share, args.reply_share,
                                       args.window, 7, pending), daemon=True)
        provider.start()
        fake = parent.recv()
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("BCP_TEST")},
               "BCP_ENV": "production", "DATABASE_URL": url, "SECRET_KEY": SECRET,
               "PUBLIC_BASE_URL": web_base, "MESSAGING_CHANNEL": "twilio", "TWILIO_ACCOUNT_SID": fake["account_sid"],
               "TWILIO_AUTH_TOKEN": fake["auth_token"], "TWILIO_FROM": "+815000000000",
               "TWILIO_API_BASE": fake["base_url"], "SMS_RATE_PER_SECOND": str(args.rate)}
        procs.append(gunicorn("bcp_service.app:create_app()", web_port, env, args.workers, args.threads))
        wait_http(web_port)
        logged.append(Logged([str(ROOT / ".venv/bin/bcp-service"), "clock"], env, "dispatcher wake-up: listening"))
        for _ in range(args.dispatchers - 1):
            logged.append(Logged([sys.executable, str(Path(__file__).resolve()), "--role", "dispatcher"], env,
                                 "dispatcher wake-up: listening"))
        time.sleep(3)                                   # the clock's first runs are over

        oid, affected, messaged, declare_s = declare(app, codes)
        t_declared = time.monotonic()
        print(f"declared outage {oid}: {affected} affected, {messaged} messaged in {declare_s:.2f} s", flush=True)
        stop_desk, polls = threading.Event(), []
        desk_thread = threading.Thread(target=desk, args=(web_port, f"/outages/{oid}/live.json", token, args.poll,
                                                           stop_desk, polls), daemon=True)
        desk_thread.start()

        eng = create_engine(url)
        expected_send = messaged / args.rate
        load_during = []
        while True:
            time.sleep(2)
            load_during.append(os.getloadavg()[0])
            with eng.connect() as c:
                unsent = c.execute(text("SELECT count(*) FROM messaging_outbox WHERE outage_id=:o AND status IN "
                                        "('queued','sending')"), {"o": oid}).scalar()
            elapsed = time.monotonic() - t_declared
            if unsent == 0 and pending.value == 0 and elapsed > expected_send + 5:
                break
            if elapsed > expected_send * 3 + args.window + 300:
                print(f"giving up: {unsent} unsent, {pending.value} provider actions pending", flush=True)
                break
        eng.dispose()
        night_s = time.monotonic() - t_declared
        stop_desk.set()
        desk_thread.join(timeout=70)
        sent_by = [lg.sent() for lg in logged]
        for lg in logged:
            lg.stop()
        parent.send("stop")
        res = parent.recv()
        provider.join(timeout=30)
        view = db_view(url, oid)
        builders = dashboard_builders(app, oid, token)
        ceil = ceiling(url, env, args, web_port) if args.ceiling_requests else {}
    finally:
        for lg in logged:
            if lg.proc.poll() is None:
                lg.stop()
        for p in procs:
            p.terminate()
            p.wait(timeout=30)
        if provider is not None and provider.is_alive():
            provider.terminate()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    report(args, res, polls, view, ceil, sent_by, builders, dict(affected=affected, messaged=messaged, declare_s=declare_s,
                                                       night_s=night_s, load_start=load_start,
                                                       load_during=load_during, load_end=loadavg()))


def report(args, res, polls, view, ceil, sent_by, builders, meta) -> None:
    recs = res["records"]
    by = {}
    for kind, due, start, end, status in recs:
        by.setdefault(kind, []).append((due, start, end, status))
    acc = sorted(t for t, _, _ in res["accepted"])
    span = acc[-1] - acc[0] if len(acc) > 1 else float("nan")
    busiest, j = 0, 0
    for i, t in enumerate(acc):
        while acc[j] < t - 1.0:
            j += 1
        busiest = max(busiest, i - j + 1)
    ok = lambda s: isinstance(s, int) and 200 <= s < 400  # noqa: E731
    lines = [f"night load: {meta['affected']:,} patients affected, {meta['messaged']:,} messages, families answer "
             f"within {args.window:.0f} s ({args.tap_share:.0%} one-tap, {args.reply_share:.0%} SMS); gunicorn "
             f"{args.workers} × gthread {args.threads}; {args.dispatchers} dispatcher(s) sharing {args.rate:g} msg/s; "
             f"provider latency {args.latency * 1000:.0f} ms",
             f"machine load average (1/5/15 min) at start {meta['load_start']}, during the night "
             f"{min(meta['load_during']):.2f}–{max(meta['load_during']):.2f}, at the end {meta['load_end']}; "
             f"declaration {meta['declare_s']:.2f} s; night {meta['night_s']:.0f} s", "",
             "| measure | value |", "|---|---|",
             f"| dispatcher rate (accepted by the provider, first → last) | {(len(acc) - 1) / span:.1f} msg/s over "
             f"{len(acc):,} ({span:.1f} s); busiest second {busiest} |",
             f"| sent per dispatcher process (clock first) | {' / '.join(str(x) for x in sent_by)} |"]
    for kind, label in (("callback", "status callbacks"), ("sms_reply", "SMS replies (/sms/inbound)"),
                        ("tap_answer", "one-tap answers (POST /r/…)"), ("tap_page", "one-tap page (GET /r/…)")):
        rows = by.get(kind, [])
        lat = [e - s for _, s, e, st in rows if ok(st)]
        bad = [st for *_, st in rows if not ok(st)]
        late = sum(1 for d, _, e, st in rows if d and e - d > LATE_SECONDS)
        queued = [s - d for d, s, _, _ in rows if d]
        lines.append(f"| {label}: n, p50 / p99 ms, lost, late > {LATE_SECONDS:.0f} s (sender queue p99) | "
                     f"{len(rows):,}, {pct(lat, 50):.0f} / {pct(lat, 99):.0f}, {len(bad)}"
                     f"{' ' + str(sorted(set(map(str, bad)))) if bad else ''}, {late}"
                     f"{f' ({pct(queued, 99) / 1000:.1f} s)' if queued else ''} |")
    lat = [d for _, d, st, _ in polls if st == 200]
    sizes = [sz for *_, sz in polls]
    lines.append(f"| dashboard live.json every {args.poll:g} s: n, p50 / p99 ms, size | {len(polls)}, "
                 f"{pct(lat, 50):.0f} / {pct(lat, 99):.0f}, {max(sizes) / 1e6 if sizes else 0:.2f} MB; non-200 "
                 f"{sum(1 for *_, st, _ in polls if st != 200)} |")
    lines.append(f"| database at the end: outbox by status | {view['outbox']} |")
    lines.append(f"| provider events by kind / check-ins by state | {view['events']} / {view['checkins']} |")
    lines.append(f"| shared rate-limit rows (name: tat) | {view['rate_limit'] or 'none: dispatchers used local buckets'} |")
    lines += ["", "dashboard data built in-process after the night (median of 5, no other load from this run):", "",
              "| builder | ms | bytes |", "|---|---|---|"]
    lines += [f"| {k} | {1000 * t:.0f} | {n:,} |" for k, (t, n) in builders.items()]
    if ceil:
        lines += ["", f"ceiling, same gunicorn settings, {args.clients} client processes closed-loop, "
                      f"{args.ceiling_requests} requests each:", "",
                  "| endpoint | req/s | p50 ms | p95 ms | non-2xx |", "|---|---|---|---|---|"]
        for k, r in ceil.items():
            lines.append(f"| {k} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['errors']} |")
        (a, b) = (ceil.get("status callbacks (fresh, delivered)"), ceil.get("bare Flask endpoint, one INSERT"))
        if a and b:
            lines.append(f"\nstatus callbacks reach {100 * a['rps'] / b['rps']:.0f} % of the bare-endpoint ceiling")
    text_out = "\n".join(lines)
    print("\n" + text_out)
    out_dir = HERE / "out"
    out_dir.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    (out_dir / f"night_load-{stamp}.json").write_text(json.dumps(
        {"args": vars(args), "meta": meta, "records": recs, "accepted": res["accepted"], "polls": polls,
         "view": {k: {str(a): b for a, b in v.items()} for k, v in view.items()}, "ceiling": ceil,
         "sent_by": sent_by, "builders": builders, "report": text_out}, default=str))


if __name__ == "__main__":
    main()

"""Benchmark (issue 19 item 5): ``POST /api/v1/outages`` on PostgreSQL, today's code against the new,
in the same run and on the same database, and how soon the clock's proposals follow.

- today's code: the source of the base commit (``git archive``, default: the merge-base with ``integration``) in a
  subprocess (``baseline/declare_request.py``); its request also runs the transport proposals;
- the new code: the same request, which only asks the clock to propose (NOTIFY on commit);
- the clock's side, in this process as ``bcp-service clock`` runs it: ``outages.wakeup.listen`` on
  its own connection and the ``outages.proposals`` job lingering on the wake-up; measured from the
  end of the request until the proposals are visible to the dashboard's query.

The load average is recorded; on a loaded machine (load > 4) run it once, at modest size.

    .venv/bin/python benchmarks/transport_declare.py [--patients 50000] [--affected 20000] [--base integration]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
os.environ.setdefault("BCP_ENV", "test")

from sqlalchemy import func, select  # noqa: E402

from outages_declare import fresh_url  # noqa: E402
from outages_matching import write_section  # noqa: E402
from synthetic import generate, load  # noqa: E402

RESULTS = HERE / "results" / "outages.md"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=50_000)
    ap.add_argument("--affected", type=int, default=20_000)
    ap.add_argument("--base", default=None, help="today's code: a commit (default: where this branch left integration)")
    args = ap.parse_args()
    from bcp_service.app import create_app
    from bcp_service.auth import services as auth_services
    from bcp_service.db import db
    from bcp_service.migrate import upgrade
    from bcp_service.outages import jobs, wakeup
    from bcp_service.outages.models import Transport

    if args.base is None:
        args.base = subprocess.run(["git", "-C", str(HERE.parent), "merge-base", "HEAD", "integration"], check=True,
                                   capture_output=True, text=True).stdout.strip()[:12]
    load_avg = os.getloadavg()
    tmp = Path(tempfile.mkdtemp())
    base_src = tmp / "base"
    base_src.mkdir()
    archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", args.base], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(base_src)], input=archive.stdout, check=True)
    url, drop = fresh_url("postgresql", tmp)
    try:
        upgrade(url)
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret", "MESSAGING_CHANNEL": "console",
                          "PUBLIC_BASE_URL": "https://bcp.example.jp"})
        import logging
        logging.getLogger().setLevel(logging.WARNING)
        with app.app_context():
            s = db.session
            world = generate(patients=args.patients)
            now = datetime.now(timezone.utc)
            t = time.perf_counter()
            load(s, world, now=now)
            s.commit()
            loaded = time.perf_counter() - t
            admin = auth_services.create_user(s, email="bench@example.invalid", password="bench-password-123",
                                              role="admin", scope=None, organization_id=None, display_name="bench")
            s.commit()
            token = auth_services.issue_token(s, admin)
            s.commit()
            headers = {"Authorization": f"Bearer {token}"}
            codes, affected = world.codes_for(args.affected)
            client = app.test_client()
            client.get("/healthz")

            def body():
                at = datetime.now(timezone.utc)
                return {"area": {"municipality_codes": codes}, "started_at": at.isoformat(),
                        "expected_restoration_at": (at + timedelta(hours=10)).isoformat()}

            def proposals(oid):
                s.rollback()
                return s.scalar(select(func.count()).select_from(Transport).where(Transport.outage_id == oid))

            # Today's code first (its request proposes inside), then resolve it.
            env = {**os.environ, "DATABASE_URL": url, "BENCH_TOKEN": token, "BCP_ENV": "test"}
            out = subprocess.run([sys.executable, str(HERE / "baseline" / "declare_request.py"), str(base_src),
                                  json.dumps(body())], env=env, capture_output=True, text=True)
            if out.returncode != 0:
                raise RuntimeError(out.stderr[-3000:])
            old = json.loads(out.stdout.strip().splitlines()[-1])
            assert old["status"] == 201 and str(base_src) in old["module"], old
            old_proposals = proposals(old["id"])
            assert client.post(f"/api/v1/outages/{old['id']}/resolve", headers=headers).status_code == 200

            # The new code, with the clock listening and its proposer lingering, as in production.
            stop = threading.Event()
            listener = threading.Thread(target=wakeup.listen, args=(url, stop), daemon=True)
            listener.start()
            time.sleep(1.0)
            wakeup.committed.clear()
            clock_made: list[int] = []
            offset = [0.0]                      # moved past the job's deadline to end it after the measure
            proposer = threading.Thread(target=lambda: clock_made.append(jobs.proposals(
                app, linger=60, monotonic=lambda: time.monotonic() + offset[0])), daemon=True)
            proposer.start()
            t0 = time.perf_counter()
            r = client.post("/api/v1/outages", json=body(), headers=headers)
            new_seconds = time.perf_counter() - t0
            assert r.status_code == 201, r.get_json()
            oid = r.get_json()["id"]
            in_request = proposals(oid)
            t1 = time.perf_counter()
            while proposals(oid) == 0 and time.perf_counter() - t1 < 60:
                time.sleep(0.02)
            first_seen = time.perf_counter() - t1
            expected = old_proposals
            while proposals(oid) < expected and time.perf_counter() - t1 < 60:
                time.sleep(0.05)
            all_seen = time.perf_counter() - t1
            new_proposals = proposals(oid)
            stop.set()
            offset[0] = 1_000.0
            wakeup.committed.set()
            proposer.join(timeout=120)
            listener.join(timeout=10)
            s.rollback()
            s.close()
    finally:
        drop()
    lines = [
        f"## Declaring on PostgreSQL (issue 19) — {affected:,} affected of {args.patients:,} patients",
        "",
        f"- load average at start: {load_avg[0]:.2f} / {load_avg[1]:.2f} / {load_avg[2]:.2f} (1 / 5 / 15 min; 2 cores "
        f"shared by several engineers); one run each; data loaded in {loaded:.0f} s",
        f"- today's code (`{args.base}`, proposals inside the request): `POST /api/v1/outages` **{old['seconds']:.2f} s**, "
        f"{old_proposals:,} proposals made in the request",
        f"- new code (proposals by the clock, woken on commit): `POST /api/v1/outages` **{new_seconds:.2f} s** "
        f"({in_request} proposals in the request)",
        f"- proposals visible to the dashboard's query: first after **{first_seen:.2f} s**, all {new_proposals:,} after "
        f"**{all_seen:.2f} s** from the response (goal: within 5 s)",
        "",
    ]
    text = "\n".join(lines)
    write_section(RESULTS, "transport-declare", text)
    print(text)


if __name__ == "__main__":
    main()

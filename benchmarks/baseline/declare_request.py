"""Today's code (before issue 19), in a process of its own: ``POST /api/v1/outages`` through the
Flask test client of the app built from a source tree given as argv[1] (``git archive`` of the base
branch), against the benchmark's database. Prints one JSON line: status, seconds, outage id, and the
``bcp_service`` it imported (so a mix-up with the new code would show)."""
import json
import os
import sys
import time

sys.path.insert(0, sys.argv[1])

import bcp_service  # noqa: E402
from bcp_service.app import create_app  # noqa: E402

app = create_app({"DATABASE_URL": os.environ["DATABASE_URL"], "SECRET_KEY": "bench-secret",
                  "MESSAGING_CHANNEL": "console", "PUBLIC_BASE_URL": "https://bcp.example.jp"})
client = app.test_client()
headers = {"Authorization": f"Bearer {os.environ['BENCH_TOKEN']}"}
body = json.loads(sys.argv[2])
client.get("/healthz")                                   # warm the pool as the running service would be
t0 = time.perf_counter()
r = client.post("/api/v1/outages", json=body, headers=headers)
seconds = time.perf_counter() - t0
print(json.dumps({"status": r.status_code, "seconds": seconds, "id": (r.get_json() or {}).get("id"),
                  "module": bcp_service.__file__}))

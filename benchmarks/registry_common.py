"""Shared set-up for the registry benchmarks: a throwaway migrated database (SQLite file or a fresh
PostgreSQL database), the demo region with its organisations, and synthetic import rows."""
from __future__ import annotations

import contextlib
import csv
import io
import os
import random
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402

PG_ADMIN = os.environ.get("BCP_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def database(backend: str):
    """Yield a migrated database URL; drop it afterwards."""
    from bcp_service.migrate import upgrade

    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as d:
            url = f"sqlite:///{d}/bench.sqlite"
            upgrade(url)
            yield url
        return
    name = f"bcp_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_app(url: str):
    os.environ.setdefault("BCP_ENV", "test")
    from bcp_service.app import create_app

    return create_app({"DATABASE_URL": url, "TESTING": True})


def seed_world(session, now):
    """The demo region and organisations (no patients). Returns (region, municipalities, orgs)."""
    from bcp_service import demo
    from bcp_service.orgs.models import Organization, Region

    region = Region(**demo.REGION, municipality_codes=[m[0] for m in demo.MUNICIPALITIES], created_at=now)
    session.add(region)
    orgs = []
    for name, kind, muni, dlat, dlon, caps in demo.ORGANIZATIONS:
        code, ward, lat, lon = demo.MUNICIPALITIES[muni]
        org = Organization(name=name, kind=kind, region_code=region.code, municipality_code=code,
                           lat=lat + dlat, lon=lon + dlon, created_at=now,
                           **{"has_generator": False, "accepts_ventilator": False, "ventilator_beds": 0,
                              "power_supply_point": False, "on_call_24h": False, **caps})
        session.add(org)
        orgs.append(org)
    session.commit()
    return region, demo.MUNICIPALITIES, orgs


def rows_for(n: int, seed: int, region, municipalities, orgs) -> list[dict[str, str]]:
    from bcp_service.registry.synthetic import synthetic_rows

    return synthetic_rows(random.Random(seed), n, municipalities, region_code=region.code,
                          primary_org_ids=[o.id for o in orgs if o.kind == "clinic"],
                          nursing_org_ids=[o.id for o in orgs if o.kind == "home_nursing"],
                          facility_ids=[o.id for o in orgs if o.accepts_ventilator])


def to_csv(rows: list[dict[str, str]], encoding: str = "utf-8-sig") -> bytes:
    from bcp_service.registry.tabular import COLUMNS

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode(encoding)

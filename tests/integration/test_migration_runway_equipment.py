"""Migration 0009 carries registry rows over unchanged: old devices become primary, old backups get no
DC output and empty new fields, and every old value is kept (SQLite and PostgreSQL)."""
from __future__ import annotations

import re
import uuid

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from bcp_service.migrate import alembic_config
from tests.conftest import BACKENDS, PG_ADMIN_URL, _pg_available

BEFORE = "0008_outbox_unknown_outcome"


@pytest.fixture(params=BACKENDS)
def fresh_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mig.sqlite'}"
        return
    problem = _pg_available()
    if problem:
        pytest.skip(f"PostgreSQL unavailable: {problem}")
    name = f"bcp_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield re.sub(r"/[^/]*$", f"/{name}", PG_ADMIN_URL)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_0009_keeps_existing_registry_rows(fresh_url):
    cfg = alembic_config(fresh_url)
    command.upgrade(cfg, BEFORE)
    engine = create_engine(fresh_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO regions (code, name, prefecture_code, kind, municipality_codes, created_at) "
                          "VALUES ('1301', '試験圏域', '13', 'secondary_area', '[]', '2026-01-01 00:00:00')"))
        conn.execute(text(
            "INSERT INTO patients (id, name, phone_e164, phone_kind, region_code, consent_to_share, consent_scope, "
            "drill_opt_in, power_company_registered, evacuation_plan_status, status, runway_hours, runway_tier, "
            "runway_explain, created_at, updated_at) VALUES (1, '試験 太郎', '+819000000001', 'mobile', '1301', "
            "false, '[]', false, false, 'none', 'active', 24.0, 'yellow', '自立電源時間は24時間です。', "
            "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
        conn.execute(text(
            "INSERT INTO patient_devices (id, patient_id, position, kind, mode, watts, hours_per_day, "
            "internal_battery_hours, life_sustaining) VALUES (1, 1, 0, 'ventilator', 'TPPV', 24, 24, 8, NULL)"))
        conn.execute(text(
            "INSERT INTO patient_backups (id, patient_id, position, kind, hours, count, watt_hours, note) VALUES "
            "(1, 1, 0, 'external_battery', 8, 2, NULL, '寝室'), (2, 1, 1, 'power_station', NULL, 1, 1024, NULL)"))
    before = _snapshot(engine)
    command.upgrade(cfg, "heads")
    after = _snapshot(engine)
    for table, rows in before.items():
        assert [{k: r[k] for k in row} for row, r in zip(rows, after[table])] == rows, table
    with engine.connect() as conn:
        assert conn.execute(text("SELECT role, flow_lpm FROM patient_devices")).all() == [("primary", None)]
        new = conn.execute(text("SELECT dc_output, device_kind, liters, fuel_cans, fuel_liters, checked_on, "
                                "purchased_on, conserver_ratio FROM patient_backups ORDER BY id")).all()
        assert [tuple(r) for r in new] == [(False, None, None, None, None, None, None, None)] * 2
        assert conn.execute(text("SELECT power_checked_on FROM patients")).scalar() is None
    engine.dispose()


def _snapshot(engine) -> dict[str, list[dict]]:
    out = {}
    with engine.connect() as conn:
        for table in ("patients", "patient_devices", "patient_backups"):
            out[table] = [dict(r._mapping) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
    return out

"""Migration 0010 carries outage rows over: every old value kept, the latest answer is the first one,
an open urgent request keeps its time, nothing is restored or flagged (SQLite and PostgreSQL)."""
from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, text

from bcp_service.migrate import alembic_config
from tests.integration.test_migration_runway_equipment import fresh_url  # noqa: F401

BEFORE = "0009_runway_equipment"
T = "'2026-01-01 00:00:00'"
ANSWERED = "'2026-01-01 01:00:00'"


def test_0010_keeps_existing_outage_rows(fresh_url):  # noqa: F811
    cfg = alembic_config(fresh_url)
    command.upgrade(cfg, BEFORE)
    engine = create_engine(fresh_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO regions (code, name, prefecture_code, kind, municipality_codes, created_at) "
                          f"VALUES ('1301', '試験圏域', '13', 'secondary_area', '[]', {T})"))
        conn.execute(text(
            "INSERT INTO patients (id, name, phone_e164, phone_kind, region_code, consent_to_share, consent_scope, "
            "drill_opt_in, power_company_registered, evacuation_plan_status, status, runway_hours, runway_tier, "
            f"runway_explain, created_at, updated_at) VALUES (1, '試験 太郎', '+819000000001', 'mobile', '1301', "
            f"false, '[]', false, false, 'none', 'active', 24.0, 'yellow', '', {T}, {T}), "
            "(2, '試験 花子', '+819000000002', 'mobile', '1301', false, '[]', false, false, 'none', 'active', 5.0, "
            f"'red', '', {T}, {T})"))
        conn.execute(text(
            "INSERT INTO outages (id, status, drill, region_code, area, area_kind, started_at, declared_at, "
            f"silence_minutes, safety_margin_minutes) VALUES (1, 'active', false, '1301', "
            f"'{{\"municipality_codes\": [\"131024\"]}}', 'municipality_codes', {T}, {T}, 15, 60)"))
        conn.execute(text(
            "INSERT INTO outage_patients (id, outage_id, patient_id, in_area, runway_hours, dependent_24h, "
            "runs_out_at, checkin, round, answered_at, added_at) VALUES "
            f"(1, 1, 1, true, 24, true, {T}, 'ok', 1, {ANSWERED}, {T}), "
            f"(2, 1, 2, true, 5, true, {T}, 'needs_help', 1, {ANSWERED}, {T})"))
        conn.execute(text(
            "INSERT INTO transports (id, outage_id, patient_id, status, reason, bed_reserved, created_at, updated_at) "
            f"VALUES (1, 1, 2, 'proposed', 'runs_out_before_restoration', false, {T}, {T})"))
    before = _rows(engine)
    command.upgrade(cfg, "heads")
    after = _rows(engine)
    for table, rows in before.items():
        assert [{k: r[k] for k in row} for row, r in zip(rows, after[table])] == rows, table
    with engine.connect() as conn:
        got = conn.execute(text("SELECT cycle, last_answer_at = answered_at, help_requested_at IS NULL, "
                                "restored_at FROM outage_patients ORDER BY id")).all()
        assert [tuple(r) for r in got] == [(0, True, True, None), (0, True, False, None)]
        assert conn.execute(text("SELECT flag FROM transports")).scalar() is None
    engine.dispose()


def _rows(engine) -> dict[str, list[dict]]:
    with engine.connect() as conn:
        return {t: [dict(r._mapping) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY id"))]
                for t in ("outages", "outage_patients", "transports")}

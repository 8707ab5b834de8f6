"""Migration 0009_transport_loans carries outage data over (SQLite and PostgreSQL): where a patient had
two live transports in one outage (the request and the clock both proposed), the most advanced stays
and the other is cancelled; the patient's row points at the survivor; held beds are recounted from
the transports of active outages; the transport need is copied from the patient."""
from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, text

from bcp_service.migrate import alembic_config
from tests.integration.test_migration_runway_equipment import BEFORE, fresh_url  # noqa: F401 (fixture)

T = "'2026-01-01 00:00:00'"


def test_0009_transport_loans_keeps_one_live_transport_and_recounts_beds(fresh_url):  # noqa: F811
    cfg = alembic_config(fresh_url)
    command.upgrade(cfg, BEFORE)
    engine = create_engine(fresh_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO regions (code, name, prefecture_code, kind, municipality_codes, created_at) "
                          f"VALUES ('1301', '試験圏域', '13', 'secondary_area', '[]', {T})"))
        conn.execute(text(
            "INSERT INTO organizations (id, name, kind, region_code, has_generator, accepts_ventilator, "
            "ventilator_beds, power_supply_point, on_call_24h, created_at) VALUES "
            f"(1, '試験病院', 'hospital', '1301', true, true, 5, false, false, {T})"))
        conn.execute(text(
            "INSERT INTO patients (id, name, phone_e164, phone_kind, region_code, consent_to_share, consent_scope, "
            "drill_opt_in, power_company_registered, evacuation_plan_status, status, runway_hours, runway_tier, "
            "runway_explain, created_at, updated_at, transport_needs) VALUES (1, '試験 太郎', '+819000000001', "
            f"'mobile', '1301', false, '[]', false, false, 'none', 'active', 2.0, 'red', '', {T}, {T}, 'stretcher')"))
        conn.execute(text(
            "INSERT INTO outages (id, status, drill, region_code, area, area_kind, started_at, declared_at, "
            f"silence_minutes, safety_margin_minutes) VALUES (1, 'active', false, '1301', "
            f"'{{\"municipality_codes\": [\"131016\"]}}', 'municipality_codes', {T}, {T}, 15, 60)"))
        conn.execute(text(
            "INSERT INTO transports (id, outage_id, patient_id, facility_id, status, reason, bed_reserved, "
            f"created_at, updated_at) VALUES (1, 1, 1, 1, 'assigned', 'answer', true, {T}, {T}), "
            f"(2, 1, 1, 1, 'proposed', 'runs_out_before_restoration', false, {T}, {T})"))
        conn.execute(text(
            "INSERT INTO outage_patients (id, outage_id, patient_id, in_area, dependent_24h, runs_out_at, checkin, "
            f"round, added_at, transport_id) VALUES (1, 1, 1, true, true, {T}, 'needs_help', 1, {T}, 2)"))
        conn.execute(text("INSERT INTO facility_reservations (facility_id, reserved) VALUES (1, 3)"))   # drifted
    command.upgrade(cfg, "heads")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, status, transport_needs FROM transports ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(1, "assigned", "stretcher"), (2, "cancelled", "stretcher")]
        assert conn.execute(text("SELECT transport_id FROM outage_patients")).scalar() == 1
        assert conn.execute(text("SELECT reserved FROM facility_reservations")).scalar() == 1
    engine.dispose()

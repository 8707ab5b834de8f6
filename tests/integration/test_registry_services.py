"""Registry services on SQLite and PostgreSQL: runway stored on every write, thresholds from config,
contactable patients for outages and drills, demo seed, CLI import."""
import random

import pytest
from sqlalchemy import func, select

from bcp_service.auth.models import AuditEvent
from bcp_service.auth.roles import Actor, Role
from bcp_service.errors import Invalid, OutOfScope
from bcp_service.registry import bulk_import, queries, services
from bcp_service.registry.models import Patient
from bcp_service.registry.schemas import PatientIn

ADMIN = Actor(user_id=None, role=Role.ADMIN, scope=None)
HUB = Actor(user_id=None, role=Role.HUB_STAFF, scope="1301")


def _new(session, clock, actor=ADMIN, policy=services.RunwayPolicy(), **over):
    data = PatientIn().load({"name": "試験 太郎", "phone": "090-0000-0001", "region_code": "1301",
                             "devices": [{"kind": "ventilator", "mode": "TPPV", "watts": 24,
                                          "internal_battery_hours": 8}], **over})
    p = services.create_patient(session, actor, data, now=clock.now(), policy=policy)
    session.commit()
    return p


def test_runway_recomputed_on_every_write(app, session, clock, make_region):
    make_region("1301")
    p = _new(session, clock)
    assert (p.runway_hours, p.runway_tier) == (8, "yellow")
    services.update_patient(session, ADMIN, p.id, PatientIn().load(
        {"backups": [{"kind": "external_battery", "hours": 8, "count": 2}]}, partial=True),
        now=clock.now(), policy=services.RunwayPolicy())
    session.commit()
    assert session.get(Patient, p.id).runway_hours == 24
    services.update_patient(session, ADMIN, p.id, PatientIn().load({"devices": []}, partial=True),
                            now=clock.now(), policy=services.RunwayPolicy())
    session.commit()
    assert session.get(Patient, p.id).runway_tier == "green"


@pytest.fixture
def app_config():
    return {"RUNWAY_RED_HOURS": 10.0, "RUNWAY_YELLOW_HOURS": 48.0}


def test_thresholds_come_from_config(app, session, clock, make_region):
    make_region("1301")
    policy = services.RunwayPolicy.from_config(app.config)
    assert _new(session, clock, policy=policy).runway_tier == "red"     # 8 h < 10 h
    p = _new(session, clock, policy=policy, phone="090-0000-0002",
             backups=[{"kind": "external_battery", "hours": 8, "count": 2}])
    assert p.runway_tier == "yellow"                                       # 24 h < 48 h


def test_contactable_excludes_inactive_deleted_and_non_opted_in_for_drills(app, session, clock, make_region):
    make_region("1301")
    active = _new(session, clock, drill_opt_in=True)
    _new(session, clock, phone="090-0000-0002", status="hospitalised", drill_opt_in=True)
    gone = _new(session, clock, phone="090-0000-0003")
    plain = _new(session, clock, phone="090-0000-0004", municipality_code="131024")
    services.delete_patient(session, ADMIN, gone.id, now=clock.now())
    session.commit()
    ids = set(session.scalars(queries.contactable_patients(region_codes=["1301"]).with_only_columns(Patient.id)))
    assert ids == {active.id, plain.id}
    drill = set(session.scalars(queries.contactable_patients(drill=True).with_only_columns(Patient.id)))
    assert drill == {active.id}
    muni = set(session.scalars(queries.contactable_patients(municipality_codes=["131024"])
                               .with_only_columns(Patient.id)))
    assert muni == {plain.id}


def test_hub_staff_cannot_create_outside_region(app, session, clock, make_region):
    make_region("1301")
    make_region("1302")
    with pytest.raises(OutOfScope):
        _new(session, clock, actor=HUB, region_code="1302")
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Patient)) == 0


def test_import_collects_every_bad_row_and_stores_none(app, session, clock, make_region):
    make_region("1301")
    rows = [(2, PatientIn().load({"name": "a", "phone": "090-0000-0001", "region_code": "1301"})),
            (3, PatientIn().load({"name": "b", "phone": "090-0000-0002", "region_code": "9999"})),
            (4, PatientIn().load({"name": "c", "phone": "090-0000-0003", "primary_org_id": 42}))]
    with pytest.raises(Invalid) as e:
        bulk_import.import_patients(session, ADMIN, rows, now=clock.now(), policy=services.RunwayPolicy())
    session.rollback()
    assert [r["row"] for r in e.value.extra["rows"]] == [3, 4]
    assert session.scalar(select(func.count()).select_from(Patient)) == 0
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_demo_seed_makes_realistic_mix(app, session, clock):
    from bcp_service import demo

    demo.seed(patients=120)
    patients = session.scalars(select(Patient)).all()
    assert len(patients) == 120
    tiers = {p.runway_tier for p in patients}
    assert tiers == {"red", "yellow", "green"}
    kinds = {d.kind for p in patients for d in p.devices}
    assert {"ventilator", "oxygen_concentrator"} <= kinds
    assert {p.municipality_code for p in patients} >= {"131016", "131024"}
    assert all(p.primary_org_id for p in patients)
    assert all("試験" in p.name or "見本" in p.name or "仮名" in p.name or "架空" in p.name or "例示" in p.name
               for p in patients)


def test_cli_import(app, session, tmp_path, make_region, monkeypatch):
    from click.testing import CliRunner

    from bcp_service.cli import main

    make_region("1301")
    path = tmp_path / "list.csv"
    path.write_bytes("name,phone,region_code,device_kind,internal_battery_hours\r\n"
                     "試験 一,090-0000-0061,1301,ventilator,8\r\n".encode("cp932"))
    monkeypatch.setenv("DATABASE_URL", app.config["DATABASE_URL"])
    result = CliRunner().invoke(main, ["patients", "import", str(path)])
    assert result.exit_code == 0, result.output
    # 8 h is yellow by default; with RUNWAY_RED_HOURS=10 a recompute turns it red
    monkeypatch.setenv("RUNWAY_RED_HOURS", "10")
    assert "imported 1" in result.output
    recomputed = CliRunner().invoke(main, ["patients", "recompute"])
    assert "recomputed 1, tier changed for 1" in recomputed.output
    session.expire_all()
    assert session.scalars(select(Patient.runway_tier)).one() == "red"
    monkeypatch.delenv("RUNWAY_RED_HOURS")
    assert result.exit_code == 0, result.output
    assert "imported 1" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("name,phone\r\n試験 二,abc\r\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["patients", "import", str(bad)])
    assert result.exit_code == 1
    assert "2行目 phone" in result.output
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Patient)) == 1

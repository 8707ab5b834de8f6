"""Issue 12, problems 1 and 3: outage areas by municipality code, over HTTP on SQLite and PostgreSQL.

5-digit codes reach the same patients as 6-digit ones; an unknown code is a 400 naming it; a patient
whose municipality is unknown is taken in (and marked) unless their coordinates place them elsewhere.
"""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bcp_service.outages.models import Outage
from bcp_service.registry.models import Patient, PatientDevice


@pytest.fixture
def world(session, clock, make_region, make_user, auth_headers):
    make_region()      # 1301 区中央部: 131016 千代田区, 131024 中央区, 131032 港区

    def patient(name, muni, lat, lon, n=[0]):
        n[0] += 1
        p = Patient(name=name, phone_e164=f"+8190000{n[0]:06d}", phone_kind="mobile", municipality_code=muni,
                    lat=lat, lon=lon, region_code="1301", runway_hours=5.0, runway_tier="red",
                    runway_explain="", created_at=clock.now(), updated_at=clock.now())
        p.devices.append(PatientDevice(kind="ventilator", hours_per_day=24, internal_battery_hours=3))
        session.add(p)
        session.flush()
        return p.id

    ids = {
        "bunkyo": patient("試験 文京", "131059", 35.708, 139.752),
        "chuo": patient("試験 中央", "131024", 35.671, 139.772),
        # Registered with coordinates in 中央区 but no municipality (the invisible patient).
        "unknown_here": patient("試験 不明近", None, 35.672, 139.773),
        # No municipality, no coordinates: nothing places them elsewhere.
        "unknown_nowhere": patient("試験 不明無", None, None, None),
        # No municipality, coordinates in 大阪 (a data error, but clearly not in 中央区).
        "unknown_far": patient("試験 不明遠", None, 34.69, 135.50),
    }
    session.commit()
    return ids, auth_headers(make_user("hub_staff", scope="1301"))


def declare(client, clock, headers, codes):
    return client.post("/api/v1/outages", headers=headers, json={
        "area": {"municipality_codes": codes}, "started_at": clock.now().isoformat(),
        "expected_restoration_at": (clock.now() + timedelta(hours=8)).isoformat()})


@pytest.mark.parametrize("code", ["13105", "131059", "１３１０５"])
def test_five_and_six_digit_codes_reach_the_same_patients(client, clock, world, code):
    ids, hub = world
    r = declare(client, clock, hub, [code])
    # Before the fix: 13105 → 422 「この範囲に該当する在宅患者がいません」 while 131059 found the patient.
    assert r.status_code == 201, r.get_json()
    rows = client.get(f"/api/v1/outages/{r.get_json()['id']}/patients", headers=hub).get_json()
    rows = rows["items"] if isinstance(rows, dict) else rows
    assert ids["bunkyo"] in {row["patient_id"] for row in rows}


@pytest.mark.parametrize("code", ["999997", "99999", "131015"])
def test_unknown_code_is_a_400_naming_it_and_nothing_is_declared(client, session, clock, world, code):
    ids, hub = world
    r = declare(client, clock, hub, ["131024", code])
    assert r.status_code == 400, r.get_json()
    assert code in str(r.get_json())
    assert session.scalar(select(func.count()).select_from(Outage)) == 0


def test_patients_of_unknown_municipality_are_taken_in_marked_and_counted(client, clock, world):
    ids, hub = world
    r = declare(client, clock, hub, ["131024"])
    assert r.status_code == 201, r.get_json()
    oid = r.get_json()["id"]
    rows = client.get(f"/api/v1/outages/{oid}/patients", headers=hub).get_json()
    rows = rows["items"] if isinstance(rows, dict) else rows
    got = {row["patient_id"]: row["municipality_unknown"] for row in rows}
    assert got == {ids["chuo"]: False, ids["unknown_here"]: True, ids["unknown_nowhere"]: True}
    detail = client.get(f"/api/v1/outages/{oid}", headers=hub).get_json()
    assert detail["affected"] == 3 and detail["municipality_unknown"] == 2


def test_a_functional_drill_by_region_codes_reaches_the_patient_without_municipality(session, clock, world):
    """Drills declare by the region's municipality codes (drills.adapters): same path, same patients."""
    from bcp_service.outages import declare as services
    from bcp_service.outages.access import SYSTEM
    from bcp_service.outages.notify import notifier_for
    from flask import current_app

    ids, _ = world
    session.execute(Patient.__table__.update().values(drill_opt_in=True))
    session.commit()
    cmd = services.DeclareOutage(area={"municipality_codes": ["131016", "131024", "131032"]},
                                 started_at=clock.now(), drill=True, region_code="1301")
    res = services.declare_outage(session, SYSTEM, cmd, now=clock.now(), notifier=notifier_for(current_app))
    session.commit()
    from bcp_service.outages.models import OutagePatient
    got = set(session.scalars(select(OutagePatient.patient_id).where(OutagePatient.outage_id == res.outage.id)))
    assert got == {ids["chuo"], ids["unknown_here"], ids["unknown_nowhere"]}


def test_an_admin_outage_without_region_takes_in_the_covering_regions_unknowns(client, clock, world,
                                                                                 make_user, auth_headers):
    ids, _ = world
    admin = auth_headers(make_user("admin"))
    r = declare(client, clock, admin, ["13102"])
    assert r.status_code == 201, r.get_json()
    rows = client.get(f"/api/v1/outages/{r.get_json()['id']}/patients", headers=admin).get_json()
    rows = rows["items"] if isinstance(rows, dict) else rows
    assert {row["patient_id"] for row in rows} == {ids["chuo"], ids["unknown_here"], ids["unknown_nowhere"]}

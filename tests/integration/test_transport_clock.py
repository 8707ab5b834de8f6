"""Transport proposals move out of the declaring request to the clock, woken by the commit
(issue 19 item 5), on SQLite and PostgreSQL."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bcp_service.clock import iso_local
from bcp_service.db import db
from bcp_service.outages import jobs, wakeup
from bcp_service.outages.models import Transport
from bcp_service.registry.models import Patient, PatientDevice

WARD = "131024"
WAIT = 5          # the dashboard must show the proposals within 5 s


@pytest.fixture
def world(session, clock, make_region, make_org, make_user, auth_headers):
    make_region()
    make_org(name="試験近所病院", lat=35.690, lon=139.775, has_generator=True, accepts_ventilator=True,
             ventilator_beds=5)
    for i, hours in enumerate((1.0, 2.0, 50.0)):
        p = Patient(name=f"試験 {i}郎", phone_e164=f"+8190000000{i + 10}", phone_kind="mobile", municipality_code=WARD,
                    lat=35.670, lon=139.770, region_code="1301", runway_hours=hours, runway_tier="red",
                    runway_explain="", created_at=clock.now(), updated_at=clock.now())
        p.devices.append(PatientDevice(kind="ventilator", mode="TPPV", hours_per_day=24, internal_battery_hours=3))
        session.add(p)
    session.commit()
    return auth_headers(make_user("hub_staff"))


def _declare(client, clock, headers):
    return client.post("/api/v1/outages", headers=headers, json={
        "area": {"municipality_codes": [WARD]}, "started_at": iso_local(clock.now()),
        "expected_restoration_at": iso_local(clock.now() + timedelta(hours=8))})


def _transports(session):
    session.rollback()
    return session.scalar(select(func.count()).select_from(Transport))


class FakeMonotonic:
    def __init__(self):
        self.value = 0.0

    def __call__(self):
        return self.value


def test_declaration_answers_without_proposals_and_its_commit_wakes_the_clock(app, client, session, clock, world):
    wakeup.committed.clear()
    r = _declare(client, clock, world)
    assert r.status_code == 201, r.get_json()
    assert _transports(session) == 0                 # nothing proposed inside the request
    assert wakeup.committed.is_set()                 # …but the commit woke the proposer
    assert jobs.proposals(app, linger=0.5) == 2      # the two who run out before restoration
    oid = r.get_json()["id"]
    items = client.get(f"/api/v1/outages/{oid}/transports", headers=world).get_json()["items"]
    assert sorted(t["status"] for t in items) == ["proposed", "proposed"]
    assert all(t["bed_reserved"] and t["facility_name"] == "試験近所病院" for t in items)


def test_a_rolled_back_declaration_wakes_nobody(app, session):
    wakeup.committed.clear()
    wakeup.request(session)
    session.rollback()
    assert not wakeup.committed.is_set()


def test_lingering_proposer_makes_proposals_within_seconds_of_the_commit(app, client, session, clock, world):
    wakeup.committed.clear()
    monotonic = FakeMonotonic()
    thread = threading.Thread(target=jobs.proposals, args=(app,), kwargs=dict(linger=60, monotonic=monotonic),
                              daemon=True)
    thread.start()
    try:
        t0 = time.monotonic()
        assert _declare(client, clock, world).status_code == 201
        while _transports(session) < 2 and time.monotonic() - t0 < WAIT:
            time.sleep(0.05)
        assert _transports(session) == 2, "no proposals within 5 s of the declaration's commit"
    finally:
        monotonic.value = 1_000
        wakeup.committed.set()
        thread.join(timeout=20)
    assert not thread.is_alive()


@pytest.mark.postgres
def test_postgres_notify_reaches_the_clocks_listener_only_on_commit(app, backend, client, session, clock, world):
    if backend != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    heard, stop = threading.Event(), threading.Event()
    listener = threading.Thread(target=wakeup.listen, args=(app.config["DATABASE_URL"], stop),
                                kwargs={"wake": heard}, daemon=True)
    listener.start()
    try:
        assert heard.wait(WAIT)                    # connected (it wakes once on connect)
        heard.clear()
        other = db.session_factory()
        wakeup.request(other)
        other.rollback()
        other.close()
        assert not heard.wait(1.0)
        assert _declare(client, clock, world).status_code == 201
        assert heard.wait(WAIT)
    finally:
        stop.set()
        listener.join(timeout=10)

"""The desk's dashboard in headless chromium: triage table ordered by runs-out time, live countdowns."""
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from bcp_service.registry.models import Patient, PatientDevice

pytestmark = pytest.mark.browser


def test_dashboard_shows_triage_table_ordered_by_runs_out_time(page, live_server, make_region, make_user,
                                                                browser_login, client, auth_headers, session,
                                                                clock):
    make_region()
    for i, hours in enumerate((30.0, 2.0, 9.0, 0.5)):
        p = Patient(name=f"試験 患者{i}", phone_e164=f"+81900000{i:04d}", phone_kind="mobile",
                    municipality_code="131016", lat=35.69 + i * 0.002, lon=139.75, region_code="1301",
                    runway_hours=hours, runway_tier="red", runway_explain="", created_at=clock.now(),
                    updated_at=clock.now())
        p.devices.append(PatientDevice(kind="ventilator", hours_per_day=24, internal_battery_hours=3))
        session.add(p)
    session.commit()
    hub = make_user("hub_staff")
    r = client.post("/api/v1/outages", json={"area": {"municipality_codes": ["131016"]},
                                              "started_at": clock.now().isoformat(),
                                              "expected_restoration_at": (clock.now() + timedelta(hours=10)).isoformat()},
                    headers=auth_headers(hub))
    oid = r.get_json()["id"]
    browser_login(hub)
    page.goto(f"{live_server}/outages/{oid}")
    rows = page.locator("#triage tbody tr")
    expect(rows).to_have_count(4)
    names = rows.locator("td:nth-child(5)").all_inner_texts()
    assert names == ["試験 患者3", "試験 患者1", "試験 患者2", "試験 患者0"]
    times = [rows.nth(i).get_attribute("data-runs-out-at") for i in range(4)]
    assert times == sorted(times)
    assert rows.nth(0).get_attribute("class") == "tier-red"
    assert rows.nth(3).get_attribute("class") == "tier-green"
    expect(page.locator("#checkin-cards [data-key=pending] b")).to_have_text("4")
    expect(page.locator("#tier-cards [data-key=red] b")).to_have_text("3")
    # Countdown: the server clock says 30 min are left for 患者3.
    assert "0時間30分" in rows.nth(0).locator(".countdown").inner_text() or \
        "0時間29分" in rows.nth(0).locator(".countdown").inner_text()
    expect(page.locator("#map svg circle")).to_have_count(4)
    expect(page.locator("#timeline")).to_contain_text("停電宣言")

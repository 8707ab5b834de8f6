"""Issue 13, item 3 in headless chromium: a new urgent request reaches the open dashboard within its
refresh — first in the list, highlighted, a banner, and a sound the desk can mute."""
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from bcp_service.registry.models import Patient, PatientDevice

pytestmark = pytest.mark.browser


def test_new_urgent_request_is_highlighted_first_with_a_sound_the_desk_can_mute(
        page, live_server, make_region, make_user, browser_login, client, auth_headers, session, clock):
    make_region()
    ids = []
    for i, hours in enumerate((2.0, 9.0, 60.0, 70.0)):
        p = Patient(name=f"試験 患者{i}", phone_e164=f"+81900000{i:04d}", phone_kind="mobile",
                    municipality_code="131016", lat=35.69 + i * 0.002, lon=139.75, region_code="1301",
                    runway_hours=hours, runway_tier="red", runway_explain="", created_at=clock.now(),
                    updated_at=clock.now())
        p.devices.append(PatientDevice(kind="ventilator", hours_per_day=24, internal_battery_hours=3))
        session.add(p)
        session.flush()
        ids.append(p.id)
    session.commit()
    hub = make_user("hub_staff")
    headers = auth_headers(hub)
    oid = client.post("/api/v1/outages", json={"area": {"municipality_codes": ["131016"]},
                                                "started_at": clock.now().isoformat(),
                                                "expected_restoration_at": (clock.now() + timedelta(hours=10)).isoformat()},
                      headers=headers).get_json()["id"]
    browser_login(hub)
    page.goto(f"{live_server}/outages/{oid}")
    expect(page.locator("body[data-loaded='1']")).to_have_count(1)
    expect(page.locator("#urgent")).to_be_hidden()
    names = page.locator("#triage tbody tr td:nth-child(5)")
    expect(names.first).to_have_text("試験 患者0")
    expect(page.locator("#triage tbody tr").first.locator("td:nth-child(10)")).not_to_have_text("予定なし")
    mute = page.locator("#urgent-mute")
    expect(mute).to_have_attribute("aria-pressed", "false")
    # The family of the green 患者2 presses 「3」: within the dashboard's 10 s refresh it comes first.
    assert client.post(f"/api/v1/outages/{oid}/patients/{ids[2]}/answer", json={"answer": "3"},
                       headers=headers).status_code == 200
    expect(page.locator("#urgent")).to_be_visible(timeout=15_000)
    expect(page.locator("#urgent-text")).to_contain_text("至急支援・搬送の依頼 1 件")
    expect(names.first).to_have_text("試験 患者2")
    first = page.locator("#triage tbody tr").first
    expect(first).to_have_class("tier-green urgent urgent-new")
    assert page.title().startswith("【至急 1件】")
    assert page.evaluate("document.body.dataset.urgentNew") == "1"
    assert page.evaluate("document.body.dataset.urgentChimed") == "1"     # the sound played (not muted)
    page.locator("#urgent-ack").click()
    assert not page.title().startswith("【至急")
    # Muted (kept in this browser): the next request is shown, silently.
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "true")
    clock.advance(minutes=1)
    assert client.post(f"/api/v1/outages/{oid}/patients/{ids[3]}/answer", json={"answer": "3"},
                       headers=headers).status_code == 200
    expect(page.locator("#urgent-text")).to_contain_text("依頼 2 件", timeout=15_000)
    assert page.evaluate("document.body.dataset.urgentChimed") == "0"
    # Oldest request first, then the runway order.
    expect(names).to_have_text(["試験 患者2", "試験 患者3", "試験 患者0", "試験 患者1"])
    page.reload()
    expect(page.locator("#urgent-mute")).to_have_attribute("aria-pressed", "true")

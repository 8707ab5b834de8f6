"""The demo journey in headless chromium: a check-in arrives in the phone simulator, the person opens
the one-tap link on a phone-sized screen, presses 「3 至急支援・搬送」, and the desk sees it."""
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from bcp_service.messaging.dispatcher import dispatcher_for
from bcp_service.outages.models import OutagePatient
from bcp_service.registry.models import Patient, PatientDevice

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config():
    return {"MESSAGING_SIMULATOR": True}


def test_checkin_arrives_in_the_simulator_and_a_tap_reaches_the_desk(app, page, browser, live_server, make_region,
                                                                     make_user, browser_login, client, auth_headers,
                                                                     session, clock):
    app.config["PUBLIC_BASE_URL"] = live_server          # links in the SMS must open in this browser
    make_region()
    p = Patient(name="試験 太郎", phone_e164="+819000000201", phone_kind="mobile", municipality_code="131016",
                lat=35.69, lon=139.75, region_code="1301", runway_hours=5.0, runway_tier="red", runway_explain="",
                created_at=clock.now(), updated_at=clock.now())
    p.devices.append(PatientDevice(kind="ventilator", hours_per_day=24, internal_battery_hours=5))
    session.add(p)
    session.commit()
    hub = make_user("hub_staff")
    r = client.post("/api/v1/outages", headers=auth_headers(hub), json={
        "area": {"municipality_codes": ["131016"]}, "started_at": clock.now().isoformat(),
        "expected_restoration_at": (clock.now() + timedelta(hours=12)).isoformat()})
    oid = r.get_json()["id"]
    assert dispatcher_for(app).drain().sent == 1

    browser_login(hub)
    page.goto(f"{live_server}/messaging/simulator")
    bubble = page.locator("article.bubble.sms").first
    expect(bubble).to_contain_text("停電の安否確認")
    link = bubble.locator("a").first.get_attribute("href")
    assert link.startswith(f"{live_server}/r/")

    phone = browser.new_context(locale="ja-JP", viewport={"width": 375, "height": 667}, java_script_enabled=False)
    tap = phone.new_page()
    tap.goto(link)
    buttons = tap.locator("button.answer")
    expect(buttons).to_have_count(3)
    assert buttons.nth(2).bounding_box()["height"] >= 60            # large enough for a shaking hand
    buttons.nth(2).click()
    expect(tap.locator("h1")).to_have_text("受け付けました")
    expect(tap.locator("main")).to_contain_text("119番")
    phone.close()

    session.expire_all()
    assert session.scalars(select(OutagePatient.checkin).where(OutagePatient.outage_id == oid)).one() == "needs_help"
    page.goto(f"{live_server}/messaging/simulator")
    expect(page.locator("body")).to_contain_text("answer:needs_help")

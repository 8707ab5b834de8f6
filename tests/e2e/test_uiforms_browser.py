"""What a person sees, in headless chromium: the registry filter (黄 with the other selects at
「すべて」), a family answering on the one-tap page on a 390 × 844 phone, the 災害時個別支援計画 on one A4
page, and Japanese error pages."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from bcp_service.messaging.models import OutboxMessage
from bcp_service.outages.models import OutagePatient

pytestmark = pytest.mark.browser


def _add(client, headers, name, phone, *, battery=None, status="active", **extra):
    body = {"name": name, "phone": phone, "status": status, "municipality_code": "131016", "lat": 35.694,
            "lon": 139.753, "region_code": "1301", **extra}
    if battery is not None:
        body["devices"] = [{"kind": "ventilator", "mode": "TPPV", "watts": 100, "internal_battery_hours": battery}]
    r = client.post("/api/v1/patients", json=body, headers=headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_registry_filter_yellow_with_other_selects_at_all(page, live_server, make_region, make_user, browser_login,
                                                          client, auth_headers):
    make_region("1301")
    hub = make_user("hub_staff", scope="1301")
    h = auth_headers(hub)
    _add(client, h, "試験 赤子", "090-0000-0401", battery=3)
    _add(client, h, "試験 黄子", "090-0000-0402", battery=12)
    _add(client, h, "試験 故人", "090-0000-0403", battery=12, status="deceased")
    _add(client, h, "試験 無機", "090-0000-0404")
    browser_login(hub)
    page.goto(f"{live_server}/patients")
    table = page.locator("table.patients tbody")
    expect(table).not_to_contain_text("試験 故人")                      # active patients by default
    expect(table.locator("tr", has_text="試験 無機")).to_contain_text("機器未登録")
    expect(table.locator("tr", has_text="試験 無機")).not_to_contain_text("30日以上")

    page.get_by_label("区分").select_option(label="黄（24時間以内）")
    page.get_by_role("button", name="絞り込む").click()
    page.wait_for_load_state()
    assert "tier=yellow" in page.url
    rows = table.locator("tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("試験 黄子")
    expect(page.get_by_label("区分")).to_have_value("yellow")           # the chosen filter stays chosen

    page.get_by_label("状態").select_option("all")
    page.get_by_role("button", name="絞り込む").click()
    page.wait_for_load_state()
    expect(rows).to_have_count(2)
    expect(table.locator("tr", has_text="試験 故人")).to_contain_text("対象外（死亡）")
    expect(table.locator("tr", has_text="試験 故人")).not_to_contain_text("赤")


@pytest.fixture
def app_config():
    return {"MESSAGING_SIMULATOR": True}


def test_family_answers_on_a_phone(app, browser, live_server, make_region, make_user, client, auth_headers, session,
                                   clock):
    from bcp_service.messaging.dispatcher import dispatcher_for

    app.config["PUBLIC_BASE_URL"] = live_server
    make_region("1301")
    hub = make_user("hub_staff", scope="1301")
    _add(client, auth_headers(hub), "試験 太郎", "090-0000-0411", battery=3)
    r = client.post("/api/v1/outages", headers=auth_headers(hub), json={
        "area": {"municipality_codes": ["131016"]}, "started_at": clock.now().isoformat(),
        "expected_restoration_at": (clock.now() + timedelta(hours=12)).isoformat()})
    oid = r.get_json()["id"]
    assert dispatcher_for(app).drain().sent == 1
    session.expire_all()
    body = session.scalars(select(OutboxMessage.body).where(OutboxMessage.purpose == "checkin")).first()
    link = re.search(r"https?://\S+/r/\S+", body).group(0)

    phone = browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844}, is_mobile=True,
                                has_touch=True)
    tap = phone.new_page()
    tap.goto(link)
    expect(tap.locator("h1")).to_have_text("停電の安否確認")
    buttons = tap.locator("button.answer")
    expect(buttons).to_have_count(3)
    for i in range(3):                                       # every answer fits the screen, big enough to tap
        box = buttons.nth(i).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["height"] >= 60
    assert tap.evaluate("document.documentElement.scrollWidth") <= 390      # no sideways scrolling
    expect(tap.locator("a[href='tel:119']")).to_have_text("119番")
    buttons.nth(1).tap()
    expect(tap.locator("h1")).to_have_text("受け付けました")

    tap.goto(link[:-6])                                     # a link cut short in the SMS
    expect(tap.locator("body")).not_to_contain_text("Not Found")
    expect(tap.locator("h1")).to_contain_text(re.compile("見つかりません|終了しました|無効"))
    phone.close()
    session.expire_all()
    assert session.scalars(select(OutagePatient.checkin).where(OutagePatient.outage_id == oid)).one() == "low_battery"


def test_individual_plan_prints_on_one_a4_page(page, live_server, make_region, make_org, make_user, browser_login,
                                              client, auth_headers, tmp_path):
    make_region("1301")
    clinic = make_org("1301", name="試験在宅クリニック", kind="clinic", phone="06-0000-0205")
    make_org("1301", name="試験訪問看護ステーション", kind="nursing")
    hub = make_user("hub_staff", scope="1301")
    p = _add(client, auth_headers(hub), "試験 太郎", "090-0000-0421", battery=8, birth_date="昭和25年4月1日",
             name_kana="しけん たろう", address="東京都千代田区千代田1-1", primary_org_id=clinic.id,
             transport_needs="stretcher", transport_equipment="人工呼吸器・吸引器・蘇生バッグ・予備回路",
             backups=[{"kind": "external_battery", "hours": 8, "count": 2},
                      {"kind": "power_station", "watt_hours": 500},
                      {"kind": "generator", "hours": 6},
                      {"kind": "vehicle_inverter"}, {"kind": "manual_resuscitator"}],
             contacts=[{"name": "試験 花子", "relation": "妻", "phone": "090-0000-0422"},
                       {"name": "試験 次郎", "relation": "長男", "phone": "06-0000-0205"}])
    browser_login(hub)
    page.goto(f"{live_server}/patients/{p['id']}/plan")
    sheet = page.locator("article.sheet")
    expect(sheet).to_contain_text("昭和25年4月1日")
    expect(sheet.locator("a[href='tel:+81600000205']").first).to_have_text("06-0000-0205")
    page.emulate_media(media="print")
    pdf = page.pdf(path=str(tmp_path / "plan.pdf"), format="A4", print_background=True)
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
    assert pages == 1, f"「A4 1枚」 printed on {pages} pages"

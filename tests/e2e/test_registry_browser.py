"""A nurse registers a patient through the form (with a device preset) and prints the 個別支援計画."""
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from bcp_service.registry.models import Patient

pytestmark = pytest.mark.browser


def test_register_patient_with_preset_and_print_plan_sheet(page, live_server, make_region, make_org, make_user,
                                                           browser_login, session, tmp_path):
    make_region("1301")
    clinic = make_org("1301", name="試験在宅クリニック", kind="clinic")
    make_org("1301", name="試験受入病院", kind="hospital", has_generator=True, accepts_ventilator=True)
    browser_login(make_user("hub_staff", scope="1301"))

    page.goto(f"{live_server}/patients/new")
    page.get_by_label("氏名（必須）").fill("試験 太郎")
    page.get_by_label("ふりがな").fill("しけん たろう")
    page.get_by_label("電話番号（必須）").fill("090-0000-0201")
    page.locator("input[name=postal_code]").fill("1000001")
    page.get_by_role("button", name="住所を補完").click()
    # (page.wait_for_function would need 'unsafe-eval', which the CSP rightly forbids)
    expect(page.locator("input[name=municipality_code]")).to_have_value("131016")
    page.get_by_label("主治医（在宅療養支援診療所など）").select_option(label="試験在宅クリニック（診療所）")
    page.get_by_label("機器1の候補").select_option("astral_tppv")
    assert page.locator("input[name='devices-0-internal_battery_hours']").input_value() == "8"
    assert page.locator("select[name='backups-0-kind']").input_value() == "external_battery"
    page.locator("select[name='backups-1-kind']").select_option("manual_resuscitator")
    # live preview from the runway endpoint
    expect(page.locator("#runway-preview")).to_contain_text("24時間")
    page.get_by_label("連絡先1 氏名").fill("試験 花子")
    page.locator("input[name='contacts-0-phone']").fill("03-0000-0201")
    page.get_by_label("関係機関への情報提供に同意している").check()
    page.get_by_role("button", name="登録する").click()
    page.wait_for_load_state()

    assert "患者を登録しました" in page.locator(".flash").inner_text()
    assert "24.0時間" in page.locator(".runway-box").inner_text()
    p = session.scalars(select(Patient)).one()
    assert (p.municipality_code, p.primary_org_id, p.runway_tier) == ("131016", clinic.id, "yellow")

    page.get_by_role("link", name="災害時個別支援計画を印刷").click()
    page.wait_for_load_state()
    sheet = page.locator("article.sheet")
    assert "災害時個別支援計画" in sheet.inner_text()
    assert "蘇生バッグ" in sheet.inner_text() and "090-0000-0201" in sheet.inner_text()
    page.emulate_media(media="print")
    assert page.locator("header.topbar").is_hidden()
    pdf = page.pdf(path=str(tmp_path / "plan.pdf"), format="A4", print_background=True)
    assert pdf.startswith(b"%PDF")
    pages = pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page\r") + pdf.count(b"/Type /Page>") \
        + pdf.count(b"/Type /Page/")
    assert 1 <= pages <= 2, f"the sheet should print on one or two A4 pages, got {pages}"


def test_map_degrades_to_plot_and_lists_without_tiles(page, live_server, make_region, make_user, browser_login,
                                                     client, auth_headers):
    make_region("1301")
    user = make_user("hub_staff", scope="1301")
    r = client.post("/api/v1/patients", headers=auth_headers(user), json={
        "name": "試験 地図", "phone": "090-0000-0202", "lat": 35.69, "lon": 139.75,
        "devices": [{"kind": "ventilator", "internal_battery_hours": 3}]})
    assert r.status_code == 201
    page.route("https://cyberjapandata.gsi.go.jp/**", lambda route: route.abort())
    browser_login(user)
    page.goto(f"{live_server}/patients/map")
    expect(page.locator("#tile-status")).to_contain_text("地図タイルを読み込めません")
    assert page.locator("#map").is_hidden()
    assert page.locator("svg.plot circle.dot-red").count() == 1
    assert "試験 地図" in page.locator("table").last.inner_text()


def test_coordinates_picked_on_the_map_when_tiles_load(page, live_server, make_region, make_user, browser_login):
    import base64

    make_region("1301")
    png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
    # a loopback stand-in for the GSI tile server (no internet here)
    page.route("https://cyberjapandata.gsi.go.jp/**",
               lambda route: route.fulfill(status=200, body=png, content_type="image/png"))
    browser_login(make_user("hub_staff", scope="1301"))
    page.goto(f"{live_server}/patients/new")
    box = page.locator("#pick-map")
    expect(box).to_be_visible()
    box.click()  # the centre of the default view (Tokyo station area)
    expect(page.locator("#geo-msg")).to_contain_text("地図で選んだ座標")
    lat = float(page.locator("input[name=lat]").input_value())
    lon = float(page.locator("input[name=lon]").input_value())
    assert abs(lat - 35.68) < 0.05 and abs(lon - 139.76) < 0.05

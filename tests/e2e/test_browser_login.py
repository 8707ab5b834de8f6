import pytest

pytestmark = pytest.mark.browser


@pytest.mark.sqlite_smoke
def test_hub_staff_signs_in_through_japanese_login_and_sees_landing(page, live_server, make_region, make_user,
                                                                    browser_login, tmp_path):
    make_region()
    user = make_user("hub_staff")
    browser_login(user)
    assert page.locator("h1").inner_text() == "拠点職員のホーム"
    assert "試験 hub_staff" in page.locator(".who").inner_text()
    page.screenshot(path=str(tmp_path / "landing.png"))
    page.get_by_role("button", name="ログアウト").click()
    assert page.locator("h1").inner_text() == "ログイン"


def test_wrong_password_shows_japanese_error(page, live_server, make_region, make_user, browser_login):
    make_region()
    browser_login(make_user("field_team"), password="wrong-password-!!")
    assert "正しくありません" in page.locator(".flash").inner_text()

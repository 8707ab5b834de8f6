import pyotp
from sqlalchemy import select

from bcp_service.auth import services
from bcp_service.auth.models import ApiToken, AuditEvent
from tests.conftest import TEST_PASSWORD, csrf_from


def test_login_page_is_japanese(client, app):
    page = client.get("/login").get_data(as_text=True)
    assert "ログイン" in page and 'lang="ja"' in page and 'name="csrf_token"' in page


def test_sign_in_and_out_through_the_form(client, make_region, make_user, login, session):
    make_region()
    user = make_user("hub_staff")
    response = login(user)
    assert response.status_code == 302
    landing = client.get("/").get_data(as_text=True)
    assert "拠点職員のホーム" in landing
    logout = client.post("/logout", data={"csrf_token": csrf_from(landing)})
    assert logout.status_code == 302
    assert client.get("/").status_code == 302   # back to the login page
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.user_id == user.id)).all()
    assert "sign_in" in actions


def test_wrong_password_is_refused_and_audited(client, make_region, make_user, login, session):
    make_region()
    user = make_user("hub_staff")
    response = login(user, password="wrong-password-!!")
    assert response.status_code == 401
    assert "正しくありません" in response.get_data(as_text=True)
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "sign_in_failed")) is not None


def test_form_without_csrf_token_is_rejected(client, make_region, make_user):
    make_region()
    user = make_user("hub_staff")
    response = client.post("/login", data={"email": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_totp_second_factor(client, make_region, make_user, login, session, clock):
    make_region()
    user = make_user("hub_staff")
    services.enable_totp(session, user)
    session.commit()
    assert login(user).status_code == 401             # password alone is not enough
    code = pyotp.TOTP(user.totp_secret).at(clock.now())   # the app's clock decides the time-step
    wrong = "000000" if code != "000000" else "111111"
    assert login(user, otp=wrong).status_code == 401
    assert login(user, otp=code).status_code == 302


def test_login_is_rate_limited(client, make_region, make_user, login, app):
    make_region()
    user = make_user("hub_staff")
    statuses = [login(user, password="wrong-password-!!").status_code for _ in range(12)]
    assert statuses[:10] == [401] * 10
    assert statuses[-1] == 429


def test_open_redirect_after_login_is_refused(client, make_region, make_user, app):
    make_region()
    user = make_user("hub_staff")
    page = client.get("/login")
    response = client.post("/login?next=//evil.example/x", data={
        "email": user.email, "password": TEST_PASSWORD, "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert response.headers["Location"] == "/"


def test_api_token_is_stored_hashed_and_works(client, make_region, make_user, auth_headers, session):
    make_region()
    user = make_user("hub_staff")
    headers = auth_headers(user)
    token = headers["Authorization"].split()[1]
    stored = session.scalars(select(ApiToken.token_hash)).all()
    assert token not in stored and len(stored) == 1
    assert client.get("/api/v1/regions", headers=headers).status_code == 200


def test_session_cookie_flags(client, make_region, make_user, login):
    make_region()
    response = login(make_user("hub_staff"))
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_security_headers(client):
    response = client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_audit_log_page_is_admin_only(client, make_region, make_user, login):
    make_region()
    hub = make_user("hub_staff")
    login(hub)
    assert client.get("/admin/audit").status_code == 403
    admin_client = client.application.test_client()
    login(make_user("admin"), test_client=admin_client)
    page = admin_client.get("/admin/audit").get_data(as_text=True)
    assert "監査ログ" in page and "sign_in" in page


def test_landing_links_only_to_pages_the_role_may_use(client, make_region, make_user, login):
    make_region()
    login(make_user("hub_staff"))
    page = client.get("/").get_data(as_text=True)
    assert "機関・施設" in page and "監査ログ" not in page


def test_organizations_page_lists_capabilities(client, make_region, make_org, make_user, login):
    make_region()
    make_org(name="試験発電病院", has_generator=True, accepts_ventilator=True, ventilator_beds=3)
    login(make_user("field_team"))
    page = client.get("/organizations").get_data(as_text=True)
    assert "試験発電病院" in page and "あり" in page

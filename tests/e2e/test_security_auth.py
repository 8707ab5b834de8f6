"""Issue 18: sessions end server-side (logout, password change, role change), TOTP is required of the
configured roles with enrolment at first sign-in and one use per code, and passwords follow NIST 800-63B."""
import re

import pyotp
import pytest

from bcp_service import config
from bcp_service.auth import services
from bcp_service.auth.models import User
from bcp_service.auth.passwords import password_problem
from bcp_service.errors import Invalid
from tests.conftest import TEST_PASSWORD, csrf_from


@pytest.fixture
def hub(make_region, make_user):
    make_region("1301")
    make_region("1302", name="区西部", municipality_codes=("131041",))
    return make_user("hub_staff", scope="1301")


def _signed_in(c) -> bool:
    return c.get("/patients").status_code == 200


def _copy_of(app, client):
    other = app.test_client()
    for cookie in client._cookies.values():
        other.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    return other


def test_logout_ends_the_session_even_for_a_saved_cookie(app, client, hub, login):
    login(hub)
    saved = _copy_of(app, client)
    assert _signed_in(saved)
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/patients").get_data(as_text=True))})
    assert not _signed_in(client)
    assert not _signed_in(saved)


def test_changing_the_password_ends_every_other_session(app, client, session, hub, login):
    login(hub)
    other = app.test_client()
    login(hub, test_client=other)
    page = client.get("/account/password").get_data(as_text=True)
    r = client.post("/account/password", data={"current_password": TEST_PASSWORD, "new_password": "password123",
                                               "csrf_token": csrf_from(page)})
    assert r.status_code == 400 and "よく使われる" in r.get_data(as_text=True)
    assert _signed_in(other)
    r = client.post("/account/password", data={"current_password": TEST_PASSWORD,
                                               "new_password": "夜間の停電でも落ち着いて", "csrf_token": csrf_from(page)})
    assert r.status_code == 302
    assert _signed_in(client) and not _signed_in(other)


def test_a_role_change_ends_every_session(client, session, hub, login):
    login(hub)
    assert _signed_in(client)
    services.set_role(session, session.get(User, hub.id), role="hub_staff", scope="1302")
    session.commit()
    assert not _signed_in(client)


def test_password_policy_follows_nist_800_63b(session, make_region):
    assert password_problem("short") and password_problem("password123") and password_problem("1111111111")
    assert password_problem("abcdefghijk")
    assert password_problem("shiken@example.jp", context=("shiken@example.jp",))
    # No composition rules: a long phrase of kana alone is fine.
    assert password_problem("ていでんのよるもおちついて") is None
    with pytest.raises(Invalid) as exc:
        services.create_user(session, email="a@example.invalid", password="qwertyuiop", role="admin")
    assert "password" in exc.value.fields


def test_totp_roles_come_from_config():
    assert config.load({"BCP_ENV": "demo"})["REQUIRE_TOTP_ROLES"] == ("admin", "hub_staff")
    assert config.load({"BCP_ENV": "demo", "REQUIRE_TOTP_ROLES": ""})["REQUIRE_TOTP_ROLES"] == ()
    with pytest.raises(config.ConfigError, match="REQUIRE_TOTP_ROLES"):
        config.load({"BCP_ENV": "demo", "REQUIRE_TOTP_ROLES": "admin,boss"})


@pytest.fixture
def totp_on(app):
    app.config["REQUIRE_TOTP_ROLES"] = ("admin", "hub_staff")


def test_totp_is_enrolled_at_first_sign_in_and_each_code_works_once(totp_on, app, client, session, clock, hub,
                                                                   login, make_user):
    r = login(hub)
    assert r.status_code == 302 and r.headers["Location"].endswith("/login/totp")
    assert not _signed_in(client)
    page = client.get("/login/totp").get_data(as_text=True)
    secret = re.search(r"<code>([A-Z2-7]+)</code>", page).group(1)
    assert "data:image/svg+xml" in page
    r = client.post("/login/totp", data={"otp": "000000", "csrf_token": csrf_from(page)})
    assert r.status_code == 400 and not _signed_in(client)
    code = pyotp.TOTP(secret).at(clock.now())
    assert client.post("/login/totp", data={"otp": code, "csrf_token": csrf_from(page)}).status_code == 302
    assert _signed_in(client)
    session.expire_all()
    assert session.get(User, hub.id).totp_secret == secret

    # The same code a second time (another device, within its 30 s) is refused.
    other = app.test_client()
    assert login(hub, otp=code, test_client=other).status_code == 401 and not _signed_in(other)
    clock.advance(seconds=30)
    assert login(hub, otp=pyotp.TOTP(secret).at(clock.now()), test_client=other).status_code == 302
    assert _signed_in(other)


def test_roles_outside_the_list_sign_in_with_a_password_only(totp_on, client, hub, login, make_user):
    r = login(make_user("field_team"))
    assert r.status_code == 302 and not r.headers["Location"].endswith("/login/totp")
    assert client.get("/login/totp").status_code == 404

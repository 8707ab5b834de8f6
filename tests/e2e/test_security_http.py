"""Issue 18: bad input is a clear 400/404/413 (never a 500 nor a log full of personal data), and the
response headers protect pages holding personal data."""
import logging

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, StatementError

from bcp_service.auth.models import AuditEvent
from bcp_service.db import db
from bcp_service.registry.models import Patient
from tests.e2e.test_registry_api import body


@pytest.fixture
def hub(make_region, make_user, auth_headers):
    make_region("1301")
    user = make_user("hub_staff", scope="1301")
    return type("H", (), {"user": user, "h": auth_headers(user)})


def test_a_nul_byte_in_a_patients_address_is_a_japanese_400_and_nothing_is_stored(client, session, hub):
    r = client.post("/api/v1/patients", json=body(address="東京都千代田区\x001-1"), headers=hub.h)
    assert r.status_code == 400
    assert "NUL" in r.get_json()["error"]["message"]
    assert session.scalar(select(func.count()).select_from(Patient)) == 0


def test_a_nul_byte_in_a_query_or_form_is_a_400(client, hub, login):
    assert client.get("/api/v1/patients?q=%00", headers=hub.h).status_code == 400
    login(hub.user)
    r = client.get("/patients?q=%00")
    assert r.status_code == 400 and "入力内容に誤りがあります" in r.get_data(as_text=True)


def test_json_nested_a_thousand_deep_is_a_400(client, hub):
    deep = "[" * 1000 + "]" * 1000
    r = client.post("/api/v1/patients", data=f'{{"name": {deep}}}', content_type="application/json",
                    headers=hub.h)
    assert r.status_code == 400


@pytest.mark.parametrize("path", ["/api/v1/patients/2147483648", "/api/v1/patients/99999999999999999999999",
                                  "/patients/2147483648"])
def test_integers_beyond_32_bits_in_paths_are_not_found(client, hub, login, path):
    login(hub.user)
    assert client.get(path, headers=hub.h if path.startswith("/api") else {}).status_code == 404


def test_a_huge_offset_is_not_a_server_error(client, hub):
    r = client.get("/api/v1/patients?offset=99999999999999999999999", headers=hub.h)
    assert r.status_code in (200, 400)


def test_statement_parameters_are_never_logged_nor_in_errors(app, session, caplog):
    assert db.engine.hide_parameters
    with caplog.at_level(logging.DEBUG, logger="sqlalchemy"):
        with pytest.raises((DBAPIError, StatementError, OverflowError)) as exc:
            session.execute(text("SELECT :secret || '', CAST(:big AS BIGINT)"),
                            {"secret": "試験 太郎 090-0000-0001", "big": 2**70})
    session.rollback()
    assert "090-0000-0001" not in str(exc.value) and "090-0000-0001" not in caplog.text


def test_bodies_beyond_max_content_length_are_a_japanese_413(app, client, hub):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    r = client.post("/api/v1/patients", data=b"x" * 4096, content_type="application/json", headers=hub.h)
    assert r.status_code == 413 and "大きすぎます" in r.get_json()["error"]["message"]


def test_max_content_length_is_configured_by_default():
    from bcp_service import config

    assert config.load({"BCP_ENV": "demo"})["MAX_CONTENT_LENGTH"] == 25 * 1024 * 1024


def test_csp_allows_no_inline_scripts_and_personal_pages_are_not_stored(client, hub, login):
    r = client.get("/api/v1/patients", headers=hub.h)
    assert r.headers["Cache-Control"] == "no-store"
    csp = r.headers["Content-Security-Policy"]
    script_src = next(p for p in csp.split(";") if p.strip().startswith("script-src"))
    assert "unsafe-inline" not in script_src
    login(hub.user)
    assert client.get("/patients").headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in client.get("/login").headers


@pytest.fixture
def app_config(request):
    return getattr(request, "param", {})


@pytest.mark.parametrize("app_config", [{"PUBLIC_BASE_URL": "https://bcp.example.jp"}], indirect=True)
def test_hsts_under_https(client):
    assert "max-age=" in client.get("/login").headers["Strict-Transport-Security"]


@pytest.mark.parametrize("app_config", [{"PROXY_FIX": {"x_for": 1, "x_proto": 1, "x_host": 0}}], indirect=True)
def test_behind_one_proxy_the_client_address_is_the_forwarded_one(client, session, hub):
    client.get("/api/v1/patients", headers={**hub.h, "X-Forwarded-For": "203.0.113.7"},
               environ_base={"REMOTE_ADDR": "10.0.0.1"})
    rows = session.scalars(select(AuditEvent.remote_addr)).all()
    assert rows and set(rows) == {"203.0.113.7"}

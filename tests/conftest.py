"""Shared fixtures: a migrated database per backend (SQLite and PostgreSQL), an app per test.

Unit and integration tests that use ``app`` run once on each backend. E2E tests (tests/e2e: HTTP and
browser) run on PostgreSQL only, except the small smoke set marked ``sqlite_smoke``, which also runs on
SQLite, the embedded default. ``BCP_TEST_DATABASES`` narrows the backends. PostgreSQL gets a fresh
database per run (dropped at the end). On CI a missing PostgreSQL is an error, never a skip.
"""
from __future__ import annotations

import os
import re
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bcp_service.auth import services as auth_services
from bcp_service.clock import FrozenClock
from bcp_service.db import Base, db, import_all_models
from bcp_service.migrate import upgrade
from bcp_service.orgs.models import Organization, Region

PG_ADMIN_URL = os.environ.get("BCP_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BACKENDS = [b.strip() for b in os.environ.get("BCP_TEST_DATABASES", "sqlite,postgresql").split(",") if b.strip()]
TEST_PASSWORD = "test-password-123"
T0 = datetime(2026, 11, 24, 1, 0, tzinfo=timezone.utc)   # 10:00 in Tokyo

E2E_DIR = Path(__file__).parent / "e2e"

# Argon2's cheap profile (honoured only under BCP_ENV=test): every test creates users and signs in.
os.environ.setdefault("PASSWORD_HASH_PROFILE", "test")

import_all_models()


def backends_for(path: Path, smoke: bool) -> list[str]:
    """The databases one test runs on: all for unit/integration, PostgreSQL (+ SQLite if smoke) for e2e."""
    if E2E_DIR not in Path(path).parents:
        return list(BACKENDS)
    return [b for b in BACKENDS if b == "postgresql" or (smoke and b == "sqlite")]


def pytest_generate_tests(metafunc):
    if "backend" not in metafunc.fixturenames:
        return
    if any("backend" in str(m.args[0]) for m in metafunc.definition.iter_markers("parametrize")):
        return   # the test names its backends itself
    smoke = metafunc.definition.get_closest_marker("sqlite_smoke") is not None
    metafunc.parametrize("backend", backends_for(metafunc.definition.path, smoke), indirect=True)


def _pg_available() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001
        return str(exc).splitlines()[0]


class _Databases:
    """Creates and migrates one database per backend, lazily, once per test run."""

    def __init__(self, tmp_dir: Path) -> None:
        self.tmp_dir = tmp_dir
        self.urls: dict[str, str] = {}
        self.pg_names: list[str] = []

    def url(self, backend: str) -> str:
        if backend not in self.urls:
            if backend == "sqlite":
                url = f"sqlite:///{self.tmp_dir / 'test.sqlite'}"
            else:
                problem = _pg_available()
                if problem:
                    if os.environ.get("CI"):
                        pytest.fail(f"PostgreSQL is required on CI but unavailable: {problem}")
                    pytest.skip(f"PostgreSQL unavailable: {problem}")
                name = f"bcp_test_{uuid.uuid4().hex[:10]}"
                admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
                admin.dispose()
                self.pg_names.append(name)
                url = re.sub(r"/[^/]*$", f"/{name}", PG_ADMIN_URL)
            upgrade(url)
            self.urls[backend] = url
        return self.urls[backend]

    def drop_all(self) -> None:
        if not self.pg_names:
            return
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in self.pg_names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory):
    dbs = _Databases(tmp_path_factory.mktemp("db"))
    yield dbs
    dbs.drop_all()


def _empty_tables(engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))
            if conn.execute(text("SELECT name FROM sqlite_master WHERE name='sqlite_sequence'")).first():
                conn.execute(text("DELETE FROM sqlite_sequence"))


@pytest.fixture
def backend(request) -> str:
    """"sqlite" or "postgresql"; parametrised per test by ``pytest_generate_tests``."""
    return request.param


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def app_config() -> dict:
    """Override to change settings for one test module (e.g. the messaging channel)."""
    return {}


@pytest.fixture
def app(backend, databases, clock, app_config, tmp_path, monkeypatch):
    from bcp_service.app import create_app

    monkeypatch.setenv("BCP_ENV", "test")
    monkeypatch.setenv("REQUIRE_TOTP_ROLES", "")   # TOTP has its own tests (tests/e2e/test_security_auth.py)
    url = databases.url(backend)
    application = create_app({"DATABASE_URL": url, "TESTING": True, "PUBLIC_BASE_URL": "http://bcp.test",
                              **app_config}, clock=clock)
    application.instance_path = str(tmp_path)

    @application.before_request
    def _fresh_g():
        # Test requests reuse the fixture's app context, and so its ``g``. Flask-Login (the user) and
        # Flask-WTF (the CSRF token) cache per-request state there: start each request with a clean g,
        # as in production.
        from flask import g

        for name in list(vars(g)):
            g.pop(name, None)

    with application.app_context():
        yield application
        db.session.remove()
    _empty_tables(db.engine)
    db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def session(app):
    return db.session


@pytest.fixture
def make_region(session, clock):
    def _make(code: str = "1301", *, prefecture_code: str = "13", name: str = "区中央部",
              municipality_codes=("131016", "131024", "131032")) -> Region:
        region = Region(code=code, name=name, prefecture_code=prefecture_code, kind="secondary_medical_area",
                        municipality_codes=list(municipality_codes), created_at=clock.now())
        session.add(region)
        session.commit()
        return region

    return _make


@pytest.fixture
def make_org(session, clock):
    def _make(region_code: str = "1301", *, name: str = "試験病院", kind: str = "hospital",
              lat: float | None = 35.68, lon: float | None = 139.76, **capabilities) -> Organization:
        org = Organization(name=name, kind=kind, region_code=region_code, lat=lat, lon=lon,
                           created_at=clock.now(),
                           **{"has_generator": False, "accepts_ventilator": False, "ventilator_beds": 0,
                              "power_supply_point": False, "on_call_24h": False, **capabilities})
        session.add(org)
        session.commit()
        return org

    return _make


@pytest.fixture
def make_user(session):
    counter = iter(range(1, 10_000))

    def _make(role: str = "hub_staff", *, scope: str | None = "1301", organization=None, email: str | None = None):
        if role == "admin":
            scope = None
        user = auth_services.create_user(
            session, email=email or f"{role}{next(counter)}@example.invalid", password=TEST_PASSWORD,
            role=role, scope=scope, organization_id=organization.id if organization else None,
            display_name=f"試験 {role}")
        session.commit()
        return user

    return _make


@pytest.fixture
def auth_headers(session):
    def _headers(user) -> dict[str, str]:
        token = auth_services.issue_token(session, user)
        session.commit()
        return {"Authorization": f"Bearer {token}"}

    return _headers


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or \
        re.search(r'value="([^"]+)"[^>]*name="csrf_token"', html)
    assert match, "no csrf_token in the page"
    return match.group(1)


@pytest.fixture
def login(client):
    """Sign in through the real login form (CSRF included)."""

    def _login(user, password: str = TEST_PASSWORD, otp: str | None = None, test_client=None):
        c = test_client or client
        page = c.get("/login")
        data = {"email": user.email, "password": password, "csrf_token": csrf_from(page.get_data(as_text=True))}
        if otp is not None:
            data["otp"] = otp
        return c.post("/login", data=data)

    return _login


# --- browser tests ------------------------------------------------------------------------------

CHROMIUM = os.environ.get("BCP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture
def live_server(app):
    """The app served on a loopback port in a thread; yields its base URL."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"chromium is required on CI ({CHROMIUM} missing)")
        pytest.skip(f"chromium not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo")
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


@pytest.fixture
def browser_login(page, live_server):
    """Sign in through the Japanese login page in the browser."""

    def _login(user, password: str = TEST_PASSWORD):
        page.goto(f"{live_server}/login")
        page.get_by_label("メールアドレス").fill(user.email)
        page.get_by_label("パスワード").fill(password)
        page.get_by_role("button", name="ログイン").click()
        page.wait_for_load_state()
        return page

    return _login

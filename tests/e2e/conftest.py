"""E2E fixtures and helpers shared by the HTTP and browser tests.

- ``twilio_fake``: a threaded loopback fake of Twilio's 2010 API (see twilio_fake.py);
  ``twilio_app_config``: settings that point the real twilio channel at it.
- ``post_signed``: a webhook POST signed by twilio's own RequestValidator.
- ``dispatch``: drain the outbox through the app's real dispatcher.

E2E tests run on PostgreSQL only; the few marked ``sqlite_smoke`` also run on SQLite, the embedded
default (see ``pytest_generate_tests`` in tests/conftest.py).
"""
from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer
from twilio.request_validator import RequestValidator

from bcp_service.db import db
from bcp_service.messaging.dispatcher import dispatcher_for
from tests.e2e.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, TwilioFake

BASE = "http://bcp.test"


def post_signed(client, path: str, form: dict, *, base: str = BASE, token: str = AUTH_TOKEN):
    """POST ``form`` to ``path`` with the X-Twilio-Signature Twilio would send for ``base + path``."""
    signature = RequestValidator(token).compute_signature(base + path, form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


def dispatch(app):
    """Send everything due through the app's dispatcher (it uses its own sessions, so drop ours first)."""
    db.session.remove()
    return dispatcher_for(app).drain(max_passes=20)


@pytest.fixture
def twilio_fake():
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    try:
        yield TwilioFake(server)
    finally:
        server.clear()
        server.stop()


@pytest.fixture
def twilio_app_config(twilio_fake) -> dict:
    """App settings that point the real twilio channel at the fake (use as ``app_config``)."""
    return {"MESSAGING_CHANNEL": "twilio", "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_FROM": "+815000000000", "TWILIO_API_BASE": twilio_fake.base_url,
            "PUBLIC_BASE_URL": BASE, "HUB_NAME": "試験拠点"}

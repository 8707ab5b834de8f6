"""E2E fixtures. ``twilio_fake``: a threaded loopback fake of Twilio's 2010 API (see twilio_fake.py)."""
import pytest
from pytest_httpserver import HTTPServer

from tests.e2e.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, TwilioFake


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
            "TWILIO_FROM": "+815000000000", "TWILIO_API_BASE": twilio_fake.base_url}

"""Contract smoke test: our real twilio calls against Prism serving Twilio's own OpenAPI description
(``../shared/twilio-oai/twilio_api_v2010.yaml``). Prism rejects requests that break the spec (422/401),
so a 201 means our Messages and Calls requests have the shape Twilio documents.

Prism comes from npm (``npm install --no-save @stoplight/prism-cli@5`` into a folder outside the repo);
set ``PRISM_BIN`` to its ``prism`` executable. Without it the test is skipped with the reason.
"""
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from bcp_service.messaging.channels import SendError, TwilioChannel

# Twilio's own spec lives beside the project (../shared), not in it; a clone elsewhere names it by
# TWILIO_OAI_SPEC (.ci/run does) or finds the workplace copy.
_SPEC_NAME = Path("shared") / "twilio-oai" / "twilio_api_v2010.yaml"
SPEC = next((p for p in [Path(os.environ.get("TWILIO_OAI_SPEC") or "/nonexistent"),
                         Path(__file__).resolve().parents[3] / _SPEC_NAME, Path("/work") / _SPEC_NAME]
             if p.exists()), Path(__file__).resolve().parents[3] / _SPEC_NAME)
CANDIDATES = [os.environ.get("PRISM_BIN"), "/tmp/prism/node_modules/.bin/prism",
              str(Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "prism"), shutil.which("prism")]


def _prism_bin() -> str | None:
    return next((c for c in CANDIDATES if c and Path(c).exists()), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def prism_url(tmp_path_factory):
    binary = _prism_bin()
    if binary is None:
        pytest.skip("Prism not installed: npm install --no-save @stoplight/prism-cli@5 and set PRISM_BIN")
    if not SPEC.exists():
        pytest.skip(f"Twilio OpenAPI spec not found at {SPEC}")
    port = _free_port()
    log = tmp_path_factory.mktemp("prism") / "prism.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([binary, "mock", "-h", "127.0.0.1", "-p", str(port), str(SPEC)],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120      # parsing the 1.5 MB spec takes a while
        while "Prism is listening" not in log.read_text(errors="replace"):
            if proc.poll() is not None:
                pytest.fail(f"Prism exited: {log.read_text(errors='replace')[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("Prism did not start within 120 s")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _channel(base, **kw):
    args = dict(account_sid="AC" + "1" * 32, auth_token="prism-token", from_number="+815000000000",
                api_base=base, timeout=30)
    args.update(kw)
    return TwilioChannel(**args)


def test_message_create_with_status_callback_matches_twilios_spec(prism_url):
    receipt = _channel(prism_url).send_sms("+819000000001", "【停電安否確認】試験 https://bcp.example.jp/r/x",
                                           callback_url="https://bcp.example.jp/sms/status?o=1")
    assert receipt.provider_id.startswith("SM")


def test_message_create_through_a_messaging_service_matches_twilios_spec(prism_url):
    # SMS through the messaging service; calls still need a caller number of their own (issue 12).
    ch = _channel(prism_url, from_number=None, messaging_service_sid="MG" + "2" * 32, voice_from="+815000000000")
    assert ch.send_sms("+819000000001", "試験", callback_url=None).provider_id.startswith("SM")


def test_call_create_with_twiml_url_matches_twilios_spec(prism_url):
    receipt = _channel(prism_url).place_call("+81312345678", "https://bcp.example.jp/voice/checkin?t=abc",
                                             callback_url="https://bcp.example.jp/sms/status?o=2")
    assert receipt.provider_id.startswith("CA")


def test_prism_rejects_a_request_that_breaks_the_spec(prism_url):
    """The check has teeth: an account sid of the wrong shape violates the path pattern."""
    with pytest.raises(SendError) as exc:
        _channel(prism_url, account_sid="not-an-account").send_sms("+819000000001", "x", callback_url=None)
    assert exc.value.status in (400, 401, 404, 422)


def test_lookup_before_resend_lists_messages_and_calls_as_twilios_spec_allows(prism_url):
    """The dispatcher's question after a crash (``find_accepted``): GET Messages/Calls filtered by To.
    Prism answers with the spec's example page, which the real client must parse."""
    from datetime import datetime, timezone

    ch = _channel(prism_url)
    since = datetime(2000, 1, 1, tzinfo=timezone.utc)
    for channel, body, prefix in (("sms", "testing", "SM"), ("voice", None, "CA")):   # the spec's examples
        found = ch.find_accepted("+819000000001", channel=channel, body=body, since=since)
        assert found and all(r.provider_id.startswith(prefix) for r in found)
    assert ch.find_accepted("+819000000001", channel="sms", body="別の本文", since=since) == []

"""Issue 12, problem 6: calls in Japan always carry a (Japanese) caller number and go through the
configured edge; the real twilio client against the loopback fake (pytest-httpserver)."""
import logging

import pytest

from bcp_service import config
from bcp_service.messaging.channels import SendError, TwilioChannel
from tests.e2e.twilio_fake import ACCOUNT_SID, AUTH_TOKEN

BASE = {"SECRET_KEY": "x" * 32, "MESSAGING_CHANNEL": "twilio", "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN}


def test_a_call_without_caller_number_is_what_twilio_rejects(twilio_fake):
    """The failure itself, as the provider answers it: no From on a call → 400 (21213), permanent."""
    import requests

    r = requests.post(f"{twilio_fake.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json",
                      auth=(ACCOUNT_SID, AUTH_TOKEN), data={"To": "+81300000101", "Url": "http://bcp.test/v"})
    assert r.status_code == 400 and r.json()["code"] == 21213


def test_messaging_service_without_a_caller_number_is_a_startup_error():
    # Before the fix this configuration loaded, and every landline check-in call was rejected.
    with pytest.raises(config.ConfigError, match="TWILIO_VOICE_FROM"):
        config.load({**BASE, "TWILIO_MESSAGING_SERVICE_SID": "MG" + "1" * 32})
    with pytest.raises(ValueError, match="caller number"):
        TwilioChannel(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, messaging_service_sid="MG" + "1" * 32)


def test_voice_from_is_the_caller_while_sms_goes_through_the_messaging_service(twilio_fake):
    cfg = config.load({**BASE, "TWILIO_MESSAGING_SERVICE_SID": "MG" + "1" * 32,
                       "TWILIO_VOICE_FROM": "050-0000-0001", "TWILIO_API_BASE": twilio_fake.base_url})
    assert cfg["TWILIO_VOICE_FROM"] == "+815000000001"      # E.164, as Twilio wants it
    ch = TwilioChannel(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN,
                       messaging_service_sid=cfg["TWILIO_MESSAGING_SERVICE_SID"], api_base=cfg["TWILIO_API_BASE"],
                       voice_from=cfg["TWILIO_VOICE_FROM"], edge=cfg["TWILIO_EDGE"], region=cfg["TWILIO_REGION"])
    ch.send_sms("+819000000001", "試験", callback_url=None)
    ch.place_call("+81300000101", "http://bcp.test/voice/checkin", callback_url=None)
    assert twilio_fake.messages[0]["from"] is None          # the service picks the sender
    assert twilio_fake.calls[0]["from"] == "+815000000001"


def test_from_number_is_the_caller_when_no_voice_number_is_set(twilio_fake):
    ch = TwilioChannel(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number="+815000000000",
                       api_base=twilio_fake.base_url)
    ch.place_call("+81300000101", "http://bcp.test/voice/checkin", callback_url=None)
    assert twilio_fake.calls[0]["from"] == "+815000000000"


def test_edge_and_region_default_to_tokyo_and_follow_the_settings():
    cfg = config.load({**BASE, "TWILIO_FROM": "+815000000000"})
    assert cfg["TWILIO_EDGE"] == "tokyo" and cfg["TWILIO_REGION"] is None
    ch = TwilioChannel(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number="+815000000000",
                       edge=cfg["TWILIO_EDGE"], region=cfg["TWILIO_REGION"])
    client = ch._client()
    # The real client's own host rewriting: Tokyo edge, the credentials' region (us1 when unset).
    assert client.get_hostname("https://api.twilio.com/2010-04-01/Accounts") == \
        "https://api.tokyo.us1.twilio.com/2010-04-01/Accounts"
    cfg = config.load({**BASE, "TWILIO_FROM": "+815000000000", "TWILIO_EDGE": "tokyo", "TWILIO_REGION": "jp1"})
    ch = TwilioChannel(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number="+815000000000",
                       edge=cfg["TWILIO_EDGE"], region=cfg["TWILIO_REGION"])
    assert ch._client().get_hostname("https://api.twilio.com/x") == "https://api.tokyo.jp1.twilio.com/x"


def test_edge_and_region_are_cleared_only_for_a_loopback_api_base(twilio_fake, monkeypatch):
    # The client would also read these from the environment and rewrite the loopback host.
    monkeypatch.setenv("TWILIO_EDGE", "tokyo")
    monkeypatch.setenv("TWILIO_REGION", "jp1")
    ch = TwilioChannel(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number="+815000000000",
                       api_base=twilio_fake.base_url, edge="tokyo", region="jp1")
    ch.send_sms("+819000000001", "試験", callback_url=None)
    assert len(twilio_fake.messages) == 1
    assert ch._client().edge is None and ch._client().region is None


def test_a_caller_number_outside_japan_logs_a_startup_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="bcp_service.config"):
        cfg = config.load({**BASE, "TWILIO_FROM": "+14155550100"})
    assert cfg["TWILIO_VOICE_FROM"] == "+14155550100"
    assert any("not a Japanese number" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bcp_service.config"):
        config.load({**BASE, "TWILIO_FROM": "+815000000000"})        # 050: a Japanese (IP) number
    assert not caplog.records


def test_an_alphanumeric_sender_cannot_place_calls():
    with pytest.raises(config.ConfigError, match="not a phone number"):
        config.load({**BASE, "TWILIO_FROM": "BCPHUB"})
    cfg = config.load({**BASE, "TWILIO_FROM": "BCPHUB", "TWILIO_VOICE_FROM": "+815000000000"})
    assert cfg["TWILIO_VOICE_FROM"] == "+815000000000"


def test_the_app_builds_its_channel_with_the_caller_and_edge(monkeypatch, tmp_path):
    from bcp_service.app import create_app
    from bcp_service.messaging.dispatcher import channel_from_app

    monkeypatch.setenv("BCP_ENV", "test")
    monkeypatch.chdir(tmp_path)
    app = create_app({"DATABASE_URL": "sqlite://", "MESSAGING_CHANNEL": "twilio", "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                      "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_MESSAGING_SERVICE_SID": "MG" + "1" * 32,
                      "TWILIO_VOICE_FROM": "+815000000001", "TWILIO_EDGE": "tokyo", "TWILIO_REGION": None})
    ch = channel_from_app(app)
    assert ch.voice_from == "+815000000001" and ch.edge == "tokyo" and ch.region is None


def test_050_ip_phones_are_called_like_landlines_in_every_round_and_at_restoration():
    """registry/phones.py: SMS reaches mobiles only; a 050 number ("ip") gets voice, consistently."""
    from bcp_service.outages.rounds import channels_for_round
    from bcp_service.registry.phones import parse_phone, route, sms_capable_kind

    ip = parse_phone("050-0000-0001")
    assert ip.kind == "ip" and not ip.sms_capable and route("050-0000-0001")[1] == "voice"
    assert not sms_capable_kind("ip") and not sms_capable_kind("landline") and sms_capable_kind("mobile")
    # Before the fix rounds sent SMS to 050 numbers (only "landline" was called).
    assert channels_for_round(1, "ip") == ("voice",)
    assert channels_for_round(2, "ip") == ("voice",)
    assert channels_for_round(1, "mobile") == ("sms",)


def test_a_050_patient_is_called_in_round_one_and_at_restoration(app, session, clock, make_region):
    from datetime import timedelta

    from sqlalchemy import select

    from bcp_service.messaging.models import OutboxMessage
    from bcp_service.outages import declare as services
    from bcp_service.outages.access import SYSTEM
    from bcp_service.outages.notify import notifier_for
    from bcp_service.registry.models import Patient, PatientDevice

    make_region()
    p = Patient(name="試験 IP", phone_e164="+815000000001", phone_kind="ip", municipality_code="131024",
                lat=35.671, lon=139.772, region_code="1301", runway_hours=5.0, runway_tier="red",
                runway_explain="", created_at=clock.now(), updated_at=clock.now())
    p.devices.append(PatientDevice(kind="ventilator", hours_per_day=24, internal_battery_hours=3))
    session.add(p)
    session.commit()
    res = services.declare_outage(session, SYSTEM, services.DeclareOutage(
        area={"municipality_codes": ["131024"]}, started_at=clock.now(), region_code="1301",
        expected_restoration_at=clock.now() + timedelta(hours=8)), now=clock.now(), notifier=notifier_for(app))
    session.commit()
    services.resolve_outage(session, SYSTEM, res.outage.id, now=clock.now(), notifier=notifier_for(app))
    session.commit()
    sent = {(m.purpose, m.channel) for m in session.scalars(select(OutboxMessage).where(OutboxMessage.to == p.phone_e164))}
    assert ("checkin", "voice") in sent and ("restoration", "voice") in sent
    assert not any(channel == "sms" for _, channel in sent)

import pytest

from bcp_service import config


def test_embedded_default_is_sqlite_in_instance_folder_and_console_channel(tmp_path):
    settings = config.load({"BCP_ENV": "demo"}, instance_path=tmp_path)
    assert settings["DATABASE_URL"] == f"sqlite:///{tmp_path.resolve() / 'bcp.sqlite'}"
    assert settings["MESSAGING_CHANNEL"] == "console"
    assert settings["GEOCODER"] == "none"


def test_missing_secret_key_in_production_is_a_clear_startup_error():
    with pytest.raises(config.ConfigError, match="SECRET_KEY is not set"):
        config.load({})


def test_short_secret_key_in_production_is_refused():
    with pytest.raises(config.ConfigError, match="too short"):
        config.load({"SECRET_KEY": "abc"})


def test_demo_and_development_run_without_secret_key():
    for env in ("demo", "development", "test"):
        assert config.load({"BCP_ENV": env})["SECRET_KEY"]


def test_postgres_url_is_taken_from_environment():
    settings = config.load({"SECRET_KEY": "x" * 32, "DATABASE_URL": "postgresql://u@db/bcp"})
    assert settings["DATABASE_URL"] == "postgresql://u@db/bcp"


@pytest.mark.parametrize("name, value", [
    ("MESSAGING_CHANNEL", "carrier-pigeon"), ("GEOCODER", "google"), ("BCP_ENV", "staging"),
    ("SMS_RATE_PER_SECOND", "fast"), ("SMS_RATE_PER_SECOND", "0"), ("CHECKIN_SILENCE_MINUTES", "soon"),
])
def test_bad_values_name_the_setting(name, value):
    with pytest.raises(config.ConfigError, match=name):
        config.load({"SECRET_KEY": "x" * 32, name: value})


def test_twilio_channel_needs_credentials_and_a_sender():
    with pytest.raises(config.ConfigError, match="TWILIO_ACCOUNT_SID.*TWILIO_AUTH_TOKEN.*TWILIO_FROM"):
        config.load({"SECRET_KEY": "x" * 32, "MESSAGING_CHANNEL": "twilio"})
    # A messaging service alone sends SMS but cannot place calls (issue 12): a caller number is needed.
    ok = config.load({"SECRET_KEY": "x" * 32, "MESSAGING_CHANNEL": "twilio", "TWILIO_ACCOUNT_SID": "AC1",
                      "TWILIO_AUTH_TOKEN": "t", "TWILIO_MESSAGING_SERVICE_SID": "MG1",
                      "TWILIO_VOICE_FROM": "+815000000000"})
    assert ok["MESSAGING_CHANNEL"] == "twilio"


def test_cookies_are_secure_when_served_over_https():
    settings = config.load({"SECRET_KEY": "x" * 32, "PUBLIC_BASE_URL": "https://bcp.example.jp/"})
    assert settings["SESSION_COOKIE_SECURE"] and settings["REMEMBER_COOKIE_SECURE"]
    assert settings["SESSION_COOKIE_HTTPONLY"]
    assert settings["PUBLIC_BASE_URL"] == "https://bcp.example.jp"


def test_every_setting_in_the_api_contract_is_documented():
    names = {s.name for s in config.SETTINGS}
    for name in ("DATABASE_URL", "SECRET_KEY", "MESSAGING_CHANNEL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN",
                 "TWILIO_FROM", "TWILIO_MESSAGING_SERVICE_SID", "TWILIO_API_BASE", "PUBLIC_BASE_URL",
                 "SMS_RATE_PER_SECOND", "GEOCODER"):
        assert name in names

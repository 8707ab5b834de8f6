"""Settings from environment variables (12-factor), with an embedded default.

The embedded default is SQLite in the instance folder and the console messaging channel, so one
command shows the whole system. Outside demo/development a missing SECRET_KEY is a start-up error.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

ENVIRONMENTS = ("production", "development", "demo", "test")
CHANNELS = ("console", "twilio")
GEOCODERS = ("none", "gsi", "nominatim")


class ConfigError(RuntimeError):
    """The service cannot start with these settings; the message says which and why."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    help: str


# The configuration table in the README is generated from this list (see tests/unit/test_config.py).
SETTINGS: tuple[Setting, ...] = (
    Setting("BCP_ENV", "production", "production | development | demo | test"),
    Setting("DATABASE_URL", None, "SQLAlchemy URL; default: SQLite file in the instance folder"),
    Setting("SECRET_KEY", None, "signs sessions, CSRF and one-tap links; required in production"),
    Setting("MESSAGING_CHANNEL", "console", "console | twilio"),
    Setting("TWILIO_ACCOUNT_SID", None, "Twilio account"),
    Setting("TWILIO_AUTH_TOKEN", None, "Twilio auth token (also verifies webhook signatures)"),
    Setting("TWILIO_FROM", None, "sender number (or use TWILIO_MESSAGING_SERVICE_SID)"),
    Setting("TWILIO_MESSAGING_SERVICE_SID", None, "Twilio messaging service"),
    Setting("TWILIO_API_BASE", None, "override of the Twilio API host (loopback tests)"),
    # Twilio in Japan (issue 12): calls need a Japanese caller number and the Tokyo edge.
    Setting("TWILIO_VOICE_FROM", None, "caller number for calls (a Japanese number; default TWILIO_FROM)"),
    Setting("TWILIO_EDGE", "tokyo", "Twilio edge location; cleared when TWILIO_API_BASE is set"),
    Setting("TWILIO_REGION", None, "Twilio region of the credentials (unset: us1; jp1 for Japan-region credentials)"),
    Setting("PUBLIC_BASE_URL", "http://127.0.0.1:5000", "external URL for links and webhook signatures"),
    Setting("SMS_RATE_PER_SECOND", "10", "dispatcher token-bucket rate"),
    Setting("GEOCODER", "none", "none | gsi | nominatim"),
    Setting("CHECKIN_SILENCE_MINUTES", "15", "silence before round 2 / escalation"),
    Setting("RUNWAY_RED_HOURS", "6", "runway below this is red"),
    Setting("RUNWAY_YELLOW_HOURS", "24", "runway below this is yellow"),
    Setting("LOGIN_RATE_LIMIT", "10 per minute", "failed-login throttle per address"),
    Setting("RATELIMIT_STORAGE_URI", "memory://", "rate-limit counters; redis://host:6379 in production "
            "(shared by every worker)"),
    Setting("PROXY_FIX_X_FOR", "0", "trusted reverse-proxy hops for X-Forwarded-For (1 behind one proxy)"),
    Setting("PROXY_FIX_X_PROTO", "0", "trusted hops for X-Forwarded-Proto"),
    Setting("PROXY_FIX_X_HOST", "0", "trusted hops for X-Forwarded-Host"),
    Setting("MAX_CONTENT_LENGTH", "26214400", "largest request body in bytes (413 above; an upload's file "
            "itself stops at 20 MB)"),
    Setting("MESSAGING_SIMULATOR", "0", "1 turns on the phone simulator (console channel only; "
            "`bcp-service demo` turns it on)"),
    Setting("REQUIRE_TOTP_ROLES", "admin,hub_staff", "roles that must sign in with TOTP (comma-separated; "
            "empty turns the requirement off)"),
)

_TRUE = ("1", "true", "yes", "on")


def _roles(env: Mapping[str, str], name: str, default: str) -> tuple[str, ...]:
    from bcp_service.auth.roles import Role

    names = tuple(r.strip() for r in env.get(name, default).split(",") if r.strip())
    unknown = [r for r in names if r not in {role.value for role in Role}]
    if unknown:
        raise ConfigError(f"{name} holds unknown roles: {', '.join(unknown)}")
    return names


def _hops(env: Mapping[str, str], name: str) -> int:
    value = _int(env, name, "0")
    if not 0 <= value <= 5:
        raise ConfigError(f"{name} must be between 0 and 5, got {value}")
    return value


def _int(env: Mapping[str, str], name: str, default: str) -> int:
    raw = env.get(name, default)
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def _float(env: Mapping[str, str], name: str, default: str) -> float:
    raw = env.get(name, default)
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


def load(env: Mapping[str, str] | None = None, *, instance_path: str | Path = "instance") -> dict:
    """Build the Flask config dict from the environment. Pure: pass ``env`` in tests."""
    env = dict(os.environ if env is None else env)
    bcp_env = env.get("BCP_ENV", "production")
    if bcp_env not in ENVIRONMENTS:
        raise ConfigError(f"BCP_ENV must be one of {', '.join(ENVIRONMENTS)}, got {bcp_env!r}")

    secret = env.get("SECRET_KEY")
    if not secret:
        if bcp_env == "production":
            raise ConfigError(
                "SECRET_KEY is not set. Set it to a long random value "
                "(python -c 'import secrets; print(secrets.token_hex(32))'), "
                "or run `bcp-service demo` for the embedded demo."
            )
        secret = "dev-only-insecure-key"  # demo/dev/test: never reaches production
    elif bcp_env == "production" and len(secret) < 16:
        raise ConfigError("SECRET_KEY is too short for production (16 characters at least)")

    channel = env.get("MESSAGING_CHANNEL", "console")
    if channel not in CHANNELS:
        raise ConfigError(f"MESSAGING_CHANNEL must be one of {', '.join(CHANNELS)}, got {channel!r}")
    if channel == "twilio":
        missing = [n for n in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN") if not env.get(n)]
        if not (env.get("TWILIO_FROM") or env.get("TWILIO_MESSAGING_SERVICE_SID")):
            missing.append("TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID")
        if missing:
            raise ConfigError("MESSAGING_CHANNEL=twilio needs " + ", ".join(missing))
        twilio_caller(env)     # ConfigError without a caller number; warns for a non-Japanese one

    geocoder = env.get("GEOCODER", "none")
    if geocoder not in GEOCODERS:
        raise ConfigError(f"GEOCODER must be one of {', '.join(GEOCODERS)}, got {geocoder!r}")

    database_url = env.get("DATABASE_URL") or f"sqlite:///{Path(instance_path).resolve() / 'bcp.sqlite'}"
    public_base = env.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    secure_cookies = public_base.startswith("https://")

    return {
        "BCP_ENV": bcp_env,
        "SECRET_KEY": secret,
        "DATABASE_URL": database_url,
        "MESSAGING_CHANNEL": channel,
        "TWILIO_ACCOUNT_SID": env.get("TWILIO_ACCOUNT_SID"),
        "TWILIO_AUTH_TOKEN": env.get("TWILIO_AUTH_TOKEN"),
        "TWILIO_FROM": env.get("TWILIO_FROM"),
        "TWILIO_MESSAGING_SERVICE_SID": env.get("TWILIO_MESSAGING_SERVICE_SID"),
        "TWILIO_API_BASE": env.get("TWILIO_API_BASE"),
        "TWILIO_VOICE_FROM": twilio_caller(env, warn=False) if channel == "twilio" else env.get("TWILIO_VOICE_FROM"),
        "TWILIO_EDGE": env.get("TWILIO_EDGE", "tokyo") or None,
        "TWILIO_REGION": env.get("TWILIO_REGION") or None,
        "PUBLIC_BASE_URL": public_base,
        "SMS_RATE_PER_SECOND": _float(env, "SMS_RATE_PER_SECOND", "10"),
        "GEOCODER": geocoder,
        "CHECKIN_SILENCE_MINUTES": _int(env, "CHECKIN_SILENCE_MINUTES", "15"),
        "RUNWAY_RED_HOURS": _float(env, "RUNWAY_RED_HOURS", "6"),
        "RUNWAY_YELLOW_HOURS": _float(env, "RUNWAY_YELLOW_HOURS", "24"),
        "LOGIN_RATE_LIMIT": env.get("LOGIN_RATE_LIMIT", "10 per minute"),
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", "memory://"),
        "PROXY_FIX": {"x_for": _hops(env, "PROXY_FIX_X_FOR"), "x_proto": _hops(env, "PROXY_FIX_X_PROTO"),
                      "x_host": _hops(env, "PROXY_FIX_X_HOST")},
        "MAX_CONTENT_LENGTH": _int(env, "MAX_CONTENT_LENGTH", "26214400"),
        # A development tool that forges inbound traffic: never on by accident, never with a real provider.
        "MESSAGING_SIMULATOR": channel == "console" and env.get("MESSAGING_SIMULATOR", "0").lower() in _TRUE,
        "REQUIRE_TOTP_ROLES": _roles(env, "REQUIRE_TOTP_ROLES", "admin,hub_staff"),
        # Cookies: HttpOnly always; Secure whenever the public URL is https.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure_cookies,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SECURE": secure_cookies,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
        "WTF_CSRF_TIME_LIMIT": None,   # a form left open through a long night must still submit
        "JSON_AS_ASCII": False,
        "TESTING": bcp_env == "test",
    }


def twilio_caller(env: Mapping[str, str], *, warn: bool = True) -> str:
    """The caller number for calls: ``TWILIO_VOICE_FROM``, else ``TWILIO_FROM``, in E.164.

    Every check-in of a landline, and every silent patient's second round, is a call: a call without
    a caller number is rejected (or rings as 「非通知」, which elderly users are told to block), so a
    twilio configuration without one cannot start. A number outside Japan (+81) starts with a
    warning: calls from international numbers are blocked by many landline users
    (国際電話不取扱受付センター) and may lose their caller ID."""
    import phonenumbers

    raw = env.get("TWILIO_VOICE_FROM") or env.get("TWILIO_FROM")
    if not raw:
        raise ConfigError("MESSAGING_CHANNEL=twilio places calls (landlines, unanswered check-ins) and needs a "
                          "caller number: set TWILIO_VOICE_FROM (or TWILIO_FROM) to a Japanese Twilio number")
    try:
        number = phonenumbers.parse(raw, "JP")
    except phonenumbers.NumberParseException:
        raise ConfigError(f"TWILIO_VOICE_FROM / TWILIO_FROM is not a phone number: {raw!r} "
                          "(calls need a number; an alphanumeric sender is for SMS only)") from None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if warn and number.country_code != 81:
        logging.getLogger(__name__).warning(
            "caller number %s is not a Japanese number: calls to Japanese landlines from international numbers "
            "are often blocked or lose their caller ID; use a Japanese (e.g. 050) Twilio number", e164)
    return e164

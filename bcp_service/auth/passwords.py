from __future__ import annotations

import hashlib
import os
import secrets
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256

# Argon2 cost profiles. "standard" (argon2-cffi's RFC 9106 low-memory defaults) everywhere real;
# "test" is cheap so a test suite that creates a user per test stays fast. A hash records its own
# parameters, so either profile verifies hashes made with the other.
PROFILES: dict[str, dict[str, int]] = {
    "standard": {},
    "test": {"time_cost": 1, "memory_cost": 8, "parallelism": 1},
}


def profile_name(env=None) -> str:
    """``PASSWORD_HASH_PROFILE`` (default "standard"). The cheap "test" profile is honoured only when
    BCP_ENV=test, so a test environment variable leaking into a real process never weakens its hashes."""
    env = os.environ if env is None else env
    name = env.get("PASSWORD_HASH_PROFILE") or "standard"
    if name not in PROFILES:
        raise ValueError(f"PASSWORD_HASH_PROFILE must be one of {', '.join(PROFILES)}, got {name!r}")
    return name if env.get("BCP_ENV") == "test" else "standard"


@lru_cache(maxsize=None)
def _hasher(name: str) -> PasswordHasher:
    return PasswordHasher(**PROFILES[name])


@lru_cache(maxsize=None)
def _dummy_hash(name: str) -> str:
    # Verified against when the e-mail is unknown, so a wrong e-mail costs as long as a wrong password.
    return _hasher(name).hash("not-a-real-password")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of common and breached passwords (package data), lower case."""
    text = resources.files("bcp_service.auth").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def password_problem(password: str, *, context: tuple[str, ...] = ()) -> str | None:
    """Why a new password is refused, in Japanese, or None. NIST SP 800-63B: a minimum length, no
    common, breached or context-derived passwords, no repetitive or sequential ones — and no
    composition rules (any characters, spaces and kana included)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"パスワードは{MIN_PASSWORD_LENGTH}文字以上にしてください。"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"パスワードは{MAX_PASSWORD_LENGTH}文字以内にしてください。"
    lowered = password.lower()
    if lowered in common_passwords():
        return "よく使われる（流出したことのある）パスワードです。別のものにしてください。"
    if len(set(lowered)) <= 2 or _sequential(lowered):
        return "同じ文字や連続した文字の並びだけのパスワードは使えません。"
    for word in context:
        word = (word or "").lower().strip()
        if len(word) >= 4 and (lowered == word or lowered.startswith(word.split("@")[0]) and
                               len(lowered) - len(word.split("@")[0]) < 4):
            return "メールアドレスや名前から推測できるパスワードは使えません。"
    return None


def _sequential(text: str) -> bool:
    steps = {ord(b) - ord(a) for a, b in zip(text, text[1:])}
    return len(steps) == 1 and steps <= {1, -1}


def hash_password(password: str, *, context: tuple[str, ...] = ()) -> str:
    problem = password_problem(password, context=context)
    if problem:
        raise ValueError(problem)
    return _hasher(profile_name()).hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    name = profile_name()
    try:
        return _hasher(name).verify(stored_hash or _dummy_hash(name), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_api_token() -> tuple[str, str]:
    """(token shown once, its SHA-256 to store). Tokens are 256-bit random, so a fast hash suffices."""
    token = "bcp_" + secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()

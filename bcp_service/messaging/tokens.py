"""One-tap tokens for ``/r/<token>``: signed (itsdangerous, SECRET_KEY), short, no expiry of their own.

A token names one purpose, one subject and one context, e.g. ``("checkin", patient_id, outage_id)``
or ``("rollcall", member_id, rollcall_id)``. Validity beyond the signature is decided by whoever
owns the context: a check listed in ``wiring.TOKEN_CHECKS`` (e.g. ``outages.hooks.still_open``)
answers "resolved" → the page says 410. Tokens carry ids only — no names, no phone numbers — because they
travel in SMS bodies and web logs.

The payload is ``<purpose code>-<subject base36>-<context base36>`` plus a 27-character HMAC so the
link stays short (every character is paid for in UCS-2 SMS segments): about 40 characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from itsdangerous import BadSignature, Signer

_SALT = "bcp-one-tap-v1"


@dataclass(frozen=True)
class TapClaims:
    purpose: str        # e.g. "checkin", "field_task", "transport_task", "rollcall"
    subject_id: int     # the patient (checkin) or the recipient (task, rollcall member)
    context_id: int     # the outage (checkin, tasks) or the rollcall


class InvalidToken(Exception):
    pass


# "contact_checkin": a patient's registered contact answering in their place (subject: the outage's
# contact row, which names the patient and the contact's position).
_CODES = {"checkin": "c", "field_task": "f", "transport_task": "t", "rollcall": "r", "contact_checkin": "k"}
_PURPOSES = {v: k for k, v in _CODES.items()}
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _b36(n: int) -> str:
    if n < 0:
        raise ValueError("ids are non-negative")
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _B36[r] + out
        if n == 0:
            return out


@lru_cache(maxsize=8)     # one per SECRET_KEY; a fan-out signs 20,000 tokens with the same signer
def _signer(secret: str) -> Signer:
    if not secret:
        raise ValueError("SECRET_KEY is required to sign one-tap tokens")
    return Signer(secret, salt=_SALT)


def make_token(secret: str, claims: TapClaims) -> str:
    code = _CODES.get(claims.purpose)
    if code is None:
        raise ValueError(f"unknown one-tap purpose {claims.purpose!r}")
    payload = f"{code}-{_b36(claims.subject_id)}-{_b36(claims.context_id)}"
    return _signer(secret).sign(payload).decode()


def read_token(secret: str, token: str) -> TapClaims:
    try:
        payload = _signer(secret).unsign(token).decode()
    except (BadSignature, UnicodeError) as exc:
        raise InvalidToken("bad signature") from exc
    parts = payload.split("-")
    if len(parts) != 3 or parts[0] not in _PURPOSES:
        raise InvalidToken("malformed payload")
    try:
        return TapClaims(_PURPOSES[parts[0]], int(parts[1], 36), int(parts[2], 36))
    except ValueError as exc:
        raise InvalidToken("malformed payload") from exc

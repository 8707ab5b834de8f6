"""Channels: the SMS/voice provider behind one small Protocol.

* :class:`ConsoleChannel` — sends nothing; keeps what it would have sent (in memory, and the outbox
  row itself records it) so the demo's phone simulator page can show the message and let a person
  answer as the patient.
* :class:`TwilioChannel` — the real ``twilio`` client. Messages API with ``StatusCallback``; Calls API
  with a TwiML ``Url`` and always a caller number (``voice_from``: Japanese carriers strip or block
  calls without one). Edge and region are the configured ones (``TWILIO_EDGE``, default ``tokyo``:
  Twilio's Japan voice guidance routes domestic calls through the Tokyo edge so they keep their
  Japanese caller ID; ``TWILIO_REGION``, the region the credentials live in). Only when ``api_base``
  (``TWILIO_API_BASE``) replaces ``client.api.base_url`` are they cleared, because an edge or region
  would rewrite that host too (a loopback fake in tests).

Failures are raised as :class:`SendError` carrying the HTTP status and the provider error code;
:func:`classify` (pure) turns that into what the dispatcher does next.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Literal, Protocol

Outcome = Literal["retry", "fallback", "opted_out", "permanent"]

# Twilio error codes (https://www.twilio.com/docs/api/errors) that matter here.
INVALID_NUMBER = 21211
OPTED_OUT = 21610
NOT_MOBILE = 21614          # landline or otherwise cannot receive SMS
TOO_MANY_REQUESTS = 20429
# Delivery failures reported later in status callbacks (ErrorCode): unreachable, unknown, carrier…
UNDELIVERABLE_CALLBACK_CODES = frozenset({30003, 30004, 30005, 30006, 30007, 30008})


@dataclass(frozen=True)
class Receipt:
    provider_id: str
    status: str = "queued"      # provider's initial state


class SendError(Exception):
    """A send that did not reach the provider's queue.

    ``status`` is the HTTP status (None for timeouts and connection errors), ``code`` the provider's
    error code when it gave one.
    """

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = code

    @property
    def outcome(self) -> Outcome:
        return classify(self.status, self.code)


def classify(status: int | None, code: int | None) -> Outcome:
    """What to do after a failed send.

    retry      429, 5xx, timeout/connection error (status None): the provider may take it later.
    opted_out  21610: the person sent STOP to our number. Record it; a check-in still goes by voice.
    fallback   21614 (landline / not SMS-capable): voice can reach the person.
    permanent  21211 (invalid number) and any other 4xx: retrying cannot help; escalate to people.
    """
    if status is None or status == 429 or code == TOO_MANY_REQUESTS or status >= 500:
        return "retry"
    if code == OPTED_OUT:
        return "opted_out"
    if code == NOT_MOBILE:
        return "fallback"
    return "permanent"


class Channel(Protocol):
    name: str

    def send_sms(self, to: str, body: str, *, callback_url: str | None) -> Receipt: ...

    def place_call(self, to: str, twiml_url: str, *, callback_url: str | None) -> Receipt: ...

    def find_accepted(self, to: str, *, channel: str, body: str | None, since: datetime) -> list[Receipt]:
        """What the provider accepted for ``to`` since ``since``, newest first: SMS with exactly this
        body, or any call. Used before resending a row whose last attempt has an unknown outcome.
        Raises SendError when the provider cannot be asked."""
        ...


LOOKUP_LIMIT = 20           # a person gets a handful of messages per outage; 20 newest is plenty


@dataclass
class ConsoleRecord:
    kind: str           # "sms" | "voice"
    to: str
    body: str | None
    twiml_url: str | None
    callback_url: str | None
    provider_id: str
    at: datetime | None = None


@dataclass
class ConsoleChannel:
    """Sends nothing. Keeps every message (bounded) for the demo and for tests."""

    name: str = "console"
    keep: int = 10_000
    records: list[ConsoleRecord] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _add(self, rec: ConsoleRecord) -> Receipt:
        with self._lock:
            self.records.append(rec)
            del self.records[:-self.keep]
        return Receipt(provider_id=rec.provider_id, status="sent")

    def send_sms(self, to: str, body: str, *, callback_url: str | None) -> Receipt:
        return self._add(ConsoleRecord("sms", to, body, None, callback_url, "SMcon" + uuid.uuid4().hex,
                                       at=datetime.now(timezone.utc)))

    def place_call(self, to: str, twiml_url: str, *, callback_url: str | None) -> Receipt:
        return self._add(ConsoleRecord("voice", to, None, twiml_url, callback_url, "CAcon" + uuid.uuid4().hex,
                                       at=datetime.now(timezone.utc)))

    def find_accepted(self, to: str, *, channel: str, body: str | None, since: datetime) -> list[Receipt]:
        # In memory: what a process that died had "sent" is gone with it, which is all a demo needs.
        with self._lock:
            found = [r for r in reversed(self.records)
                     if r.kind == channel and r.to == to and (channel != "sms" or r.body == body)
                     and (r.at is None or r.at >= since)]
        return [Receipt(provider_id=r.provider_id, status="sent") for r in found[:LOOKUP_LIMIT]]


class TwilioChannel:
    """The real twilio client. One client per thread (requests sessions are not shared)."""

    name = "twilio"

    def __init__(self, *, account_sid: str, auth_token: str, from_number: str | None = None,
                 messaging_service_sid: str | None = None, api_base: str | None = None,
                 timeout: float = 10.0, voice_from: str | None = None, edge: str | None = "tokyo",
                 region: str | None = None):
        if not account_sid or not auth_token:
            raise ValueError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are required for the twilio channel")
        if not from_number and not messaging_service_sid:
            raise ValueError("TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID is required")
        if not (voice_from or from_number):
            # A messaging service sends SMS without a number, but a call without a caller number is
            # rejected: every landline check-in would fail. Refuse to start instead.
            raise ValueError("calls need a caller number: set TWILIO_VOICE_FROM or TWILIO_FROM")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.from_number = from_number
        self.voice_from = voice_from or from_number
        self.messaging_service_sid = messaging_service_sid
        self.api_base = api_base.rstrip("/") if api_base else None
        # Edge and region rewrite the API host: honoured against Twilio, cleared for a loopback base.
        self.edge = None if self.api_base else (edge or None)
        self.region = None if self.api_base else (region or None)
        self.timeout = timeout
        self._local = threading.local()

    def _client(self):
        client = getattr(self._local, "client", None)
        if client is None:
            from twilio.http.http_client import TwilioHttpClient
            from twilio.rest import Client

            # max_retries stays off: twilio retries only https, and our dispatcher owns retries.
            http = TwilioHttpClient(timeout=self.timeout, pool_connections=True)
            client = Client(self.account_sid, self.auth_token, http_client=http)
            if self.api_base:
                client.api.base_url = self.api_base
            # Set explicitly: the client would otherwise read TWILIO_EDGE / TWILIO_REGION itself.
            client.edge = self.edge
            client.region = self.region
            self._local.client = client
        return client

    @staticmethod
    def _wrap(exc: Exception) -> SendError:
        from twilio.base.exceptions import TwilioRestException

        if isinstance(exc, TwilioRestException):
            return SendError(f"twilio {exc.status} {exc.code}", status=exc.status, code=exc.code)
        # list() reports an HTTP error as TwilioException("Unable to fetch page", response).
        response = exc.args[1] if len(getattr(exc, "args", ())) > 1 else None
        status = getattr(response, "status_code", None)
        if isinstance(status, int):
            code = None
            try:
                code = json.loads(response.text).get("code")
            except (ValueError, AttributeError):
                pass
            return SendError(f"twilio {status} {code}", status=status, code=code)
        # Timeouts, refused connections, resets: the provider may or may not have the request.
        return SendError(f"transport: {type(exc).__name__}", status=None, code=None)

    def send_sms(self, to: str, body: str, *, callback_url: str | None) -> Receipt:
        kwargs = {"to": to, "body": body}
        if self.messaging_service_sid:
            kwargs["messaging_service_sid"] = self.messaging_service_sid
        else:
            kwargs["from_"] = self.from_number
        if callback_url:
            kwargs["status_callback"] = callback_url
        try:
            msg = self._client().messages.create(**kwargs)
        except Exception as exc:  # noqa: BLE001 — every failure is classified, none swallowed
            raise self._wrap(exc) from exc
        return Receipt(provider_id=msg.sid, status=msg.status or "queued")

    def place_call(self, to: str, twiml_url: str, *, callback_url: str | None) -> Receipt:
        kwargs = {"to": to, "url": twiml_url, "from_": self.voice_from}
        if callback_url:
            # Twilio's default event set for calls is just "completed", which is all we need; naming
            # it explicitly also trips Prism's form-array parsing (contract test).
            kwargs["status_callback"] = callback_url
        try:
            call = self._client().calls.create(**kwargs)
        except Exception as exc:  # noqa: BLE001
            raise self._wrap(exc) from exc
        return Receipt(provider_id=call.sid, status=call.status or "queued")

    def find_accepted(self, to: str, *, channel: str, body: str | None, since: datetime) -> list[Receipt]:
        # Filtered by recipient at the provider, by time and body here: Twilio's date filter is on
        # date_sent, which a message still queued at Twilio does not have yet. One page, newest first.
        try:
            if channel == "sms":
                items = list(self._client().messages.page(to=to, page_size=LOOKUP_LIMIT))
                return [Receipt(provider_id=m.sid, status=m.status or "queued") for m in items
                        if m.date_created is not None and m.date_created >= since and m.body == body]
            items = list(self._client().calls.page(to=to, page_size=LOOKUP_LIMIT))
            return [Receipt(provider_id=c.sid, status=c.status or "queued") for c in items
                    if c.date_created is not None and c.date_created >= since]
        except Exception as exc:  # noqa: BLE001 — a lookup that fails must not look like "not found"
            raise self._wrap(exc) from exc

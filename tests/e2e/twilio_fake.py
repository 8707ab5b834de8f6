"""A loopback stand-in for Twilio's 2010-04-01 REST API (Messages and Calls), on pytest-httpserver.

Point the real twilio client at it (``TWILIO_API_BASE=fake.base_url``). It checks HTTP basic auth,
records every accepted message/call (and lists them, newest first, filtered by ``To``), can add latency, answer scripted failures (429, 500, 21211,
21610, 21614 …) and later post signed status callbacks to the ``StatusCallback`` URL each request
carried — which is how we test the whole loop with no network.

Usage (fixture ``twilio_fake`` in ``tests/e2e/conftest.py``, or build one yourself)::

    fake = TwilioFake(httpserver)            # httpserver from pytest-httpserver
    fake.fail_next(429, 20429)               # next create answers 429
    fake.fail_number("+81312345678", 400, 21614)   # always: landline
    fake.latency = 0.05
    ... send ...
    fake.messages  # [{"sid", "to", "from", "body", "status_callback", ...}]
    fake.callbacks(post, status="delivered")  # post(url, form, headers) signed with RequestValidator

Thread-safe: the server may run threaded (``HTTPServer(threaded=True)``) for concurrency tests.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Callable
from urllib.parse import parse_qs

from werkzeug import Request, Response

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token-0123456789abcdef"

_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC[0-9a-fA-F]{32})/(?P<kind>Messages|Calls)\.json$")


@dataclass
class _Failure:
    status: int
    code: int | None
    message: str = "scripted failure"


@dataclass
class TwilioFake:
    server: object                       # pytest_httpserver.HTTPServer
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    latency: float = 0.0                 # seconds added to every create
    messages: list[dict] = field(default_factory=list)
    calls: list[dict] = field(default_factory=list)
    requests_seen: int = 0
    lookups: int = 0                     # GET list requests (the dispatcher asking before a resend)
    now: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))   # date_created
    down: bool = False                   # True: every create answers 503
    in_flight: int = 0
    max_in_flight: int = 0               # the most creates handled at the same time
    _next: deque = field(default_factory=deque)
    _by_number: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        self.server.expect_request(_PATH, method="POST").respond_with_handler(self._handle)
        self.server.expect_request(_PATH, method="GET").respond_with_handler(self._list)

    # --- scripting ---------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def fail_next(self, status: int, code: int | None = None, times: int = 1) -> None:
        with self._lock:
            for _ in range(times):
                self._next.append(_Failure(status, code))

    def fail_number(self, to: str, status: int, code: int | None) -> None:
        with self._lock:
            self._by_number[to] = _Failure(status, code)

    def clear_number(self, to: str) -> None:
        with self._lock:
            self._by_number.pop(to, None)

    # --- the API -----------------------------------------------------------------------------
    def _auth_ok(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user == self.account_sid and password == self.auth_token

    @staticmethod
    def _error(status: int, code: int | None, message: str) -> Response:
        body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status}
        return Response(json.dumps(body), status=status, content_type="application/json")

    def _handle(self, request: Request) -> Response:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                time.sleep(self.latency)
            return self._create(request)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _create(self, request: Request) -> Response:
        m = _PATH.match(request.path)
        form = {k: v[-1] for k, v in parse_qs(request.get_data(as_text=True)).items()}
        with self._lock:
            self.requests_seen += 1
            if not self._auth_ok(request) or m.group("sid") != self.account_sid:
                return self._error(401, 20003, "Authenticate")
            if self.down:
                return self._error(503, None, "Service Unavailable")
            if self._next:
                f = self._next.popleft()
                return self._error(f.status, f.code, f.message)
            to = form.get("To", "")
            if to in self._by_number:
                f = self._by_number[to]
                return self._error(f.status, f.code, f.message)
            if m.group("kind") == "Messages":
                if "Body" not in form or not ("From" in form or "MessagingServiceSid" in form):
                    return self._error(400, 21602, "Message body is required")
                sid = "SM" + uuid.uuid4().hex
                rec = {"sid": sid, "to": to, "from": form.get("From"), "body": form.get("Body"),
                       "status_callback": form.get("StatusCallback"), "status": "queued",
                       "date_created": self.now()}
                self.messages.append(rec)
            else:
                if "Url" not in form and "Twiml" not in form:
                    return self._error(400, 21205, "Url parameter is required")
                if not form.get("From"):      # as Twilio: a call needs a caller number
                    return self._error(400, 21213, "No 'From' number is specified")
                sid = "CA" + uuid.uuid4().hex
                rec = {"sid": sid, "to": to, "from": form.get("From"), "url": form.get("Url"),
                       "status_callback": form.get("StatusCallback"), "status": "queued",
                       "date_created": self.now()}
                self.calls.append(rec)
        body = {"sid": sid, "account_sid": self.account_sid, "to": to, "from": rec["from"],
                "status": "queued", "body": rec.get("body"), "api_version": "2010-04-01",
                "uri": f"/2010-04-01/Accounts/{self.account_sid}/{m.group('kind')}/{sid}.json"}
        return Response(json.dumps(body), status=201, content_type="application/json")

    def _list(self, request: Request) -> Response:
        """GET …/Messages.json or …/Calls.json: newest first, filtered by ``To``, one page of ``PageSize``
        (the shape twilio-python's list() reads: the records under "messages"/"calls" plus paging keys)."""
        m = _PATH.match(request.path)
        with self._lock:
            self.lookups += 1
        if not self._auth_ok(request) or m.group("sid") != self.account_sid:
            return self._error(401, 20003, "Authenticate")
        if self.down:
            return self._error(503, None, "Service Unavailable")
        kind = m.group("kind")
        to = request.args.get("To")
        size = min(int(request.args.get("PageSize", 50)), 1000)
        with self._lock:
            records = list(self.messages if kind == "Messages" else self.calls)
        records = [r for r in reversed(records) if to is None or r["to"] == to][:size]
        items = []
        for r in records:
            item = {"sid": r["sid"], "account_sid": self.account_sid, "to": r["to"], "from": r["from"],
                    "status": r["status"], "api_version": "2010-04-01",
                    "date_created": format_datetime(r["date_created"], usegmt=True),
                    "date_updated": format_datetime(r["date_created"], usegmt=True)}
            if kind == "Messages":
                item["body"] = r["body"]
            items.append(item)
        uri = f"/2010-04-01/Accounts/{self.account_sid}/{kind}.json"
        body = {kind.lower(): items, "first_page_uri": uri, "next_page_uri": None, "previous_page_uri": None,
                "page": 0, "page_size": size, "start": 0, "end": max(0, len(items) - 1), "uri": uri}
        return Response(json.dumps(body), status=200, content_type="application/json")

    # --- callbacks ---------------------------------------------------------------------------
    def sign(self, url: str, params: dict) -> str:
        from twilio.request_validator import RequestValidator

        return RequestValidator(self.auth_token).compute_signature(url, params)

    def callbacks(self, post: Callable[[str, dict, dict], object], *, status: str = "delivered",
                  error_code: int | None = None, only: Callable[[dict], bool] | None = None) -> int:
        """POST a signed status callback for every recorded message/call that asked for one."""
        sent = 0
        for rec in list(self.messages) + list(self.calls):
            url = rec.get("status_callback")
            if not url or (only and not only(rec)):
                continue
            is_msg = rec["sid"].startswith("SM")
            params = {"AccountSid": self.account_sid, "To": rec["to"], "From": rec["from"] or ""}
            if is_msg:
                params.update({"MessageSid": rec["sid"], "SmsSid": rec["sid"], "MessageStatus": status})
            else:
                params.update({"CallSid": rec["sid"], "CallStatus": status})
            if error_code is not None:
                params["ErrorCode"] = str(error_code)
            post(url, params, {"X-Twilio-Signature": self.sign(url, params)})
            sent += 1
        return sent

    def keys_sent(self) -> list[str]:
        """The outbox idempotency ids our StatusCallback URLs carry (``?o=<id>``), one per accepted send."""
        out = []
        for rec in self.messages + self.calls:
            cb = rec.get("status_callback") or ""
            q = parse_qs(cb.partition("?")[2])
            out.append(q.get("o", [""])[0])
        return out

"""The night's outside world for ``night_load.py``, in one process of its own.

* **Provider**: the loopback Twilio fake (``tests/e2e/twilio_fake.py``, real HTTP, 50 ms per create)
  that, like the real one, then posts signed status callbacks for every accepted message —
  ``queued`` (+0.05 s), ``sent`` (+0.3–0.6 s), ``delivered`` (+1.5–3 s); calls get ``completed``.
  Callbacks go out from a pool of ``CALLBACK_CONNECTIONS`` threads, a new connection each, 15 s timeout
  (Twilio's webhook timeout).
* **Families**: for every delivered check-in SMS, with probability ``tap_share`` the family opens the
  one-tap link (GET, then POST an answer) and with ``reply_share`` it answers by SMS (the provider posts
  a signed ``/sms/inbound``), each at a uniformly random moment within ``window`` seconds of delivery.

Every request is recorded as ``(kind, due, start, end, http_status)`` (monotonic seconds); the
records go back to the parent through a pipe when it says ``stop``. ``pending`` counts what is
scheduled and not finished, so the parent knows when the night is over.
"""
from __future__ import annotations

import heapq
import http.client
import json
import logging
import random
import re
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode, urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

CALLBACK_CONNECTIONS = 32
FAMILY_CONNECTIONS = 16
TIMEOUT = 15.0
_LINK = re.compile(r"/r/([A-Za-z0-9._~-]+)")


def _post(url: str, body: str, headers: dict) -> int:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request("POST", path, body=body, headers={"Content-Type": "application/x-www-form-urlencoded",
                                                       **headers})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def _get(url: str) -> int:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT)
    try:
        conn.request("GET", parts.path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


class World:
    """Schedules and performs the provider's callbacks and the families' answers."""

    def __init__(self, fake, web_base: str, *, tap_share: float, reply_share: float, window: float, seed: int,
                 pending):
        self.fake = fake
        self.web_base = web_base.rstrip("/")
        self.tap_share, self.reply_share, self.window = tap_share, reply_share, window
        self.rng = random.Random(seed)
        self.pending = pending                       # multiprocessing.Value('i')
        self.records: list[tuple] = []
        self.accepted: list[tuple] = []              # (monotonic, sid, channel)
        self._heap: list = []
        self._seq = 0
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._stop = False
        self.pools = {"callback": ThreadPoolExecutor(CALLBACK_CONNECTIONS, thread_name_prefix="cb"),
                      "family": ThreadPoolExecutor(FAMILY_CONNECTIONS, thread_name_prefix="fam")}
        threading.Thread(target=self._run, daemon=True, name="scheduler").start()

    # --- scheduling ----------------------------------------------------------------------------
    def at(self, due: float, pool: str, fn, *args) -> None:
        with self._lock:
            self._seq += 1
            heapq.heappush(self._heap, (due, self._seq, pool, fn, args))
            with self.pending.get_lock():
                self.pending.value += 1
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._stop and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = None if not self._heap else max(0.0, self._heap[0][0] - time.monotonic())
                    self._wake.wait(timeout)
                if self._stop:
                    return
                due, _, pool, fn, args = heapq.heappop(self._heap)
            self.pools[pool].submit(self._perform, due, fn, args)

    def _perform(self, due, fn, args) -> None:
        try:
            kind, start, end, status = fn(*args)
            with self._lock:
                self.records.append((kind, due, start, end, status))
        except Exception as exc:  # noqa: BLE001 - a failed request is a result, not a crash
            with self._lock:
                self.records.append((getattr(fn, "kind", "error"), due, time.monotonic(), time.monotonic(),
                                     f"{type(exc).__name__}"))
        finally:
            with self.pending.get_lock():
                self.pending.value -= 1

    # --- the provider's side -------------------------------------------------------------------
    def accepted_message(self, sid: str, to: str, frm: str | None, body: str | None, callback: str | None,
                         is_call: bool) -> None:
        now = time.monotonic()
        with self._lock:
            self.accepted.append((now, sid, "voice" if is_call else "sms"))
        if not callback:
            return
        if is_call:
            self.at(now + self.rng.uniform(5, 15), "callback", self._callback, callback, sid, to, frm, "completed", True)
            return
        delivered = now + self.rng.uniform(1.5, 3.0)
        self.at(now + 0.05, "callback", self._callback, callback, sid, to, frm, "queued", False)
        self.at(now + self.rng.uniform(0.3, 0.6), "callback", self._callback, callback, sid, to, frm, "sent", False)
        self.at(delivered, "callback", self._callback, callback, sid, to, frm, "delivered", False)
        link = _LINK.search(body or "")
        r = self.rng.random()
        if link and r < self.tap_share:
            answer = self.rng.choices("123", weights=(85, 12, 3))[0]
            self.at(delivered + self.rng.uniform(0, self.window), "family", self._tap, link.group(1), answer)
        elif r < self.tap_share + self.reply_share:
            self.at(delivered + self.rng.uniform(0, self.window), "family", self._reply, to, frm, "1")

    def _callback(self, url, sid, to, frm, status, is_call):
        params = {"AccountSid": self.fake.account_sid, "To": to, "From": frm or ""}
        if is_call:
            params.update({"CallSid": sid, "CallStatus": status})
        else:
            params.update({"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status})
        sig = self.fake.sign(url, params)
        start = time.monotonic()
        code = _post(url, urlencode(params), {"X-Twilio-Signature": sig})
        return "callback", start, time.monotonic(), code

    def _reply(self, phone, our_number, body):
        url = self.web_base + "/sms/inbound"
        params = {"AccountSid": self.fake.account_sid, "MessageSid": "SM" + uuid.uuid4().hex, "From": phone,
                  "To": our_number or "", "Body": body, "NumSegments": "1"}
        start = time.monotonic()
        code = _post(url, urlencode(params), {"X-Twilio-Signature": self.fake.sign(url, params)})
        return "sms_reply", start, time.monotonic(), code

    def _tap(self, token, answer):
        url = f"{self.web_base}/r/{token}"
        start = time.monotonic()
        page = _get(url)
        mid = time.monotonic()
        code = _post(url, urlencode({"answer": answer}), {}) if page == 200 else page
        with self._lock:
            self.records.append(("tap_page", 0.0, start, mid, page))
        return "tap_answer", mid, time.monotonic(), code

    def stop(self) -> None:
        with self._lock:
            self._stop = True
            self._wake.notify()
        for p in self.pools.values():
            p.shutdown(wait=True, cancel_futures=True)


def run(conn, web_base: str, latency: float, tap_share: float, reply_share: float, window: float, seed: int,
        pending) -> None:
    """Child-process entry: serve the fake, report its URL, run until the parent sends ``stop``."""
    from pytest_httpserver import HTTPServer

    from tests.e2e.twilio_fake import TwilioFake

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    world_ref: list[World] = []

    class NightFake(TwilioFake):
        def _create(self, request):
            resp = super()._create(request)
            if resp.status_code == 201:
                rec = json.loads(resp.get_data(as_text=True))
                form = request.form
                world_ref[0].accepted_message(rec["sid"], rec["to"], rec.get("from"), rec.get("body"),
                                              form.get("StatusCallback"), rec["sid"].startswith("CA"))
            return resp

    server.start()
    fake = NightFake(server)
    fake.latency = latency
    world_ref.append(World(fake, web_base, tap_share=tap_share, reply_share=reply_share, window=window,
                           seed=seed, pending=pending))
    conn.send({"base_url": fake.base_url, "account_sid": fake.account_sid, "auth_token": fake.auth_token})
    while conn.recv() != "stop":
        pass
    world = world_ref[0]
    world.stop()
    server.stop()
    conn.send({"records": world.records, "accepted": world.accepted, "max_in_flight": fake.max_in_flight})
    conn.close()

"""Twilio webhooks, voice TwiML and the one-tap page over HTTP, with signatures made by the real
RequestValidator. Replays are no-ops; a bad signature is 403 and records nothing."""
from dataclasses import fields, replace
from datetime import timedelta
from functools import partial

import pytest
from sqlalchemy import func, select

from bcp_service.messaging import answers, outbox
from bcp_service.messaging.models import OptOut, OutboxMessage, ProviderEvent
from bcp_service.messaging.tokens import TapClaims, make_token
from tests.e2e.conftest import post_signed as signed_post

AUTH = "webhook-test-token"
BASE = "https://bcp.example.jp"
PHONE = "+819000000001"


@pytest.fixture
def app_config():
    return {"TWILIO_AUTH_TOKEN": AUTH, "PUBLIC_BASE_URL": BASE}


def _checkin_handler(app, handler) -> None:
    """This test's app answers 'checkin' with ``handler`` and has no validity checks (these tests have no
    outage rows; validity is tested below). The hooks live on the app: nothing to restore."""
    hooks = app.extensions["answers"]
    app.extensions["answers"] = replace(hooks, handlers={**hooks.handlers, "checkin": handler}, validity_checks=())


@pytest.fixture
def recorded(app):
    """Answers delivered to the 'checkin' purpose, as dicts of the AnswerReceived fields (no session)."""
    calls = []
    _checkin_handler(app, lambda received: calls.append(
        {f.name: getattr(received, f.name) for f in fields(received) if f.name != "session"}))
    return calls


post_signed = partial(signed_post, base=BASE, token=AUTH)


def _events(session):
    return session.scalar(select(func.count()).select_from(ProviderEvent))


def _checkin_row(session, *, key="outage:7:patient:42:round:1:sms", status="sent", provider_id="SM" + "a" * 32):
    row = outbox.enqueue(session, key=key, to=PHONE, body="安否確認", purpose="checkin", patient_id=42,
                         outage_id=7, round=1)
    row.status, row.provider_id = status, provider_id
    session.commit()
    return row


@pytest.mark.sqlite_smoke
def test_status_callback_marks_delivered_and_replays_are_no_ops(client, session):
    row = _checkin_row(session)
    form = {"MessageSid": row.provider_id, "MessageStatus": "delivered", "AccountSid": "AC1"}
    for _ in range(3):
        assert post_signed(client, f"/sms/status?o={row.id}", form).status_code == 204
    session.expire_all()
    assert session.get(OutboxMessage, row.id).status == "delivered"
    assert _events(session) == 1


def test_bad_signature_is_403_and_records_nothing(client, session):
    row = _checkin_row(session)
    form = {"MessageSid": row.provider_id, "MessageStatus": "delivered"}
    bad = post_signed(client, "/sms/status", form, token="wrong-token")
    none = client.post("/sms/status", data=form)
    inbound = post_signed(client, "/sms/inbound", {"MessageSid": "SM1", "From": PHONE, "Body": "3"}, token="x")
    assert (bad.status_code, none.status_code, inbound.status_code) == (403, 403, 403)
    session.expire_all()
    assert session.get(OutboxMessage, row.id).status == "sent" and _events(session) == 0


def test_signature_is_checked_against_public_base_url_behind_a_proxy(client, session):
    row = _checkin_row(session)
    form = {"MessageSid": row.provider_id, "MessageStatus": "sent"}
    # Signed for the internal host the proxy forwards to: not what Twilio requested → refused.
    assert post_signed(client, "/sms/status", form, base="http://localhost").status_code == 403
    assert post_signed(client, "/sms/status", form).status_code == 204


def test_callback_reconciles_a_send_whose_result_was_never_committed(client, session, clock):
    row = _checkin_row(session, status="sending", provider_id=None)
    row.lease_until = clock.now() + timedelta(seconds=60)
    session.commit()
    form = {"MessageSid": "SM" + "b" * 32, "MessageStatus": "sent"}
    assert post_signed(client, f"/sms/status?o={row.id}", form).status_code == 204
    session.expire_all()
    got = session.get(OutboxMessage, row.id)
    assert (got.status, got.provider_id, got.lease_until) == ("sent", "SM" + "b" * 32, None)


def test_late_callback_never_moves_status_backwards(client, session):
    row = _checkin_row(session, status="delivered")
    assert post_signed(client, "/sms/status", {"MessageSid": row.provider_id, "MessageStatus": "sent"}).status_code == 204
    session.expire_all()
    assert session.get(OutboxMessage, row.id).status == "delivered"


def test_undelivered_checkin_sms_falls_back_to_voice(client, session):
    row = _checkin_row(session)
    form = {"MessageSid": row.provider_id, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    post_signed(client, "/sms/status", form)
    voice = outbox.get_by_key(session, row.key + ":fallback:voice")
    assert voice is not None and voice.channel == "voice" and voice.status == "queued"


def test_inbound_sms_answer_is_delivered_once_despite_three_replays(client, session, recorded):
    _checkin_row(session)
    form = {"MessageSid": "SM" + "c" * 32, "From": PHONE, "Body": "３ 助けて"}
    for _ in range(3):
        resp = post_signed(client, "/sms/inbound", form)
        assert resp.status_code == 200 and resp.mimetype == "text/xml"
    assert len(recorded) == 1
    assert recorded[0] | {"now": None} == dict(purpose="checkin", context_id=7, subject_id=42, answer="needs_help",
                                               channel="sms", now=None, text="３ 助けて", hours_left=None)


def test_stop_and_start_in_japanese(client, session):
    post_signed(client, "/sms/inbound", {"MessageSid": "SM1", "From": PHONE, "Body": "配信停止"})
    assert session.get(OptOut, PHONE) is not None
    post_signed(client, "/sms/inbound", {"MessageSid": "SM2", "From": PHONE, "Body": "再開"})
    session.expire_all()
    assert session.get(OptOut, PHONE) is None


def test_voice_checkin_twiml_gathers_one_digit_in_japanese(app, client, recorded):
    token = make_token(app.config["SECRET_KEY"], TapClaims("checkin", 42, 7))
    resp = post_signed(client, f"/voice/checkin?t={token}", {"CallSid": "CA1"})
    xml = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.mimetype == "text/xml"
    assert '<Gather action="https://bcp.example.jp/voice/checkin?t=' in xml
    assert 'numDigits="1"' in xml and '<Say language="ja-JP">' in xml and "至急" in xml


def test_voice_digit_records_the_answer_once(app, client, recorded):
    token = make_token(app.config["SECRET_KEY"], TapClaims("checkin", 42, 7))
    for _ in range(3):
        xml = post_signed(client, f"/voice/checkin?t={token}", {"CallSid": "CA2", "Digits": "2"}).get_data(as_text=True)
        assert "受け付けました" in xml
    assert [c["answer"] for c in recorded] == ["low_battery"] and recorded[0]["channel"] == "voice"


def test_voice_unknown_digit_asks_again(app, client, recorded):
    token = make_token(app.config["SECRET_KEY"], TapClaims("checkin", 42, 7))
    xml = post_signed(client, f"/voice/checkin?t={token}", {"CallSid": "CA3", "Digits": "9"}).get_data(as_text=True)
    assert "もう一度" in xml and "<Gather" in xml and recorded == []


def test_one_tap_page_has_three_big_buttons_and_works_without_javascript(app, client, recorded):
    token = make_token(app.config["SECRET_KEY"], TapClaims("checkin", 42, 7))
    html = client.get(f"/r/{token}").get_data(as_text=True)
    for label in ("問題なし", "バッテリー残りわずか", "至急支援・搬送"):
        assert label in html
    assert html.count('name="answer"') == 3 and "<script" not in html.split("</header>")[-1]


def test_one_tap_post_records_the_answer(app, client, recorded):
    token = make_token(app.config["SECRET_KEY"], TapClaims("checkin", 42, 7))
    resp = client.post(f"/r/{token}", data={"answer": "3"})
    assert resp.status_code == 200 and "受け付けました" in resp.get_data(as_text=True)
    assert recorded[0]["answer"] == "needs_help" and recorded[0]["channel"] == "tap"


@pytest.mark.parametrize("answer", ["4", "", "ok"])
def test_one_tap_bad_answer_is_400_and_records_nothing(app, client, recorded, answer):
    token = make_token(app.config["SECRET_KEY"], TapClaims("checkin", 42, 7))
    assert client.post(f"/r/{token}", data={"answer": answer}).status_code == 400
    assert recorded == []


def test_forged_token_is_404(client):
    assert client.get("/r/c-1-1.forgedsignature").status_code == 404
    assert client.post("/r/c-1-1.forgedsignature", data={"answer": "1"}).status_code == 404


def test_resolved_outage_makes_the_link_gone(app, client, recorded):
    app.extensions["answers"] = replace(app.extensions["answers"],
                                        validity_checks=(lambda session, claims: claims.context_id != 7,))
    token = make_token(app.config["SECRET_KEY"], TapClaims("checkin", 42, 7))
    assert client.get(f"/r/{token}").status_code == 410
    assert client.post(f"/r/{token}", data={"answer": "1"}).status_code == 410
    assert recorded == []


def test_forged_webhooks_are_rate_limited_but_genuine_ones_still_pass(client, session):
    row = _checkin_row(session)
    form = {"MessageSid": row.provider_id, "MessageStatus": "delivered"}
    codes = [post_signed(client, "/sms/status", form, token="forger").status_code for _ in range(32)]
    assert codes[:30] == [403] * 30 and codes[-1] == 429
    assert post_signed(client, "/sms/status", form).status_code == 204


@pytest.fixture
def handler_with_text(app):
    """A 'checkin' handler that reads the answer, the channel and the raw text."""
    calls = []

    def on_checkin(received: answers.AnswerReceived) -> None:
        calls.append(dict(answer=received.answer, channel=received.channel, text=received.text))

    _checkin_handler(app, on_checkin)
    return calls


def test_sms_reply_text_reaches_a_handler_that_accepts_it(client, session, handler_with_text):
    _checkin_row(session)
    body = "２　あと５時間"      # full-width, as typed on a phone: passed on unnormalised
    post_signed(client, "/sms/inbound", {"MessageSid": "SM" + "t" * 32, "From": PHONE, "Body": body})
    assert handler_with_text == [dict(answer="low_battery", channel="sms", text=body)]


def test_one_tap_and_dtmf_answers_pass_text_none(app, client, handler_with_text):
    token = make_token(app.config["SECRET_KEY"], TapClaims("checkin", 42, 7))
    client.post(f"/r/{token}", data={"answer": "2"})
    post_signed(client, f"/voice/checkin?t={token}", {"CallSid": "CA9", "Digits": "1"})
    assert handler_with_text == [dict(answer="low_battery", channel="tap", text=None),
                                 dict(answer="ok", channel="voice", text=None)]


def test_sms_reply_reaches_the_handler_of_the_token_purpose_with_its_ids(app, client, session):
    calls = []
    _checkin_handler(app, lambda received: calls.append((received.purpose, received.context_id,
                                                         received.subject_id, received.answer)))
    _checkin_row(session)
    resp = post_signed(client, "/sms/inbound", {"MessageSid": "SM" + "u" * 32, "From": PHONE, "Body": "1 大丈夫"})
    assert resp.status_code == 200 and calls == [("checkin", 7, 42, "ok")]

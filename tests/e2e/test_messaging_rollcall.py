"""Staff roll-call (職員安否確認) over HTTP: create, answer by one tap and by SMS reply, tally, close."""
import re

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bcp_service.messaging.models import OutboxMessage

AUTH = "rollcall-test-token"


@pytest.fixture
def app_config():
    return {"TWILIO_AUTH_TOKEN": AUTH, "PUBLIC_BASE_URL": "http://bcp.test"}


@pytest.fixture
def hub(make_region, make_user):
    make_region()
    return make_user("hub_staff")


def _create(client, headers, **body):
    payload = {"title": "首都直下地震 職員安否確認", "members": [
        {"name": "試験 一郎", "phone": "090-0000-0001"}, {"name": "試験 二郎", "phone": "090-0000-0002"},
        {"name": "試験 三郎", "phone": "090-0000-0003"}]}
    payload.update(body)
    return client.post("/api/v1/rollcalls", json=payload, headers=headers)


def _link_for(session, phone):
    body = session.scalars(select(OutboxMessage.body).where(OutboxMessage.to == phone)).one()
    return re.search(r"http://bcp\.test(/r/\S+)", body).group(1)


def test_rollcall_is_sent_answered_and_tallied(client, session, hub, auth_headers):
    h = auth_headers(hub)
    resp = _create(client, h)
    assert resp.status_code == 201
    rc = resp.get_json()
    assert rc["status"] == "open" and rc["tally"]["no_answer"] == 3
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "rollcall")).all()
    assert sorted(r.to for r in rows) == ["+819000000001", "+819000000002", "+819000000003"]
    assert all("【職員安否確認】" in r.body for r in rows)

    page = client.get(_link_for(session, "+819000000001"))
    assert page.status_code == 200 and "参集可能時間" in page.get_data(as_text=True)
    assert client.post(_link_for(session, "+819000000001"), data={"answer": "1", "eta_minutes": "30"}).status_code == 200

    # An SMS reply from the second member: 「1 2時間」
    for r in rows:
        r.status = "sent"
    session.commit()
    form = {"MessageSid": "SMrc1", "From": "+819000000002", "Body": "１ ２時間"}
    sig = RequestValidator(AUTH).compute_signature("http://bcp.test/sms/inbound", form)
    assert client.post("/sms/inbound", data=form, headers={"X-Twilio-Signature": sig}).status_code == 200

    tally = client.get(f"/api/v1/rollcalls/{rc['id']}", headers=h).get_json()["tally"]
    assert tally["answered"] == 2 and tally["no_answer"] == 1
    assert tally["by_answer"]["safe_available"] == 2
    assert tally["eta"]["30分以内"] == 1 and tally["eta"]["3時間以内"] == 1 and tally["available_within_60"] == 1


def test_closed_rollcall_link_is_gone(client, session, hub, auth_headers):
    h = auth_headers(hub)
    rc = _create(client, h).get_json()
    assert client.post(f"/api/v1/rollcalls/{rc['id']}/close", headers=h).get_json()["status"] == "closed"
    link = _link_for(session, "+819000000003")
    assert client.get(link).status_code == 410
    assert client.post(link, data={"answer": "1"}).status_code == 410


@pytest.mark.parametrize("body, field", [
    ({"members": [{"name": "試験", "phone": "not-a-phone"}]}, "members"),
    ({"members": []}, "members"),
    ({"title": ""}, "title"),
    ({"members": [{"name": "a", "phone": "090-0000-0001"}, {"name": "b", "phone": "09000000001"}]}, "members"),
])
def test_bad_rollcall_input_is_400_and_sends_nothing(client, session, hub, auth_headers, body, field):
    resp = _create(client, auth_headers(hub), **body)
    assert resp.status_code == 400 and field in resp.get_json()["error"]["fields"]
    assert session.scalars(select(OutboxMessage)).all() == []


def test_rollcall_needs_a_token_and_a_role(client, make_region, make_user, auth_headers):
    make_region()
    assert _create(client, {}).status_code == 401
    assert _create(client, auth_headers(make_user("field_team"))).status_code == 403


def test_institution_staff_may_only_call_their_own_organisation(client, make_region, make_org, make_user, auth_headers):
    make_region()
    mine, other = make_org(name="試験診療所"), make_org(name="他院")
    user = make_user("institution_staff", organization=mine)
    assert _create(client, auth_headers(user), organization_id=other.id).status_code == 403
    assert _create(client, auth_headers(user)).status_code == 201

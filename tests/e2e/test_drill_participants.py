"""Changing a booked drill's participating organisations (参加機関) over the API and on the drill page."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bcp_service.auth.audit import AuditEvent
from bcp_service.drills.models import Drill, DrillParticipant
from bcp_service.messaging.models import OutboxMessage
from tests.conftest import csrf_from
from tests.e2e.drill_helpers import drill_body, later


@pytest.fixture
def world(make_region, make_org, make_user, auth_headers):
    make_region("1301")
    make_region("1302", name="区南部")
    clinic = make_org(name="試験クリニック", kind="clinic")
    nursing = make_org(name="試験訪問看護ステーション", kind="home_nursing")
    pharmacy = make_org(name="試験薬局", kind="pharmacy")
    other = make_org("1302", name="他圏域病院")
    hub = make_user("hub_staff")
    return {"clinic": clinic, "nursing": nursing, "pharmacy": pharmacy, "other": other, "hub": hub,
            "h": auth_headers(hub), "make_user": make_user, "auth_headers": auth_headers}


def create(client, world, clock, orgs=None, **kw) -> dict:
    orgs = [world["clinic"], world["nursing"]] if orgs is None else orgs
    r = client.post("/api/v1/drills", json=drill_body(orgs, when=later(clock, days=14), **kw), headers=world["h"])
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def patch(client, world, drill_id, body, headers=None):
    return client.patch(f"/api/v1/drills/{drill_id}", json=body, headers=headers or world["h"])


def invitations(session) -> list[OutboxMessage]:
    session.expire_all()
    return session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "drill",
                                                       OutboxMessage.key.contains(":invite:"))
                           .order_by(OutboxMessage.id)).all()


def participant_rows(session, drill_id) -> dict[int, DrillParticipant]:
    session.expire_all()
    return {p.organization_id: p for p in session.scalars(
        select(DrillParticipant).where(DrillParticipant.drill_id == drill_id))}


def event_texts(client, world, drill_id) -> list[str]:
    log = client.get(f"/api/v1/drills/{drill_id}/log", headers=world["h"]).get_json()["items"]
    return [e["text"] for e in log if e["kind"] == "event"]


# --- API ---------------------------------------------------------------------------------------------

def test_patch_adds_and_removes_organisations_and_invites_only_the_added_contact(client, world, clock, session):
    d = create(client, world, clock, orgs=[], participants=[
        {"organization_id": world["clinic"].id, "contact_name": "試験 一郎", "contact_phone": "090-0000-4001"},
        {"organization_id": world["nursing"].id, "contact_name": "試験 二郎"}])
    [first] = invitations(session)
    kept_row = participant_rows(session, d["id"])[world["clinic"].id]
    kept_row_id, kept_invited_at = kept_row.id, kept_row.invited_at

    r = patch(client, world, d["id"], {
        "participant_org_ids": [world["clinic"].id],
        "participants": [{"organization_id": world["pharmacy"].id, "contact_name": "試験 三郎",
                          "contact_phone": "090-0000-4003"}]})

    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert sorted(body["participant_org_ids"]) == sorted([world["clinic"].id, world["pharmacy"].id])
    session.expire_all()
    assert session.get(Drill, d["id"]).sequence == 1            # the calendar event is updated
    assert {p["organization_id"]: p["invited"] for p in body["participants"]} == {
        world["clinic"].id: True, world["pharmacy"].id: True}
    assert body["status"] == "scheduled" and "warnings" in body
    rows = participant_rows(session, d["id"])
    assert set(rows) == {world["clinic"].id, world["pharmacy"].id}
    # The kept organisation keeps its row and its invitation; the added one gets exactly one invitation.
    assert rows[world["clinic"].id].id == kept_row_id and rows[world["clinic"].id].invited_at == kept_invited_at
    assert rows[world["pharmacy"].id].contact_phone_e164 == "+819000004003"
    sent = invitations(session)
    assert [m.to for m in sent] == [first.to, "+819000004003"]
    assert sent[1].drill is True and sent[1].body.startswith("【訓練】訓練のご案内")
    assert "参加機関を変更しました（追加: 試験薬局／削除: 試験訪問看護ステーション）" in event_texts(client, world, d["id"])
    # The same set again: nothing new is sent and nothing is logged.
    again = patch(client, world, d["id"], {"participant_org_ids": [world["clinic"].id, world["pharmacy"].id]})
    assert again.status_code == 200
    assert len(invitations(session)) == 2
    assert len([t for t in event_texts(client, world, d["id"]) if t.startswith("参加機関を変更しました")]) == 1
    audit = session.scalars(select(AuditEvent).where(AuditEvent.entity == "drill", AuditEvent.action == "update")
                            .order_by(AuditEvent.id)).first()
    assert audit.detail["fields"] == ["participant_org_ids", "participants"]


def test_contact_details_of_a_kept_organisation_are_updated_and_its_first_phone_is_invited(
        client, world, clock, session):
    d = create(client, world, clock, orgs=[world["clinic"]])
    assert invitations(session) == []
    r = patch(client, world, d["id"], {
        "participant_org_ids": [world["clinic"].id],
        "participants": [{"organization_id": world["clinic"].id, "contact_name": "試験 花子",
                          "contact_phone": "090-0000-4005", "contact_email": "hanako@example.invalid"}]})
    assert r.status_code == 200, r.get_json()
    row = participant_rows(session, d["id"])[world["clinic"].id]
    assert (row.contact_name, row.contact_phone_e164, row.contact_email) == (
        "試験 花子", "+819000004005", "hanako@example.invalid")
    assert [m.to for m in invitations(session)] == ["+819000004005"]


@pytest.mark.parametrize("make_body, field", [
    (lambda w: {"participant_org_ids": [w["clinic"].id, w["pharmacy"].id, 99999]}, "participant_org_ids"),
    (lambda w: {"participant_org_ids": [w["clinic"].id, "abc"]}, "participant_org_ids"),
    (lambda w: {"participant_org_ids": [w["pharmacy"].id, w["pharmacy"].id]}, "participant_org_ids"),
    (lambda w: {"participant_org_ids": [w["clinic"].id],
                "participants": [{"organization_id": w["pharmacy"].id, "contact_phone": "03-1234-5678"}]},
     "participants"),
    (lambda w: {"participants": [{"organization_id": w["pharmacy"].id, "colour": "red"}]}, "participants"),
])
def test_bad_participants_are_400_and_change_nothing(client, world, clock, session, make_body, field):
    d = create(client, world, clock)
    before = {oid: p.id for oid, p in participant_rows(session, d["id"]).items()}
    # A valid change of the title rides along: all or nothing.
    r = patch(client, world, d["id"], {**make_body(world), "title": "変更後の訓練名"})
    assert r.status_code == 400
    err = r.get_json()["error"]
    assert err["code"] == "validation_error" and field in err["fields"], err
    assert {oid: p.id for oid, p in participant_rows(session, d["id"]).items()} == before
    got = client.get(f"/api/v1/drills/{d['id']}", headers=world["h"]).get_json()
    assert got["title"] == "令和8年度 圏域合同訓練"
    assert not any(t.startswith("参加機関") for t in event_texts(client, world, d["id"]))
    assert invitations(session) == []


def test_an_organisation_outside_the_hubs_regions_is_400(client, world, clock, session):
    d = create(client, world, clock)
    r = patch(client, world, d["id"], {"participant_org_ids": [world["clinic"].id, world["other"].id]})
    assert r.status_code == 400
    assert str(world["other"].id) in r.get_json()["error"]["fields"]["participant_org_ids"][0]
    assert set(participant_rows(session, d["id"])) == {world["clinic"].id, world["nursing"].id}


def test_participants_cannot_change_once_the_drill_has_started(client, world, clock, session):
    d = create(client, world, clock)
    assert client.post(f"/api/v1/drills/{d['id']}/start", headers=world["h"]).status_code == 200
    r = patch(client, world, d["id"], {"participant_org_ids": [world["pharmacy"].id]})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "wrong_state"
    assert set(participant_rows(session, d["id"])) == {world["clinic"].id, world["nursing"].id}


def test_participants_cannot_change_on_a_cancelled_drill_or_while_cancelling(client, world, clock, session):
    d = create(client, world, clock)
    r = patch(client, world, d["id"], {"status": "cancelled", "participant_org_ids": [world["pharmacy"].id]})
    assert r.status_code == 409
    assert client.get(f"/api/v1/drills/{d['id']}", headers=world["h"]).get_json()["status"] == "scheduled"
    assert patch(client, world, d["id"], {"status": "cancelled"}).status_code == 200
    assert patch(client, world, d["id"], {"participant_org_ids": []}).status_code == 409
    assert set(participant_rows(session, d["id"])) == {world["clinic"].id, world["nursing"].id}


@pytest.mark.parametrize("role", ["institution_staff", "field_team"])
def test_roles_that_cannot_write_get_403(client, world, clock, session, role):
    d = create(client, world, clock)
    user = world["make_user"](role, organization=world["clinic"] if role == "institution_staff" else None)
    r = patch(client, world, d["id"], {"participant_org_ids": [world["clinic"].id]},
              headers=world["auth_headers"](user))
    assert r.status_code == 403
    assert set(participant_rows(session, d["id"])) == {world["clinic"].id, world["nursing"].id}


def test_a_hub_of_another_region_cannot_see_the_drill(client, world, clock):
    d = create(client, world, clock)
    outsider = world["make_user"]("hub_staff", scope="1302")
    r = patch(client, world, d["id"], {"participant_org_ids": [world["other"].id]},
              headers=world["auth_headers"](outsider))
    assert r.status_code == 404


# --- page --------------------------------------------------------------------------------------------

def _checked_ids(html: str) -> set[int]:
    form = html[html.index('id="participants-form"'):]
    form = form[:form.index("</form>")]
    return {int(m) for m in re.findall(r'name="participant_org_ids" value="(\d+)" checked', form)}


def _offered_ids(html: str) -> set[int]:
    form = html[html.index('id="participants-form"'):]
    form = form[:form.index("</form>")]
    return {int(m) for m in re.findall(r'name="participant_org_ids" value="(\d+)"', form)}


def test_the_page_form_shows_current_participants_checked_and_posting_changes_them(
        client, world, clock, session, login):
    d = create(client, world, clock)
    login(world["hub"])
    html = client.get(f"/drills/{d['id']}").get_data(as_text=True)
    assert "参加機関の変更" in html
    assert _checked_ids(html) == {world["clinic"].id, world["nursing"].id}
    # Organisations in the hub's scope are offered; another region's are not.
    assert _offered_ids(html) == {world["clinic"].id, world["nursing"].id, world["pharmacy"].id}

    r = client.post(f"/drills/{d['id']}/participants", data={
        "csrf_token": csrf_from(html), "participant_org_ids": [str(world["nursing"].id), str(world["pharmacy"].id)]})

    assert r.status_code == 302 and r.headers["Location"].endswith(f"/drills/{d['id']}")
    page = client.get(f"/drills/{d['id']}").get_data(as_text=True)
    assert "参加機関を更新しました。" in page
    assert "参加機関を変更しました（追加: 試験薬局／削除: 試験クリニック）" in page
    assert _checked_ids(page) == {world["nursing"].id, world["pharmacy"].id}
    assert set(participant_rows(session, d["id"])) == {world["nursing"].id, world["pharmacy"].id}


def test_the_page_form_needs_the_csrf_token(client, world, clock, session, login):
    d = create(client, world, clock)
    login(world["hub"])
    r = client.post(f"/drills/{d['id']}/participants", data={"participant_org_ids": [str(world["pharmacy"].id)]})
    assert r.status_code == 400
    assert set(participant_rows(session, d["id"])) == {world["clinic"].id, world["nursing"].id}


def test_the_page_flashes_an_out_of_scope_organisation_and_changes_nothing(client, world, clock, session, login):
    d = create(client, world, clock)
    login(world["hub"])
    html = client.get(f"/drills/{d['id']}").get_data(as_text=True)
    r = client.post(f"/drills/{d['id']}/participants", data={
        "csrf_token": csrf_from(html), "participant_org_ids": [str(world["clinic"].id), str(world["other"].id)]})
    assert r.status_code == 302
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "存在しない、または範囲外の機関です" in page and "参加機関を更新しました。" not in page
    assert set(participant_rows(session, d["id"])) == {world["clinic"].id, world["nursing"].id}


def test_the_form_is_only_for_writers_and_only_before_the_start(client, world, clock, session, login):
    d = create(client, world, clock)
    inst = world["make_user"]("institution_staff", organization=world["clinic"])
    login(inst)
    html = client.get(f"/drills/{d['id']}").get_data(as_text=True)
    assert "参加機関の変更" not in html and f"/drills/{d['id']}/participants" not in html
    token = csrf_from(html)
    assert client.post(f"/drills/{d['id']}/participants",
                       data={"csrf_token": token, "participant_org_ids": []}).status_code == 403
    assert set(participant_rows(session, d["id"])) == {world["clinic"].id, world["nursing"].id}

    client.get("/logout")
    login(world["hub"])
    html = client.get(f"/drills/{d['id']}").get_data(as_text=True)
    client.post(f"/drills/{d['id']}/start", data={"csrf_token": csrf_from(html)})
    session.expire_all()
    assert session.get(Drill, d["id"]).status == "running"
    html = client.get(f"/drills/{d['id']}").get_data(as_text=True)
    assert "参加機関の変更" not in html
    r = client.post(f"/drills/{d['id']}/participants",
                    data={"csrf_token": csrf_from(html), "participant_org_ids": [str(world["pharmacy"].id)]})
    assert r.status_code == 302
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "実施前の訓練だけ参加機関を変更できます" in page
    assert set(participant_rows(session, d["id"])) == {world["clinic"].id, world["nursing"].id}


def test_an_organisation_removed_and_added_again_is_invited_again(client, world, clock, session):
    d = create(client, world, clock, orgs=[], participants=[
        {"organization_id": world["clinic"].id, "contact_phone": "090-0000-4011"}])
    assert len(invitations(session)) == 1
    assert patch(client, world, d["id"], {"participant_org_ids": []}).status_code == 200
    r = patch(client, world, d["id"], {"participants": [
        {"organization_id": world["clinic"].id, "contact_phone": "090-0000-4011"}]})
    assert r.status_code == 200, r.get_json()
    assert len(invitations(session)) == 2                       # a new invitation for the new booking

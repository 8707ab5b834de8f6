"""Issue 18 (critical): staff roll-calls are region-scoped for hub staff — read, close and create."""
import pytest
from sqlalchemy import select

from bcp_service.auth.models import User
from bcp_service.messaging.models import OutboxMessage, Rollcall

MEMBERS = [{"name": "試験 一郎", "phone": "090-0000-0401"}]


@pytest.fixture
def world(session, make_region, make_org, make_user, auth_headers):
    make_region("1301", prefecture_code="13")
    make_region("2701", prefecture_code="27", name="大阪市", municipality_codes=("271004",))
    org_b = make_org("2701", name="試験病院B")
    staff_b = make_user("institution_staff", scope="2701", organization=org_b)
    session.get(User, staff_b.id).phone_e164 = "+819000000402"
    session.commit()
    hub_a, hub_b = make_user("hub_staff", scope="1301"), make_user("hub_staff", scope="2701")
    return type("W", (), {"org_b": org_b, "a": auth_headers(hub_a), "b": auth_headers(hub_b),
                          "admin": auth_headers(make_user("admin"))})


def test_hub_staff_cannot_read_or_close_another_regions_rollcall(client, session, world):
    for owner in (world.b, world.admin):
        body = {"title": "職員安否確認", "organization_id": world.org_b.id}
        r = client.post("/api/v1/rollcalls", json=body, headers=owner)
        assert r.status_code == 201
        rid = r.get_json()["id"]
        assert client.get(f"/api/v1/rollcalls/{rid}", headers=world.a).status_code == 403
        assert client.post(f"/api/v1/rollcalls/{rid}/close", headers=world.a).status_code == 403
        assert session.get(Rollcall, rid).closed_at is None
        assert client.get(f"/api/v1/rollcalls/{rid}", headers=world.b).status_code == 200


def test_a_rollcall_by_member_list_belongs_to_its_creators_region(client, world):
    rid = client.post("/api/v1/rollcalls", json={"title": "職員安否確認", "members": MEMBERS},
                      headers=world.b).get_json()["id"]
    assert client.get(f"/api/v1/rollcalls/{rid}", headers=world.a).status_code == 403
    assert client.get(f"/api/v1/rollcalls/{rid}", headers=world.b).status_code == 200
    assert client.get(f"/api/v1/rollcalls/{rid}", headers=world.admin).status_code == 200


def test_hub_staff_cannot_text_another_regions_staff(client, session, world):
    r = client.post("/api/v1/rollcalls", json={"title": "職員安否確認", "organization_id": world.org_b.id},
                    headers=world.a)
    assert r.status_code == 403
    assert session.scalars(select(OutboxMessage)).all() == []

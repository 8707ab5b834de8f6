"""Re-verification over HTTP: overdue list in scope, counts on the registry page, the printable form,
confirming on a visit, and weekly reminders to the responsible nursing station via the outbox."""
from sqlalchemy import select

from bcp_service.messaging.models import OutboxMessage
from bcp_service.registry import verification
from bcp_service.registry.models import Patient
from tests.conftest import csrf_from
from tests.e2e.test_registry_api import ASTRAL, body, world  # noqa: F401  (fixture)


def _create(client, h, **over):
    r = client.post("/api/v1/patients", headers=h, json=body(**over))
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_overdue_list_count_form_and_confirm(client, world, session, make_user, login):
    h = world["h"]["hub"]
    nursing = world["nursing"]
    stale = _create(client, h, nursing_org_id=nursing.id,
                    backups=[{"kind": "external_battery", "hours": 8, "count": 2, "checked_on": "2025-01-10"}])
    never = _create(client, h, phone="090-0000-0002", nursing_org_id=nursing.id)
    fresh = _create(client, h, phone="090-0000-0003",
                    backups=[{"kind": "external_battery", "hours": 8, "checked_on": "2026-10-01"}])
    r = client.get("/api/v1/patients/reverification", headers=h)
    assert r.status_code == 200
    items = {i["patient_id"]: i for i in r.get_json()["items"]}
    assert set(items) == {stale, never} and r.get_json()["total"] == 2
    assert items[stale]["last_confirmed_on"] == "2025-01-10"
    assert items[stale]["reason"] == "前回の確認から1年以上たっています"
    assert items[never]["reason"] == "電源情報が一度も確認されていません"
    # another region's hub sees none of them
    assert client.get("/api/v1/patients/reverification", headers=world["h"]["hub2"]).get_json()["total"] == 0

    # reminders: one SMS per nursing-station staff member with a phone, counts only, once a week
    nurse = make_user("institution_staff", scope="1301", organization=nursing)
    nurse.phone_e164 = "+819000000099"
    session.commit()
    from bcp_service.clock import to_local
    now = verification_now(session)
    run = verification.send_reminders(session, today=to_local(now).date(), now=now,
                                      policy=verification.VerificationPolicy(), base_url="http://bcp.test")
    again = verification.send_reminders(session, today=to_local(now).date(), now=now,
                                        policy=verification.VerificationPolicy())
    session.commit()
    assert (run.organisations, run.messages) == (1, 1) and again.messages == 1
    msgs = session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "power_reverify")).all()
    assert len(msgs) == 1 and msgs[0].to == "+819000000099"
    assert "2名" in msgs[0].body and "試験" not in msgs[0].body and "/patients/reverify" in msgs[0].body

    # the list page and the printable form
    login(make_user("hub_staff", scope="1301"))
    page = client.get("/patients").get_data(as_text=True)
    assert "電源情報の再確認が必要な患者" in page and "2名" in page
    form = client.get(f"/patients/{stale}/reverify").get_data(as_text=True)
    token = csrf_from(form)
    assert "確認用紙" in form and "2025-01-10" in form and "□ 正しい" in form

    # confirming on a visit takes the patient off the list
    r = client.post(f"/patients/{stale}/reverify", data={"csrf_token": token})
    assert r.status_code == 302
    session.expire_all()
    p = session.get(Patient, stale)
    assert p.power_checked_on is not None and all(b.checked_on == p.power_checked_on for b in p.backups)
    ids = [i["patient_id"] for i in client.get("/api/v1/patients/reverification", headers=h).get_json()["items"]]
    assert ids == [never]
    assert fresh not in ids


def verification_now(session):
    from bcp_service.appclock import get_clock
    return get_clock().now()

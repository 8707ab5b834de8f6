"""Issue 18: opening a task link (GET /t/<token>) leaves an audit row, saying whether personal details
were shown (only to signed-in staff of the region)."""
from sqlalchemy import select

from bcp_service.auth import services as auth_services
from bcp_service.auth.models import AuditEvent, User
from bcp_service.scheduler import run_metronome_once
from bcp_service.messaging.models import OutboxMessage
from bcp_service.outages.models import FieldTask
from tests.conftest import TEST_PASSWORD, csrf_from
from tests.integration.test_outage_services import declare, world  # noqa: F401 (fixture)


def test_task_link_reads_are_audited(app, session, clock, world, client):  # noqa: F811
    r = declare(session, clock, app)
    for _ in range(2):
        clock.advance(minutes=15)
        run_metronome_once(app)
    task = session.scalars(select(FieldTask).where(FieldTask.patient_id == world.short.id)).one()
    body = session.scalars(select(OutboxMessage.body).where(
        OutboxMessage.key == f"outage:{r.outage.id}:task:{task.id}:sms")).one()
    token = body.split("/t/")[1].split()[0]

    assert client.get(f"/t/{token}").status_code == 200
    # A field user of the team the task went to (another organisation's field user gets 403: issue 19).
    auth_services.create_user(session, email="f1@example.invalid", password=TEST_PASSWORD, role="field_team",
                              scope="1301", display_name="試験 現場", organization_id=task.organization_id)
    session.commit()
    staff = app.test_client()
    staff.post("/login", data={"email": "f1@example.invalid", "password": TEST_PASSWORD,
                               "csrf_token": csrf_from(staff.get("/login").get_data(as_text=True))})
    assert "試験 一郎" in staff.get(f"/t/{token}").get_data(as_text=True)

    rows = session.scalars(select(AuditEvent).where(AuditEvent.entity == "field_task")
                           .order_by(AuditEvent.id)).all()
    field_user = session.scalar(select(User.id).where(User.email == "f1@example.invalid"))
    assert [(e.action, e.entity_id, e.user_id, e.detail["details_shown"]) for e in rows] == [
        ("read", str(task.id), None, False), ("read", str(task.id), field_user, True)]

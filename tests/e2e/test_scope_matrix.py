"""Region scope over EVERY route, pages included (issue 18).

Region B (東京都 区中央部, 1301) is the whole demo world: patients, plans, drills with corrective actions,
a declared outage with transports and field tasks, a staff roll-call. Region A (大阪府, 2701) has its
own organisations and one user of every role but admin. Every rule of ``app.url_map`` is built with
B's real ids and called as each A user with each of its methods (pages with a session and a CSRF
token, the API with a bearer token). No 2xx/3xx answer may show B's people (names, phones) and no
request may change a row of B's world. A route that cannot be built with B's ids is listed in
``NOT_PARAMETERISED`` with the reason; a new route that is in neither fails the test.
"""
from __future__ import annotations

import re

import phonenumbers
import pytest
from sqlalchemy import func, inspect, select, text

from bcp_service.db import db
from bcp_service.drills.models import CorrectiveAction, Drill
from bcp_service.messaging.models import OutboxMessage, Rollcall, RollcallMember
from bcp_service.orgs.models import Organization
from bcp_service.outages.models import FieldTask, Outage, Transport
from bcp_service.plans.models import Plan
from bcp_service.registry.models import Patient, PatientContact
from tests.conftest import csrf_from

REGION_A, PREF_A = "2701", "27"

# Routes that take no id of B's world, or authenticate otherwise; each with the reason.
NOT_PARAMETERISED = {
    "/static/<path:filename>": "static files, no data",
    "/healthz": "health check, no data",
    "/login": "sign-in form",
    "/login/totp": "TOTP enrolment of the signed-in user only",
    "/logout": "ends the caller's own session",
    "/account/password": "changes the caller's own password",
    "/r/<token>": "authenticated by a signed one-tap token, not by region (tests/e2e/test_messaging_flow.py)",
    "/t/<token>": "authenticated by a signed task token (tests/e2e/test_outage_task_calls.py)",
    "/sms/inbound": "provider webhook, Twilio signature (tests/e2e/test_webhooks.py)",
    "/sms/status": "provider webhook, Twilio signature (tests/e2e/test_webhooks.py)",
    "/voice/checkin": "provider webhook, Twilio signature (tests/e2e/test_webhooks.py)",
    "/outages/voice/restoration": "provider webhook, Twilio signature",
    "/outages/voice/task": "provider webhook, Twilio signature",
    "/outages/voice/task/answer": "provider webhook, Twilio signature",
}

# Bodies that get past validation, so that the region check is what answers.
JSON_BODIES = {
    "outages_api.change_outage": {"expected_restoration_at": "2026-11-24T20:00:00+09:00"},
    "outages_api.desk_answer": {"answer": "1"},
    "outages_api.patch_transport": {"status": "cancelled"},
    "outages_api.report_task": {"needs_transport": True},
    "registry_api.api_update_patient": {"name": "改竄 太郎"},
    "drills_api.update_drill": {"title": "改竄"},
    "drills_api.update_action": {"status": "done"},
    "drills_api.add_log": {"kind": "note", "text": "改竄"},
    "plans_api.save_section": {"answers": {}},
    "plans_api.add_comment": {"body": "改竄"},
    "plans_api.revise": {"note": "改竄"},
    "messaging.close_rollcall": {},
    "plans_api.send_back": {"comment": "改竄"},
    "drills_api.add_evaluation": {"objective": "改竄", "rating": "S"},
}
# Creation in region B (ids filled in from B's world): A's users may not create there.
CREATE_BODIES = {
    "messaging.create_rollcall": lambda ids: {"title": "改竄", "organization_id": ids["organization_id"],
                                              "drill": True},
    "plans_api.create_plan": lambda ids: {"type": "kikan", "title": "改竄", "organization_id": ids["organization_id"]},
    "drills_api.create_drill": lambda ids: {"title": "改竄", "scenario": "blackout_72h", "mode": "tabletop",
                                            "scheduled_at": "2026-12-24T10:00:00", "region_code": "1301"},
    "outages_api.create_outage": lambda ids: {"area": {"municipality_codes": ["131016", "131024", "131032"]}},
    "registry_api.api_create_patient": lambda ids: {"name": "改竄 太郎", "phone": "090-0000-9999",
                                                    "region_code": "1301", "municipality_code": "131016"},
}
QUERIES = {"plans_api.diff": "?from=1&to=2", "plans_api.export": "?format=md",
           "plans.history_page": "?from=1&to=2"}
FORM_BODIES = {
    "outages.desk_transport_status": {"status": "cancelled"},
    "outages.desk_change": {"expected_restoration_at": "2026-11-24T20:00"},
    "registry.patient_edit": {"name": "改竄 太郎"},
    "drills.action_status_page": {"status": "done"},
    "drills.evaluate_submit": {"rating": "S", "comment": "改竄"},
    "drills.summary_page": {"summary": "改竄"},
    "messaging.simulator_reply": {"phone": "", "body": "1"},
    "plans.comment_page": {"body": "改竄"},
    # Region A's desk declares over region B's wards: B's patients must not join A's outage.
    "outages.desk_declare": {"area_kind": "municipality_codes", "municipality_codes": "131016,131024,131032"},
    "registry.patient_new": {"name": "改竄 太郎", "phone": "090-0000-9998", "region_code": "1301",
                             "municipality_code": "131016"},
    "drills.new_submit": {"title": "改竄", "scenario": "blackout_72h", "mode": "tabletop",
                          "scheduled_at": "2026-12-24T10:00", "region_code": "1301"},
}
# Rows that any request may add or touch: the audit trail, sign-in state, counters.
VOLATILE_TABLES = {"audit_events", "audit_log", "api_tokens", "user_sessions", "messaging_rate_limit",
                   "rate_limits", "alembic_version", "login_attempts", "users"}


def _phone_forms(e164: str | None) -> set[str]:
    if not e164:
        return set()
    number = phonenumbers.parse(e164, "JP")
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return {e164, national, national.replace("-", "")}


def _text(response) -> str:
    """The body as text; an XLSX/DOCX (a zip) as the text of its XML parts."""
    raw = response.get_data()
    if raw[:2] == b"PK":
        import io
        import zipfile

        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            return "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith(".xml"))
    return raw.decode("utf-8", "replace")


def _snapshot(session) -> dict[str, dict]:
    rows: dict[str, dict] = {}
    inspector = inspect(session.get_bind())
    for table in inspector.get_table_names():
        if table in VOLATILE_TABLES:
            continue
        result = session.execute(text(f'SELECT * FROM "{table}"')).mappings().all()
        rows[table] = {tuple(sorted((k, repr(v)) for k, v in r.items())) for r in result}
    session.rollback()
    return rows


def _diff(before: dict, after: dict) -> dict:
    return {t: {"gone": len(before[t] - after.get(t, set())), "new": len(after.get(t, set()) - before[t])}
            for t in before if before[t] != after.get(t, set())}


@pytest.fixture
def world(app, session, make_region, make_org, make_user, auth_headers, login):
    from bcp_service import demo

    demo.seed(patients=12)                       # region B: 1301, the whole demo world
    _transport_and_task(app, session)
    make_region(REGION_A, prefecture_code=PREF_A, name="試験大阪", municipality_codes=("271004",))
    hub_a = make_org(REGION_A, name="試験大阪拠点", kind="community_support_center", lat=34.69, lon=135.50)
    clinic_a = make_org(REGION_A, name="試験大阪診療所", kind="clinic", lat=34.69, lon=135.51)
    nursing_a = make_org(REGION_A, name="試験大阪訪問看護", kind="home_nursing", lat=34.69, lon=135.52)
    users = {
        "hub_staff": make_user("hub_staff", scope=REGION_A, organization=hub_a),
        "institution_staff": make_user("institution_staff", scope=REGION_A, organization=clinic_a),
        "field_team": make_user("field_team", scope=REGION_A, organization=nursing_a),
        "prefecture_reviewer": make_user("prefecture_reviewer", scope=PREF_A),
    }
    b_orgs = session.scalars(select(Organization).where(Organization.region_code == "1301")).all()
    ids = {
        "patient_id": session.scalars(select(Patient.id).where(Patient.region_code == "1301")).first(),
        "plan_id": session.scalars(select(Plan.id)).first(),
        "drill_id": session.scalars(select(Drill.id).order_by(Drill.scheduled_at)).first(),
        "outage_id": session.scalars(select(Outage.id)).first(),
        "transport_id": session.scalars(select(Transport.id)).first(),
        "task_id": session.scalars(select(FieldTask.id)).first(),
        "rollcall_id": session.scalars(select(Rollcall.id)).first(),
        "action_id": session.scalars(select(CorrectiveAction.id)).first(),
        "outbox_id": session.scalars(select(OutboxMessage.id)).first(),
        "organization_id": b_orgs[0].id,
        "pref_code": "13",
    }
    ids["org_id"] = ids["organization_id"]
    ids.update(_meeting_and_loan(session, ids))
    missing = [k for k, v in ids.items() if v is None]
    assert not missing, f"the demo world lacks {missing}"
    plan = session.get(Plan, ids["plan_id"])
    ids["plan_type"] = plan.type
    ids["key"] = "blackout_72h"      # a drill scenario: library data, no region
    ids["code"] = "1000001"          # a postal code: public data, no region
    ids["section_key"] = "policy"
    ids["action"] = "submit"
    markers: set[str] = set()
    for p in session.scalars(select(Patient)).all():
        markers |= {p.name} | _phone_forms(p.phone_e164)
    for c in session.scalars(select(PatientContact)).all():
        markers |= _phone_forms(c.phone_e164)
    for m in session.scalars(select(RollcallMember)).all():
        markers |= {m.name} | _phone_forms(m.phone)
    clients = {}
    for role, user in users.items():
        c = app.test_client()
        assert login(user, test_client=c).status_code == 302, role
        token = csrf_from(c.get("/account/password").get_data(as_text=True))
        clients[role] = (c, token, auth_headers(user))
    session.commit()
    return {"ids": ids, "markers": markers, "clients": clients}


def _meeting_and_loan(session, ids: dict) -> dict:
    """A 協議の場 record with a decision and a power loan of region B (the demo seeds neither)."""
    from bcp_service.appclock import get_clock
    from bcp_service.meetings.models import Meeting, MeetingDecision
    from bcp_service.outages.models import LoanEquipment, PowerLoan

    now = get_clock().now()
    meeting = Meeting(region_code="1301", held_on=now.date(), title="試験 協議の場", agenda="停電時の搬送",
                      created_at=now)
    meeting.decisions.append(MeetingDecision(position=0, text="試験 決定"))
    equipment = LoanEquipment(organization_id=ids["organization_id"], kind="power_station", watt_hours=1000,
                              count=1, status="lent", created_at=now, updated_at=now)
    session.add_all([meeting, equipment])
    session.flush()
    loan = PowerLoan(outage_id=ids["outage_id"], patient_id=ids["patient_id"], equipment_id=equipment.id,
                     added_hours=10.0, handed_over_at=now)
    session.add(loan)
    session.flush()
    return {"meeting_id": meeting.id, "decision_id": meeting.decisions[0].id, "loan_id": loan.id}


def _transport_and_task(app, session) -> None:
    """The demo's outage with a transport and a field task of region B (a small demo may have none)."""
    from bcp_service.appclock import get_clock
    from bcp_service.outages import field_tasks, transport
    from bcp_service.outages.access import SYSTEM
    from bcp_service.outages.models import OutagePatient
    from bcp_service.outages.notify import notifier_for

    outage = session.scalars(select(Outage)).first()
    rows = session.scalars(select(OutagePatient).where(OutagePatient.outage_id == outage.id)).all()
    now, notifier = get_clock().now(), notifier_for(app)
    if session.scalars(select(Transport.id)).first() is None:
        transport.request_transport(session, SYSTEM, outage_id=outage.id, patient_id=rows[0].patient_id,
                                    reason="desk", now=now, notifier=notifier)
    if session.scalars(select(FieldTask.id)).first() is None:
        field_tasks.create_field_task(session, outage, rows[-1], session.get(Patient, rows[-1].patient_id),
                                      now=now, notifier=notifier)
    session.commit()


def _build(rule: str, ids: dict) -> str | None:
    def sub(match):
        name = match.group(1)
        return str(ids[name]) if name in ids else "\0"

    url = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", sub, rule)
    return None if "\0" in url else url


def test_no_route_shows_or_changes_another_regions_data(app, session, world):
    ids, markers = world["ids"], world["markers"]
    rules = sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))
    unbuilt = [r.rule for r in rules if r.rule not in NOT_PARAMETERISED and _build(r.rule, ids) is None]
    assert not unbuilt, f"routes neither parameterised with region B's ids nor listed: {unbuilt}"

    import os
    status_log = [] if os.environ.get("SCOPE_MATRIX_LOG") else None
    before = _snapshot(session)
    leaks, changes, server_errors, calls = [], [], [], 0
    for rule in rules:
        if rule.rule in NOT_PARAMETERISED:
            continue
        url = _build(rule.rule, ids) + QUERIES.get(rule.endpoint, "")
        is_api = rule.rule.startswith("/api/")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            for role, (c, csrf, headers) in world["clients"].items():
                if is_api:
                    body = (CREATE_BODIES[rule.endpoint](ids) if rule.endpoint in CREATE_BODIES
                            else JSON_BODIES.get(rule.endpoint, {}))
                    response = c.open(url, method=method, json=body if method != "GET" else None,
                                      headers=headers)
                else:
                    data = None if method == "GET" else {"csrf_token": csrf, **FORM_BODIES.get(rule.endpoint, {})}
                    response = c.open(url, method=method, data=data)
                calls += 1
                if status_log is not None:
                    status_log.append((response.status_code, method, url, role))
                status = response.status_code
                if status >= 500:
                    server_errors.append((method, url, role, status))
                if status < 400:
                    body = _text(response)
                    shown = sorted(m for m in markers if m and m in body)
                    if shown:
                        leaks.append((method, url, role, status, shown[:3]))
                if method != "GET":
                    after = _snapshot(session)
                    if after != before:
                        changes.append((method, url, role, status, _diff(before, after)))
                        before = after
    if status_log is not None:
        for entry in sorted(status_log):
            print(*entry)
    print(f"scope matrix: {calls} requests over {len(rules) - len(NOT_PARAMETERISED)} routes")
    assert not server_errors, server_errors
    assert not leaks, leaks
    assert not changes, changes


def test_the_matrix_sees_region_bs_people_when_they_are_shown(app, session, world, login):
    """The leak check can fail: B's own hub staff see B's patients on the same routes."""
    from bcp_service.auth.models import User
    from bcp_service.demo import DEMO_PASSWORD

    hub_b = session.scalars(select(User).where(User.email == "hub@demo.invalid")).one()
    c = app.test_client()
    assert login(hub_b, password=DEMO_PASSWORD, test_client=c).status_code == 302
    for url in (f"/patients/{world['ids']['patient_id']}", "/api/v1/patients/export.xlsx",
                f"/api/v1/rollcalls/{world['ids']['rollcall_id']}"):
        response = c.get(url)
        assert response.status_code == 200, url
        assert any(m in _text(response) for m in world["markers"]), url


def test_every_read_that_shows_people_leaves_an_audit_row(app, session, world, login, auth_headers):
    """Each GET that shows B's people to B's own hub staff writes an audit row (issue 18), pages and API."""
    from bcp_service.auth.models import AuditEvent, User
    from bcp_service.demo import DEMO_PASSWORD

    hub_b = session.scalars(select(User).where(User.email == "hub@demo.invalid")).one()
    headers = auth_headers(hub_b)
    c = app.test_client()
    assert login(hub_b, password=DEMO_PASSWORD, test_client=c).status_code == 302
    ids, unaudited, shown_by = world["ids"], [], []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.rule in NOT_PARAMETERISED or "GET" not in (rule.methods or ()):
            continue
        url = _build(rule.rule, ids) + QUERIES.get(rule.endpoint, "")
        before = session.scalar(select(func.count()).select_from(AuditEvent))
        session.rollback()
        response = c.get(url, headers=headers if rule.rule.startswith("/api/") else None)
        if response.status_code != 200 or not any(m in _text(response) for m in world["markers"]):
            continue
        shown_by.append(url)
        if session.scalar(select(func.count()).select_from(AuditEvent)) == before:
            unaudited.append(url)
        session.rollback()
    assert f"/outages/{ids['outage_id']}/live.json" in shown_by
    assert f"/api/v1/outages/{ids['outage_id']}/tasks" in shown_by
    assert not unaudited, unaudited

"""HTTP contract of the Drills API (API.md, Drills) on SQLite and PostgreSQL."""
from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import docx
import icalendar
import pytest

from bcp_service.drills.evaluations import open_actions_for_plan
from tests.e2e.drill_helpers import drill_body, later, make_plan

JST = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def world(make_region, make_org, make_user, auth_headers):
    make_region("1301")
    make_region("1302", name="区南部")
    clinic = make_org(name="試験クリニック", kind="clinic")
    nursing = make_org(name="試験訪問看護ステーション", kind="home_nursing")
    other = make_org("1302", name="他圏域病院")
    hub = make_user("hub_staff")
    return {"clinic": clinic, "nursing": nursing, "other": other, "hub": hub, "h": auth_headers(hub),
            "make_user": make_user, "auth_headers": auth_headers}


def create(client, world, clock, **kw):
    body = drill_body([world["clinic"], world["nursing"]], when=kw.pop("when", later(clock, days=14)), **kw)
    r = client.post("/api/v1/drills", json=body, headers=world["h"])
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_scenarios_list_the_library(client, world):
    r = client.get("/api/v1/drill-scenarios", headers=world["h"])
    assert r.status_code == 200
    items = {i["key"]: i for i in r.get_json()["items"]}
    assert {"blackout_72h", "earthquake_shindo6plus", "typhoon_flood", "planned_outage"} <= set(items)
    b = items["blackout_72h"]
    assert b["title"] == "大規模停電（72時間）" and b["hazard"] == "power_outage"
    assert b["duration_hours"] == 72 and b["injects"] == 5


@pytest.mark.sqlite_smoke
def test_create_drill_returns_the_contract_fields_in_tokyo_time(client, world, clock):
    when = datetime(2026, 12, 8, 14, 0, tzinfo=JST)
    d = create(client, world, clock, when=when)
    assert d["status"] == "scheduled" and d["mode"] == "tabletop" and d["scenario"] == "blackout_72h"
    assert d["scheduled_at"] == "2026-12-08T14:00:00+09:00"
    assert sorted(d["participant_org_ids"]) == sorted([world["clinic"].id, world["nursing"].id])
    assert d["warnings"] == []
    assert client.get(f"/api/v1/drills/{d['id']}", headers=world["h"]).get_json()["title"] == "令和8年度 圏域合同訓練"


def test_a_drill_on_a_public_holiday_is_created_with_a_warning(client, world, clock):
    d = create(client, world, clock, when=datetime(2027, 2, 11, 10, 0, tzinfo=JST))
    assert [w["code"] for w in d["warnings"]] == ["holiday"]
    assert "建国記念の日" in d["warnings"][0]["message"]


def test_an_overlapping_drill_with_a_shared_organisation_warns_of_a_clash(client, world, clock):
    first = create(client, world, clock, when=datetime(2026, 12, 8, 14, 0, tzinfo=JST))
    second = create(client, world, clock, when=datetime(2026, 12, 8, 15, 0, tzinfo=JST))
    assert [(w["code"], w.get("drill_id")) for w in second["warnings"]] == [("clash", first["id"])]


@pytest.mark.parametrize("patch, field", [
    ({"scenario": "no_such_scenario"}, "scenario"),
    ({"mode": "live"}, "mode"),
    ({"scheduled_at": "2020-01-01T10:00:00+09:00"}, "scheduled_at"),
    ({"participant_org_ids": [99999]}, "participant_org_ids"),
    ({"plan_ids": [424242]}, "plan_ids"),
    ({"colour": "red"}, "colour"),
])
def test_bad_input_is_400_with_the_field_and_creates_nothing(client, world, clock, patch, field):
    body = {**drill_body([world["clinic"]], when=later(clock, days=3)), **patch}
    r = client.post("/api/v1/drills", json=body, headers=world["h"])
    assert r.status_code == 400
    err = r.get_json()["error"]
    assert err["code"] == "validation_error" and field in err["fields"]
    assert client.get("/api/v1/drills", headers=world["h"]).get_json()["total"] == 0


def test_organisations_of_another_region_cannot_be_invited_by_a_hub(client, world, clock):
    body = drill_body([world["other"]], when=later(clock, days=3))
    r = client.post("/api/v1/drills", json=body, headers=world["h"])
    assert r.status_code == 400 and "participant_org_ids" in r.get_json()["error"]["fields"]


def test_roles_and_regions_are_enforced(client, world, clock):
    body = drill_body([world["clinic"]], when=later(clock, days=3))
    assert client.post("/api/v1/drills", json=body).status_code == 401
    inst = world["make_user"]("institution_staff", organization=world["clinic"])
    assert client.post("/api/v1/drills", json=body, headers=world["auth_headers"](inst)).status_code == 403
    outsider = world["make_user"]("hub_staff", scope="1302")
    assert client.post("/api/v1/drills", json=body, headers=world["auth_headers"](outsider)).status_code == 403
    d = create(client, world, clock)
    # A drill of another region does not exist for the outsider; a reviewer sees aggregates only.
    assert client.get(f"/api/v1/drills/{d['id']}", headers=world["auth_headers"](outsider)).status_code == 404
    reviewer = world["make_user"]("prefecture_reviewer", scope="13")
    assert client.get(f"/api/v1/drills/{d['id']}", headers=world["auth_headers"](reviewer)).status_code == 403


def test_tabletop_run_logs_answers_with_the_clock_time(client, world, clock):
    d = create(client, world, clock)
    r = client.post(f"/api/v1/drills/{d['id']}/start", headers=world["h"])
    assert r.status_code == 200 and r.get_json()["status"] == "running"
    assert client.post(f"/api/v1/drills/{d['id']}/start", headers=world["h"]).status_code == 409
    clock.advance(minutes=7)
    r = client.post(f"/api/v1/drills/{d['id']}/log", headers=world["h"],
                    json={"text": "災害対策本部を立ち上げる", "question": "organization",
                          "organization_id": world["clinic"].id})
    assert r.status_code == 201
    entry = r.get_json()
    assert entry["inject_id"] == "outage_begins" and entry["question"] == "organization"
    assert entry["at"] == "2026-11-24T10:07:00+09:00"
    assert client.post(f"/api/v1/drills/{d['id']}/next-inject", headers=world["h"]).get_json()["current_inject"] == 1
    log = client.get(f"/api/v1/drills/{d['id']}/log", headers=world["h"]).get_json()
    assert [e["kind"] for e in log["items"]].count("inject") == 2


@pytest.mark.parametrize("body, field", [
    ({"text": "x", "question": "everyone"}, "question"),
    ({"text": "x", "inject_id": "no_such_inject", "question": "individual"}, "inject_id"),
    ({"text": ""}, "text"),
    ({"text": "x", "question": "organization", "organization_id": 99999}, "organization_id"),
])
def test_bad_log_input_is_400(client, world, clock, body, field):
    d = create(client, world, clock)
    client.post(f"/api/v1/drills/{d['id']}/start", headers=world["h"])
    r = client.post(f"/api/v1/drills/{d['id']}/log", headers=world["h"], json=body)
    assert r.status_code == 400 and field in r.get_json()["error"]["fields"]
    answers = [e for e in client.get(f"/api/v1/drills/{d['id']}/log", headers=world["h"]).get_json()["items"]
               if e["kind"] in ("answer", "note")]
    assert answers == []


def test_logging_before_the_start_is_a_conflict(client, world, clock):
    d = create(client, world, clock)
    r = client.post(f"/api/v1/drills/{d['id']}/log", headers=world["h"], json={"text": "メモ"})
    assert r.status_code == 409


def test_functional_start_without_the_outage_desk_is_422_and_changes_nothing(client, world, clock, session):
    """Where the outage package is not installed the port is None: the service refuses clearly."""
    from bcp_service.auth.roles import Actor, Role
    from bcp_service.drills import running
    from bcp_service.drills.models import Drill
    from bcp_service.drills.scenarios import load_library
    from bcp_service.errors import Unprocessable

    d = create(client, world, clock, mode="functional")
    actor = Actor(world["hub"].id, Role.HUB_STAFF, "1301")
    with pytest.raises(Unprocessable, match="outage desk not available") as exc:
        running.start_drill(session, actor, d["id"], now=clock.now(), library=load_library(), desk=None)
    assert exc.value.status == 422
    session.rollback()
    assert session.get(Drill, d["id"]).status == "scheduled"


def test_evaluation_rating_must_be_p_s_m_u(client, world, clock):
    d = create(client, world, clock)
    client.post(f"/api/v1/drills/{d['id']}/start", headers=world["h"])
    r = client.post(f"/api/v1/drills/{d['id']}/evaluations", headers=world["h"],
                    json={"objective": "搬送の調整ができる", "rating": "X"})
    assert r.status_code == 400 and "rating" in r.get_json()["error"]["fields"]
    assert client.get(f"/api/v1/drills/{d['id']}/evaluations", headers=world["h"]).get_json()["total"] == 0


def test_evaluation_before_the_drill_is_run_is_a_conflict(client, world, clock):
    d = create(client, world, clock)
    r = client.post(f"/api/v1/drills/{d['id']}/evaluations", headers=world["h"],
                    json={"objective": "搬送の調整ができる", "rating": "P"})
    assert r.status_code == 409


def test_corrective_action_links_to_a_plan_section_and_shows_as_open_item(client, world, clock, session):
    plan = make_plan(session, clock, organization_id=world["clinic"].id)
    d = create(client, world, clock)
    client.post(f"/api/v1/drills/{d['id']}/start", headers=world["h"])
    body = {"objective": "3時間以内に全員の安否を確認できる", "rating": "S",
            "strengths": "SMSの一斉送信が早かった", "improvements": "固定電話世帯の確認が遅れた",
            "corrective_actions": [{"title": "固定電話世帯への音声通話の手順を整備する", "owner_org_id": world["clinic"].id,
                                    "due": "2027-01-31", "element": "planning", "plan_id": plan.id,
                                    "section_key": "safety_checks"}]}
    r = client.post(f"/api/v1/drills/{d['id']}/evaluations", headers=world["h"], json=body)
    assert r.status_code == 201, r.get_json()
    ev = r.get_json()
    assert ev["rating"] == "S" and ev["corrective_actions"][0]["status"] == "open"
    assert ev["corrective_actions"][0]["section_key"] == "safety_checks"
    grouped = open_actions_for_plan(session, plan.id, today=date(2027, 2, 1))
    [item] = grouped["safety_checks"]
    assert item["title"] == "固定電話世帯への音声通話の手順を整備する" and item["overdue"] is True
    r = client.get(f"/api/v1/plans/{plan.id}/open-actions", headers=world["h"])
    assert r.get_json()["sections"]["safety_checks"][0]["due"] == "2027-01-31"
    # The same objective twice is a conflict.
    again = client.post(f"/api/v1/drills/{d['id']}/evaluations", headers=world["h"], json=body)
    assert again.status_code == 409
    # The improvement plan names the plan and the section by title.
    html = client.get(f"/api/v1/drills/{d['id']}/report?format=html", headers=world["h"]).get_data(as_text=True)
    assert "機関型BCP『試験クリニック 機関型BCP』 / 安否確認と職員の参集" in html


@pytest.mark.parametrize("action_patch, expect_in", [
    ({"section_key": "no_such_section"}, "corrective_actions.0"),
    ({"plan_id": 987654}, "corrective_actions.0"),
    ({"owner_org_id": 987654}, "corrective_actions.0"),
    ({"element": "luck"}, "corrective_actions"),
    ({"due": "not-a-date"}, "corrective_actions"),
])
def test_bad_corrective_action_is_400_and_nothing_is_saved(client, world, clock, session, action_patch, expect_in):
    plan = make_plan(session, clock)
    d = create(client, world, clock)
    client.post(f"/api/v1/drills/{d['id']}/start", headers=world["h"])
    action = {"title": "手順を整備する", "owner_org_id": world["clinic"].id, "due": "2027-01-31",
              "plan_id": plan.id, "section_key": "safety_checks", **action_patch}
    r = client.post(f"/api/v1/drills/{d['id']}/evaluations", headers=world["h"],
                    json={"objective": "搬送の調整ができる", "rating": "M", "corrective_actions": [action]})
    assert r.status_code == 400
    assert any(k.startswith(expect_in) for k in r.get_json()["error"]["fields"])
    assert client.get(f"/api/v1/drills/{d['id']}/evaluations", headers=world["h"]).get_json()["total"] == 0
    assert open_actions_for_plan(session, plan.id) == {}


def test_corrective_action_status_moves_and_closing_is_final(client, world, clock, session):
    d = create(client, world, clock)
    client.post(f"/api/v1/drills/{d['id']}/start", headers=world["h"])
    ev = client.post(f"/api/v1/drills/{d['id']}/evaluations", headers=world["h"], json={
        "objective": "搬送の調整ができる", "rating": "U",
        "corrective_actions": [{"title": "搬送協定を結ぶ", "owner_org_id": world["nursing"].id,
                                "due": "2027-03-31", "element": "organisation"}]}).get_json()
    aid = ev["corrective_actions"][0]["id"]
    r = client.patch(f"/api/v1/corrective-actions/{aid}", headers=world["h"], json={"status": "done"})
    assert r.status_code == 200 and r.get_json()["closed_at"] is not None
    assert client.patch(f"/api/v1/corrective-actions/{aid}", headers=world["h"],
                        json={"status": "open"}).status_code == 409
    assert client.patch(f"/api/v1/corrective-actions/{aid}", headers=world["h"],
                        json={"status": "bogus"}).status_code == 400


def test_report_docx_and_html_follow_the_aar_structure(client, world, clock):
    d = create(client, world, clock)
    client.post(f"/api/v1/drills/{d['id']}/start", headers=world["h"])
    client.post(f"/api/v1/drills/{d['id']}/evaluations", headers=world["h"], json={
        "objective": "3時間以内に全員の安否を確認できる", "rating": "P", "strengths": "連絡網が機能した",
        "corrective_actions": [{"title": "連絡網を年2回更新する", "owner_org_id": world["clinic"].id,
                                "due": "2027-03-31", "element": "training"}]})
    client.post(f"/api/v1/drills/{d['id']}/finish", headers=world["h"])
    r = client.get(f"/api/v1/drills/{d['id']}/report?format=docx", headers=world["h"])
    assert r.status_code == 200 and r.mimetype.endswith("wordprocessingml.document")
    doc = docx.Document(io.BytesIO(r.data))
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert "5. 改善計画" in headings
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    assert "P（課題なく実施）" in cells and "連絡網を年2回更新する" in cells and "教育・研修" in cells
    assert "試験クリニック" in cells and "未評価" in cells
    html = client.get(f"/api/v1/drills/{d['id']}/report?format=html", headers=world["h"]).get_data(as_text=True)
    assert "訓練事後報告書" in html and "連絡網が機能した" in html
    assert client.get(f"/api/v1/drills/{d['id']}/report?format=pdf", headers=world["h"]).status_code == 400


def test_ics_download_is_a_calendar_with_the_drill(client, world, clock):
    d = create(client, world, clock, when=datetime(2026, 12, 8, 14, 0, tzinfo=JST))
    r = client.get(f"/api/v1/drills/{d['id']}/calendar.ics", headers=world["h"])
    assert r.status_code == 200 and r.mimetype == "text/calendar"
    [vevent] = icalendar.Calendar.from_ical(r.data).walk("VEVENT")
    assert str(vevent["summary"]) == "【訓練】令和8年度 圏域合同訓練"
    assert vevent.decoded("dtstart") == datetime(2026, 12, 8, 14, 0, tzinfo=JST)
    assert len(vevent.walk("VALARM")) == 3
    all_cal = client.get("/api/v1/drills/calendar.ics", headers=world["h"])
    assert len(icalendar.Calendar.from_ical(all_cal.data).walk("VEVENT")) == 1


def test_rescheduling_bumps_the_calendar_sequence_and_cancel_stops_reminders(client, world, clock, session):
    from bcp_service.drills.models import Drill

    d = create(client, world, clock)
    r = client.patch(f"/api/v1/drills/{d['id']}", headers=world["h"],
                     json={"scheduled_at": later(clock, days=20).isoformat()})
    assert r.status_code == 200
    assert session.get(Drill, d["id"]).sequence == 1
    r = client.patch(f"/api/v1/drills/{d['id']}", headers=world["h"], json={"status": "cancelled"})
    assert r.get_json()["status"] == "cancelled"
    session.expire_all()
    assert session.get(Drill, d["id"]).next_reminder_at is None
    assert client.post(f"/api/v1/drills/{d['id']}/start", headers=world["h"]).status_code == 409


def test_open_corrective_actions_appear_inside_the_plan_section_page(client, world, clock, session, login):
    plan = client.post("/api/v1/plans", headers=world["h"], json={
        "type": "kikan", "title": "試験クリニック 機関型BCP", "organization_id": world["clinic"].id}).get_json()
    d = create(client, world, clock)
    client.post(f"/api/v1/drills/{d['id']}/start", headers=world["h"])
    r = client.post(f"/api/v1/drills/{d['id']}/evaluations", headers=world["h"], json={
        "objective": "3時間以内に全員の安否を確認できる", "rating": "M",
        "corrective_actions": [{"title": "夜間の安否確認の当番表を作る", "owner_org_id": world["clinic"].id,
                                "due": "2027-01-31", "element": "organisation", "plan_id": plan["id"],
                                "section_key": "safety_checks"}]})
    assert r.status_code == 201, r.get_json()
    login(world["hub"])
    page = client.get(f"/plans/{plan['id']}/sections/safety_checks").get_data(as_text=True)
    assert 'id="drill-open-actions"' in page and "夜間の安否確認の当番表を作る" in page
    other = client.get(f"/plans/{plan['id']}/sections/policy").get_data(as_text=True)
    assert "夜間の安否確認の当番表を作る" not in other
    # Once done it is no longer an open item.
    client.patch(f"/api/v1/corrective-actions/{r.get_json()['corrective_actions'][0]['id']}", headers=world["h"],
                 json={"status": "done"})
    assert "夜間の安否確認の当番表を作る" not in client.get(f"/plans/{plan['id']}/sections/safety_checks").get_data(as_text=True)


def test_invitations_are_queued_once_per_contact_with_drill_marking(client, world, clock, session):
    from sqlalchemy import select

    from bcp_service.messaging.models import OutboxMessage

    body = drill_body([], when=datetime(2026, 12, 8, 14, 0, tzinfo=JST), participants=[
        {"organization_id": world["clinic"].id, "contact_name": "試験 一郎", "contact_phone": "090-0000-4001"},
        {"organization_id": world["nursing"].id, "contact_name": "試験 二郎"}])
    r = client.post("/api/v1/drills", json=body, headers=world["h"])
    assert r.status_code == 201
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "drill")).all()
    assert [(m.to, m.drill) for m in rows] == [("+819000004001", True)]
    assert rows[0].body.startswith("【訓練】訓練のご案内") and "12/8（火）14:00" in rows[0].body
    participants = {p["organization_id"]: p["invited"] for p in r.get_json()["participants"]}
    assert participants == {world["clinic"].id: True, world["nursing"].id: False}
    for phone in ("0120-000-000", "03-1234-5678"):      # toll-free; a landline cannot receive SMS
        bad = drill_body([], when=later(clock, days=3), participants=[
            {"organization_id": world["clinic"].id, "contact_phone": phone}])
        r = client.post("/api/v1/drills", json=bad, headers=world["h"])
        assert r.status_code == 400 and "participants" in r.get_json()["error"]["fields"]


def test_plans_of_another_region_cannot_be_linked(client, world, clock, session):
    other_plan = make_plan(session, clock, region_code="1302", title="他圏域の計画")
    body = drill_body([world["clinic"]], when=later(clock, days=3), plan_ids=[other_plan.id])
    r = client.post("/api/v1/drills", json=body, headers=world["h"])
    assert r.status_code == 400 and "plan_ids" in r.get_json()["error"]["fields"]
    own = make_plan(session, clock)
    body["plan_ids"] = [own.id]
    assert client.post("/api/v1/drills", json=body, headers=world["h"]).get_json()["plan_ids"] == [own.id]


def test_an_objective_the_drill_does_not_have_is_400_and_lists_the_valid_ones(client, world, clock):
    d = create(client, world, clock)
    client.post(f"/api/v1/drills/{d['id']}/start", headers=world["h"])
    r = client.post(f"/api/v1/drills/{d['id']}/evaluations", headers=world["h"],
                    json={"objective": "存在しない目標", "rating": "P"})
    assert r.status_code == 400
    assert "搬送の調整ができる" in r.get_json()["error"]["fields"]["objective"][0]


def test_drills_default_to_the_scenario_objectives(client, world, clock):
    d = create(client, world, clock, objectives=[])
    assert d["objectives"][0] == "停電発生から3時間以内に人工呼吸器利用者全員の安否と電源状況を確認できる"


def test_open_actions_of_a_plan_follow_the_plan_read_rule(client, world, clock, session):
    """One plan-access rule: whoever may not read the plan (GET /api/v1/plans/<id> → 404) does not see
    its open corrective actions either — another clinic's staff, or a field team of the same 圏域."""
    plan = make_plan(session, clock, organization_id=world["clinic"].id)
    stranger_org = world["nursing"]
    stranger = world["auth_headers"](world["make_user"]("institution_staff", organization=stranger_org))
    own = world["auth_headers"](world["make_user"]("institution_staff", organization=world["clinic"]))
    field = world["auth_headers"](world["make_user"]("field_team", organization=stranger_org))
    assert client.get(f"/api/v1/plans/{plan.id}", headers=stranger).status_code == 404
    assert client.get(f"/api/v1/plans/{plan.id}/open-actions", headers=stranger).status_code == 404
    assert client.get(f"/api/v1/plans/{plan.id}/open-actions", headers=field).status_code in (403, 404)
    assert client.get(f"/api/v1/plans/{plan.id}/open-actions", headers=own).status_code == 200
    assert client.get(f"/api/v1/plans/{plan.id}/open-actions", headers=world["h"]).status_code == 200


def test_drill_lists_page_with_limit_and_offset_and_report_the_true_total(client, world, clock):
    scenarios = client.get("/api/v1/drill-scenarios?limit=2&offset=1", headers=world["h"]).get_json()
    assert scenarios["total"] >= 4 and len(scenarios["items"]) == 2
    d = create(client, world, clock)
    client.post(f"/api/v1/drills/{d['id']}/start", headers=world["h"])
    client.post(f"/api/v1/drills/{d['id']}/next-inject", headers=world["h"])
    log = client.get(f"/api/v1/drills/{d['id']}/log?limit=1&offset=1", headers=world["h"]).get_json()
    everything = client.get(f"/api/v1/drills/{d['id']}/log", headers=world["h"]).get_json()
    assert log["total"] == everything["total"] == len(everything["items"]) >= 3
    assert log["items"] == everything["items"][1:2]


def test_several_evaluators_per_objective_are_kept_and_merged_on_the_report(client, world, clock):
    from bcp_service.drills.scenarios import load_library

    objective = load_library()["blackout_72h"].objectives[0].text
    d = create(client, world, clock, mode="functional")   # the old name is still accepted
    assert d["mode"] == "drill"
    d = create(client, world, clock, objectives=[objective])
    client.post(f"/api/v1/drills/{d['id']}/start", headers=world["h"])
    second = world["auth_headers"](world["make_user"]("hub_staff"))
    url = f"/api/v1/drills/{d['id']}/evaluations"
    assert client.post(url, headers=world["h"], json={"objective": objective, "rating": "P",
                                                      "strengths": "連絡網が機能した"}).status_code == 201
    assert client.post(url, headers=second, json={"objective": objective, "rating": "M",
                                                  "improvements": "固定電話の世帯に届かない"}).status_code == 201
    again = client.post(url, headers=world["h"], json={"objective": objective, "rating": "S"})
    assert again.status_code == 409                        # one observation per evaluator and objective
    html = client.get(f"/api/v1/drills/{d['id']}/report?format=html", headers=world["h"]).get_data(as_text=True)
    assert "連絡網が機能した" in html and "固定電話の世帯に届かない" in html
    assert "M（大きな課題あり）" in html                   # the most severe observation
    assert "運用上の通信（Operational Communications）" in html and "中核能力ごとの強みと改善点" in html
    assert "圏域全域で停電発生" in html                    # the scenario narrative

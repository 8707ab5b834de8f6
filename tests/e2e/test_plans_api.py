"""The Plans contract of API.md over HTTP: paths, fields, status codes, and bad input changing nothing."""
import io
import json

import pytest
from docx import Document

from bcp_service.plans.templates import TemplateLibrary

from ..integration.plan_helpers import minimal_answers

LIB = TemplateLibrary.load()


@pytest.fixture
def env(make_region, make_org, make_user, auth_headers):
    make_region("1301")
    clinic = make_org(name="試験在宅クリニック", kind="clinic")
    hospital = make_org(name="試験総合病院", kind="hospital", has_generator=True)
    doctor = make_user("institution_staff", organization=clinic)
    hub, hub2 = make_user("hub_staff"), make_user("hub_staff")
    return {
        "clinic": clinic, "hospital": hospital, "doctor_user": doctor,
        "doctor": auth_headers(doctor), "hub": auth_headers(hub), "hub2": auth_headers(hub2),
        "pref": auth_headers(make_user("prefecture_reviewer", scope="13")),
        "field": auth_headers(make_user("field_team")),
    }


def create_kikan(client, env):
    r = client.post("/api/v1/plans", json={"type": "kikan", "title": "試験クリニック 機関型BCP",
                                           "organization_id": env["clinic"].id}, headers=env["doctor"])
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def fill(client, env, plan, headers):
    template = LIB.get(plan["type"], plan["template_version"])
    for section, answers in minimal_answers(template).items():
        r = client.put(f"/api/v1/plans/{plan['id']}/sections/{section}", json={"answers": answers}, headers=headers)
        assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_templates_list_the_three_types_with_version_and_section_keys(client, env):
    r = client.get("/api/v1/plan-templates", headers=env["doctor"])
    assert r.status_code == 200
    body = r.get_json()
    assert body["total"] == 3 and [t["type"] for t in body["items"]] == ["kikan", "renkei", "chiiki"]
    kikan = body["items"][0]
    assert kikan["version"] == 3 and kikan["versions"] == [1, 2, 3] and "patient_priority" in kikan["section_keys"]
    full = client.get("/api/v1/plan-templates/kikan?version=1", headers=env["doctor"]).get_json()
    assert full["version"] == 1 and full["sections"][0]["fields"][0]["guidance"]
    assert client.get("/api/v1/plan-templates/kikan?version=9", headers=env["doctor"]).status_code == 404


def test_create_returns_the_contract_fields(client, env):
    body = create_kikan(client, env)
    assert {"id", "type", "status", "template_version", "sections", "completeness"} <= set(body)
    assert body["type"] == "kikan" and body["status"] == "draft" and body["template_version"] == 3
    assert {"key", "title", "completeness"} <= set(body["sections"][0])
    # staff contacts came from auto-fill, but a contact without a phone does not count yet
    assert body["completeness"] == 0.0 and body["answers"]["policy"]["staff_contacts"][0]["name"]
    assert "試験" in json.dumps(body, ensure_ascii=False) and "\\u" not in r_text(client, env, body["id"])


def r_text(client, env, plan_id):
    return client.get(f"/api/v1/plans/{plan_id}", headers=env["doctor"]).get_data(as_text=True)


@pytest.mark.parametrize("payload,field", [
    ({"type": "bogus", "title": "x", "organization_id": 1}, "type"),
    ({"type": "kikan", "title": "x"}, "organization_id"),
    ({"type": "renkei", "title": "x"}, "member_org_ids"),
    ({"type": "chiiki", "title": ""}, "title"),
    ({"type": "kikan", "title": "x", "organization_id": 1, "extra": True}, "extra"),
])
def test_bad_create_is_400_with_fields(client, env, payload, field):
    r = client.post("/api/v1/plans", json=payload, headers=env["hub"])
    assert r.status_code == 400 and field in r.get_json()["error"]["fields"]
    assert client.get("/api/v1/plans", headers=env["hub"]).get_json()["total"] == 0


def test_section_save_and_bad_input(client, env):
    plan = create_kikan(client, env)
    url = f"/api/v1/plans/{plan['id']}/sections/policy"
    ok = client.put(url, json={"answers": {"basic_policy": "命を守る", "leader": "院長 試験 太郎"}}, headers=env["doctor"])
    assert ok.status_code == 200
    policy = next(s for s in ok.get_json()["sections"] if s["key"] == "policy")
    assert policy["completeness"] == 0.333   # a clinic: leader, deputy, staff contacts (basic_policy optional)

    unknown = client.put(url, json={"answers": {"leader": "別人", "colour": "red"}}, headers=env["doctor"])
    assert unknown.status_code == 400 and unknown.get_json()["error"]["code"] == "validation_error"
    assert "colour" in unknown.get_json()["error"]["fields"]
    wrong = client.put(f"/api/v1/plans/{plan['id']}/sections/training", json={"answers": {"drills_per_year": "2"}},
                       headers=env["doctor"])
    assert wrong.status_code == 400 and "drills_per_year" in wrong.get_json()["error"]["fields"]
    assert client.put(f"/api/v1/plans/{plan['id']}/sections/nope", json={"answers": {}},
                      headers=env["doctor"]).status_code == 404
    other_version = client.put(url, json={"answers": {"leader": "別人"}, "template_version": 1}, headers=env["doctor"])
    assert other_version.status_code == 409
    not_object = client.put(url, json={"answers": ["x"]}, headers=env["doctor"])
    assert not_object.status_code == 400
    after = client.get(f"/api/v1/plans/{plan['id']}", headers=env["doctor"]).get_json()
    assert after["answers"]["policy"]["leader"] == "院長 試験 太郎"   # nothing changed by the bad saves


@pytest.mark.sqlite_smoke
def test_state_machine_over_http(client, env):
    plan = create_kikan(client, env)
    pid = plan["id"]
    assert client.post(f"/api/v1/plans/{pid}/approve", headers=env["hub"]).status_code == 409   # approving a draft
    assert client.post(f"/api/v1/plans/{pid}/revise", headers=env["doctor"]).status_code == 409
    incomplete = client.post(f"/api/v1/plans/{pid}/submit", headers=env["doctor"])
    assert incomplete.status_code == 422 and "action_rules" in incomplete.get_json()["error"]["fields"]
    fill(client, env, plan, env["doctor"])
    sub = client.post(f"/api/v1/plans/{pid}/submit", headers=env["doctor"])
    assert sub.status_code == 200 and sub.get_json()["status"] == "in_review"
    assert client.post(f"/api/v1/plans/{pid}/submit", headers=env["doctor"]).status_code == 409
    assert client.post(f"/api/v1/plans/{pid}/approve", headers=env["doctor"]).status_code == 403
    appr = client.post(f"/api/v1/plans/{pid}/approve", headers=env["hub"])
    assert appr.status_code == 200 and appr.get_json()["status"] == "approved"
    assert appr.get_json()["review_due_on"] == "2027-05-31"
    edit = client.put(f"/api/v1/plans/{pid}/sections/policy", json={"answers": {"leader": "x"}}, headers=env["doctor"])
    assert edit.status_code == 409
    rev = client.post(f"/api/v1/plans/{pid}/revise", json={"note": "異動"}, headers=env["doctor"])
    assert rev.status_code == 200 and rev.get_json()["version"] == 2 and rev.get_json()["status"] == "draft"
    client.put(f"/api/v1/plans/{pid}/sections/policy", json={"answers": {"leader": "新院長"}}, headers=env["doctor"])
    versions = client.get(f"/api/v1/plans/{pid}/versions", headers=env["doctor"]).get_json()
    assert [(v["number"], v["status"]) for v in versions["items"]] == [(1, "approved"), (2, "draft")]
    assert versions["items"][0]["approved_at"].endswith("+09:00")
    diff = client.get(f"/api/v1/plans/{pid}/diff?from=1&to=2", headers=env["doctor"]).get_json()
    assert [(c["field_key"], c["after"]) for c in diff["items"]] == [("leader", "新院長")]
    events = client.get(f"/api/v1/plans/{pid}/events", headers=env["hub"]).get_json()["items"]
    assert [e["action"] for e in events if e["action"] != "edit"] == ["create", "submit", "approve", "revise"]


def test_exports_docx_html_md(client, env):
    plan = create_kikan(client, env)
    fill(client, env, plan, env["doctor"])
    r = client.get(f"/api/v1/plans/{plan['id']}/export?format=docx", headers=env["doctor"])
    assert r.status_code == 200 and r.mimetype.endswith("wordprocessingml.document")
    doc = Document(io.BytesIO(r.data))
    assert doc.paragraphs[6].text == "試験クリニック 機関型BCP"
    assert [p.text for p in doc.paragraphs if p.style.name == "Heading 1"][:2] == ["総論", "平常時の対応"]
    assert len(doc.tables) >= 5
    html = client.get(f"/api/v1/plans/{plan['id']}/export?format=html", headers=env["doctor"])
    assert html.status_code == 200 and "基本方針と推進体制" in html.get_data(as_text=True)
    md = client.get(f"/api/v1/plans/{plan['id']}/export?format=md", headers=env["doctor"])
    assert md.get_data(as_text=True).startswith("# 試験クリニック 機関型BCP")
    assert client.get(f"/api/v1/plans/{plan['id']}/export?format=pdf", headers=env["doctor"]).status_code == 400
    pack = client.get(f"/api/v1/plans/{plan['id']}/evidence-pack", headers=env["hub"])
    assert pack.status_code == 200 and pack.mimetype == "application/zip"


def test_roles(client, env):
    plan = create_kikan(client, env)
    assert client.get("/api/v1/plans").status_code == 401
    assert client.get("/api/v1/plans", headers=env["field"]).status_code == 403
    listed = client.get("/api/v1/plans", headers=env["pref"]).get_json()
    assert listed["total"] == 1 and "answers" not in listed["items"][0]
    assert client.get(f"/api/v1/plans/{plan['id']}", headers=env["pref"]).status_code == 403
    assert client.get(f"/api/v1/plans/{plan['id']}/export?format=md", headers=env["pref"]).status_code == 403
    assert client.post("/api/v1/plans", json={"type": "chiiki", "title": "x", "region_code": "1301"},
                       headers=env["doctor"]).status_code == 403


def test_renkei_and_chiiki_are_created_with_autofilled_tables(client, env):
    r = client.post("/api/v1/plans", json={"type": "renkei", "title": "相互支援",
                                           "member_org_ids": [env["clinic"].id, env["hospital"].id]}, headers=env["hub"])
    assert r.status_code == 201
    assert [m["name"] for m in r.get_json()["answers"]["members"]["member_table"]] == ["試験在宅クリニック", "試験総合病院"]
    c = client.post("/api/v1/plans", json={"type": "chiiki", "title": "地域BCP", "region_code": "1301"}, headers=env["hub"])
    assert c.status_code == 201
    facilities = c.get_json()["answers"]["resources"]["facilities"]
    assert facilities[0]["name"] == "試験総合病院" and facilities[0]["has_generator"] == "あり"
    meta = c.get_json()["fields"]["resources.facilities"]
    assert meta["source"] == "autofill" and meta["autofilled_at"].endswith("+09:00")
    refresh = client.post(f"/api/v1/plans/{c.get_json()['id']}/autofill", json={}, headers=env["hub"])
    assert refresh.status_code == 200
    assert {r["outcome"] for r in refresh.get_json()["results"]} <= {"unchanged", "unavailable", "filled", "refreshed"}


def test_wizard_pages_render_for_the_author(client, env, login):
    plan = create_kikan(client, env)
    login(env["doctor_user"])
    assert "BCP計画" in client.get("/plans").get_data(as_text=True)
    overview = client.get(f"/plans/{plan['id']}").get_data(as_text=True)
    assert "記入状況" in overview and "患者優先度リスト" in overview
    page = client.get(f"/plans/{plan['id']}/sections/policy")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "なぜ必要か" in text and "保存して次へ" in text
    assert client.get(f"/plans/{plan['id']}/sections/nope").status_code == 404
    history = client.get(f"/plans/{plan['id']}/history")
    assert history.status_code == 200 and "作成" in history.get_data(as_text=True)


def test_upgrade_comments_and_history_over_http(client, env, session):
    from bcp_service.plans.models import PlanVersion

    plan = create_kikan(client, env)
    version = session.get(PlanVersion, plan["id"])   # first plan, first version: ids coincide
    version.template_version = 1
    session.commit()
    saved = client.put(f"/api/v1/plans/{plan['id']}/sections/risks", json={"answers": {"risk_notes": "停電3日"}},
                       headers=env["doctor"])
    assert saved.status_code == 200 and saved.get_json()["template_version"] == 1
    up = client.post(f"/api/v1/plans/{plan['id']}/upgrade", json={}, headers=env["doctor"])
    body = up.get_json()
    assert up.status_code == 200 and body["template_version"] == 3
    assert body["answers"]["risks"] == {"hazard_effects": "停電3日"}
    assert "family_teaching.teaching_items" in body["upgrade"]["new_required"]
    assert client.post(f"/api/v1/plans/{plan['id']}/upgrade", json={}, headers=env["doctor"]).status_code == 409

    c = client.post(f"/api/v1/plans/{plan['id']}/sections/risks/comments", json={"body": "浸水想定も確認を"},
                    headers=env["hub"])
    assert c.status_code == 201 and c.get_json()["section"] == "risks"
    assert client.post(f"/api/v1/plans/{plan['id']}/sections/risks/comments", json={"body": ""},
                       headers=env["hub"]).status_code == 400
    assert client.post(f"/api/v1/plans/{plan['id']}/sections/nope/comments", json={"body": "x"},
                       headers=env["hub"]).status_code == 404
    listed = client.get(f"/api/v1/plans/{plan['id']}/comments", headers=env["doctor"]).get_json()
    assert [x["body"] for x in listed["items"]] == ["浸水想定も確認を"]
    actions = [e["action"] for e in client.get(f"/api/v1/plans/{plan['id']}/events", headers=env["doctor"]).get_json()["items"]]
    assert "upgrade" in actions and "comment" in actions


def test_reviewer_page_lists_status_without_links(client, env, login, make_user):
    create_kikan(client, env)
    login(make_user("prefecture_reviewer", scope="13"))
    page = client.get("/plans").get_data(as_text=True)
    assert "試験クリニック 機関型BCP" in page and "下書き" in page
    assert "/plans/1" not in page and "新しい計画を作る" not in page
    assert client.get("/plans/1").status_code == 403


def test_institution_staff_read_the_approved_chiiki_plan_of_their_region_only(client, env, session, clock):
    """API.md, Plans: sharing — the list and the plan agree (plans.access is the one rule)."""
    from tests.e2e.drill_helpers import make_plan

    approved = make_plan(session, clock, plan_type="chiiki", title="試験 地域BCP", status="approved")
    draft = make_plan(session, clock, plan_type="chiiki", title="試験 地域BCP 案", status="draft")
    listed = {p["id"] for p in client.get("/api/v1/plans", headers=env["doctor"]).get_json()["items"]}
    assert approved.id in listed and draft.id not in listed
    assert client.get(f"/api/v1/plans/{approved.id}", headers=env["doctor"]).status_code == 200
    assert client.get(f"/api/v1/plans/{draft.id}", headers=env["doctor"]).status_code == 404
    # reading is not editing
    r = client.put(f"/api/v1/plans/{approved.id}/sections/policy", json={"answers": {}}, headers=env["doctor"])
    assert r.status_code == 403


def test_plan_lists_page_with_limit_and_offset_and_report_the_true_total(client, env):
    for i in range(3):
        r = client.post("/api/v1/plans", json={"type": "chiiki", "title": f"試験 地域BCP {i}", "region_code": "1301"},
                        headers=env["hub"])
        assert r.status_code == 201
    page = client.get("/api/v1/plans?limit=2&offset=1", headers=env["hub"]).get_json()
    assert page["total"] == 3 and len(page["items"]) == 2
    templates = client.get("/api/v1/plan-templates?limit=1", headers=env["hub"]).get_json()
    assert templates["total"] == 3 and len(templates["items"]) == 1
    pid = page["items"][0]["id"]
    events = client.get(f"/api/v1/plans/{pid}/events?limit=1", headers=env["hub"]).get_json()
    assert events["total"] >= 1 and len(events["items"]) == 1
    assert client.get("/api/v1/plans?limit=0", headers=env["hub"]).status_code == 400


def test_kikan_template_for_an_organisation_gives_required_as_it_applies(client, env):
    whole = client.get("/api/v1/plan-templates/kikan", headers=env["doctor"]).get_json()
    r = client.get(f"/api/v1/plan-templates/kikan?organization_id={env['clinic'].id}", headers=env["doctor"])
    body = r.get_json()
    assert r.status_code == 200 and body["organization_kind"] == "clinic"
    required = [f["key"] for s in body["sections"] for f in s["fields"] if f["required"]]
    assert len(required) == body["required_count"] <= 15
    assert whole["required_count"] > 30
    hosp = client.get(f"/api/v1/plan-templates/kikan?organization_id={env['hospital'].id}", headers=env["doctor"])
    assert hosp.get_json()["required_count"] == whole["required_count"]
    bad = client.get("/api/v1/plan-templates/kikan?organization_id=abc", headers=env["doctor"])
    assert bad.status_code == 400 and "organization_id" in bad.get_json()["error"]["fields"]
    assert client.get("/api/v1/plan-templates/kikan?organization_id=99999", headers=env["doctor"]).status_code == 404

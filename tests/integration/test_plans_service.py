"""Plan services on SQLite and PostgreSQL: workflow, bad input changes nothing, auto-fill, upgrade,
access rules, reminders and the evidence pack."""
import importlib.util
import io
import zipfile
from datetime import date, datetime, timedelta, timezone

import pytest
from docx import Document
from sqlalchemy import func, select

from bcp_service.auth.services import actor_for
from bcp_service.errors import Conflict, Invalid, NotFound, OutOfScope, Unprocessable
from bcp_service.plans import access, authoring, history, review, versions, workflow
from bcp_service.plans.models import Plan, PlanAnswer, PlanEvent, PlanReminder, PlanVersion

from .plan_helpers import fill_required, minimal_answers


@pytest.fixture
def world(make_region, make_org, make_user, session):
    make_region("1301")
    make_region("1302", name="区西部")
    clinic = make_org(name="試験在宅クリニック", kind="clinic")
    other = make_org(name="試験よその診療所", kind="clinic")
    hospital = make_org(name="試験総合病院", kind="hospital", has_generator=True, accepts_ventilator=True,
                        ventilator_beds=4)
    far = make_org("1302", name="試験西部病院", kind="hospital")
    doctor = make_user("institution_staff", organization=clinic)
    doctor.phone_e164 = "+819000000001"
    session.commit()
    return {
        "clinic": clinic, "other": other, "hospital": hospital, "far": far,
        "doctor": actor_for(doctor), "doctor_user": doctor,
        "hub": actor_for(make_user("hub_staff")), "hub2": actor_for(make_user("hub_staff")),
        "other_staff": actor_for(make_user("institution_staff", organization=other)),
        "hospital_staff": actor_for(make_user("institution_staff", organization=hospital)),
        "west_hub": actor_for(make_user("hub_staff", scope="1302")),
        "pref": actor_for(make_user("prefecture_reviewer", scope="13")),
        "admin": actor_for(make_user("admin")),
    }


def new_kikan(session, world, clock, actor=None):
    plan = authoring.create_plan(session, actor or world["doctor"],
                                authoring.NewPlan("kikan", "試験クリニック 機関型BCP", organization_id=world["clinic"].id),
                                now=clock.now())
    session.commit()
    return plan


def test_new_kikan_plan_is_a_draft_on_the_current_template_with_staff_autofilled(session, world, clock):
    plan = new_kikan(session, world, clock)
    version = versions.current_version(plan)
    assert (plan.status, version.number, version.template_version) == ("draft", 1, 3)
    contacts = versions.answers_of(version)["policy"]["staff_contacts"]
    assert contacts[0]["name"] == "試験 institution_staff" and contacts[0]["phone"] == "090-0000-0001"
    row = next(a for a in version.answers if a.field_key == "staff_contacts")
    assert row.source == "autofill" and row.autofilled_at == clock.now()


def test_second_kikan_for_the_same_organisation_is_a_conflict(session, world, clock):
    new_kikan(session, world, clock)
    with pytest.raises(Conflict):
        new_kikan(session, world, clock)


def test_bad_create_input_is_rejected(session, world, clock):
    with pytest.raises(OutOfScope):   # institution staff only for their own organisation
        authoring.create_plan(session, world["doctor"], authoring.NewPlan("kikan", "x", organization_id=world["other"].id),
                             now=clock.now())
    with pytest.raises(Invalid):
        authoring.create_plan(session, world["hub"], authoring.NewPlan("renkei", "x", member_org_ids=(world["clinic"].id,)),
                             now=clock.now())
    with pytest.raises(OutOfScope):   # a member outside the hub's region
        authoring.create_plan(session, world["hub"],
                             authoring.NewPlan("renkei", "x", member_org_ids=(world["clinic"].id, world["far"].id)),
                             now=clock.now())
    with pytest.raises(Invalid):
        authoring.create_plan(session, world["hub"], authoring.NewPlan("chiiki", "  ", region_code="1301"), now=clock.now())
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Plan)) == 0


def test_saving_a_section_updates_completeness_and_coalesces_history(session, world, clock):
    plan = new_kikan(session, world, clock)
    authoring.save_section(session, world["doctor"], plan.id, "policy", {"basic_policy": "命を守る"}, now=clock.now())
    clock.advance(minutes=1)
    authoring.save_section(session, world["doctor"], plan.id, "policy", {"leader": "院長 試験 太郎"}, now=clock.now())
    session.commit()
    p = versions.progress_of(plan).section("policy")
    assert (p.filled, p.required) == (3 - 1, 3)   # a clinic: basic_policy optional; staff contacts auto-filled; deputy missing
    edits = session.scalars(select(PlanEvent).where(PlanEvent.action == "edit")).all()
    assert len(edits) == 1 and set(edits[0].detail["fields"]) == {"basic_policy", "leader"}


@pytest.mark.parametrize("section,answers,error", [
    ("policy", {"basic_policy": "ok", "colour": "red"}, Invalid),
    ("training", {"drills_per_year": "two"}, Invalid),
    ("no_such_section", {"x": 1}, NotFound),
])
def test_bad_answers_change_nothing(session, world, clock, section, answers, error):
    plan = new_kikan(session, world, clock)
    before = session.scalar(select(func.count()).select_from(PlanAnswer))
    with pytest.raises(error):
        authoring.save_section(session, world["doctor"], plan.id, section, answers, now=clock.now())
    session.rollback()
    assert session.scalar(select(func.count()).select_from(PlanAnswer)) == before
    assert "basic_policy" not in versions.answers_of(versions.current_version(session.get(Plan, plan.id))).get("policy", {})


def test_answers_for_another_template_version_are_refused(session, world, clock):
    plan = new_kikan(session, world, clock)
    with pytest.raises(Conflict, match="テンプレート v3"):
        authoring.save_section(session, world["doctor"], plan.id, "policy", {"leader": "院長"}, now=clock.now(),
                              template_version=1)


def test_full_workflow_draft_review_approve_revise_and_diff(session, world, clock):
    plan = new_kikan(session, world, clock)
    with pytest.raises(Unprocessable) as incomplete:
        workflow.submit(session, world["doctor"], plan.id, now=clock.now())
    assert "action_rules" in incomplete.value.fields and "family_teaching" not in incomplete.value.fields
    session.rollback()

    fill_required(session, world["doctor"], plan, clock)
    with pytest.raises(Conflict):   # approving a draft
        workflow.approve(session, world["hub"], plan.id, now=clock.now())
    workflow.submit(session, world["doctor"], plan.id, now=clock.now())
    session.commit()
    with pytest.raises(Conflict, match="確認中"):   # editing while in review
        authoring.save_section(session, world["doctor"], plan.id, "policy", {"leader": "別の人"}, now=clock.now())
    with pytest.raises(OutOfScope):   # institution staff never approve
        workflow.approve(session, world["doctor"], plan.id, now=clock.now())
    clock.advance(hours=2)
    workflow.approve(session, world["hub"], plan.id, now=clock.now())
    session.commit()
    assert plan.status == "approved" and plan.review_due_on == date(2027, 5, 31)   # the plan's own earlier date
    assert plan.next_reminder_at == datetime(2027, 5, 1, 0, 0, tzinfo=timezone.utc)
    with pytest.raises(Conflict, match="承認済み"):   # editing an approved version
        authoring.save_section(session, world["doctor"], plan.id, "policy", {"leader": "別の人"}, now=clock.now())
    with pytest.raises(Conflict):
        workflow.approve(session, world["hub"], plan.id, now=clock.now())

    plan, report = workflow.revise(session, world["doctor"], plan.id, now=clock.now(), note="職員の異動")
    session.commit()
    assert plan.current_number == 2 and plan.status == "draft" and report["dropped"] == []
    v1, v2 = plan.versions
    assert v1.status == "approved" and versions.answers_of(v1) == versions.answers_of(v2)
    authoring.save_section(session, world["doctor"], plan.id, "policy", {"leader": "新院長 試験 次郎"}, now=clock.now())
    session.commit()
    changes = history.diff_versions(session, world["hub"], plan.id, 1, 2)
    assert [(c.field_key, c.kind, c.after) for c in changes] == [("leader", "changed", "新院長 試験 次郎")]
    workflow.submit(session, world["doctor"], plan.id, now=clock.now())
    workflow.approve(session, world["hub2"], plan.id, now=clock.now())
    session.commit()
    assert [v.status for v in plan.versions] == ["superseded", "approved"]
    actions = [e.action for e in history.events(session, world["hub"], plan.id)]
    assert actions[:1] == ["create"] and actions.count("approve") == 2 and "revise" in actions


def test_the_submitter_cannot_approve_their_own_version(session, world, clock):
    plan = authoring.create_plan(session, world["hub"], authoring.NewPlan("chiiki", "区中央部 地域BCP", region_code="1301"),
                                now=clock.now())
    fill_required(session, world["hub"], plan, clock)
    workflow.submit(session, world["hub"], plan.id, now=clock.now())
    with pytest.raises(OutOfScope, match="提出した本人"):
        workflow.approve(session, world["hub"], plan.id, now=clock.now())
    workflow.approve(session, world["hub2"], plan.id, now=clock.now())
    assert plan.status == "approved"


def test_send_back_returns_to_draft_with_a_comment(session, world, clock):
    plan = new_kikan(session, world, clock)
    fill_required(session, world["doctor"], plan, clock)
    workflow.submit(session, world["doctor"], plan.id, now=clock.now())
    workflow.send_back(session, world["hub"], plan.id, now=clock.now(), comment="連絡先を確認してください")
    session.commit()
    assert plan.status == "draft"
    assert [c.body for c in history.comments(session, world["doctor"], plan.id)] == ["連絡先を確認してください"]


def test_access_rules(session, world, clock):
    plan = new_kikan(session, world, clock)
    with pytest.raises(NotFound):
        access.get_plan(session, world["other_staff"], plan.id)
    with pytest.raises(NotFound):
        access.get_plan(session, world["west_hub"], plan.id)
    with pytest.raises(OutOfScope, match="都道府県担当"):
        access.get_plan(session, world["pref"], plan.id)
    assert access.get_plan(session, world["hub"], plan.id) is plan
    listed = session.scalars(access.list_plans_stmt(session, world["pref"])).all()
    assert [p.id for p in listed] == [plan.id]

    renkei = authoring.create_plan(session, world["hub"], authoring.NewPlan(
        "renkei", "区中央部 在宅連携", member_org_ids=(world["clinic"].id, world["hospital"].id)), now=clock.now())
    session.commit()
    assert access.get_plan(session, world["hospital_staff"], renkei.id) is renkei   # a member reads it
    with pytest.raises(OutOfScope):   # but does not edit it
        authoring.save_section(session, world["hospital_staff"], renkei.id, "members", {"coordinator": "x"},
                              now=clock.now())
    mine = session.scalars(access.list_plans_stmt(session, world["hospital_staff"])).all()
    assert [p.id for p in mine] == [renkei.id]
    members = versions.answers_of(versions.current_version(renkei))["members"]["member_table"]
    assert [m["name"] for m in members] == ["試験在宅クリニック", "試験総合病院"]


def test_autofill_refresh_never_overwrites_a_person_unless_asked(session, world, clock, make_user):
    renkei = authoring.create_plan(session, world["hub"], authoring.NewPlan(
        "renkei", "区中央部 在宅連携", member_org_ids=(world["clinic"].id, world["hospital"].id)), now=clock.now())
    session.commit()
    rows = versions.answers_of(versions.current_version(renkei))["members"]["member_table"]
    rows[0]["role"] = "代理訪問"
    authoring.save_section(session, world["hub"], renkei.id, "members", {"member_table": rows}, now=clock.now())
    world["hospital"].phone = "03-0000-1111"
    session.commit()
    clock.advance(days=1)
    results = authoring.refresh_autofill(session, world["hub"], renkei.id, now=clock.now())
    session.commit()
    (r,) = [x for x in results if x.field_key == "member_table"]
    assert r.outcome == "kept_manual"
    version = versions.current_version(renkei)
    row = next(a for a in version.answers if a.field_key == "member_table")
    assert row.value[1].get("phone") is None and row.autofill_pending
    assert row.autofill_value[1]["phone"] == "03-0000-1111"
    assert row.autofill_value[0]["role"] == "代理訪問"   # the person's column rides along in the suggestion
    (r,) = authoring.refresh_autofill(session, world["hub"], renkei.id, now=clock.now(),
                                     fields=["members.member_table"], overwrite=["members.member_table"])
    session.commit()
    assert r.outcome == "overwritten" and row.value[1]["phone"] == "03-0000-1111" and row.value[0]["role"] == "代理訪問"
    assert row.source == "autofill" and not row.autofill_pending
    with pytest.raises(Invalid):
        authoring.refresh_autofill(session, world["hub"], renkei.id, now=clock.now(), fields=["members.coordinator"])


def test_priority_table_lists_ventilator_users_first_with_runway_and_backup(session, world, clock):
    registry = pytest.importorskip("bcp_service.registry.models")
    now = clock.now()

    def patient(name, runway, tier, devices, backups):
        p = registry.Patient(name=name, phone_e164="+819000000099", phone_kind="mobile", region_code="1301",
                             primary_org_id=world["clinic"].id, runway_hours=runway, runway_tier=tier,
                             runway_explain="", created_at=now, updated_at=now, consent_scope=[],
                             status="active", evacuation_plan_status="none")
        p.devices = [registry.PatientDevice(kind=k, mode=m, position=i) for i, (k, m) in enumerate(devices)]
        p.backups = [registry.PatientBackup(kind=k, count=c, position=i) for i, (k, c) in enumerate(backups)]
        session.add(p)

    patient("試験 酸素", 2.0, "red", [("oxygen_concentrator", None)], [])
    patient("試験 呼吸器長", 30.0, "green", [("ventilator", "NPPV")], [("power_station", 1)])
    patient("試験 呼吸器短", 5.0, "red", [("ventilator", "TPPV"), ("suction", None)], [("external_battery", 2)])
    patient("試験 吸引のみ", 1.0, "red", [("suction", None)], [])
    session.commit()
    plan = new_kikan(session, world, clock)
    table = versions.answers_of(versions.current_version(plan))["patient_priority"]["priority_patients"]
    assert [r["name"] for r in table] == ["試験 呼吸器短", "試験 呼吸器長", "試験 酸素", "試験 吸引のみ"]
    assert table[0]["rank"] == 1 and table[0]["runway_hours"] == 5.0 and table[0]["tier"] == "red"
    assert "×2" in table[0]["backup"] and "TPPV" in table[0]["devices"]
    summary = versions.answers_of(versions.current_version(plan))["device_power"]["device_summary"]
    vent = next(r for r in summary if r["patients"] == 2)
    assert vent["with_backup"] == 2 and vent["without_backup"] == 0


def test_upgrade_a_v1_draft_to_v2_carries_answers_and_flags_new_required(session, world, clock):
    plan = new_kikan(session, world, clock)
    version = versions.current_version(plan)
    version.template_version = 1        # a plan started before template v2 was published
    session.commit()
    authoring.save_section(session, world["doctor"], plan.id, "risks", {"risk_notes": "停電は3日続く想定"}, now=clock.now())
    authoring.save_section(session, world["doctor"], plan.id, "policy", {"leader": "院長"}, now=clock.now())
    plan, report = authoring.upgrade_draft(session, world["doctor"], plan.id, now=clock.now())
    session.commit()
    answers = versions.answers_of(versions.current_version(plan))
    assert answers["risks"] == {"hazard_effects": "停電は3日続く想定"} and answers["policy"]["leader"] == "院長"
    assert report["moved"] == {"risks.hazard_effects": "risks.risk_notes"}
    assert "family_teaching.teaching_items" in report["new_required"]
    assert versions.current_version(plan).template_version == 3
    with pytest.raises(Conflict):
        authoring.upgrade_draft(session, world["doctor"], plan.id, now=clock.now())


def test_review_reminders_reach_owners_once_per_slot(session, world, clock):
    plan = new_kikan(session, world, clock)
    fill_required(session, world["doctor"], plan, clock)
    workflow.submit(session, world["doctor"], plan.id, now=clock.now())
    workflow.approve(session, world["hub"], plan.id, now=clock.now())
    session.commit()
    assert review.send_due_reminders(session, now=clock.now()).reminders == 0   # nothing due yet
    clock.set(datetime(2027, 5, 1, 0, 5, tzinfo=timezone.utc))
    run = review.send_due_reminders(session, now=clock.now())
    session.commit()
    assert run.plans == 1 and run.reminders == 1
    (rem,) = session.scalars(select(PlanReminder)).all()
    assert rem.user_id == world["doctor"].user_id and rem.kind == "due_soon" and "あと30日" in rem.message
    if importlib.util.find_spec("bcp_service.messaging.outbox") is not None:
        from bcp_service.messaging import outbox   # the doctor has a mobile: an SMS is queued too

        assert rem.channel == "outbox"
        assert outbox.get_by_key(session, rem.key).body.startswith("【BCP見直し】")
    else:
        assert rem.channel == "in_app"
    assert review.send_due_reminders(session, now=clock.now()).reminders == 0   # same slot: nothing again
    clock.set(datetime(2027, 6, 8, 0, 0, tzinfo=timezone.utc))
    review.send_due_reminders(session, now=clock.now())
    session.commit()
    kinds = [r.kind for r in session.scalars(select(PlanReminder).order_by(PlanReminder.id))]
    assert kinds == ["due_soon", "overdue"]
    assert session.get(Plan, plan.id).next_reminder_at == datetime(2027, 6, 14, 0, 0, tzinfo=timezone.utc)


def test_evidence_pack_holds_plan_history_and_review_date(session, world, clock):
    plan = new_kikan(session, world, clock)
    fill_required(session, world["doctor"], plan, clock)
    workflow.submit(session, world["doctor"], plan.id, now=clock.now())
    workflow.approve(session, world["hub"], plan.id, now=clock.now())
    session.commit()
    name, data = review.evidence_pack(session, world["hub"], plan.id)
    z = zipfile.ZipFile(io.BytesIO(data))
    names = z.namelist()
    assert "00_概要.md" in names and "01_計画書_第1版.docx" in names and "04_承認履歴.csv" in names
    summary = z.read("00_概要.md").decode()
    assert "次回見直し期限: 2027年5月31日" in summary and "第1版（テンプレート v3）: 承認済み" in summary
    history = z.read("04_承認履歴.csv").decode("utf-8-sig")
    assert "提出" in history and "承認" in history
    doc = Document(io.BytesIO(z.read("01_計画書_第1版.docx")))
    assert any(p.text == "患者優先度リスト" for p in doc.paragraphs)


def test_evidence_pack_lists_drills_that_exercised_the_plan(session, world, clock):
    drills = pytest.importorskip("bcp_service.drills.models")
    plan = new_kikan(session, world, clock)
    for title, plan_ids in (("停電想定の机上訓練", [plan.id]), ("別の計画の訓練", [plan.id + 100])):
        session.add(drills.Drill(title=title, scenario_key="blackout_72h", mode="tabletop", status="completed",
                                 region_code="1301", scheduled_at=clock.now() - timedelta(days=30),
                                 objectives=[], plan_ids=plan_ids, created_at=clock.now()))
    session.commit()
    _, data = review.evidence_pack(session, world["hub"], plan.id)
    summary = zipfile.ZipFile(io.BytesIO(data)).read("00_概要.md").decode()
    assert "停電想定の机上訓練（tabletop、completed）" in summary and "別の計画の訓練" not in summary

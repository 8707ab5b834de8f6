"""搬送計画 auto-fill from the registry, and the upgrade of an existing plan to the template with it."""
import pytest

from bcp_service.plans import authoring, versions

from .test_plans_service import new_kikan, world  # noqa: F401 - the fixture is reused


def _patients(session, world, clock):
    registry = pytest.importorskip("bcp_service.registry.models")
    now = clock.now()

    def patient(name, tier, devices, need, facility, org):
        p = registry.Patient(name=name, phone_e164="+819000000098", phone_kind="mobile", region_code="1301",
                             primary_org_id=org.id, runway_hours=3.0 if tier == "red" else 40.0, runway_tier=tier,
                             runway_explain="", created_at=now, updated_at=now, consent_scope=[], status="active",
                             evacuation_plan_status="none", transport_needs=need,
                             designated_facility_id=facility.id if facility else None)
        p.devices = [registry.PatientDevice(kind=k, position=i) for i, k in enumerate(devices)]
        session.add(p)

    patient("試験 酸素", "yellow", ["oxygen_concentrator"], "wheelchair", None, world["clinic"])
    patient("試験 呼吸器", "red", ["ventilator"], "stretcher", world["hospital"], world["clinic"])
    patient("試験 他院", "red", ["ventilator"], "stretcher", world["hospital"], world["other"])
    session.commit()


def test_kikan_transport_section_is_prefilled_with_patients_and_destinations(session, world, clock):
    _patients(session, world, clock)
    plan = new_kikan(session, world, clock)
    t = versions.answers_of(versions.current_version(plan))["transport"]
    assert [r["name"] for r in t["transport_patients"]] == ["試験 呼吸器", "試験 酸素"]
    assert t["transport_patients"][0]["transport_needs"] == "ストレッチャー"
    assert t["transport_patients"][0]["designated_facility"] == "試験総合病院"
    assert t["transport_patients"][1]["designated_facility"] == "未指定"
    (dest,) = t["designated_facilities"]
    assert dest == {"name": "試験総合病院", "patients": 1, "has_generator": "あり", "accepts_ventilator": "あり",
                    "ventilator_beds": 4}


def test_chiiki_transport_counts_by_need_and_tier_without_names(session, world, clock):
    _patients(session, world, clock)
    plan = authoring.create_plan(session, world["hub"], authoring.NewPlan("chiiki", "区中央部 地域BCP",
                                                                          region_code="1301"), now=clock.now())
    session.commit()
    t = versions.answers_of(versions.current_version(plan))["transport"]
    assert t["transport_counts"] == [
        {"transport_needs": "ストレッチャー", "red": 2, "yellow": 0, "green": 0, "total": 2},
        {"transport_needs": "車いす", "red": 0, "yellow": 1, "green": 0, "total": 1}]
    assert t["designated_facilities"][0]["patients"] == 2
    assert "試験" not in str(t["transport_counts"])


def test_upgrading_a_v2_draft_keeps_every_answer_and_fills_the_transport_section(session, world, clock):
    _patients(session, world, clock)
    plan = new_kikan(session, world, clock)
    version = versions.current_version(plan)
    version.template_version = 2
    version.answers[:] = [a for a in version.answers if a.section_key != "transport"]
    session.commit()
    authoring.save_section(session, world["doctor"], plan.id, "policy",
                           {"basic_policy": "命を守る", "leader": "院長 試験 太郎", "deputy": "看護師 試験 花子"},
                           now=clock.now())
    authoring.save_section(session, world["doctor"], plan.id, "activation",
                           {"criteria": "震度5強以上", "command_post": "診察室",
                            "stages": [{"stage": "1", "staff_out": "1割", "strategy": "通常"}]}, now=clock.now())
    session.commit()
    before = versions.answers_of(versions.current_version(plan))
    plan, report = authoring.upgrade_draft(session, world["doctor"], plan.id, now=clock.now())
    session.commit()
    after = versions.answers_of(versions.current_version(plan))
    for sk, fields in before.items():
        for fk, value in fields.items():
            assert after[sk][fk] == value, f"{sk}.{fk} lost"
    assert report["dropped"] == []
    assert "transport.transport_patients" in report["autofilled"]
    assert after["transport"]["transport_patients"][0]["name"] == "試験 呼吸器"


def test_a_solo_clinic_submits_after_its_15_required_answers(session, world, clock):
    from bcp_service.plans import workflow

    from .plan_helpers import fill_required

    plan = new_kikan(session, world, clock)
    progress = versions.progress_of(plan)
    assert progress.required == 15
    fill_required(session, world["doctor"], plan, clock)
    answered = sum(len(v) for v in versions.answers_of(versions.current_version(plan)).values())
    workflow.submit(session, world["doctor"], plan.id, now=clock.now())
    session.commit()
    assert plan.status == "in_review"
    assert answered < 30       # the rest stayed optional
    hospital_plan = authoring.create_plan(session, world["hub"], authoring.NewPlan(
        "kikan", "試験総合病院 機関型BCP", organization_id=world["hospital"].id), now=clock.now())
    assert versions.progress_of(hospital_plan).required > 30

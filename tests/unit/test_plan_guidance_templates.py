"""Issue 16: the templates against the outline in DOMAIN.md, the 搬送計画 section, and upgrades that keep
every answer."""
import pytest

from bcp_service.plans.templates import PLAN_TYPES, TemplateLibrary
from bcp_service.plans.upgrade import upgrade_through

from ..integration.plan_helpers import minimal_answers

LIB = TemplateLibrary.load()

# Sections each type must have (DOMAIN.md "The three BCP types" and the 在宅医療 additions).
OUTLINE = {
    "kikan": {"policy", "risks", "priority_work", "training", "building", "utilities", "stockpiles", "activation",
              "safety_checks", "continuity", "recovery", "partners", "community", "patient_priority",
              "device_power", "medicines", "records", "family_teaching", "transport"},
    "renkei": {"members", "agreement", "contact_tree", "information", "activation", "drills", "review", "transport"},
    "chiiki": {"area", "agencies", "resources", "vulnerable", "activation", "drills", "review", "transport"},
}


def all_answers(template) -> dict:
    """A value for every field (required or not), as a person would have written it."""
    out: dict = {}
    for s in template.sections:
        for f in s.fields:
            if f.type in ("choice", "checklist"):
                v = f.options[-1].value
                v = [o.value for o in f.options] if f.type == "checklist" else v
            elif f.type == "table":
                v = [{c.key: (1 if c.type == "number" else "2026-04-01" if c.type == "date" else
                              c.options[0].value if c.type == "choice" else "試験の行") for c in f.columns}]
            elif f.type == "contact_list":
                v = [{"name": "試験 太郎", "role": "院長", "phone": "090-0000-0001"}]
            elif f.type == "number":
                v = f.max if f.max is not None else 3
            elif f.type == "date":
                v = "2027-05-31"
            else:
                v = f"試験の記入（{f.key}）"
            out.setdefault(s.key, {})[f.key] = v
    return out


@pytest.mark.parametrize("plan_type", PLAN_TYPES)
def test_every_outline_section_exists_in_each_type(plan_type):
    keys = {s.key for s in LIB.current(plan_type).sections}
    assert OUTLINE[plan_type] <= keys, OUTLINE[plan_type] - keys


@pytest.mark.parametrize("plan_type", PLAN_TYPES)
def test_transport_section_has_destinations_means_arranger_and_what_travels(plan_type):
    sec = LIB.current(plan_type).section("transport")
    assert sec.title == "搬送計画"
    dest = sec.field("designated_facilities")
    assert dest.binding == "registry.designated_facilities" and dest.required
    assert {"has_generator", "ventilator_beds"} <= {c.key for c in dest.columns}
    assert sec.field("means").required and sec.field("arranger").required
    carry = {o.value for o in sec.field("carry_items").options}
    assert {"manual_resuscitator", "spare_batteries", "suction"} <= carry
    who = sec.field("transport_patients") or sec.field("transport_counts")
    assert who.binding in ("registry.transport_patients", "registry.transport_counts")
    if plan_type != "kikan":   # shared plans carry counts, never names
        assert who.binding == "registry.transport_counts"


@pytest.mark.parametrize("plan_type", PLAN_TYPES)
def test_upgrading_every_older_version_keeps_every_answer(plan_type):
    versions = LIB.versions(plan_type)
    assert len(versions) >= 2, "the transport section came with a version bump"
    new = LIB.current(plan_type)
    for v in versions[:-1]:
        old = LIB.get(plan_type, v)
        answers = all_answers(old)
        steps = [LIB.get(plan_type, n) for n in versions if v <= n]
        r = upgrade_through(answers, steps)
        assert r.dropped == [], [(d.section_key, d.field_key, d.reason) for d in r.dropped]
        carried = sum(len(f) for f in r.answers.values())
        assert carried == sum(len(f) for f in answers.values())
        assert "transport.means" in r.new_required
        assert new.version == steps[-1].version


def test_v1_plan_moved_straight_to_the_current_version_follows_the_v1_rename():
    r = upgrade_through({"risks": {"risk_notes": "停電は3日"}, "policy": {"leader": "院長"}},
                        [LIB.get("kikan", n) for n in LIB.versions("kikan")])
    assert r.answers["risks"] == {"hazard_effects": "停電は3日"}
    assert r.moved == {"risks.hazard_effects": "risks.risk_notes"}
    assert "policy.leader" not in r.new_required


@pytest.mark.parametrize("plan_type", PLAN_TYPES)
def test_minimal_answers_of_the_old_version_survive_the_upgrade_unchanged(plan_type):
    old = LIB.get(plan_type, LIB.versions(plan_type)[-2])
    answers = minimal_answers(old)
    r = upgrade_through(answers, [old, LIB.current(plan_type)])
    for sk, fields in answers.items():
        for fk, value in fields.items():
            assert r.answers[sk][fk] == value or (isinstance(value, list) and r.answers[sk][fk])


SOLO_CLINIC_MAX_REQUIRED = 15


def test_solo_clinic_path_needs_at_most_15_required_answers():
    t = LIB.current("kikan")
    clinic = t.for_kind("clinic")
    assert clinic.required_count <= SOLO_CLINIC_MAX_REQUIRED
    assert clinic.required_count == 15
    assert t.for_kind("hospital").required_count == t.required_count > 30
    # what a solo clinic must still answer: who decides, the doctor-incapacitated trigger, 行動基準,
    # a disaster during a visit, the patient priority list and the transport plan
    must = {f"{s.key}.{f.key}" for s in clinic.sections for f in s.fields if f.required}
    assert {"policy.leader", "activation.sole_doctor_trigger", "activation.handover_partner", "action_rules.rules",
            "home_visits.during_visit", "patient_priority.priority_patients", "transport.means"} <= must


def test_kikan_staging_uses_three_axes_and_covers_home_visits():
    t = LIB.current("kikan")
    stages = {c.key for c in t.section("activation").field("stages").columns}
    assert {"staff_out", "space", "travel", "strategy"} <= stages
    assert t.section("action_rules").title == "行動基準"
    visits = t.section("home_visits")
    assert visits.field("forecast_actions").required and visits.field("during_visit").required


def test_optional_for_must_name_a_known_kind_on_a_required_field():
    import copy

    import yaml

    from bcp_service.plans.templates import DEFAULT_DIR, TemplateError, _schema, parse_template

    data = yaml.safe_load((DEFAULT_DIR / "kikan.yaml").read_text(encoding="utf-8"))
    bad = copy.deepcopy(data)
    bad["sections"][0]["fields"][0]["optional_for"] = ["castle"]
    bad["sections"][0]["fields"][0]["required"] = True
    with pytest.raises(TemplateError, match="unknown organisation kind 'castle'"):
        parse_template(bad, schema=_schema(DEFAULT_DIR))
    bad = copy.deepcopy(data)
    f = next(f for sec in bad["sections"] for f in sec["fields"] if not f.get("required"))
    f["optional_for"] = ["clinic"]
    with pytest.raises(TemplateError, match="only a required field"):
        parse_template(bad, schema=_schema(DEFAULT_DIR))

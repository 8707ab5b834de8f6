from hypothesis import given, strategies as st

from bcp_service.plans.completeness import plan_progress, section_progress
from bcp_service.plans.templates import TemplateLibrary

LIB = TemplateLibrary.load()
T = LIB.current("kikan")


def test_empty_plan_is_zero_and_lists_every_required_field():
    p = plan_progress(T, {})
    assert p.ratio == 0 and p.filled == 0 and p.required == T.required_count == 45
    assert p.section("policy").missing == ("basic_policy", "leader", "deputy", "staff_contacts")
    assert plan_progress(T.for_kind("clinic"), {}).required == 15


def test_optional_fields_do_not_move_completeness_but_count_as_started():
    s = section_progress(T.section("risks"), {"hazard_effects": "停電が3日続く"})
    assert s.filled == 0 and s.answered == 1 and s.ratio == 0


def test_section_ratio_counts_required_fields_filled():
    s = section_progress(T.section("policy"), {"basic_policy": "命を守る", "leader": "院長"})
    assert (s.filled, s.required, s.ratio) == (2, 4, 0.5)
    assert s.missing_labels == ("代行者（職名・氏名）", "職員連絡先")


def test_overall_ratio_is_weighted_by_fields():
    answers = {"policy": {"basic_policy": "a", "leader": "b", "deputy": "c",
                          "staff_contacts": [{"name": "試験 花子", "phone": "090-0000-0002"}]}}
    p = plan_progress(T, answers)
    assert p.section("policy").complete
    assert p.ratio == round(4 / 45, 3)
    assert not p.complete


def test_blank_table_rows_do_not_count():
    s = section_progress(T.section("priority_work"), {"priority_tasks": [{"task": ""}]})
    assert s.filled == 0


@given(st.sets(st.sampled_from([(s.key, f.key) for s in T.sections for f in s.fields if f.type == "long_text"])))
def test_ratio_stays_between_zero_and_one_and_grows_with_answers(keys):
    answers: dict = {}
    previous = 0.0
    for sk, fk in sorted(keys):
        answers.setdefault(sk, {})[fk] = "記入済み"
        r = plan_progress(T, answers).ratio
        assert previous <= r <= 1.0
        previous = r


def test_every_type_reaches_one_when_all_required_fields_are_filled():
    sample = {"text": "試験", "long_text": "試験の内容", "date": "2027-04-01", "number": 1,
              "table": [{"x": "1"}], "contact_list": [{"name": "試験 太郎", "phone": "090-0000-0003"}]}
    for t in ("kikan", "renkei", "chiiki"):
        tpl = LIB.current(t)
        answers: dict = {}
        for s in tpl.sections:
            for f in s.fields:
                if f.required:
                    v = sample.get(f.type) or ([f.options[0].value] if f.type == "checklist" else f.options[0].value)
                    answers.setdefault(s.key, {})[f.key] = v
        p = plan_progress(tpl, answers)
        assert p.complete and p.ratio == 1.0, t

from bcp_service.plans.autofill import SOURCE_AUTOFILL, SOURCE_PERSON, Stored, decide, source_after_edit
from bcp_service.plans.diff import diff_answers
from bcp_service.plans.templates import TemplateLibrary
from bcp_service.plans.upgrade import upgrade_answers

LIB = TemplateLibrary.load()
V1, V2 = LIB.get("kikan", 1), LIB.get("kikan", 2)


def test_diff_reports_added_removed_and_changed_in_template_order():
    old = {"policy": {"leader": "院長", "deputy": "看護師長"}, "risks": {"hazards": ["earthquake"]}}
    new = {"policy": {"leader": "副院長", "basic_policy": "命を守る"}, "risks": {"hazards": ["earthquake", "blackout"]}}
    changes = diff_answers(old, new, old_template=V2, new_template=V2)
    assert [(c.field_key, c.kind) for c in changes] == [
        ("basic_policy", "added"), ("leader", "changed"), ("deputy", "removed"), ("hazards", "changed")]
    assert changes[-1].summary == "追加 1件、解除 0件"
    assert changes[1].label == "BCP責任者（職名・氏名）"


def test_diff_summarises_table_rows():
    old = {"stockpiles": {"stock_table": [{"item": "水"}, {"item": "電池"}]}}
    new = {"stockpiles": {"stock_table": [{"item": "水"}, {"item": "吸引カテーテル"}, {"item": "発電機燃料"}]}}
    (c,) = diff_answers(old, new, old_template=V2, new_template=V2)
    assert c.summary == "2行追加、1行削除"


def test_identical_answers_have_no_diff():
    a = {"policy": {"leader": "院長"}}
    assert diff_answers(a, a, old_template=V1, new_template=V2) == []


def test_upgrade_carries_by_key_follows_renames_and_flags_new_required():
    answers = {"policy": {"leader": "院長"}, "risks": {"risk_notes": "停電は3日"}}
    r = upgrade_answers(answers, old=V1, new=V2)
    assert r.answers == {"policy": {"leader": "院長"}, "risks": {"hazard_effects": "停電は3日"}}
    assert r.moved == {"risks.hazard_effects": "risks.risk_notes"}
    assert "family_teaching.teaching_items" in r.new_required
    assert "policy.leader" not in r.new_required
    assert r.dropped == []


def test_upgrade_reports_values_that_no_longer_fit_instead_of_losing_them_silently():
    answers = {"risks": {"hazard_map_checked": "someday"}, "gone": {"x": "y"}}
    r = upgrade_answers(answers, old=V1, new=V2)
    assert {(d.section_key, d.field_key) for d in r.dropped} == {("risks", "hazard_map_checked"), ("gone", "x")}
    assert "risks" not in r.answers


def test_autofill_fills_empty_and_refreshes_untouched_fields():
    assert decide(None, [{"name": "a"}]).write_value
    untouched = Stored([{"name": "a"}], SOURCE_AUTOFILL, [{"name": "a"}])
    assert decide(untouched, [{"name": "b"}]).outcome == "refreshed"


def test_autofill_never_replaces_what_a_person_wrote_unless_asked():
    edited = Stored([{"name": "手で直した"}], SOURCE_PERSON, [{"name": "a"}])
    d = decide(edited, [{"name": "b"}])
    assert (d.outcome, d.write_value) == ("kept_manual", False)
    assert decide(edited, [{"name": "b"}], overwrite=True).write_value
    assert decide(edited, [{"name": "手で直した"}]).outcome == "unchanged"


def test_saving_an_untouched_autofilled_table_keeps_it_autofill():
    stored = Stored([{"name": "a"}], SOURCE_AUTOFILL, [{"name": "a"}])
    assert source_after_edit(stored, [{"name": "a"}]) == SOURCE_AUTOFILL
    assert source_after_edit(stored, [{"name": "a2"}]) == SOURCE_PERSON
    assert source_after_edit(None, "x") == SOURCE_PERSON

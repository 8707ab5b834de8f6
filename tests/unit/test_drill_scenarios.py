"""The scenario library in drills/ validates, and broken files are rejected with a useful message."""
import copy
import shutil
from pathlib import Path

import pytest
import yaml

from bcp_service.drills.scenarios import (
    DEFAULT_DIR, ScenarioError, load_library, load_schema, parse_scenario,
)

REQUIRED_TITLES = {
    "大規模停電（72時間）",
    "地震（震度6強・ライフライン途絶）",
    "台風・浸水による長期停電",
    "計画停電",
}


@pytest.fixture(scope="module")
def schema():
    return load_schema()


@pytest.fixture
def blackout():
    return yaml.safe_load((DEFAULT_DIR / "blackout_72h.yaml").read_text(encoding="utf-8"))


def test_library_contains_the_four_required_scenarios():
    titles = {s.title for s in load_library().values()}
    assert REQUIRED_TITLES <= titles


def test_every_scenario_has_timed_injects_objectives_with_plan_sections_and_metrics():
    for key, sc in load_library().items():
        assert sc.injects and sc.objectives and sc.metrics, key
        assert all(i.expected_actions and i.to for i in sc.injects), key
        assert any(o.plan_sections for o in sc.objectives), key
        assert [i.at_minutes for i in sc.injects] == sorted(i.at_minutes for i in sc.injects)
        assert "【訓練】" in sc.cause, key


def test_missing_required_field_names_the_file_and_field(schema, blackout):
    del blackout["injects"][1]["expected_actions"]
    with pytest.raises(ScenarioError, match=r"blackout_72h: injects/1: 'expected_actions' is a required"):
        parse_scenario("blackout_72h", blackout, schema)


def test_unknown_metric_is_rejected(schema, blackout):
    blackout["metrics"].append("time_to_99")
    with pytest.raises(ScenarioError, match="metrics"):
        parse_scenario("blackout_72h", blackout, schema)


def test_unknown_plan_type_is_rejected(schema, blackout):
    blackout["objectives"][0]["plan_sections"][0]["plan_type"] = "hospital"
    with pytest.raises(ScenarioError, match="plan_type"):
        parse_scenario("blackout_72h", blackout, schema)


def test_injects_out_of_time_order_are_rejected(schema, blackout):
    blackout["injects"][0]["at_minutes"], blackout["injects"][1]["at_minutes"] = 200, 100
    with pytest.raises(ScenarioError, match="time order"):
        parse_scenario("blackout_72h", blackout, schema)


def test_inject_after_the_end_of_the_scenario_is_rejected(schema, blackout):
    blackout["injects"][-1]["at_minutes"] = 72 * 60 + 1
    with pytest.raises(ScenarioError, match="after the end"):
        parse_scenario("blackout_72h", blackout, schema)


def test_duplicate_inject_ids_are_rejected(schema, blackout):
    blackout["injects"][1]["id"] = blackout["injects"][0]["id"]
    with pytest.raises(ScenarioError, match="duplicate id"):
        parse_scenario("blackout_72h", blackout, schema)


def test_duplicate_objective_keys_are_rejected(schema, blackout):
    blackout["objectives"].append(copy.deepcopy(blackout["objectives"][0]))
    with pytest.raises(ScenarioError, match="duplicate key"):
        parse_scenario("blackout_72h", blackout, schema)


def test_a_broken_yaml_file_stops_loading_of_the_library(tmp_path: Path):
    shutil.copy(DEFAULT_DIR / "scenario.schema.json", tmp_path)
    shutil.copy(DEFAULT_DIR / "planned_outage.yaml", tmp_path)
    (tmp_path / "broken.yaml").write_text("title: [unclosed\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="broken.yaml"):
        load_library(tmp_path)


def test_an_empty_directory_is_an_error(tmp_path: Path):
    shutil.copy(DEFAULT_DIR / "scenario.schema.json", tmp_path)
    with pytest.raises(ScenarioError, match="no scenario files"):
        load_library(tmp_path)


def test_a_valid_copy_in_another_folder_loads_by_file_stem(tmp_path: Path):
    shutil.copy(DEFAULT_DIR / "scenario.schema.json", tmp_path)
    shutil.copy(DEFAULT_DIR / "planned_outage.yaml", tmp_path / "my_drill.yaml")
    assert list(load_library(tmp_path)) == ["my_drill"]


def test_every_objective_links_to_a_section_that_exists_in_the_current_plan_templates():
    from bcp_service.plans.templates import TemplateLibrary

    templates = TemplateLibrary.load()
    for key, sc in load_library().items():
        for obj in sc.objectives:
            for ref in obj.plan_sections:
                assert templates.current(ref.plan_type).section(ref.section_key) is not None, (key, ref)


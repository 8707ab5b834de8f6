"""HSEEP: objectives mapped to core capabilities and critical tasks, several evaluators merged on the AAR,
mode names (functional → drill)."""
from bcp_service.drills.evaluation import MODES, normalise_mode
from bcp_service.drills.report import Observation, capability_rows, merge_observations
from bcp_service.drills.scenarios import load_library


def test_every_scenario_objective_maps_to_core_capabilities_and_critical_tasks():
    for scenario in load_library().values():
        for o in scenario.objectives:
            assert o.core_capabilities and o.critical_tasks, (scenario.key, o.key)
    cap = load_library()["blackout_72h"].objectives[0].core_capabilities
    assert "公衆衛生・医療（Public Health, Healthcare, and EMS）" in cap


def test_several_evaluators_are_merged_and_each_observation_is_kept():
    o = merge_observations("3時間以内に全員の安否確認", [
        Observation("試験 太郎", "P", strengths="SMSが速い"),
        Observation("試験 花子", "M", improvements="固定電話の世帯に届かない", root_cause="音声の手順なし")],
        capabilities=("運用上の通信",), critical_tasks=("全員へ送る",))
    assert o.rating == "M" and len(o.observations) == 2
    assert o.improvements == "試験 花子: 固定電話の世帯に届かない" and o.strengths == "試験 太郎: SMSが速い"
    assert capability_rows([o]) == [("運用上の通信", "試験 太郎: SMSが速い", "試験 花子: 固定電話の世帯に届かない")]
    assert merge_observations("x", []).rating is None


def test_modes_use_hseep_names_and_functional_is_an_alias_of_drill():
    assert MODES == ("tabletop", "drill")
    assert normalise_mode("functional") == "drill" and normalise_mode("tabletop") == "tabletop"

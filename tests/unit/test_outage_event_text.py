"""The outage timeline reads in the desk's words, not in API keys."""
from bcp_service.outages.report import DETAIL_LABELS, detail_text


def test_details_are_labelled_in_japanese_with_values_translated_and_empties_left_out():
    text = detail_text({"affected": 20000, "messaged": 19950, "drill": False, "area_kind": "circle",
                        "without_coordinates": 3, "covered_by_other_outage": 0, "reason": None})
    assert text == "対象=20000、連絡=19950、訓練=なし、範囲=中心と半径、座標なし（市区町村で判定）=3、他の停電で連絡中=0"
    assert detail_text({"answer": "needs_help", "channel": "tap"}) == "回答=至急支援、経路=ワンタップ"
    assert detail_text({"status": "en_route", "via": "one_tap"}) == "状態=搬送中、操作=ワンタップ"
    assert detail_text({"something_new": "x"}) == "something_new=x"      # an unlabelled key still shows


def test_every_detail_key_the_services_record_has_a_label():
    import re
    from pathlib import Path

    package = Path(__file__).resolve().parents[2] / "bcp_service" / "outages"
    src = "".join(p.read_text() for p in package.glob("*.py"))
    calls = re.findall(r"event\(session,(.*?)\)\n", src, re.S)
    keys = {k for call in calls for k in re.findall(r"\b([a-z_]+)=", call)} - {"at", "patient_id", "actor_user_id"}
    assert keys and keys <= set(DETAIL_LABELS), sorted(keys - set(DETAIL_LABELS))

"""Message texts from alerts/: segment arithmetic and per-template budgets (pure)."""

import pytest

from bcp_service.messaging import texts
from bcp_service.messaging.texts import render, render_voice, segment_info, segments


def test_ucs2_single_segment_holds_70_characters():
    assert segments("あ" * 70) == 1
    assert segments("あ" * 71) == 2


def test_ucs2_multipart_carries_67_characters_a_part():
    assert segments("あ" * 134) == 2
    assert segments("あ" * 135) == 3


def test_gsm7_text_gets_160_and_153():
    assert segment_info("a" * 160) == texts.SegmentInfo("GSM-7", 160, 1)
    assert segments("a" * 161) == 2
    assert segments("a" * 306) == 2 and segments("a" * 307) == 3


def test_one_japanese_character_turns_a_message_into_ucs2():
    assert segment_info("a" * 69 + "停").encoding == "UCS-2"
    assert segments("a" * 70 + "停") == 2


def test_characters_outside_the_bmp_take_two_units():
    assert segment_info("𠮷" * 35).units == 70 and segments("𠮷" * 36) == 2


@pytest.mark.parametrize("row", texts.budget_report(), ids=lambda r: f"{r[0]}-{r[1]}-{'drill' if r[2] else 'live'}")
def test_every_template_fits_its_segment_budget_with_worst_case_values(row):
    key, lang, drill, used, budget = row
    assert used <= budget, f"{key}/{lang} drill={drill} uses {used} segments, budget {budget}"


def test_budget_check_fails_for_an_overlong_template():
    cat = texts.Catalogue(templates={"x": {"segments": 1, "ja": "あ" * 71, "en": "ok"}}, voice={},
                          budget_context={})
    assert any(used > budget for _, _, _, used, budget in texts.budget_report(cat))


def test_drill_variants_carry_the_drill_mark_and_live_ones_do_not():
    ctx = texts.load_catalogue().budget_context
    for key in texts.load_catalogue().templates:
        assert render(key, ctx, drill=True).startswith("【訓練】")
        assert "【訓練】" not in render(key, ctx)
    assert render_voice("checkin", ctx, drill=True).startswith("これは訓練です。")


def test_checkin_text_names_the_three_answers_and_the_link():
    ctx = dict(texts.load_catalogue().budget_context, link="https://x.example/r/T")
    body = render("checkin", ctx)
    for part in ("1問題なし", "2バッテリー残りわずか", "3至急支援・搬送", "https://x.example/r/T"):
        assert part in body
    assert "  " not in body and "。 " not in body.replace("。 https://", "")
    assert " https://x.example/r/T" in body     # phones linkify only a link that stands apart


def test_missing_context_variable_is_an_error_not_a_blank():
    with pytest.raises(Exception):
        render("checkin", {"hub_name": "拠点"})


def test_every_template_exists_in_japanese_and_english():
    for key, spec in texts.load_catalogue().templates.items():
        assert spec.get("ja") and spec.get("en"), key

"""Reply parsing: SMS bodies, DTMF digits and roll-call answers (pure)."""

import pytest
from hypothesis import given, strategies as st

from bcp_service.messaging.replies import (
    Reply, load_vocabulary, parse_digit, parse_reply, parse_rollcall_reply, vocabulary_from_dict,
)


@pytest.mark.parametrize("text, answer", [
    ("1", "ok"), ("１", "ok"), (" 1 ", "ok"), ("1です", "ok"), ("はい", "ok"), ("大丈夫です", "ok"),
    ("だいじょうぶ！", "ok"), ("問題なし", "ok"), ("OK", "ok"), ("ｏｋ", "ok"),
    ("2", "low_battery"), ("２", "low_battery"), ("電池があと少し", "low_battery"),
    ("バッテリー残りわずか", "low_battery"), ("ﾊﾞｯﾃﾘｰ", "low_battery"),
    ("3", "needs_help"), ("３", "needs_help"), ("助けて", "needs_help"), ("搬送お願いします", "needs_help"),
    ("至急", "needs_help"), ("SOS", "needs_help"),
])
def test_answers_are_recognised_in_ascii_fullwidth_and_japanese(text, answer):
    assert parse_reply(text) == Reply("answer", answer)


def test_most_severe_answer_wins_when_several_are_given():
    assert parse_reply("1 でも電池が心配").answer == "low_battery"
    assert parse_reply("大丈夫、でも搬送して").answer == "needs_help"


@pytest.mark.parametrize("text", ["大丈夫じゃない", "大丈夫ではないです", "だいじょうぶじゃない"])
def test_negated_ok_word_escalates_instead_of_reading_as_ok(text):
    assert parse_reply(text).answer == "needs_help"


@pytest.mark.parametrize("text", ["10時に電話ください", "123", "token", "", "   ", "よろしく"])
def test_numbers_and_unrelated_words_are_not_answers(text):
    assert parse_reply(text).kind == "unknown"


@pytest.mark.parametrize("text", ["STOP", "stop", "ＳＴＯＰ", "停止", "配信停止。", "ストップ", "Unsubscribe"])
def test_whole_body_stop_words_opt_out(text):
    assert parse_reply(text).kind == "opt_out"


@pytest.mark.parametrize("text", ["START", "開始", "再開", "配信再開"])
def test_whole_body_start_words_opt_in(text):
    assert parse_reply(text).kind == "opt_in"


def test_stop_inside_a_sentence_is_not_an_opt_out():
    assert parse_reply("停止しないで、助けて").kind == "answer"


def test_yes_is_an_answer_not_an_opt_in():
    assert parse_reply("YES") == Reply("answer", "ok")


@pytest.mark.parametrize("digits, answer", [("1", "ok"), ("2", "low_battery"), ("3", "needs_help"),
                                            ("３", "needs_help"), ("4", None), ("", None), (None, None),
                                            ("12", None), ("*", None)])
def test_dtmf_and_form_digits(digits, answer):
    assert parse_digit(digits) == answer


@pytest.mark.parametrize("text, answer, eta", [
    ("1", "safe_available", None), ("1 30", "safe_available", 30), ("１ ２時間", "safe_available", 120),
    ("参集可能 45分", "safe_available", 45), ("2", "safe_unavailable", None), ("行けない", "safe_unavailable", None),
    ("3", "needs_help", None), ("けがをした", "needs_help", None), ("はて", None, None),
])
def test_rollcall_replies_with_eta(text, answer, eta):
    r = parse_rollcall_reply(text)
    assert (r.answer, r.eta_minutes) == (answer, eta)


def test_vocabulary_must_list_answers_in_severity_order():
    with pytest.raises(ValueError):
        vocabulary_from_dict({"answers": {"needs_help": {"digit": "3"}, "ok": {"digit": "1"},
                                          "low_battery": {"digit": "2"}}})


@given(st.text(max_size=40))
def test_parser_never_raises_and_always_decides(text):
    r = parse_reply(text, load_vocabulary())
    assert r.kind in ("answer", "opt_out", "opt_in", "unknown")
    assert (r.answer is not None) == (r.kind == "answer")


@pytest.mark.parametrize("text", ["2 あと3時間", "２　あと３時間", "2 残り1.5時間", "2 30分", "電池 あと3h", "2 3時間半"])
def test_hours_left_in_a_low_battery_reply_are_not_read_as_answer_3(text):
    assert parse_reply(text) == Reply("answer", "low_battery")


def test_a_lone_3_next_to_hours_still_counts():
    assert parse_reply("3 あと2時間").answer == "needs_help"

"""和暦 and the other ways Japanese forms write dates (bcp_service.dates, japanera for the eras)."""
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError

from bcp_service.dates import DateError, JaDate, parse_date, to_wareki, with_wareki


@pytest.mark.parametrize("text, expected", [
    ("昭和25年4月1日", date(1950, 4, 1)),
    ("S25.4.1", date(1950, 4, 1)),
    ("s25/4/1", date(1950, 4, 1)),
    ("Ｓ２５．４．１", date(1950, 4, 1)),
    ("令和8年4月1日", date(2026, 4, 1)),
    ("R8.4.1", date(2026, 4, 1)),
    ("平成元年1月8日", date(1989, 1, 8)),
    ("H1.1.8", date(1989, 1, 8)),
    ("昭和64年1月7日", date(1989, 1, 7)),
    ("令和元年5月1日", date(2019, 5, 1)),
    ("大正元年7月30日", date(1912, 7, 30)),
    ("2026-04-01", date(2026, 4, 1)),
    ("2026/4/1", date(2026, 4, 1)),
    ("2026年4月1日", date(2026, 4, 1)),
    ("20260401", date(2026, 4, 1)),
])
def test_parse(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize("text, needle", [
    ("平成31年5月1日", "平成31年4月30日まで"),   # 平成 ended on 4/30
    ("昭和65年1月1日", "存在しない"),
    ("X25.4.1", "元号"),
    ("2026-02-30", "存在しない"),
    ("平成0年1月1日", "元年"),
    ("きのう", "読めません"),
    ("", "入力"),
])
def test_refused_with_a_japanese_reason(text, needle):
    with pytest.raises(DateError) as e:
        parse_date(text)
    assert needle in str(e.value)


def test_shown_in_wareki():
    assert to_wareki(date(1950, 4, 1)) == "昭和25年4月1日"
    assert to_wareki(date(1989, 1, 8)) == "平成元年1月8日"
    assert to_wareki(date(2019, 4, 30)) == "平成31年4月30日"
    assert to_wareki(date(2019, 5, 1)) == "令和元年5月1日"
    assert to_wareki(None) == ""
    assert with_wareki(date(1950, 4, 1)) == "1950年4月1日（昭和25年）"


@given(st.dates(min_value=date(1873, 1, 1), max_value=date(2100, 12, 31)))
def test_wareki_round_trip(d):
    """Every date since the solar calendar's adoption reads back from its 和暦 and from its short form."""
    w = to_wareki(d)
    assert parse_date(w) == d
    era_head = {"明治": "M", "大正": "T", "昭和": "S", "平成": "H", "令和": "R"}[w[:2]]
    year = w[2:].split("年")[0].replace("元", "1")
    assert parse_date(f"{era_head}{year}.{d.month}.{d.day}") == d


def test_marshmallow_field_accepts_wareki_and_answers_iso():
    class S(Schema):
        born = JaDate(allow_none=True)

    assert S().load({"born": "昭和25年4月1日"}) == {"born": date(1950, 4, 1)}
    assert S().load({"born": "1950-04-01"}) == {"born": date(1950, 4, 1)}
    assert S().dump({"born": date(1950, 4, 1)}) == {"born": "1950-04-01"}
    with pytest.raises(ValidationError) as e:
        S().load({"born": "平成31年5月1日"})
    assert "平成31年4月30日まで" in e.value.messages["born"][0]

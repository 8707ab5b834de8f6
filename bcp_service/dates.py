"""Dates as Japanese forms write them: ISO (2026-04-01), 2026/4/1, 2026年4月1日 and 和暦
(昭和25年4月1日, 平成元年1月8日, S25.4.1, R8/4/1). The era arithmetic is japanera's; this module only
recognises how people type the parts. Pure functions, no Flask.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta
from functools import lru_cache

from japanera import EraDate, EraType
from japanera import japanera as _eras
from marshmallow import ValidationError, fields

# The modern eras, oldest first, as japanera knows them (明治 onward: the ones a living person's
# birth date or a document's date can be in).
_FIRST_MODERN = date(1868, 1, 1)   # 明治 begins in japanera's table in January 1868


class DateError(ValueError):
    pass


@lru_cache(maxsize=1)
def _modern_eras() -> tuple:
    eras = [e for e in _eras.ERA_DATA_GENERAL if e.era_type == EraType.GENERAL and e.since >= _FIRST_MODERN]
    return tuple(sorted(eras, key=lambda e: e.since))


def _era_by_token(token: str):
    """昭和 / S / s / Ｓ → japanera's Era, or None."""
    for era in _modern_eras():
        if token == era.kanji or token.upper() == era.english_head.upper():
            return era
    return None


_SEP = r"\s*[./\-年]\s*"
_WAREKI = re.compile(
    r"^(?P<era>[^\d\s元]{1,2})\s*(?P<year>\d{1,2}|元)" + _SEP + r"(?P<month>\d{1,2})"
    + r"\s*[./\-月]\s*" + r"(?P<day>\d{1,2})\s*日?$")
_SEIREKI = re.compile(r"^(?P<year>\d{4})\s*[./\-年]\s*(?P<month>\d{1,2})\s*[./\-月]\s*(?P<day>\d{1,2})\s*日?$")
_COMPACT = re.compile(r"^(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})$")


def _normalise(text: str) -> str:
    t = unicodedata.normalize("NFKC", text).strip()
    return t.replace("ー", "-").replace("−", "-").replace("‐", "-").replace("、", ".").replace("，", ".")


def parse_date(value) -> date:
    """A date from what a person typed or a spreadsheet held. Raises ``DateError`` (Japanese message)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if value is None or not str(value).strip():
        raise DateError("日付を入力してください")
    text = _normalise(str(value))
    if "T" in text and re.match(r"^\d{4}-\d{2}-\d{2}T", text):
        text = text.split("T", 1)[0]
    m = _SEIREKI.match(text) or _COMPACT.match(text)
    if m:
        try:
            return date(int(m["year"]), int(m["month"]), int(m["day"]))
        except ValueError:
            raise DateError("存在しない日付です（月・日を確認してください）") from None
    m = _WAREKI.match(text)
    if m:
        return _from_wareki(m["era"], m["year"], int(m["month"]), int(m["day"]))
    raise DateError("日付が読めません（例: 2026-04-01、昭和25年4月1日、S25.4.1）")


def _from_wareki(token: str, year: str, month: int, day: int) -> date:
    era = _era_by_token(token)
    if era is None:
        raise DateError(f"元号「{token}」が分かりません（明治・大正・昭和・平成・令和、または M・T・S・H・R）")
    relative = 1 if year == "元" else int(year)
    if relative < 1:
        raise DateError("和暦の年は1（元年）以上です")
    try:
        found = EraDate.strptime(f"{era.kanji}{'元' if relative == 1 else relative}年{month}月{day}日",
                                 "%-K%-y年%m月%d日")
    except ValueError:
        found = []
    for candidate in found:
        if candidate.era == era:
            return candidate.to_date()
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise DateError("存在しない日付です（月・日を確認してください）")
    last = era.until - timedelta(days=1) if era.until else None
    until = f"（{era.kanji}は{to_wareki(last)}まで）" if last else ""
    raise DateError(f"{era.kanji}{year}年{month}月{day}日は存在しない日付です{until}")


def to_wareki(value: date | None) -> str:
    """昭和25年4月1日 (元年 for the first year); '' for None. Dates before 明治 stay in 西暦."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    if value < _modern_eras()[0].since:
        return f"{value.year}年{value.month}月{value.day}日"
    era_date = EraDate.from_date(value, era=next(e for e in reversed(_modern_eras()) if value >= e.since))
    relative = value.year - era_date.era.since.year + 1
    return f"{era_date.era.kanji}{'元' if relative == 1 else relative}年{value.month}月{value.day}日"


def with_wareki(value: date | None) -> str:
    """1950年4月1日（昭和25年）style, for pages that show both; '' for None."""
    if value is None:
        return ""
    w = to_wareki(value)
    year = w.split("年", 1)[0]
    return f"{value.year}年{value.month}月{value.day}日（{year}年）"


class JaDate(fields.Date):
    """A marshmallow date that also accepts 和暦 and 2026/4/1 (answers are still ISO)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            return super()._deserialize(value.strip(), attr, data, **kwargs)
        try:
            return parse_date(value)
        except DateError as exc:
            raise ValidationError(str(exc)) from None

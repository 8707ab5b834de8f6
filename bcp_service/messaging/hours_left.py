"""The one-tap page's 「残り時間」 field (answer 2 with ``hours_left``). Pure: text in, a number or a
Japanese message out; the page re-shows itself with the message and nothing is recorded."""
from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

MAX_HOURS_LEFT = 72.0
ERROR = "残り時間は 0〜72 の数字（時間）で入力してください。"


@dataclass(frozen=True)
class HoursLeft:
    hours: float | None = None     # None: left empty (the answer stands without a figure)
    error: str | None = None


def parse_hours_left(raw: str | None) -> HoursLeft:
    """「3」「３」「1.5」「2時間」 → hours; empty → no figure; anything else (letters, negative, over 72,
    NaN) → the error text. Half-hours are kept, finer fractions rounded to minutes."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not text:
        return HoursLeft()
    for suffix in ("時間", "h", "H"):
        if text.endswith(suffix):
            text = text[: -len(suffix)].strip()
            break
    try:
        hours = float(text)
    except ValueError:
        return HoursLeft(error=ERROR)
    if not math.isfinite(hours) or not (0.0 <= hours <= MAX_HOURS_LEFT):
        return HoursLeft(error=ERROR)
    return HoursLeft(hours=round(hours * 60) / 60)

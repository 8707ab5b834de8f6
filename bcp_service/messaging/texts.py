"""Message texts from ``alerts/messages.yaml``, rendered with Jinja, with SMS segment arithmetic.

Pure: ``render(key, context, lang=..., drill=...)`` returns the text; ``segments(text)`` counts the
SMS parts it costs. Japanese text goes out as UCS-2: 70 characters in one part, 67 per part once the
text is split (the rest carries the concatenation header). Text made only of GSM-7 characters gets
160 / 153. Characters outside the BMP (some emoji, rare kanji) take two UCS-2 units.

Drill texts start with 【訓練】 (voice: 「これは訓練です。」) so nobody mistakes a drill for an outage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, StrictUndefined

ALERTS_DIR = Path(__file__).resolve().parents[2] / "alerts"
DRILL_PREFIX = "【訓練】"
DRILL_VOICE_PREFIX = {"ja": "これは訓練です。", "en": "This is a drill. "}
LANGS = ("ja", "en")

# GSM 03.38 basic set and the extension table (extension characters cost two septets).
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXT = set("^{}\\[~]|€\f")

_env = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str      # "GSM-7" | "UCS-2"
    units: int         # septets or UTF-16 code units
    segments: int


def segment_info(text: str) -> SegmentInfo:
    if all(c in _GSM_BASIC or c in _GSM_EXT for c in text):
        units = sum(2 if c in _GSM_EXT else 1 for c in text)
        single, multi, enc = 160, 153, "GSM-7"
    else:
        units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)
        single, multi, enc = 70, 67, "UCS-2"
    if units <= single:
        return SegmentInfo(enc, units, 1 if units else 0)
    return SegmentInfo(enc, units, -(-units // multi))


def segments(text: str) -> int:
    return segment_info(text).segments


@dataclass(frozen=True)
class Catalogue:
    templates: dict[str, dict[str, Any]]
    voice: dict[str, dict[str, str]]
    budget_context: dict[str, Any]


@lru_cache(maxsize=4)
def load_catalogue(path: str | None = None) -> Catalogue:
    p = Path(path) if path else ALERTS_DIR / "messages.yaml"
    with p.open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    return Catalogue(templates=raw["templates"], voice=raw.get("voice", {}),
                     budget_context=raw.get("budget_context", {}))


def _tidy(text: str) -> str:
    # YAML folding turns line breaks into spaces; drop those next to Japanese punctuation.
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s*([。、】）])", r"\1", text)
    text = re.sub(r"([。、】）])\s+(?=[^\x00-\x7f])", r"\1", text)   # keep the space before ASCII (links)
    # A link glued to Japanese text is not linkified by many phones' SMS apps: keep one space.
    return re.sub(r"(?<=\S)(https?://)", r" \1", text)


class UnknownText(KeyError):
    pass


def render(key: str, context: dict[str, Any], *, lang: str = "ja", drill: bool = False,
           catalogue: Catalogue | None = None) -> str:
    """Render the SMS text ``key`` in ``lang``. Missing context variables raise (StrictUndefined)."""
    cat = catalogue or load_catalogue()
    try:
        source = cat.templates[key][lang]
    except KeyError as exc:
        raise UnknownText(f"{key}/{lang}") from exc
    text = _tidy(_env.from_string(source).render(**context))
    return f"{DRILL_PREFIX}{text}" if drill else text


def render_voice(key: str, context: dict[str, Any], *, lang: str = "ja", drill: bool = False,
                 catalogue: Catalogue | None = None) -> str:
    cat = catalogue or load_catalogue()
    try:
        source = cat.voice[key][lang]
    except KeyError as exc:
        raise UnknownText(f"voice {key}/{lang}") from exc
    text = _tidy(_env.from_string(source).render(**context))
    return f"{DRILL_VOICE_PREFIX[lang]}{text}" if drill else text


def budget_report(catalogue: Catalogue | None = None) -> list[tuple[str, str, bool, int, int]]:
    """(key, lang, drill, segments used, budget) for every template rendered with worst-case values."""
    cat = catalogue or load_catalogue()
    rows = []
    for key, spec in cat.templates.items():
        for lang in LANGS:
            for drill in (False, True):
                text = render(key, cat.budget_context, lang=lang, drill=drill, catalogue=cat)
                rows.append((key, lang, drill, segments(text), int(spec["segments"])))
    return rows

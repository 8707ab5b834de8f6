"""Auto-fill decisions (pure): when may fresh live data replace a stored answer?

The rule a person can trust: auto-fill writes into a field only when the field is empty, or when
what is stored is exactly what auto-fill wrote last time (nobody has edited it since). If a
person changed it, the fresh data is kept beside it as a suggestion, with its timestamp, and is
applied only when that person asks (`overwrite`). Nothing a person wrote is silently replaced.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SOURCE_PERSON = "person"
SOURCE_AUTOFILL = "autofill"


@dataclass(frozen=True)
class Stored:
    value: Any
    source: str                 # person | autofill
    autofill_value: Any = None  # what auto-fill last wrote or suggested


@dataclass(frozen=True)
class Decision:
    outcome: str        # filled | refreshed | unchanged | kept_manual | overwritten | unavailable
    write_value: bool   # replace the stored value with the fresh one
    message: str


def decide(stored: Stored | None, fresh: Any, *, overwrite: bool = False) -> Decision:
    if stored is None or stored.value in (None, "", []):
        return Decision("filled", True, "台帳から自動入力しました。")
    if stored.value == fresh:
        return Decision("unchanged", False, "最新の台帳と同じ内容です。")
    if stored.source == SOURCE_AUTOFILL:
        return Decision("refreshed", True, "台帳の最新の内容に更新しました。")
    if overwrite:
        return Decision("overwritten", True, "手入力の内容を台帳の最新の内容で置き換えました。")
    return Decision("kept_manual", False,
                    "手で編集された内容を残しました。台帳の最新の内容は更新候補として保存されています。")


def source_after_edit(stored: Stored | None, new_value: Any) -> str:
    """Source of a field after a person saves the section.

    The wizard sends a whole section back, including auto-filled tables nobody touched; those stay
    'autofill' so the next refresh may update them. Any real change makes the field a person's.
    """
    if stored is not None and stored.source == SOURCE_AUTOFILL and stored.value == new_value:
        return SOURCE_AUTOFILL
    return SOURCE_PERSON


def carry_person_columns(fresh: list[dict], stored: Any, produced: tuple[str, ...], *, key: str = "name") -> list[dict]:
    """Keep what people wrote in the columns a binding does not produce (e.g. 役割 per member).

    Rows are matched by `key`; a member who left the live data drops out, a new one arrives with
    those columns empty for a person to fill.
    """
    if not isinstance(stored, list):
        return fresh
    by_key = {r.get(key): r for r in stored if isinstance(r, dict) and r.get(key)}
    out = []
    for row in fresh:
        merged = dict(row)
        old = by_key.get(row.get(key))
        if old:
            for col, value in old.items():
                if col not in produced and value not in (None, ""):
                    merged[col] = value
        out.append(merged)
    return out

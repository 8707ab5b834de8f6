"""Checking and normalising answers against a template section (pure).

Answers arrive as JSON from the wizard's autosave and from the API. Anything that does not fit
the template is rejected as a whole with a message per field, so a bad save changes nothing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from .templates import CONTACT_KEYS, Column, FieldSpec, SectionSpec

MAX_TEXT = 500
MAX_LONG_TEXT = 20_000
MAX_ROWS = 1_000


@dataclass(frozen=True)
class Checked:
    values: dict[str, Any]             # field key -> normalised value (None = clear the answer)
    errors: dict[str, list[str]]       # field key -> messages (Japanese, shown beside the field)

    @property
    def ok(self) -> bool:
        return not self.errors


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _date(v: Any) -> str:
    msg = "日付は YYYY-MM-DD 形式で、実在する日付を入力してください。"
    if not isinstance(v, str) or len(v.strip()) != 10:
        raise ValueError(msg)
    try:
        return date.fromisoformat(v.strip()).isoformat()
    except ValueError:
        raise ValueError(msg) from None


def _text(v: Any, limit: int) -> str | None:
    if not isinstance(v, str):
        raise ValueError("文字列で入力してください。")
    v = v.strip()
    if len(v) > limit:
        raise ValueError(f"{limit}文字以内で入力してください（現在 {len(v)} 文字）。")
    return v or None


def _cell(col: Column, v: Any) -> Any:
    if v is None or v == "":
        return None
    if col.type == "number":
        if not _is_number(v):
            raise ValueError(f"「{col.label}」は数値で入力してください。")
        return v
    if col.type == "date":
        return _date(v)
    if col.type == "choice":
        if v not in {o.value for o in col.options}:
            raise ValueError(f"「{col.label}」の選択肢にない値です: {v!r}")
        return v
    if isinstance(v, bool):
        return "あり" if v else "なし"
    if _is_number(v):
        return str(v)
    return _text(v, MAX_TEXT)


def normalise(spec: FieldSpec, value: Any) -> Any:
    """Return the stored form of `value` for `spec`, or raise ValueError with a Japanese message."""
    if value is None:
        return None
    t = spec.type
    if t == "text":
        return _text(value, MAX_TEXT)
    if t == "long_text":
        return _text(value, MAX_LONG_TEXT)
    if t == "choice":
        allowed = [o.value for o in spec.options]
        if value == "":
            return None
        if value not in allowed:
            raise ValueError(f"選択肢にない値です: {value!r}（選べる値: {', '.join(allowed)}）")
        return value
    if t == "checklist":
        if not isinstance(value, list):
            raise ValueError("選択した値の一覧（配列）で入力してください。")
        allowed = [o.value for o in spec.options]
        unknown = [v for v in value if v not in allowed]
        if unknown:
            raise ValueError(f"選択肢にない値です: {', '.join(map(str, unknown))}")
        # keep the template's order so two saves of the same choices compare equal
        return [o for o in allowed if o in value] or None
    if t == "date":
        if value == "":
            return None
        return _date(value)
    if t == "number":
        if not _is_number(value):
            raise ValueError("数値で入力してください。")
        if spec.min is not None and value < spec.min:
            raise ValueError(f"{spec.min:g}{spec.unit}以上で入力してください。")
        if spec.max is not None and value > spec.max:
            raise ValueError(f"{spec.max:g}{spec.unit}以下で入力してください。")
        return value
    if t == "table":
        return _rows(value, {c.key: c for c in spec.columns}, lambda col, v: _cell(col, v))
    if t == "contact_list":
        cols = {k: Column(k, k) for k in CONTACT_KEYS}
        return _rows(value, cols, lambda col, v: _cell(col, v))
    raise ValueError(f"未知の項目種別です: {t}")


def _rows(value: Any, columns: dict[str, Column], cell) -> list[dict] | None:
    if not isinstance(value, list):
        raise ValueError("行の一覧（配列）で入力してください。")
    if len(value) > MAX_ROWS:
        raise ValueError(f"行は{MAX_ROWS}行までです。")
    out = []
    for i, row in enumerate(value, start=1):
        if not isinstance(row, dict):
            raise ValueError(f"{i}行目: 列名と値の組（オブジェクト）で入力してください。")
        unknown = [k for k in row if k not in columns]
        if unknown:
            raise ValueError(f"{i}行目: この表にない列です: {', '.join(map(str, unknown))}")
        clean = {}
        for k, v in row.items():
            try:
                c = cell(columns[k], v)
            except ValueError as exc:
                raise ValueError(f"{i}行目: {exc}") from None
            if c is not None:
                clean[k] = c
        if clean:  # rows left entirely blank by the wizard are dropped
            out.append({k: clean[k] for k in columns if k in clean})
    return out or None


def check_section(section: SectionSpec, answers: Any) -> Checked:
    """Validate a section save. Unknown field keys and wrong types are errors."""
    if not isinstance(answers, dict):
        return Checked({}, {"answers": ["項目名と値の組（オブジェクト）で送ってください。"]})
    values, errors = {}, {}
    for key, value in answers.items():
        spec = section.field(key)
        if spec is None:
            errors[key] = [f"「{section.title}」にこの項目はありません: {key}"]
            continue
        try:
            values[key] = normalise(spec, value)
        except ValueError as exc:
            errors[key] = [str(exc)]
    return Checked(values if not errors else {}, errors)


def is_filled(spec: FieldSpec, value: Any) -> bool:
    """Whether a stored value counts towards completeness."""
    if value is None:
        return False
    if spec.type in ("text", "long_text", "choice", "date"):
        return isinstance(value, str) and bool(value.strip())
    if spec.type == "number":
        return _is_number(value)
    if spec.type == "checklist":
        return isinstance(value, list) and len(value) > 0
    if spec.type == "table":
        return isinstance(value, list) and any(any(v not in (None, "") for v in r.values()) for r in value)
    if spec.type == "contact_list":
        # a contact nobody can call is not a contact
        return isinstance(value, list) and any(r.get("name") and r.get("phone") for r in value)
    return False

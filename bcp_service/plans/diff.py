"""What changed between two versions of a plan (pure).

Versions may sit on different template versions (after an upgrade), so fields are matched by
`section.field` key and labelled from the newer template where it has them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from .templates import Template

Answers = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Change:
    section_key: str
    field_key: str
    section_title: str
    label: str
    kind: str            # added | removed | changed
    before: Any
    after: Any
    summary: str         # one Japanese line, e.g. "3行追加、1行削除"

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in
                ("section_key", "field_key", "section_title", "label", "kind", "before", "after", "summary")}


def _canon(row: Any) -> str:
    return json.dumps(row, ensure_ascii=False, sort_keys=True)


def _summary(kind: str, before: Any, after: Any) -> str:
    if kind == "added":
        return "新規に記入"
    if kind == "removed":
        return "削除"
    if isinstance(before, list) and isinstance(after, list):
        b = [_canon(r) for r in before]
        a = [_canon(r) for r in after]
        if all(isinstance(x, str) for x in before + after):  # checklist
            plus = [x for x in after if x not in before]
            minus = [x for x in before if x not in after]
            return f"追加 {len(plus)}件、解除 {len(minus)}件"
        added = sum(1 for r in a if r not in b)
        removed = sum(1 for r in b if r not in a)
        if added == 0 and removed == 0:
            return "行の順序を変更"
        return f"{added}行追加、{removed}行削除"
    return "変更"


def _label(key: tuple[str, str], *templates: Template) -> tuple[str, str]:
    for t in templates:
        s = t.section(key[0])
        if s is not None:
            f = s.field(key[1])
            return s.title, (f.label if f else key[1])
    return key[0], key[1]


def diff_answers(old: Answers, new: Answers, *, old_template: Template, new_template: Template) -> list[Change]:
    """Changes from `old` to `new`, in the order of the newer template (then removed keys)."""
    def flat(a: Answers) -> dict[tuple[str, str], Any]:
        return {(s, f): v for s, fields in a.items() for f, v in fields.items() if v not in (None, "", [])}

    o, n = flat(old), flat(new)
    order: list[tuple[str, str]] = [(s.key, f.key) for s in new_template.sections for f in s.fields]
    order += [(s.key, f.key) for s in old_template.sections for f in s.fields if (s.key, f.key) not in order]
    order += sorted(k for k in set(o) | set(n) if k not in order)
    changes = []
    for key in order:
        before, after = o.get(key), n.get(key)
        if before == after:
            continue
        kind = "added" if before is None else "removed" if after is None else "changed"
        stitle, label = _label(key, new_template, old_template)
        changes.append(Change(key[0], key[1], stitle, label, kind, before, after, _summary(kind, before, after)))
    return changes

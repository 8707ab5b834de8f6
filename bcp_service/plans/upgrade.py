"""Moving a plan's answers from one template version to another (pure).

Answers are carried by `section.field` key, or by the new template's `upgrade.moved` map when a
field was renamed. A value that no longer fits its field (say a choice option was removed) is
not forced in: it is reported as dropped so a person can re-enter it. Required fields that are
new in the target version are flagged.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .answers import normalise
from .templates import Template

Answers = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Dropped:
    section_key: str
    field_key: str
    value: Any
    reason: str


@dataclass
class UpgradeResult:
    answers: dict[str, dict[str, Any]]
    carried: list[str] = field(default_factory=list)          # "section.field" in the new template
    moved: dict[str, str] = field(default_factory=dict)       # new -> old, where a rename was used
    dropped: list[Dropped] = field(default_factory=list)
    new_required: list[str] = field(default_factory=list)     # required in new, absent in old template

    def as_dict(self) -> dict:
        return {
            "carried": self.carried, "moved": self.moved, "new_required": self.new_required,
            "dropped": [{"section": d.section_key, "field": d.field_key, "reason": d.reason} for d in self.dropped],
        }


def upgrade_answers(answers: Answers, *, old: Template, new: Template) -> UpgradeResult:
    if old.type != new.type:
        raise ValueError(f"template types differ: {old.type} vs {new.type}")
    result = UpgradeResult(answers={})
    used: set[tuple[str, str]] = set()
    old_keys = {(s.key, f.key) for s in old.sections for f in s.fields}
    for s in new.sections:
        for f in s.fields:
            key = f"{s.key}.{f.key}"
            src = new.moved.get(key) if new.upgrade_from == old.version else None
            sk, fk = src.split(".") if src else (s.key, f.key)
            if (sk, fk) not in old_keys and f.required:
                result.new_required.append(key)
            value = answers.get(sk, {}).get(fk)
            if value is None:
                continue
            used.add((sk, fk))
            try:
                clean = normalise(f, value)
            except ValueError as exc:
                result.dropped.append(Dropped(sk, fk, value, f"新しい版の「{f.label}」に合いません: {exc}"))
                continue
            if clean is None:
                continue
            result.answers.setdefault(s.key, {})[f.key] = clean
            result.carried.append(key)
            if src:
                result.moved[key] = src
    for sk, fields in answers.items():
        for fk, value in fields.items():
            if value is not None and (sk, fk) not in used:
                result.dropped.append(Dropped(sk, fk, value, "新しい版にこの項目はありません"))
    return result


def upgrade_through(answers: Answers, steps: Sequence[Template]) -> UpgradeResult:
    """Upgrade across several template versions (``steps`` = old, …, new), one step at a time.

    Each step applies that version's own ``upgrade.moved`` renames, so a v1 plan moved straight to v3
    still follows the v1→v2 renames. ``moved`` maps a final key to its key in the first version.
    """
    if len(steps) < 2:
        raise ValueError("an upgrade needs at least two template versions")
    current: Answers = answers
    origin: dict[str, str] = {}          # key in the current step -> key in the first version
    dropped: list[Dropped] = []
    new_required: list[str] = []
    old_keys = {f"{s.key}.{f.key}" for s in steps[0].sections for f in s.fields}
    result = None
    for old, new in zip(steps, steps[1:]):
        result = upgrade_answers(current, old=old, new=new)
        dropped.extend(result.dropped)
        origin = {key: origin.get(src, src) for key, src in result.moved.items()} | {
            key: origin[key] for key in result.carried if key not in result.moved and key in origin}
        current = result.answers
    final = steps[-1]
    for s in final.sections:
        for f in s.fields:
            key = f"{s.key}.{f.key}"
            if f.required and origin.get(key, key) not in old_keys:
                new_required.append(key)
    return UpgradeResult(answers=result.answers, carried=result.carried,
                         moved={k: v for k, v in origin.items() if k != v}, dropped=dropped,
                         new_required=new_required)

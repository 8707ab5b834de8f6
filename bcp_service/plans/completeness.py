"""How far a plan is written (pure): per section and overall, over the required fields.

Completeness counts required fields only, so optional fields never block a one-doctor clinic
from reaching 100 % and submitting. Each section lists what is still missing, by label, so the
wizard can say exactly what to write next.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .answers import is_filled
from .templates import SectionSpec, Template

Answers = Mapping[str, Mapping[str, Any]]   # section key -> field key -> stored value


@dataclass(frozen=True)
class SectionProgress:
    key: str
    title: str
    required: int
    filled: int
    answered: int                  # any field with a value, required or not ("started")
    missing: tuple[str, ...]       # keys of required fields still empty
    missing_labels: tuple[str, ...]

    @property
    def ratio(self) -> float:
        return 1.0 if self.required == 0 else round(self.filled / self.required, 3)

    @property
    def complete(self) -> bool:
        return self.filled == self.required


@dataclass(frozen=True)
class PlanProgress:
    sections: tuple[SectionProgress, ...]

    @property
    def required(self) -> int:
        return sum(s.required for s in self.sections)

    @property
    def filled(self) -> int:
        return sum(s.filled for s in self.sections)

    @property
    def ratio(self) -> float:
        # weighted by fields, not by sections: a one-field section should not count like a big one
        return 1.0 if self.required == 0 else round(self.filled / self.required, 3)

    @property
    def complete(self) -> bool:
        return all(s.complete for s in self.sections)

    def section(self, key: str) -> SectionProgress | None:
        return next((s for s in self.sections if s.key == key), None)


def section_progress(section: SectionSpec, answers: Mapping[str, Any] | None) -> SectionProgress:
    answers = answers or {}
    required = [f for f in section.fields if f.required]
    missing = [f for f in required if not is_filled(f, answers.get(f.key))]
    answered = sum(1 for f in section.fields if is_filled(f, answers.get(f.key)))
    return SectionProgress(
        key=section.key, title=section.title, required=len(required),
        filled=len(required) - len(missing), answered=answered,
        missing=tuple(f.key for f in missing), missing_labels=tuple(f.label for f in missing),
    )


def plan_progress(template: Template, answers: Answers) -> PlanProgress:
    return PlanProgress(tuple(section_progress(s, answers.get(s.key)) for s in template.sections))

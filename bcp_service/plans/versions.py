"""A plan's versions and what they hold: the template each is pinned to, its answers, its progress."""
from __future__ import annotations

import copy
from typing import Any

from flask import current_app, has_app_context

from bcp_service.errors import Conflict, NotFound

from .completeness import PlanProgress, plan_progress
from .models import Plan, PlanVersion
from .templates import Template, TemplateLibrary

_default_library: TemplateLibrary | None = None


def get_library() -> TemplateLibrary:
    """The app's checked templates (loaded at start-up), or the shipped ones outside an app."""
    global _default_library
    if has_app_context() and "plans_templates" in current_app.extensions:
        return current_app.extensions["plans_templates"]
    if _default_library is None:
        _default_library = TemplateLibrary.load()
    return _default_library


def current_version(plan: Plan) -> PlanVersion:
    return next(v for v in plan.versions if v.number == plan.current_number)


def version_of(plan: Plan, number: int | None) -> PlanVersion:
    if number is None:
        return current_version(plan)
    for v in plan.versions:
        if v.number == number:
            return v
    raise NotFound(f"第{number}版はありません")


def template_of(plan: Plan, version: PlanVersion) -> Template:
    t = get_library().get(plan.type, version.template_version)
    if t is None:
        raise Conflict(f"テンプレート {plan.type} v{version.template_version} が見つかりません（削除された可能性があります）")
    # required as it applies to the plan's organisation (a solo clinic has fewer required answers)
    return t.for_kind(plan.organization.kind if plan.organization is not None else None)


def answers_of(version: PlanVersion) -> dict[str, dict[str, Any]]:
    # copies: a caller editing the result must never change the ORM's JSON in place (that change
    # would be invisible to the "did a person edit this?" comparison)
    out: dict[str, dict[str, Any]] = {}
    for a in version.answers:
        if a.value is not None:
            out.setdefault(a.section_key, {})[a.field_key] = copy.deepcopy(a.value)
    return out


def progress_of(plan: Plan, version: PlanVersion | None = None) -> PlanProgress:
    version = version or current_version(plan)
    return plan_progress(template_of(plan, version), answers_of(version))

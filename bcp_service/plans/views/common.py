"""What the plans API and pages share: the JSON shapes of a plan and a template, the export response."""
from __future__ import annotations

from flask import Response

from bcp_service.auth import Role, current_actor
from bcp_service.appclock import get_clock
from bcp_service.clock import iso_local, to_local
from bcp_service.db import db

from .. import history, versions
from ..completeness import PlanProgress
from ..export import to_docx, to_html, to_markdown
from ..models import Plan
from ..templates import TYPE_LABELS, Template, TemplateLibrary


READ_ROLES = (Role.ADMIN, Role.HUB_STAFF, Role.INSTITUTION_STAFF)


LIST_ROLES = READ_ROLES + (Role.PREFECTURE_REVIEWER,)


EXPORT_TYPES = {
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
    "html": ("text/html; charset=utf-8", "html"),
    "md": ("text/markdown; charset=utf-8", "md"),
}


def progress_json(p: PlanProgress) -> tuple[list[dict], float]:
    sections = [{"key": s.key, "title": s.title, "completeness": s.ratio, "required": s.required,
                 "filled": s.filled, "answered": s.answered, "missing": list(s.missing)} for s in p.sections]
    return sections, p.ratio


def plan_json(plan: Plan, *, detail: bool = False, version=None) -> dict:
    version = version or versions.current_version(plan)
    sections, ratio = progress_json(versions.progress_of(plan, version))
    body = {
        "id": plan.id, "type": plan.type, "type_label": TYPE_LABELS[plan.type], "title": plan.title,
        "status": plan.status, "version": version.number, "version_status": version.status,
        "template_version": version.template_version, "organization_id": plan.organization_id,
        "member_org_ids": plan.member_org_ids, "region_code": plan.region_code,
        "completeness": ratio, "sections": sections,
        "created_at": iso_local(plan.created_at), "updated_at": iso_local(plan.updated_at),
        "last_approved_at": iso_local(plan.last_approved_at),
        "review_due_on": plan.review_due_on.isoformat() if plan.review_due_on else None,
        "review_overdue": bool(plan.review_due_on and plan.review_due_on < tokyo_today()),
    }
    if detail:
        body["answers"] = versions.answers_of(version)
        body["fields"] = {f"{a.section_key}.{a.field_key}": {
            "source": a.source, "updated_at": iso_local(a.updated_at), "autofilled_at": iso_local(a.autofilled_at),
            "autofill_pending": a.autofill_pending,
            **({"autofill_value": a.autofill_value} if a.autofill_pending else {}),
        } for a in version.answers}
    return body


def template_json(t: Template, lib: TemplateLibrary, *, full: bool = False) -> dict:
    body = {"type": t.type, "type_label": TYPE_LABELS[t.type], "title": t.title, "version": t.version,
            "versions": lib.versions(t.type), "section_keys": [s.key for s in t.sections],
            "sections": [{"key": s.key, "title": s.title, "part": s.part, "fields": len(s.fields),
                          "required": sum(f.required for f in s.fields)} for s in t.sections],
            "field_count": t.field_count, "required_count": t.required_count}
    if full:
        body["description"] = t.description
        body["sections"] = [{
            "key": s.key, "title": s.title, "part": s.part, "guidance": s.guidance, "why": s.why,
            "fields": [{"key": f.key, "label": f.label, "type": f.type, "required": f.required,
                        "guidance": f.guidance, "example": f.example, "unit": f.unit, "min": f.min, "max": f.max,
                        "binding": f.binding, "optional_for": list(f.optional_for), "options": [{"value": o.value, "label": o.label} for o in f.options],
                        "columns": [{"key": c.key, "label": c.label, "type": c.type,
                                     "options": [{"value": o.value, "label": o.label} for o in c.options]}
                                    for c in f.columns]} for f in s.fields]} for s in t.sections]
    return body


def clock_now():
    return get_clock().now()


def tokyo_today():
    """Today in Tokyo: a review due "today" is not overdue until the Japanese day is over."""
    return to_local(get_clock().now()).date()


def export_response(plan_id: int, fmt: str, number: int | None) -> Response:
    doc = history.plan_doc(db.session, current_actor(), plan_id, number)
    db.session.commit()   # the audit row of the export
    mime, ext = EXPORT_TYPES[fmt]
    body = {"docx": to_docx, "html": to_html, "md": to_markdown}[fmt](doc)
    resp = Response(body, mimetype=mime.split(";")[0], content_type=mime)
    name = f"plan-{plan_id}-v{doc.version_number}.{ext}"
    if fmt != "html":
        resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return resp

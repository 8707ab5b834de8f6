"""Answers that complete every required field of a template (synthetic content)."""
from bcp_service.plans import authoring, versions

SAMPLE = {
    "text": "試験の記入", "long_text": "試験の記入内容。", "date": "2027-05-31", "number": 2,
    "contact_list": [{"name": "試験 太郎", "role": "院長", "phone": "090-0000-0001"}],
}


def minimal_answers(template) -> dict:
    out: dict = {}
    for s in template.sections:
        for f in s.fields:
            if not f.required:
                continue
            if f.type in ("choice", "checklist"):
                v = f.options[0].value
                v = [v] if f.type == "checklist" else v
            elif f.type == "table":
                v = [{f.columns[0].key: "試験の行" if f.columns[0].type != "number" else 1}]
            else:
                v = SAMPLE[f.type]
            if f.type == "number" and f.max is not None:
                v = min(max(v, f.min or v), f.max)
            out.setdefault(s.key, {})[f.key] = v
    return out


def fill_required(session, actor, plan, clock):
    version = versions.current_version(plan)
    template = versions.template_of(plan, version)
    missing = versions.progress_of(plan, version)
    for section, answers in minimal_answers(template).items():
        todo = {k: v for k, v in answers.items() if k in missing.section(section).missing}
        if todo:
            authoring.save_section(session, actor, plan.id, section, todo, now=clock.now())
    session.commit()

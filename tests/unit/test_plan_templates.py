import copy
from pathlib import Path

import pytest
import yaml

from bcp_service.plans.templates import (DEFAULT_DIR, PLAN_TYPES, TemplateError, TemplateLibrary,
                                         _schema, load_template_file, parse_template, prose)

SCHEMA = _schema(DEFAULT_DIR)


def _kikan_data():
    return yaml.safe_load((DEFAULT_DIR / "kikan.yaml").read_text(encoding="utf-8"))


def test_every_shipped_template_passes_the_schema_and_semantic_checks():
    lib = TemplateLibrary.load()
    assert lib.types() == list(PLAN_TYPES)
    for t in PLAN_TYPES:
        for v in lib.versions(t):
            tpl = lib.get(t, v)
            assert tpl.sections and tpl.required_count > 0


def test_kikan_covers_the_domain_outline_and_home_care_parts():
    t = TemplateLibrary.load().current("kikan")
    parts = {s.part for s in t.sections}
    assert {"総論", "平常時の対応", "緊急時の対応", "他施設との連携", "地域との連携", "在宅医療の追加項目"} <= parts
    keys = {s.key for s in t.sections}
    assert {"patient_priority", "device_power", "medicines", "records", "family_teaching", "activation"} <= keys
    bindings = {f.binding for s in t.sections for f in s.fields if f.binding}
    assert {"registry.priority_patients", "org.staff_contacts"} <= bindings


def test_all_field_types_are_used_across_templates():
    lib = TemplateLibrary.load()
    used = {f.type for t in PLAN_TYPES for s in lib.current(t).sections for f in s.fields}
    assert used == {"text", "long_text", "choice", "checklist", "date", "number", "table", "contact_list"}


def test_folded_japanese_guidance_has_no_stray_spaces():
    assert prose("方針を決めます。\n代行者も決めます。".replace("\n", " ")) == "方針を決めます。代行者も決めます。"
    assert prose("use 171 dial") == "use 171 dial"


def test_unknown_field_type_is_reported_with_its_place():
    data = _kikan_data()
    data["sections"][0]["fields"][0]["type"] = "essay"
    with pytest.raises(TemplateError) as exc:
        parse_template(data, schema=SCHEMA, source="kikan.yaml")
    assert any("sections/0/fields/0/type" in p for p in exc.value.problems)


def test_duplicate_field_keys_and_choice_without_options_are_rejected():
    data = _kikan_data()
    fields = data["sections"][0]["fields"]
    fields.append(copy.deepcopy(fields[0]))
    fields.append({"key": "mode", "label": "方式", "type": "choice"})
    with pytest.raises(TemplateError) as exc:
        parse_template(data, schema=SCHEMA)
    text = "\n".join(exc.value.problems)
    assert "used twice" in text and "choice needs options" in text


def test_binding_must_exist_and_match_the_field_type():
    data = _kikan_data()
    data["sections"][0]["fields"][0]["binding"] = "org.staff_contacts"   # a long_text field
    data["sections"][1]["fields"][0]["binding"] = "registry.everything"
    with pytest.raises(TemplateError) as exc:
        parse_template(data, schema=SCHEMA)
    text = "\n".join(exc.value.problems)
    assert "fills a contact_list, not a long_text" in text and "unknown binding 'registry.everything'" in text


def test_section_without_required_field_is_rejected():
    data = _kikan_data()
    for f in data["sections"][0]["fields"]:
        f["required"] = False
    with pytest.raises(TemplateError, match="at least one required"):
        parse_template(data, schema=SCHEMA)


def test_library_refuses_two_files_with_the_same_type_and_version(tmp_path):
    for name in ("kikan.yaml", "renkei.yaml", "chiiki.yaml", "template.schema.json"):
        (tmp_path / name).write_bytes((DEFAULT_DIR / name).read_bytes())
    (tmp_path / "kikan.copy.yaml").write_bytes((DEFAULT_DIR / "kikan.yaml").read_bytes())
    with pytest.raises(TemplateError, match="also defined"):
        TemplateLibrary.load(tmp_path)


def test_library_checks_upgrade_sources_against_the_old_version(tmp_path):
    for name in ("kikan.v2.yaml", "kikan.v1.yaml", "renkei.yaml", "chiiki.yaml", "template.schema.json"):
        (tmp_path / name).write_bytes((DEFAULT_DIR / name).read_bytes())
    text = (tmp_path / "kikan.v2.yaml").read_text(encoding="utf-8").replace("risks.risk_notes", "risks.nothing_here")
    (tmp_path / "kikan.v2.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(TemplateError, match="risks.nothing_here is not in v1"):
        TemplateLibrary.load(tmp_path)


def test_missing_type_is_an_error(tmp_path):
    for name in ("kikan.yaml", "renkei.yaml", "template.schema.json"):
        (tmp_path / name).write_bytes((DEFAULT_DIR / name).read_bytes())
    with pytest.raises(TemplateError, match="no template for chiiki"):
        TemplateLibrary.load(tmp_path)


def test_broken_yaml_names_the_file(tmp_path):
    p = tmp_path / "kikan.yaml"
    p.write_text("type: kikan\nsections: [\n", encoding="utf-8")
    with pytest.raises(TemplateError, match="kikan.yaml: YAML cannot be read"):
        load_template_file(p, schema=SCHEMA)

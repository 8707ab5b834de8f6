"""BCP templates as data: load `plans/*.yaml`, check them, expose them as frozen dataclasses.

The YAML files are content that a 拠点 reads and adapts, so a broken edit must stop the
service at start-up with a message that names the file and the place, not fail later while
someone is writing a plan at night. Two layers of checks: the JSON schema
(`plans/template.schema.json`) for shape, and `semantic_problems()` for rules a schema cannot
say well (unique keys, options where needed, known bindings, upgrade references).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import jsonschema
import yaml

from bcp_service.orgs.models import ORGANIZATION_KINDS

PLAN_TYPES = ("kikan", "renkei", "chiiki")
TYPE_LABELS = {"kikan": "機関型BCP", "renkei": "連携型BCP", "chiiki": "地域BCP"}
FIELD_TYPES = ("text", "long_text", "choice", "checklist", "date", "number", "table", "contact_list")
CONTACT_KEYS = ("name", "role", "phone", "email", "note")

# binding name -> the field type it fills. The data comes from bcp_service.plans.autofill.
BINDINGS: dict[str, str] = {
    "registry.priority_patients": "table",
    "registry.device_summary": "table",
    "registry.region_tiers": "table",
    "org.staff_contacts": "contact_list",
    "region.facilities": "table",
    "region.agencies": "table",
    "renkei.members": "table",
    "registry.transport_patients": "table",
    "registry.transport_counts": "table",
    "registry.designated_facilities": "table",
}

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "plans"
SCHEMA_FILE = "template.schema.json"


class TemplateError(Exception):
    """A template file is malformed. `problems` lists every problem found, each with its place."""

    def __init__(self, problems: list[str]):
        super().__init__("テンプレートに誤りがあります:\n" + "\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    type: str = "text"
    options: tuple[Option, ...] = ()


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: str
    type: str
    required: bool = False
    guidance: str = ""
    example: str = ""
    unit: str = ""
    min: float | None = None
    max: float | None = None
    options: tuple[Option, ...] = ()
    columns: tuple[Column, ...] = ()
    binding: str | None = None
    optional_for: tuple[str, ...] = ()     # organisation kinds for which a required field is optional

    def required_for(self, kind: str | None) -> bool:
        return self.required and (kind is None or kind not in self.optional_for)

    def option_label(self, value: str) -> str:
        for o in self.options:
            if o.value == value:
                return o.label
        return value


@dataclass(frozen=True)
class SectionSpec:
    key: str
    title: str
    guidance: str
    why: str
    fields: tuple[FieldSpec, ...]
    part: str = ""

    def field(self, key: str) -> FieldSpec | None:
        for f in self.fields:
            if f.key == key:
                return f
        return None


@dataclass(frozen=True)
class Template:
    type: str
    version: int
    title: str
    sections: tuple[SectionSpec, ...]
    description: str = ""
    review_months: int = 12
    upgrade_from: int | None = None
    moved: dict[str, str] = field(default_factory=dict)  # "section.field" (new) -> "section.field" (old)
    source: str = ""

    def section(self, key: str) -> SectionSpec | None:
        for s in self.sections:
            if s.key == key:
                return s
        return None

    @property
    def field_count(self) -> int:
        return sum(len(s.fields) for s in self.sections)

    @property
    def required_count(self) -> int:
        return sum(1 for s in self.sections for f in s.fields if f.required)

    def for_kind(self, kind: str | None) -> "Template":
        """This template with ``required`` as it applies to an organisation of ``kind`` (the solo-clinic path)."""
        if not kind or not any(kind in f.optional_for for s in self.sections for f in s.fields):
            return self
        sections = tuple(replace(s, fields=tuple(replace(f, required=f.required_for(kind)) for f in s.fields))
                         for s in self.sections)
        return replace(self, sections=sections)


def _schema(directory: Path) -> dict:
    path = directory / SCHEMA_FILE
    if not path.exists():
        path = DEFAULT_DIR / SCHEMA_FILE
    return json.loads(path.read_text(encoding="utf-8"))


def schema_problems(data: Any, schema: dict) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    out = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        where = "/".join(str(p) for p in err.absolute_path) or "(top)"
        out.append(f"{where}: {err.message}")
    return out


def semantic_problems(data: dict) -> list[str]:
    """Rules beyond the JSON schema. `data` has already passed the schema."""
    problems: list[str] = []
    seen_sections: set[str] = set()
    all_fields: set[str] = set()
    for s in data["sections"]:
        sk = s["key"]
        if sk in seen_sections:
            problems.append(f"sections/{sk}: section key is used twice")
        seen_sections.add(sk)
        seen_fields: set[str] = set()
        if not any(f.get("required") for f in s["fields"]):
            # completeness is measured over required fields; a section without any could never
            # show progress, so we insist on at least one.
            problems.append(f"sections/{sk}: needs at least one required field")
        for f in s["fields"]:
            where = f"sections/{sk}/fields/{f['key']}"
            if f["key"] in seen_fields:
                problems.append(f"{where}: field key is used twice in the section")
            seen_fields.add(f["key"])
            all_fields.add(f"{sk}.{f['key']}")
            t = f["type"]
            if t in ("choice", "checklist"):
                values = [o["value"] for o in f.get("options", [])]
                if not values:
                    problems.append(f"{where}: {t} needs options")
                elif len(set(values)) != len(values):
                    problems.append(f"{where}: option values must be unique")
            elif "options" in f:
                problems.append(f"{where}: options only apply to choice/checklist")
            if t == "table":
                cols = f.get("columns", [])
                if not cols:
                    problems.append(f"{where}: table needs columns")
                keys = [c["key"] for c in cols]
                if len(set(keys)) != len(keys):
                    problems.append(f"{where}: column keys must be unique")
                for c in cols:
                    if c.get("type") == "choice" and not c.get("options"):
                        problems.append(f"{where}/columns/{c['key']}: choice column needs options")
            elif "columns" in f:
                problems.append(f"{where}: columns only apply to table")
            for kind in f.get("optional_for", ()):
                if kind not in ORGANIZATION_KINDS:
                    problems.append(f"{where}/optional_for: unknown organisation kind {kind!r}")
            if "optional_for" in f and not f.get("required"):
                problems.append(f"{where}/optional_for: only a required field can be optional for some kinds")
            if t != "number" and ("min" in f or "max" in f):
                problems.append(f"{where}: min/max only apply to number")
            if "min" in f and "max" in f and f["min"] > f["max"]:
                problems.append(f"{where}: min is greater than max")
            b = f.get("binding")
            if b is not None:
                if b not in BINDINGS:
                    problems.append(f"{where}: unknown binding {b!r} (known: {', '.join(sorted(BINDINGS))})")
                elif BINDINGS[b] != t:
                    problems.append(f"{where}: binding {b} fills a {BINDINGS[b]}, not a {t}")
    up = data.get("upgrade")
    if up:
        if up["from_version"] >= data["version"]:
            problems.append("upgrade/from_version: must be lower than version")
        for new, old in (up.get("moved") or {}).items():
            if new not in all_fields:
                problems.append(f"upgrade/moved/{new}: no such field in this version")
    return problems


_FOLD_SPACE = re.compile(r"(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])")


def prose(text: str | None) -> str:
    """YAML's folded style joins lines with a space, which is wrong between Japanese characters."""
    return _FOLD_SPACE.sub("", (text or "").strip())


def _build(data: dict, source: str) -> Template:
    def opts(items):
        return tuple(Option(o["value"], o["label"]) for o in items or ())

    sections = []
    for s in data["sections"]:
        fields = tuple(
            FieldSpec(
                key=f["key"], label=f["label"], type=f["type"], required=bool(f.get("required", False)),
                guidance=prose(f.get("guidance")), example=f.get("example", ""), unit=f.get("unit", ""),
                min=f.get("min"), max=f.get("max"), options=opts(f.get("options")),
                columns=tuple(Column(c["key"], c["label"], c.get("type", "text"), opts(c.get("options")))
                              for c in f.get("columns", ())),
                binding=f.get("binding"), optional_for=tuple(f.get("optional_for", ())),
            )
            for f in s["fields"]
        )
        sections.append(SectionSpec(key=s["key"], title=s["title"], guidance=prose(s["guidance"]),
                                    why=prose(s["why"]), fields=fields, part=s.get("part", "")))
    up = data.get("upgrade") or {}
    return Template(
        type=data["type"], version=data["version"], title=data["title"], sections=tuple(sections),
        description=prose(data.get("description")), review_months=data.get("review_months", 12),
        upgrade_from=up.get("from_version"), moved=dict(up.get("moved") or {}), source=source,
    )


def parse_template(data: Any, *, schema: dict, source: str = "<memory>") -> Template:
    problems = schema_problems(data, schema)
    if not problems:
        problems = semantic_problems(data)
    if problems:
        raise TemplateError([f"{source}: {p}" for p in problems])
    return _build(data, source)


def load_template_file(path: Path, *, schema: dict | None = None) -> Template:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TemplateError([f"{path.name}: YAML cannot be read: {exc}"]) from exc
    return parse_template(data, schema=schema or _schema(path.parent), source=path.name)


class TemplateLibrary:
    """All template versions found in a directory: `current(type)` and `get(type, version)`."""

    def __init__(self, templates: Iterable[Template]):
        self._by: dict[str, dict[int, Template]] = {}
        for t in templates:
            versions = self._by.setdefault(t.type, {})
            if t.version in versions:
                raise TemplateError([f"{t.source}: {t.type} v{t.version} is also defined in {versions[t.version].source}"])
            versions[t.version] = t

    @classmethod
    def load(cls, directory: Path | str | None = None) -> "TemplateLibrary":
        """The library in ``directory``, parsed and checked once per process while its files are unchanged."""
        directory = Path(directory or DEFAULT_DIR).resolve()
        return _load_once(directory, _files_state(directory))

    @classmethod
    def _read(cls, directory: Path) -> "TemplateLibrary":
        schema = _schema(directory)
        templates, problems = [], []
        for path in sorted(directory.glob("*.yaml")):
            try:
                templates.append(load_template_file(path, schema=schema))
            except TemplateError as exc:
                problems.extend(exc.problems)
        if problems:
            raise TemplateError(problems)
        lib = cls(templates)
        missing = [t for t in PLAN_TYPES if t not in lib._by]
        if missing:
            raise TemplateError([f"{directory}: no template for {', '.join(missing)}"])
        for t in templates:
            if t.upgrade_from is not None and t.upgrade_from not in lib._by[t.type]:
                # moved fields refer to a version we do not have: that is allowed (old file retired),
                # but then the old keys cannot be checked.
                continue
            if t.upgrade_from is not None:
                old = lib._by[t.type][t.upgrade_from]
                for new, src in t.moved.items():
                    sk, fk = src.split(".")
                    sec = old.section(sk)
                    if sec is None or sec.field(fk) is None:
                        raise TemplateError([f"{t.source}: upgrade/moved/{new}: {src} is not in v{old.version}"])
        return lib

    def types(self) -> list[str]:
        return [t for t in PLAN_TYPES if t in self._by]

    def versions(self, plan_type: str) -> list[int]:
        return sorted(self._by.get(plan_type, {}))

    def current(self, plan_type: str) -> Template:
        versions = self._by.get(plan_type)
        if not versions:
            raise KeyError(plan_type)
        return versions[max(versions)]

    def get(self, plan_type: str, version: int) -> Template | None:
        return self._by.get(plan_type, {}).get(version)


def _files_state(directory: Path) -> tuple:
    """Names, sizes and modification times of the directory's files: an edit makes a new cache key."""
    files = sorted(p for p in directory.iterdir() if p.is_file()) if directory.is_dir() else []
    return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)


@lru_cache(maxsize=8)
def _load_once(directory: Path, files_state: tuple) -> TemplateLibrary:
    return TemplateLibrary._read(directory)

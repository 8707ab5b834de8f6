"""The scenario library: YAML files in the top-level ``drills/`` folder.

Operators edit these files without touching Python, so every file is checked against
``drills/scenario.schema.json`` plus a few rules JSON Schema cannot express (injects in time
order and inside the scenario's duration, unique ids). A broken file stops start-up with a
message that names the file and the field, rather than failing in the middle of a drill.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import jsonschema
import yaml

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "drills"
SCHEMA_FILE = "scenario.schema.json"

# The three questions asked after every inject in a tabletop drill (DOMAIN.md: simulation training).
TABLETOP_QUESTIONS: tuple[tuple[str, str], ...] = (
    ("organization", "組織として何をするか"),
    ("individual", "各自は何をするか"),
    ("patient_care", "患者の療養をどう継続するか"),
)
QUESTION_KEYS = tuple(k for k, _ in TABLETOP_QUESTIONS)


class ScenarioError(ValueError):
    """A scenario file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class PlanSectionRef:
    plan_type: str
    section_key: str


@dataclass(frozen=True)
class Inject:
    id: str
    at_minutes: int
    title: str
    situation: str
    to: tuple[str, ...]
    expected_actions: tuple[str, ...]


@dataclass(frozen=True)
class Objective:
    key: str
    text: str
    plan_sections: tuple[PlanSectionRef, ...]
    core_capabilities: tuple[str, ...] = ()     # HSEEP core capabilities (Exercise Evaluation Guide)
    critical_tasks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    hazard: str
    duration_hours: float
    summary: str
    cause: str
    expected_restoration_hours: float
    injects: tuple[Inject, ...]
    objectives: tuple[Objective, ...]
    metrics: tuple[str, ...]

    def inject(self, inject_id: str) -> Inject:
        for item in self.injects:
            if item.id == inject_id:
                return item
        raise KeyError(inject_id)


def load_schema(directory: Path = DEFAULT_DIR) -> dict[str, Any]:
    return json.loads((directory / SCHEMA_FILE).read_text(encoding="utf-8"))


def parse_scenario(key: str, data: Any, schema: Mapping[str, Any]) -> Scenario:
    """Validate one scenario document and turn it into a ``Scenario``. Raises ``ScenarioError``."""
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        raise ScenarioError(f"{key}: {where}: {first.message}")

    injects = tuple(
        Inject(
            id=i["id"], at_minutes=i["at_minutes"], title=i["title"], situation=i["situation"],
            to=tuple(i["to"]), expected_actions=tuple(i["expected_actions"]),
        )
        for i in data["injects"]
    )
    ids = [i.id for i in injects]
    if len(set(ids)) != len(ids):
        raise ScenarioError(f"{key}: injects: duplicate id")
    times = [i.at_minutes for i in injects]
    if times != sorted(times):
        raise ScenarioError(f"{key}: injects: not in time order (at_minutes must not decrease)")
    if times[-1] > data["duration_hours"] * 60:
        raise ScenarioError(f"{key}: injects: {ids[-1]} is after the end of the scenario")

    objectives = tuple(
        Objective(
            key=o["key"], text=o["text"],
            plan_sections=tuple(PlanSectionRef(s["plan_type"], s["section_key"]) for s in o["plan_sections"]),
            core_capabilities=tuple(o["core_capabilities"]), critical_tasks=tuple(o["critical_tasks"]),
        )
        for o in data["objectives"]
    )
    okeys = [o.key for o in objectives]
    if len(set(okeys)) != len(okeys):
        raise ScenarioError(f"{key}: objectives: duplicate key")

    return Scenario(
        key=key, title=data["title"], hazard=data["hazard"], duration_hours=float(data["duration_hours"]),
        summary=data["summary"].strip(), cause=data["functional"]["cause"],
        expected_restoration_hours=float(data["functional"]["expected_restoration_hours"]),
        injects=injects, objectives=objectives, metrics=tuple(data["metrics"]),
    )


def load_library(directory: Path = DEFAULT_DIR) -> dict[str, Scenario]:
    """All scenarios in ``directory`` keyed by file stem, sorted by key. Raises ``ScenarioError``.

    Parsed and checked once per process while the directory's files are unchanged."""
    directory = Path(directory).resolve()
    files = sorted(p for p in directory.iterdir() if p.is_file()) if directory.is_dir() else []
    return dict(_load_once(directory, tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)))


@lru_cache(maxsize=8)
def _load_once(directory: Path, files_state: tuple) -> dict[str, Scenario]:
    try:
        schema = load_schema(directory)
    except (OSError, json.JSONDecodeError) as exc:
        raise ScenarioError(f"{SCHEMA_FILE}: {exc}") from exc
    library: dict[str, Scenario] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ScenarioError(f"{path.name}: {exc}") from exc
        library[path.stem] = parse_scenario(path.stem, data, schema)
    if not library:
        raise ScenarioError(f"no scenario files in {directory}")
    return library

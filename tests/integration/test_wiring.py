"""``bcp_service/wiring.py`` lists what the app is made of, and the app is made of exactly that."""
import importlib
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

import bcp_service
from bcp_service import wiring
from bcp_service.db import Base
from bcp_service.scheduler import build_scheduler

PACKAGE = Path(bcp_service.__file__).parent


def _subpackages_with(leaf: str) -> list[str]:
    """Subpackages that have a ``<leaf>.py`` module or a ``<leaf>/`` package (the test's own look)."""
    return sorted(p.name for p in PACKAGE.iterdir()
                  if (p / "__init__.py").exists() and ((p / f"{leaf}.py").exists() or (p / leaf / "__init__.py").exists()))


def test_the_app_has_exactly_the_wired_blueprints_in_order(app):
    # Nested blueprints (registry.reverify) are part of their parent, which is the one listed.
    top_level = [bp for name, bp in app.blueprints.items() if "." not in name]
    assert top_level == list(wiring.BLUEPRINTS)
    for pkg in _subpackages_with("views"):
        bp = getattr(importlib.import_module(f"bcp_service.{pkg}.views"), "bp", None)
        assert bp is None or bp in wiring.BLUEPRINTS, pkg


def test_every_nav_entry_points_at_an_existing_page(app):
    endpoints = [item.endpoint for item in wiring.NAV]
    assert len(endpoints) == len(set(endpoints))
    assert [e for e in endpoints if e not in app.view_functions] == []
    assert app.extensions["nav"] == tuple(wiring.NAV)


def test_every_model_module_and_table_is_wired():
    listed = {m.__name__ for m in wiring.MODELS}
    assert listed == {f"bcp_service.{pkg}.models" for pkg in _subpackages_with("models")}
    assert {mapper.class_.__module__ for mapper in Base.registry.mappers} <= listed
    assert len(Base.metadata.tables) >= len(Base.registry.mappers) > 0


def test_answer_handlers_checks_and_escalations_on_the_app_are_the_wired_ones(app):
    from bcp_service.outages import hooks

    answers = app.extensions["answers"]
    assert dict(answers.handlers) == wiring.ANSWER_HANDLERS
    assert answers.handlers["checkin"] is hooks.on_checkin          # an SMS reply → the outage desk
    assert answers.validity_checks == tuple(wiring.TOKEN_CHECKS)
    assert answers.escalations == tuple(wiring.ESCALATIONS)


def test_the_scheduler_runs_exactly_the_wired_jobs(app):
    schedule = app.extensions["schedule"]
    assert (schedule.ticks, schedule.jobs, schedule.background) == (wiring.TICKS, wiring.JOBS, wiring.BACKGROUND)
    scheduler = build_scheduler(app, BackgroundScheduler)
    assert sorted(job.id for job in scheduler.get_jobs()) == sorted([j.name for j in wiring.JOBS] + ["metronome"])
    assert len({t.name for t in wiring.TICKS} | {j.name for j in wiring.JOBS}) == len(wiring.TICKS) + len(wiring.JOBS)


def test_cli_groups_and_demo_seeds_are_the_wired_ones():
    from bcp_service.cli import main

    for group in wiring.CLI_GROUPS:
        assert main.commands[group.name] is group
    assert {g.callback.__module__.rsplit(".", 1)[0] for g in wiring.CLI_GROUPS} == \
        {f"bcp_service.{pkg}" for pkg in _subpackages_with("cli")}
    assert {s.__module__ for s in wiring.DEMO_SEEDS} == {f"bcp_service.{pkg}.demo" for pkg in _subpackages_with("demo")}


def test_the_time_module_does_not_import_flask():
    import subprocess
    import sys

    code = "import sys, bcp_service.clock; print('flask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"

"""Alembic, driven from our own config (``bcp-service db upgrade`` and the tests)."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("file_template", "%%(rev)s")
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str) -> None:
    # Features branch off the foundation (see CONTRIBUTING.md): upgrade every head.
    command.upgrade(alembic_config(database_url), "heads")

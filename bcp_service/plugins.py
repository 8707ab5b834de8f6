"""Transitional: ``optional_module`` for the last guards between subpackages that always ship together
(``drills/services.py``, ``drills/adapters.py``, ``reports/services.py``), which branch ``drillsplans``
replaces with plain imports. Delete this file once they are gone. Discovery by module name
(``subpackage_modules``) is gone: ``bcp_service/wiring.py`` lists what the app is made of.
"""
from __future__ import annotations

import importlib
from types import ModuleType


def optional_module(name: str) -> ModuleType | None:
    """The module, or None when it (not something it imports) does not exist."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            return None
        raise

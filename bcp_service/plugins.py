"""How subpackages plug in: ``bcp_service.<pkg>.<leaf>`` modules found by name.

One loop serves models (``models``), blueprints (``views``), clock jobs (``jobs``), CLI groups
(``cli``) and demo seeds (``demo``), so adding a subpackage never means editing a list.
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Iterator


def optional_module(name: str) -> ModuleType | None:
    """The module, or None when it (not something it imports) does not exist."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            return None
        raise


def subpackage_modules(leaf: str) -> Iterator[ModuleType]:
    """Every existing ``bcp_service.<pkg>.<leaf>`` module, in package-name order."""
    import bcp_service

    for info in sorted(pkgutil.iter_modules(bcp_service.__path__), key=lambda m: m.name):
        if info.ispkg:
            module = optional_module(f"bcp_service.{info.name}.{leaf}")
            if module is not None:
                yield module

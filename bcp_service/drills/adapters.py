"""Adapters to the concurrently built subsystems (outage desk, messaging outbox).

Each returns None while its subsystem is not installed, so drills degrade to a clear error
("outage desk not available") instead of failing at import time.
"""
from __future__ import annotations

import importlib
import logging

log = logging.getLogger(__name__)


def _module(name: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            return None
        raise


def outage_desk():
    """The functional-drill port onto ``bcp_service.outages``, or None when that package is absent."""
    services = _module("bcp_service.outages.services")
    if services is None or not hasattr(services, "declare_outage"):
        return None
    return None  # replaced at integration time, see OutagesDesk below


def notifier():
    """The messaging outbox as a drill ``Notifier``, or None when messaging is absent."""
    return None

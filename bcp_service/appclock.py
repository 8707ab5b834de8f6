"""The running app's clock: ``app.extensions["clock"]`` (a ``FrozenClock`` in tests), else the system
clock. The shell (views, CLI, clock jobs, demo seeds) reads ``now`` here and passes it to services;
domain code takes ``now`` as an argument and imports only :mod:`bcp_service.clock`."""
from __future__ import annotations

from datetime import datetime

from flask import current_app, has_app_context

from bcp_service.clock import Clock, SystemClock

_SYSTEM = SystemClock()


def get_clock() -> Clock:
    if has_app_context():
        return current_app.extensions.get("clock", _SYSTEM)
    return _SYSTEM


def now() -> datetime:
    return get_clock().now()

"""Wake the clock's transport proposer the moment a declaration (or a change of area or expected
restoration) commits: the proposals are made by the clock, never inside the desk's request.

The same mechanism as the dispatcher's (``messaging.wakeup``), on a channel of its own: on PostgreSQL
the declaring transaction runs ``NOTIFY bcp_proposals``, delivered only if it commits, and the clock
process LISTENs (``listen``); in-process (demo, SQLite) the session's ``after_commit`` sets
``committed``. A lost wake-up only delays proposals to the metronome's next beat (``jobs.tick``).
"""
from __future__ import annotations

import threading

from bcp_service.messaging import wakeup as messaging_wakeup

PROPOSALS = messaging_wakeup.WakeChannel("bcp_proposals")
CHANNEL = PROPOSALS.name
committed = PROPOSALS.committed
request = PROPOSALS.request      # inside the transaction whose commit should wake the proposer


def listen(database_url: str, stop: threading.Event, *, wake: threading.Event = committed) -> None:
    """Clock process on PostgreSQL: ``NOTIFY bcp_proposals`` from any process → ``wake.set()``."""
    messaging_wakeup.listen(database_url, stop, wake=wake, channel=CHANNEL)

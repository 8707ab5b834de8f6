"""A clock that takes the leader lock recovers, at once, the claims of the dispatcher it replaces (the
old clock is gone: its ``sending`` rows will never be finished by it). The dispatcher then asks the
provider about each before sending, so nothing is lost or sent twice. Listed in ``wiring.ON_LEADER``."""
from __future__ import annotations

import logging

from bcp_service.messaging.claims import recover_orphaned

log = logging.getLogger(__name__)


def take_over(app) -> int:
    """The new leader recovers the replaced dispatcher's claims now (see the module docstring) and wakes
    its own dispatcher. Returns how many rows it recovered."""
    from bcp_service.appclock import get_clock
    from bcp_service.db import db
    from bcp_service.messaging import wakeup

    clock = app.extensions.get("clock") or get_clock()
    session = db.session_factory()
    try:
        recovered = recover_orphaned(session, now=clock.now())
        session.commit()
    except Exception:
        session.rollback()
        raise
    finally:
        session.close()
    if recovered:
        log.warning("dispatcher: took over %d rows the previous clock had claimed; asking the provider "
                    "before sending them", recovered)
        wakeup.committed.set()
    return recovered

"""Clock job: weekly reminders to nursing stations whose patients' power data is overdue for
re-verification (registry.verification). Scheduled daily by ``bcp_service/wiring.py``; the outbox key
(org, ISO week, user) makes a rerun in the same week a no-op."""
from __future__ import annotations

import logging

from bcp_service.appclock import get_clock
from bcp_service.clock import to_local
from bcp_service.db import run_in_transaction
from bcp_service.registry import verification

log = logging.getLogger(__name__)
EVERY_HOURS = 24


def run_reverify_reminders(app) -> None:
    base_url = app.config.get("PUBLIC_BASE_URL") or ""
    policy = verification.VerificationPolicy.from_config(app.config)

    def work(session):
        now = get_clock().now()
        return verification.send_reminders(session, today=to_local(now).date(), now=now, policy=policy,
                                           base_url=base_url)

    result = run_in_transaction(app, "registry.reverify_reminders", work)
    if result.messages:
        log.info("registry: %d re-verification reminders to %d organisations", result.messages, result.organisations)

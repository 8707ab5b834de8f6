"""Clock job: weekly reminders to nursing stations whose patients' power data is overdue for
re-verification (registry.verification). The job only schedules; the outbox key (org, ISO week,
user) makes a rerun in the same week a no-op."""
from __future__ import annotations

import logging

from bcp_service.clock import get_clock, to_local

log = logging.getLogger(__name__)
EVERY_HOURS = 24


def run_reverify_reminders(app) -> None:
    from bcp_service.db import db
    from bcp_service.registry import verification

    with app.app_context():
        try:
            now = get_clock().now()
            result = verification.send_reminders(
                db.session, today=to_local(now).date(), now=now,
                policy=verification.VerificationPolicy.from_config(app.config),
                base_url=app.config.get("PUBLIC_BASE_URL") or "")
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        finally:
            db.session.remove()
    if result.messages:
        log.info("registry: %d re-verification reminders to %d organisations", result.messages, result.organisations)


def register(scheduler, app) -> None:
    scheduler.add_job(run_reverify_reminders, "interval", args=[app], hours=EVERY_HOURS,
                      id="registry.reverify_reminders", replace_existing=True, max_instances=1, coalesce=True,
                      misfire_grace_time=3600)

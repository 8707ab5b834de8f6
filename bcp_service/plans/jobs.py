"""Clock job: annual review reminders for approved plans.

Due work lives in `plans.next_reminder_at` (set on approval, advanced after each reminder); this
job only claims the rows that are due, so running it often is cheap and a missed beat is caught up.
"""
from __future__ import annotations

import logging

from bcp_service.clock import get_clock

log = logging.getLogger(__name__)
EVERY_MINUTES = 15


def run_review_reminders(app) -> None:
    from bcp_service.db import db

    from .review import send_due_reminders

    with app.app_context():
        try:
            result = send_due_reminders(db.session, now=get_clock().now(),
                                        base_url=app.config.get("PUBLIC_BASE_URL") or "")
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        finally:
            db.session.remove()
    if result.reminders:
        log.info("plans: %d review reminders for %d plans", result.reminders, result.plans)


def register(scheduler, app) -> None:
    scheduler.add_job(run_review_reminders, "interval", args=[app], minutes=EVERY_MINUTES,
                      id="plans.review_reminders", replace_existing=True, max_instances=1, coalesce=True,
                      misfire_grace_time=EVERY_MINUTES * 60)

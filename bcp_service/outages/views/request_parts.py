"""What the desk's API and pages share: the declaration command, tier thresholds from the config,
and the transport proposals run right after a declaration or an area change."""
from __future__ import annotations

from flask import current_app

from bcp_service.auth import current_actor
from bcp_service.appclock import get_clock
from bcp_service.db import db
from bcp_service.outages import transport
from bcp_service.outages.declare import DeclareOutage


def now():
    return get_clock().now()


def tiers() -> dict:
    return {"red_hours": float(current_app.config.get("RUNWAY_RED_HOURS", 6)),
            "yellow_hours": float(current_app.config.get("RUNWAY_YELLOW_HOURS", 24))}


def declare_command(data: dict) -> DeclareOutage:
    """The loaded ``DeclareOutageSchema`` as a command (the service decides the region and scope)."""
    silence = data.get("silence_minutes") or float(current_app.config.get("CHECKIN_SILENCE_MINUTES", 15))
    return DeclareOutage(
        area=data["area"], started_at=data.get("started_at") or now(),
        expected_restoration_at=data.get("expected_restoration_at"), cause=data.get("cause"),
        drill=data.get("drill", False), region_code=data.get("region_code"), silence_minutes=silence,
        safety_margin_minutes=data.get("safety_margin_minutes", 60.0),
        patient_filter=data.get("patient_filter"))


def propose_after_declare(outage_id: int) -> None:
    """Transport proposals right away (own transaction: the declaration must never wait on them)."""
    try:
        transport.propose_transports(db.session, current_actor(), outage_id, now=now())
        db.session.commit()
    except Exception:  # noqa: BLE001 - the clock tick proposes again; the desk must get its 201
        db.session.rollback()
        current_app.logger.exception("outage %s: transport proposals failed; the clock will retry", outage_id)

"""The dispatcher's settings (rate, concurrency, lease, backoff, which purposes fall back to voice) and
the URLs it gives the provider, read from the app's config and alerts/escalation.yaml."""
from __future__ import annotations

from dataclasses import dataclass

from bcp_service.messaging.policy import MAX_ATTEMPTS, SPOKEN_PURPOSES, load_escalation
from bcp_service.messaging.tokens import TapClaims, make_token

VOICE_PURPOSES = SPOKEN_PURPOSES      # default; alerts/escalation.yaml may narrow it


@dataclass(frozen=True)
class DispatchConfig:
    public_base_url: str
    secret: str
    rate_per_second: float = 10.0
    concurrency: int = 16
    batch: int = 200
    claim_seconds: float = 5.0      # claim at most this many seconds of sending per pass (see batch_limit)
    lease_seconds: float = 120.0
    max_attempts: int = MAX_ATTEMPTS
    commit_every: int = 50
    backoff_base: float = 5.0
    backoff_cap: float = 300.0
    voice_for: frozenset = VOICE_PURPOSES

    def status_callback(self, outbox_id: int) -> str:
        return f"{self.public_base_url}/sms/status?o={outbox_id}"

    def voice_url(self, purpose: str, patient_id: int | None, outage_id: int | None) -> str | None:
        if purpose not in self.voice_for or patient_id is None or outage_id is None:
            return None
        token = make_token(self.secret, TapClaims("checkin", patient_id, outage_id))
        return f"{self.public_base_url}/voice/checkin?t={token}"


def config_from_app(app) -> DispatchConfig:
    cfg = app.config
    esc = load_escalation()
    return DispatchConfig(
        public_base_url=(cfg.get("PUBLIC_BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
        secret=cfg["SECRET_KEY"],
        rate_per_second=float(cfg.get("SMS_RATE_PER_SECOND", 10)),
        concurrency=int(cfg.get("DISPATCH_CONCURRENCY", 16)),
        batch=int(cfg.get("DISPATCH_BATCH", 200)),
        lease_seconds=float(cfg.get("DISPATCH_LEASE_SECONDS", esc.lease_seconds)),
        max_attempts=esc.max_attempts, backoff_base=esc.base_seconds, backoff_cap=esc.cap_seconds,
        voice_for=esc.voice_for,
    )

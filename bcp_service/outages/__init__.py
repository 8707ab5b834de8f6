"""Outage desk: declare an outage over an area, triage affected patients by power runway,
check in with them in rounds, escalate silence to field teams, match and track transport."""

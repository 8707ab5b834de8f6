"""Drills blueprints: ``api.bp`` (JSON API) and ``pages.bp`` (the drill pages)."""

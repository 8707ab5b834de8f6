"""Application factory: ``gunicorn "bcp_service.app:create_app()"``. What the app is made of
(blueprints, navigation, answer handlers, clock jobs) is listed in ``bcp_service/wiring.py``."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, request
from flask_login import current_user

from bcp_service import config as config_module
from bcp_service import i18n, security, templating, wiring
from bcp_service.clock import Clock, SystemClock, iso_local, to_local
from bcp_service.db import db
from bcp_service.extensions import csrf, limiter, login_manager

ROOT = Path(__file__).resolve().parent.parent



def create_app(overrides: dict | None = None, *, clock: Clock | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(config_module.load(instance_path=app.instance_path))
    if overrides:
        app.config.update(overrides)
    app.json.ensure_ascii = False
    app.extensions["clock"] = clock or SystemClock()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The scheduler would log every 2-second beat; its warnings and errors are what matter.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    db.init_app(app)
    login_manager.init_app(app)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False   # checked in _csrf_guard below
    csrf.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    limiter.init_app(app)
    security.init_app(app)

    i18n.install_marshmallow_messages()   # every validation message in Japanese (bcp_service/i18n.py)
    from bcp_service.api import register_error_handlers

    register_error_handlers(app)
    wiring.install(app)     # blueprints, navigation, answer handlers, clock jobs: see bcp_service/wiring.py
    app.jinja_env.filters["local"] = lambda dt, fmt="%Y-%m-%d %H:%M": to_local(dt).strftime(fmt) if dt else ""
    app.jinja_env.filters["iso_local"] = iso_local
    app.jinja_env.globals["status_title"] = i18n.status_title
    templating.install(app)   # |phone |tel |wareki (bcp_service/templating.py)

    @app.before_request
    def _csrf_guard():
        """CSRF on every cookie-authenticated form post.

        Requests with a bearer token carry no ambient credential, and webhook or one-tap views that
        authenticate by signature or signed token mark themselves ``csrf_exempt``.
        """
        if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
            return None
        if request.headers.get("Authorization", "").lower().startswith("bearer "):
            return None
        if request.path.startswith("/api/") and not current_user.is_authenticated:
            return None   # no ambient credential to abuse; the view answers 401
        view = app.view_functions.get(request.endpoint or "")
        if view is None or getattr(view, "csrf_exempt", False):
            return None
        if f"{view.__module__}.{view.__name__}" in getattr(csrf, "_exempt_views", ()):
            return None
        csrf.protect()
        return None


    return app


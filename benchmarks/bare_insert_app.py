"""The ceiling for ``night_load.py``: a bare Flask endpoint that does one INSERT per request.

Same stack as the service (Flask, SQLAlchemy Core, psycopg 3, PostgreSQL, gunicorn with
``gunicorn.conf.py``), none of its work: no signature, no lookup, no ORM. What a status callback can
at best approach on this machine::

    DATABASE_URL=... gunicorn -c gunicorn.conf.py --pythonpath benchmarks "bare_insert_app:create_app()"
"""
from __future__ import annotations

import os

from flask import Flask, Response, request
from sqlalchemy import create_engine, text


TABLE = ("CREATE TABLE IF NOT EXISTS bench_bare (id bigserial PRIMARY KEY, sid text NOT NULL, status text, "
         "received_at timestamptz NOT NULL DEFAULT now())")     # made once by the caller, before the workers


def create_app() -> Flask:
    app = Flask(__name__)
    engine = create_engine(os.environ["DATABASE_URL"], pool_size=8, max_overflow=8, pool_pre_ping=False)
    insert = text("INSERT INTO bench_bare (sid, status) VALUES (:sid, :status)")

    @app.post("/bare")
    def bare():
        with engine.begin() as conn:
            conn.execute(insert, {"sid": request.form.get("MessageSid", ""), "status": request.form.get("MessageStatus")})
        return Response(status=204)

    @app.get("/healthz")
    def healthz():
        return "ok"

    return app

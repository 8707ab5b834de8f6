"""Engine, session and declarative base.

SQLite in the instance folder is the embedded default; PostgreSQL (psycopg 3) in production.
Timestamps are stored in UTC and always come back timezone-aware, whatever the backend.
"""
from __future__ import annotations

import logging
from contextlib import nullcontext
from datetime import datetime, timezone
from typing import Callable, Iterable, Sequence, TypeVar

from sqlalchemy import DateTime, MetaData, create_engine, event, insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, scoped_session, sessionmaker
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)
T = TypeVar("T")

# Stable constraint names keep Alembic diffs identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator):
    """A timezone-aware datetime stored as UTC.

    SQLite has no time zones and returns naive values; we store naive UTC there and re-attach
    UTC on the way out, so code never compares naive with aware datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use clock.now()")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def bulk_insert(session, table, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    """The one bulk-insert helper: many rows (tuples in ``columns`` order) into ``table`` (a
    ``Table``) in the caller's transaction. On PostgreSQL through binary COPY, consumed as the server
    writes (an executemany costs one round trip per row: 20,000 rows took over a second); elsewhere a
    plain executemany."""
    if session.get_bind().dialect.name != "postgresql":
        batch = [dict(zip(columns, r)) for r in rows]
        if batch:
            session.execute(insert(table), batch)
        return
    copy_rows(session, table.name, columns, rows)


def copy_rows(session, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    """PostgreSQL only: stream ``rows`` (tuples in ``columns`` order) into ``table`` with binary COPY,
    inside the session's transaction.

    For fan-outs of thousands of rows: an executemany costs a round trip per row, and text COPY spends
    most of its time formatting values in Python; binary COPY takes a third of that. The column types
    are read from the table itself, so callers pass plain Python values (aware datetimes for UTC columns).
    """
    from psycopg import sql

    raw = session.connection().connection.driver_connection
    target, cols = sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    with raw.cursor() as cur:
        cur.execute(sql.SQL("SELECT {} FROM {} LIMIT 0").format(cols, target))
        types = [d.type_code for d in cur.description]
        with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(target, cols)) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)


def make_engine(url: str, **kwargs) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    elif url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://"):]
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
    else:
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, hide_parameters=kwargs.pop("hide_parameters", True), **kwargs)  # never log personal data
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets the web and clock threads of the demo read while the other writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Database:
    """Holds the engine and a scoped session for one app (Flask extension style)."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.session_factory = sessionmaker(expire_on_commit=False)
        self.session = scoped_session(self.session_factory)

    def init_app(self, app) -> None:
        self.engine = make_engine(app.config["DATABASE_URL"])
        self.session_factory.configure(bind=self.engine)
        app.extensions["db"] = self

        @app.teardown_appcontext
        def _remove_session(_exc) -> None:
            self.session.remove()


db = Database()


def run_in_transaction(app, name: str, work: Callable[..., T]) -> T:
    """Run one piece of due work (a clock job's) as one transaction: ``work(session)``, then commit; on
    an exception roll back, log one line naming the work and re-raise (the metronome or APScheduler
    logs the traceback). Inside an app context of ``app`` it uses that context's session; otherwise
    it pushes one for the duration."""
    from flask import current_app, has_app_context

    active = has_app_context() and current_app._get_current_object() is app
    with nullcontext() if active else app.app_context():
        session = db.session
        try:
            result = work(session)
            session.commit()
        except Exception as exc:
            session.rollback()
            log.error("%s: rolled back (%s: %s)", name, type(exc).__name__, exc)
            raise
        return result


def import_all_models() -> tuple:
    """The model modules listed in ``bcp_service.wiring.MODELS``, imported, so Base.metadata knows all
    tables (Alembic, tests, benchmarks). Returns them."""
    from bcp_service.wiring import MODELS

    return MODELS

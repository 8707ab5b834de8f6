"""``bcp-service …`` commands."""
from __future__ import annotations

import os
import sys
import threading

import click

from bcp_service.config import ConfigError


def _app(**kwargs):
    from bcp_service.app import create_app

    try:
        return create_app(**kwargs)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(help="在宅医療BCP・災害時支援サービス (bcp-service)")
def main() -> None:
    pass


@main.group(help="Database commands")
def db() -> None:
    pass


@db.command("upgrade", help="Apply every Alembic migration (release phase)")
def db_upgrade() -> None:
    from bcp_service.migrate import upgrade

    app = _app()
    upgrade(app.config["DATABASE_URL"])
    click.echo("database is up to date", err=True)


@main.command(help="Serve the web app (development server; use gunicorn in production)")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.option("--with-clock/--no-clock", default=False, help="also run the clock in this process")
def serve(host: str, port: int, with_clock: bool) -> None:
    app = _app()
    if with_clock:
        _start_clock_thread(app)
    app.run(host=host, port=port, threaded=True, use_reloader=False)


@main.command(help="Run the clock process (APScheduler): due check-ins, retries, reminders")
def clock() -> None:
    from bcp_service.scheduler import run_clock

    run_clock(_app())


def _start_clock_thread(app) -> threading.Event:
    from bcp_service.scheduler import run_clock

    stop = threading.Event()
    threading.Thread(target=run_clock, args=(app,), kwargs={"stop_event": stop},
                     name="clock", daemon=True).start()
    return stop


@main.group(help="Users and API tokens")
def users() -> None:
    pass


@users.command("create")
@click.argument("email")
@click.option("--role", required=True, help="admin | hub_staff | institution_staff | field_team | prefecture_reviewer")
@click.option("--region", "scope", default=None, help="region code (prefecture code for prefecture_reviewer)")
@click.option("--org", "organization_id", type=int, default=None)
@click.option("--name", "display_name", default="")
@click.password_option(prompt="パスワード", help="at least 10 characters")
def users_create(email, role, scope, organization_id, display_name, password) -> None:
    from bcp_service.appclock import get_clock
    from bcp_service.auth import services
    from bcp_service.db import db as database
    from bcp_service.errors import DomainError

    app = _app()
    with app.app_context():
        try:
            user = services.create_user(database.session, email=email, password=password, role=role, scope=scope,
                                        organization_id=organization_id, display_name=display_name,
                                        now=get_clock().now())
            database.session.commit()
        except DomainError as exc:
            database.session.rollback()
            detail = "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.fields.items())
            raise click.ClickException(f"{exc.message}{' — ' + detail if detail else ''}") from exc
        click.echo(f"created user {user.id} <{user.email}> ({user.role})", err=True)


def _for_user(email: str, action) -> str:
    """Run ``action(session, user)`` in one transaction; a missing user is a clear CLI error."""
    from bcp_service.auth import services
    from bcp_service.db import db as database
    from bcp_service.errors import DomainError, NotFound

    app = _app()
    with app.app_context():
        try:
            user = services.user_by_email(database.session, email)
        except NotFound as exc:
            raise click.ClickException(exc.message) from exc
        try:
            result = action(database.session, user)
        except DomainError as exc:
            database.session.rollback()
            detail = "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.fields.items())
            raise click.ClickException(f"{exc.message}{' — ' + detail if detail else ''}") from exc
        database.session.commit()
        return result


@users.command("token", help="Print a new API token for EMAIL (only the token, on stdout)")
@click.argument("email")
def users_token(email) -> None:
    from bcp_service.appclock import get_clock
    from bcp_service.auth.services import issue_token

    click.echo(_for_user(email, lambda session, user: issue_token(session, user, now=get_clock().now())))


@users.command("totp", help="Turn on the TOTP second factor and print the provisioning URI")
@click.argument("email")
def users_totp(email) -> None:
    from bcp_service.auth.services import enable_totp

    click.echo(_for_user(email, enable_totp))


@users.command("password", help="Set a new password for EMAIL (ends every session of the user)")
@click.argument("email")
@click.password_option(prompt="新しいパスワード")
def users_password(email, password) -> None:
    from bcp_service.auth.services import set_password

    _for_user(email, lambda session, user: set_password(session, user, password))


@users.command("role", help="Change EMAIL's role and scope (ends every session of the user)")
@click.argument("email")
@click.option("--role", required=True)
@click.option("--region", "scope", default=None)
def users_role(email, role, scope) -> None:
    from bcp_service.auth.services import set_role

    _for_user(email, lambda session, user: set_role(session, user, role=role, scope=scope))


@main.command(help="Seed synthetic demo data into SQLite and serve web + clock in one process")
@click.option("--port", default=5000, type=int)
@click.option("--host", default="127.0.0.1")
@click.option("--patients", default=300, type=int, help="how many synthetic patients to seed")
@click.option("--no-serve", is_flag=True, help="seed only (for tests and scripted checks)")
def demo(port: int, host: str, patients: int, no_serve: bool) -> None:
    from bcp_service import demo as demo_module
    from bcp_service.migrate import upgrade

    os.environ.setdefault("BCP_ENV", "demo")
    os.environ.setdefault("MESSAGING_SIMULATOR", "1")    # the demo's phones are the simulator
    os.environ.setdefault("REQUIRE_TOTP_ROLES", "")      # demo logins are printed; no authenticator app
    os.environ.setdefault("PUBLIC_BASE_URL", f"http://{host}:{port}")
    app = _app()
    upgrade(app.config["DATABASE_URL"])
    with app.app_context():
        summary = demo_module.seed(patients=patients)
    base = app.config["PUBLIC_BASE_URL"]
    click.echo(f"\n  bcp-service demo: {base}/login")
    for line in summary.logins:
        click.echo(f"    {line}")
    click.echo(f"  database: {app.config['DATABASE_URL']}\n")
    if no_serve:
        return
    _start_clock_thread(app)
    app.run(host=host, port=port, threaded=True, use_reloader=False)


def _add_wired_commands() -> None:
    """The click groups listed in ``wiring.CLI_GROUPS`` become ``bcp-service <name> …``."""
    from bcp_service.wiring import CLI_GROUPS

    for group in CLI_GROUPS:
        main.add_command(group)


_add_wired_commands()

if __name__ == "__main__":
    sys.exit(main())

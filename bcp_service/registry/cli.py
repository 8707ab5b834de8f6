"""``bcp-service patients import FILE``: the same all-or-nothing import as the API."""
from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group(name="patients", help="患者台帳 (registry)")
def cli() -> None:
    pass


@cli.command(name="import", help="CSV / XLSX から患者を一括登録（全行成功か、1件も登録しない）")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as-user", "as_user", default=None,
              help="e-mail of the user the import is recorded as (default: the operator, as admin)")
def import_file(file: Path, as_user: str | None) -> None:
    from sqlalchemy import select

    from bcp_service.app import create_app
    from bcp_service.auth.models import User
    from bcp_service.auth.roles import Actor, Role
    from bcp_service.appclock import get_clock
    from bcp_service.db import db
    from bcp_service.errors import DomainError
    from bcp_service.registry import bulk_import, services, tabular
    from bcp_service.registry.schemas import PatientIn

    app = create_app()
    with app.app_context():
        actor = Actor(user_id=None, role=Role.ADMIN, scope=None)
        if as_user:
            user = db.session.scalar(select(User).where(User.email == as_user))
            if user is None:
                raise click.ClickException(f"no user {as_user}")
            from bcp_service.auth.services import actor_for

            actor = actor_for(user)
        try:
            rows = tabular.read_table(file.name, file.read_bytes())
            good, bad = tabular.parse_rows(rows, PatientIn())
            if bad:
                _print_rows(bad)
                raise click.ClickException(f"{len(bad)}行に誤りがあります。1件も登録していません")
            n = bulk_import.import_patients(db.session, actor, good, now=get_clock().now(),
                                            policy=services.RunwayPolicy.from_config(app.config))
            db.session.commit()
        except tabular.TableError as e:
            raise click.ClickException(str(e)) from None
        except DomainError as e:
            db.session.rollback()
            _print_rows(e.extra.get("rows", []))
            if e.fields:
                click.echo(str(e.fields), err=True)
            raise click.ClickException(e.message) from None
    click.echo(f"imported {n}")


def _print_rows(rows) -> None:
    for r in rows:
        for field, msgs in r["fields"].items():
            click.echo(f"{r['row']}行目 {field}: {' '.join(msgs)}", err=True)
    sys.stderr.flush()


@cli.command(name="recompute", help="全患者の自立電源時間と区分を再計算する（RUNWAY_* の設定変更後に）")
def recompute() -> None:
    from bcp_service.app import create_app
    from bcp_service.db import db
    from bcp_service.registry import services

    app = create_app()
    with app.app_context():
        from bcp_service.appclock import get_clock
        from bcp_service.clock import to_local

        changed, total = services.recompute_all(db.session, services.RunwayPolicy.from_config(app.config),
                                                today=to_local(get_clock().now()).date())
        db.session.commit()
    click.echo(f"recomputed {total}, tier changed for {changed}")

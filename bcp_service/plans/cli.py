"""`bcp-service plans …`: export a plan from the command line (for printing before a blackout)."""
from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group("plans", help="BCP計画（機関型・連携型・地域BCP）")
def cli() -> None:
    pass


@cli.command("export", help="計画を DOCX / HTML / Markdown に書き出す")
@click.argument("plan_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["docx", "html", "md"]), required=True)
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, writable=True), required=True,
              help="出力先ファイル（- で標準出力。docx は不可）")
@click.option("--version", "number", type=int, default=None, help="版の番号（省略時は現在の版）")
def export(plan_id: int, fmt: str, output: str, number: int | None) -> None:
    from bcp_service.app import create_app
    from bcp_service.auth import Actor, Role
    from bcp_service.db import db
    from bcp_service.errors import DomainError

    from .export import to_docx, to_html, to_markdown
    from .history import plan_doc

    if output == "-" and fmt == "docx":
        raise click.UsageError("docx cannot be written to standard output; give a file with -o")
    app = create_app()
    with app.app_context():
        # the operator at the console acts as admin; the export is still recorded in the audit log
        actor = Actor(user_id=None, role=Role.ADMIN, scope=None)
        try:
            doc = plan_doc(db.session, actor, plan_id, number)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(1)
        data = {"docx": to_docx, "html": to_html, "md": to_markdown}[fmt](doc)
    if output == "-":
        click.echo(data, nl=False)
        return
    path = Path(output)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    click.echo(f"{path}: {doc.title} 第{doc.version_number}版 ({fmt})", err=True)

"""Jinja filters and globals shared by every page, registered by ``create_app`` (nothing at import).

- ``x|phone``: the one phone display format (``registry.phones.format_phone``);
- ``x|tel``: the same number as a ``tel:`` link a person can tap (plain text when it cannot be dialled);
- ``d|wareki``: a date as Japanese forms write it (昭和25年4月1日), ``d|with_wareki`` both calendars.
"""
from __future__ import annotations

from flask import Flask
from markupsafe import Markup, escape

from bcp_service.dates import to_wareki, with_wareki
from bcp_service.registry.phones import format_phone, tel_uri


def tel_link(value: str | None, empty: str = "") -> Markup:
    shown = format_phone(value)
    if not shown:
        return Markup(escape(empty))
    uri = tel_uri(value)
    if uri is None:
        return Markup(escape(shown))
    return Markup('<a class="tel" href="{}">{}</a>').format(uri, shown)


def install(app: Flask) -> None:
    app.jinja_env.filters["phone"] = format_phone
    app.jinja_env.filters["tel"] = tel_link
    app.jinja_env.filters["wareki"] = to_wareki
    app.jinja_env.filters["with_wareki"] = with_wareki
    app.jinja_env.globals.setdefault("phone", format_phone)

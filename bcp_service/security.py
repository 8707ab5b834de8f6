"""Request-level security policy, installed by ``init_app(app)``.

- Reverse proxy: ``ProxyFix`` with the configured hop counts (``PROXY_FIX_X_FOR`` …), so the client
  address (audit rows, rate limits) is the family's phone, not the proxy.
- Response headers: CSP without inline scripts, HSTS when served over https, ``Cache-Control:
  no-store`` on every non-static response (pages and API answers carry personal data).
- Bad input refused before any view runs: NUL characters and over-deep JSON (400, Japanese);
  integers in paths outside the 32-bit range (404); database errors caused by input values (400).
- Request bodies above ``MAX_CONTENT_LENGTH`` are refused (413, Japanese).
"""
from __future__ import annotations

import json

from flask import Flask, request
from sqlalchemy.exc import DataError, StatementError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from bcp_service.errors import Invalid

INT32_MAX = 2**31 - 1
MAX_JSON_DEPTH = 32
NUL_MESSAGE = "入力に使えない文字（NUL 文字）が含まれています。"
TOO_LARGE_MESSAGE = "送信されたデータが大きすぎます（上限 {mb} MB）。ファイルを分けて送ってください。"

CSP = ("default-src 'self'; img-src 'self' data: https://cyberjapandata.gsi.go.jp; "
       "style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; base-uri 'self'; "
       "form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": CSP,
}
HSTS = "max-age=63072000; includeSubDomains"


class Int32Converter(IntegerConverter):
    """``<int:…>`` limited to what an INTEGER column holds: a larger id is simply not found (404)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", INT32_MAX)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    hops = app.config.get("PROXY_FIX") or {}
    if any(hops.values()):
        app.wsgi_app = ProxyFix(app.wsgi_app, **hops)
    app.url_map.converters["int"] = Int32Converter
    if app.config.get("BCP_ENV") == "production" and \
            str(app.config.get("RATELIMIT_STORAGE_URI", "memory://")).startswith("memory://"):
        app.logger.warning("RATELIMIT_STORAGE_URI is memory://: each worker counts alone (limits multiply); "
                           "set it to redis://… in production")
    https = str(app.config.get("PUBLIC_BASE_URL", "")).startswith("https://")

    @app.before_request
    def _refuse_bad_characters():
        # A NUL ends C strings: PostgreSQL refuses it in text, and it never belongs in a form or name.
        for where, values in (("query", request.args), ("form", request.form)):
            for key, value in values.items(multi=True):
                if "\x00" in key or "\x00" in value:
                    raise Invalid(NUL_MESSAGE, fields={key.replace("\x00", "") or where: [NUL_MESSAGE]})
        if request.is_json and request.content_length:
            try:
                data = json.loads(request.get_data(cache=True) or b"null")
            except RecursionError:
                raise Invalid("JSON の入れ子が深すぎます。", fields={"_body": ["入れ子が深すぎます"]}) from None
            except ValueError:
                return None   # the view's own parser answers malformed JSON
            problem = _json_problem(data)
            if problem:
                raise Invalid(problem, fields={"_body": [problem]})
        return None

    @app.after_request
    def _headers(response):
        for name, value in HEADERS.items():
            response.headers[name] = value
        if https:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if not request.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc):
        from bcp_service.api import _wants_json, error_body
        from flask import jsonify, render_template

        limit = app.config.get("MAX_CONTENT_LENGTH") or 0
        message = TOO_LARGE_MESSAGE.format(mb=round(limit / 1_048_576, 1))
        if _wants_json():
            return jsonify(error_body("too_large", message)), 413
        return render_template("error.html", status=413, message=message), 413

    @app.errorhandler(DataError)
    @app.errorhandler(OverflowError)
    def _bad_value(exc):
        # A value the database cannot hold (number out of range, bad text): the input's fault, not ours.
        # The statement's parameters are never logged (``hide_parameters``) nor echoed.
        return _as_invalid("入力された値がデータベースで扱える範囲を超えています。")

    @app.errorhandler(StatementError)
    def _statement(exc):
        if isinstance(exc.orig, (OverflowError, ValueError)):
            return _as_invalid("入力された値がデータベースで扱える範囲を超えています。")
        raise exc


def _as_invalid(message: str):
    from bcp_service.api import _wants_json, error_body
    from bcp_service.db import db
    from flask import jsonify, render_template

    db.session.rollback()
    if _wants_json():
        return jsonify(error_body("validation_error", message, {"_input": [message]})), 400
    return render_template("error.html", status=400, message=message), 400


def _json_problem(data, depth: int = 0) -> str | None:
    """Why a JSON body is refused (NUL characters, nesting deeper than MAX_JSON_DEPTH), or None."""
    stack = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return "JSON の入れ子が深すぎます。"
        if isinstance(value, str):
            if "\x00" in value:
                return NUL_MESSAGE
        elif isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    return NUL_MESSAGE
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return None

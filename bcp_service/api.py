"""The API's shared pieces: error format, pagination, OpenAPI generated from marshmallow schemas."""
from __future__ import annotations

from typing import Any, Callable, Sequence, TypeVar

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, current_app, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from marshmallow import Schema, ValidationError, fields, validate
from werkzeug.exceptions import HTTPException

from bcp_service import i18n
from bcp_service.errors import DomainError, Invalid, Unauthorized

MAX_LIMIT = 500
T = TypeVar("T")


def error_body(code: str, message: str, fields_: dict | None = None, **extra) -> dict:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields_:
        body["fields"] = fields_
    body.update(extra)
    return {"error": body}


def _wants_json() -> bool:
    return (request.path.startswith("/api/") or request.is_json
            or request.accept_mimetypes.best == "application/json")


def register_error_handlers(app: Flask) -> None:
    from bcp_service.db import db

    def _rollback() -> None:
        # Bad input changes nothing: whatever the request had added is thrown away.
        db.session.rollback()

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError):
        _rollback()
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return jsonify(error_body("validation_error", "入力内容に誤りがあります。各項目の説明に従って直してください。",
                                  messages)), 400

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        _rollback()
        if isinstance(exc, Unauthorized) and not _wants_json():
            return redirect(url_for("auth.login", next=request.full_path))
        return _error(exc.status, exc.code, exc.message, exc.fields, **exc.extra)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        status = exc.code or 500
        if status >= 500:
            _rollback()
        code = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                410: "gone", 413: "too_large", 429: "rate_limited", 500: "internal_error"}.get(status, "http_error")
        message = exc.description or exc.name
        if isinstance(exc, CSRFError):
            code, message = "csrf_failed", i18n.CSRF_MESSAGE
        return _error(status, code, message)


def _error(status: int, code: str, message: str | None, fields_: dict | None = None, **extra):
    """The error as a person reads it, in Japanese: the API's JSON format under /api/ (the developer's
    English text, if any, kept in ``detail``), else the error page."""
    shown = i18n.user_message(status, message)
    if _wants_json():
        if message and shown != message:
            extra.setdefault("detail", message)
        return jsonify(error_body(code, shown, fields_, **extra)), status
    return render_template("error.html", status=status, title=i18n.status_title(status), message=shown), status


def json_body() -> dict:
    """The request's JSON object, or a 400 in the API error format."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise Invalid("request body must be a JSON object", fields={"_body": ["JSON オブジェクトを送ってください"]})
    return data


class PageArgs(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, MAX_LIMIT))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


def page_args() -> tuple[int, int]:
    args = PageArgs().load({k: v for k, v in request.args.items() if k in ("limit", "offset")})
    return args["limit"], args["offset"]


def paginate(session, stmt, schema: Schema | None = None, *, limit: int | None = None, offset: int | None = None,
             dump: Callable[[Any], Any] | None = None) -> dict:
    """``{"items", "total"}`` for a select statement, or for a list already in memory (then ``session`` is
    not used): one page (``?limit=&offset=`` unless given) and the true total. Items go through ``schema``
    or ``dump`` (one row → one item), else as they are."""
    from sqlalchemy import func, select

    if limit is None or offset is None:
        limit, offset = page_args()
    if isinstance(stmt, (list, tuple)):
        total, rows = len(stmt), list(stmt[offset:offset + limit])
    else:
        total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
        rows = session.scalars(stmt.limit(limit).offset(offset)).all()
    items = schema.dump(rows, many=True) if schema is not None else [dump(r) for r in rows] if dump else rows
    return {"items": items, "total": total}


def paginate_items(items: Sequence[T], dump: Callable[[T], Any] | None = None, *, limit: int | None = None,
                   offset: int | None = None) -> dict:
    """``{"items", "total"}`` for a list already in memory (built by a service): one page of it
    (``?limit=&offset=`` unless given) and the true total, however many the page shows."""
    if limit is None or offset is None:
        limit, offset = page_args()
    chosen = items[offset:offset + limit]
    return {"items": [dump(x) for x in chosen] if dump is not None else list(chosen), "total": len(items)}


def csrf_exempt(view):
    """Mark a view that authenticates by signature or signed token, not by session cookie."""
    view.csrf_exempt = True
    return view


# --- OpenAPI ------------------------------------------------------------------------------------

def api_doc(*, summary: str, request_schema: type[Schema] | None = None,
            response_schema: type[Schema] | None = None, status: int = 200,
            query_schema: type[Schema] | None = None, many: bool = False) -> Callable:
    """Attach OpenAPI facts to a view; ``/api/v1/openapi.json`` is generated from them."""

    def decorator(view):
        view.api_doc = dict(summary=summary, request=request_schema, response=response_schema,
                            status=status, query=query_schema, many=many)
        return view

    return decorator


ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string"}, "message": {"type": "string", "description": "日本語（利用者に表示できる文）"},
        "detail": {"type": "string", "description": "開発者向けの原文（message と異なる場合のみ）"},
        # field name → messages (a list), or for a nested object / list item, the same shape again.
        "fields": {"type": "object", "additionalProperties": {}},
    }, "required": ["code", "message"]}},
}


# Every operation may answer these, in the error format (``register_error_handlers``).
ERROR_RESPONSES = ((400, "bad input (fields say which, in Japanese)"), (401, "no or invalid token"),
                   (403, "wrong role, region or organisation"), (404, "no such object"),
                   (405, "method not allowed"), (409, "conflicts with the object's state"),
                   (410, "gone (expired or closed)"), (413, "body too large"),
                   (422, "cannot be done with these data"), (429, "rate limited"))


def _open_responses(spec: dict) -> None:
    """Response schemas describe what a client reads: drop ``additionalProperties: false``, which
    apispec derives from ``unknown = RAISE`` (a request rule), from every schema a response uses."""
    components = spec.get("components", {}).get("schemas", {})
    seen: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[1]
                if name not in seen and name in components:
                    seen.add(name)
                    walk(components[name])
            if node.get("additionalProperties") is False:
                del node["additionalProperties"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for operations in spec.get("paths", {}).values():
        for op in operations.values():
            if isinstance(op, dict):
                walk(op.get("responses", {}))


def _name_resolver():
    """Name components after their schema class; qualify with the package when two differ."""
    names: dict[type, str] = {}

    def resolve(schema) -> str:
        from apispec.ext.marshmallow.common import resolve_schema_cls

        cls = resolve_schema_cls(schema)
        if cls not in names:
            base = cls.__name__.removesuffix("Schema") or cls.__name__
            taken = set(names.values())
            if base in taken:
                package = cls.__module__.split(".")[1] if cls.__module__.count(".") else cls.__module__
                base = f"{package.title()}{base}"
                while base in taken:
                    base += "_"
            names[cls] = base
        return names[cls]

    return resolve


def build_spec(app: Flask) -> dict:
    spec = APISpec(title="bcp-service API", version="1.0.0", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin(schema_name_resolver=_name_resolver())],
                   info={"description": "在宅医療 BCP・停電時安否確認サービスの API"})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", ERROR_SCHEMA)

    def schema_ref(cls: type[Schema]):
        return cls   # the marshmallow plugin turns schema classes into named $refs

    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions.get(rule.endpoint)
        doc = getattr(view, "api_doc", None)
        if doc is None or not rule.rule.startswith("/api/"):
            continue   # pages that share a view with an API path are not part of the API
        path = rule.rule
        params = []
        for arg in rule.arguments:
            is_int = f"<int:{arg}>" in path
            path = path.replace(f"<int:{arg}>", "{" + arg + "}").replace(f"<{arg}>", "{" + arg + "}")
            path = path.replace(f"<string:{arg}>", "{" + arg + "}")
            # Flask's int converter takes digits only: anything else is a 404 before the view runs.
            params.append({"name": arg, "in": "path", "required": True,
                           "schema": {"type": "integer", "minimum": 0} if is_int else
                           {"type": "string", "pattern": "^[^/]+$"}})
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op: dict[str, Any] = {"summary": doc["summary"], "parameters": list(params),
                                  "security": [{"bearer": []}], "responses": {}}
            if doc["query"] is not None and method == "GET":
                op["parameters"].append({"in": "query", "schema": schema_ref(doc["query"])})
            if doc["request"] is not None and method in ("POST", "PUT", "PATCH"):
                op["requestBody"] = {"required": True, "content": {
                    "application/json": {"schema": schema_ref(doc["request"])}}}
            if doc["response"] is not None:
                ref = schema_ref(doc["response"])
                content = ({"type": "object", "properties": {"items": {"type": "array", "items": ref},
                                                             "total": {"type": "integer"}}}
                           if doc["many"] else ref)
                op["responses"][str(doc["status"])] = {"description": "OK", "content": {
                    "application/json": {"schema": content}}}
            else:
                op["responses"][str(doc["status"])] = {"description": "OK"}
            for code, text in ERROR_RESPONSES:
                op["responses"].setdefault(str(code), {"description": text, "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
            paths.setdefault(path, {})[method.lower()] = op
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    document = spec.to_dict()
    _open_responses(document)
    return document


bp = Blueprint("api", __name__)


@bp.get("/api/v1/openapi.json")
def openapi():
    return jsonify(build_spec(current_app))


@bp.get("/healthz")
def healthz():
    from sqlalchemy import text

    from bcp_service.db import db

    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - health checks report, they do not raise
        current_app.logger.exception("healthz: database check failed")
        return jsonify({"status": "error", "database": "unreachable"}), 503
    return jsonify({"status": "ok"})

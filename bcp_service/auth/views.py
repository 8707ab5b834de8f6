from __future__ import annotations

from urllib.parse import urlsplit


from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from bcp_service.appclock import get_clock
from bcp_service.auth import Role, require, services
from bcp_service.auth.models import AuditEvent, User
from bcp_service.db import db
from bcp_service.extensions import limiter, login_manager


bp = Blueprint("auth", __name__)


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id))
    return user if user and user.active else None


class LoginForm(FlaskForm):
    email = EmailField("メールアドレス", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("パスワード", validators=[DataRequired(), Length(max=512)])
    otp = StringField("確認コード（2段階認証）", validators=[Length(max=10)])


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never redirect a signed-in user to another host.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("web.landing")


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    form = LoginForm()
    needs_otp = False
    if form.validate_on_submit():
        result = services.sign_in(db.session, email=form.email.data, password=form.password.data,
                                  otp=form.otp.data, now=get_clock().now())
        db.session.commit()
        if result.user is not None:
            login_user(result.user)
            return redirect(_safe_next(request.args.get("next")))
        needs_otp = result.needs_otp
        flash(result.error, "error")
    elif request.method == "POST":
        flash("入力内容を確認してください。", "error")
    return render_template("auth/login.html", form=form, needs_otp=needs_otp), (401 if request.method == "POST" else 200)


@bp.post("/logout")
def logout():
    logout_user()
    flash("ログアウトしました。", "info")
    return redirect(url_for("auth.login"))


# --- the audit log (admin) ----------------------------------------------------------------------


@bp.get("/admin/audit")
@require(Role.ADMIN)
def audit_page():
    entity = request.args.get("entity") or None
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(500)
    if entity:
        stmt = stmt.where(AuditEvent.entity == entity)
    events = db.session.scalars(stmt).all()
    return render_template("admin/audit.html", events=events, entity=entity)

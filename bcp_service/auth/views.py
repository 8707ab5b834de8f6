from __future__ import annotations

from urllib.parse import urlsplit


import pyotp
import segno
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from bcp_service.appclock import get_clock
from bcp_service.auth import Role, require, services
from bcp_service.auth.models import AuditEvent, User
from bcp_service.db import db
from bcp_service.errors import Invalid
from bcp_service.extensions import limiter, login_manager


bp = Blueprint("auth", __name__)


SESSION_GENERATION = "bcp_gen"
TOTP_ENROLMENT = "bcp_totp_enrol"


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id))
    if user is None or not user.active:
        return None
    # A session from before a logout, password change or role change carries an older generation.
    if session.get(SESSION_GENERATION) != user.session_generation:
        return None
    return user


def _start_session(user: User) -> None:
    session.pop(TOTP_ENROLMENT, None)
    login_user(user)
    session[SESSION_GENERATION] = user.session_generation


class LoginForm(FlaskForm):
    email = EmailField("メールアドレス", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("パスワード", validators=[DataRequired(), Length(max=512)])
    otp = StringField("確認コード（2段階認証）", validators=[Length(max=10)])


class TotpForm(FlaskForm):
    otp = StringField("確認コード（6桁）", validators=[DataRequired(), Length(min=6, max=6)])


class PasswordForm(FlaskForm):
    current_password = PasswordField("現在のパスワード", validators=[DataRequired(), Length(max=512)])
    new_password = PasswordField("新しいパスワード（10文字以上）", validators=[DataRequired(), Length(max=512)])


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
                                  otp=form.otp.data, require_totp_roles=current_app.config["REQUIRE_TOTP_ROLES"],
                                  now=get_clock().now())
        db.session.commit()
        if result.needs_enrolment:
            # Password verified; the role requires a second factor the user has not set up yet.
            session[TOTP_ENROLMENT] = {"user_id": result.user.id, "secret": pyotp.random_base32(),
                                       "gen": result.user.session_generation,
                                       "next": _safe_next(request.args.get("next"))}
            return redirect(url_for("auth.totp_enrol"))
        if result.user is not None:
            _start_session(result.user)
            return redirect(_safe_next(request.args.get("next")))
        needs_otp = result.needs_otp
        flash(result.error, "error")
    elif request.method == "POST":
        flash("入力内容を確認してください。", "error")
    return render_template("auth/login.html", form=form, needs_otp=needs_otp), (401 if request.method == "POST" else 200)


@bp.route("/login/totp", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def totp_enrol():
    """First sign-in of a role that requires TOTP: show a new secret (QR code) and confirm a code."""
    pending = session.get(TOTP_ENROLMENT)
    user = db.session.get(User, pending["user_id"]) if pending else None
    if user is None or not user.active or user.totp_secret or user.session_generation != pending["gen"]:
        session.pop(TOTP_ENROLMENT, None)
        abort(404)
    form = TotpForm()
    uri = services.totp_uri(user.email, pending["secret"])
    if form.validate_on_submit():
        at = get_clock().now()
        if services.confirm_totp(db.session, user, pending["secret"], form.otp.data, now=at):
            user.last_login_at = at
            db.session.commit()
            _start_session(user)
            flash("2段階認証を設定しました。", "info")
            return redirect(pending["next"])
        flash("確認コードが正しくありません。アプリに表示された6桁を入力してください。", "error")
    elif request.method == "POST":
        flash("確認コード（6桁）を入力してください。", "error")
    qr = segno.make(uri, error="m").svg_data_uri(scale=4)
    return render_template("auth/totp_enrol.html", form=form, secret=pending["secret"], qr=qr), \
        (400 if request.method == "POST" else 200)


@bp.route("/account/password", methods=["GET", "POST"])
@require()
def change_password():
    form = PasswordForm()
    if form.validate_on_submit():
        user = db.session.get(User, current_user.id)
        try:
            services.change_password(db.session, user, current=form.current_password.data,
                                     new=form.new_password.data)
        except Invalid as exc:
            db.session.rollback()
            flash(exc.message, "error")
            return render_template("auth/password.html", form=form), 400
        db.session.commit()
        session[SESSION_GENERATION] = user.session_generation   # this session stays; every other one ends
        flash("パスワードを変更しました。ほかの端末のログインは終了しました。", "info")
        return redirect(url_for("web.landing"))
    return render_template("auth/password.html", form=form)


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        # Ends every session of this user, including copies of this cookie kept elsewhere.
        user = db.session.get(User, current_user.id)
        services.end_sessions(user)
        db.session.commit()
    logout_user()
    session.pop(SESSION_GENERATION, None)
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

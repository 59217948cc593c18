"""Log-in, log-out, passwords and the language switch."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from opsperf.errors import ValidationFailed
from opsperf.persistence.models import db
from opsperf.services import logins, passwords
from opsperf.web.helpers import LANGUAGES, error_text, login_limits, render, safe_next, user

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    login_name = ""
    if request.method == "POST":
        login_name = request.form.get("login", "")[:200]
        limits = login_limits()
        wait = logins.retry_after(login_name, request.remote_addr, limits)
        if wait:
            flash(
                _("Too many failed log-ins. Try again in %(minutes)s min.", minutes=-(-wait // 60)),
                "error",
            )
            page = render("auth/login.html", login=login_name)
            return page, 429, {"Retry-After": str(wait)}
        password = request.form.get("password", "")
        found = logins.authenticate(login_name, password, request.remote_addr, limits)
        if found is not None:
            session.clear()  # a new session, and with it a new CSRF token
            login_user(found, remember=bool(request.form.get("remember")))
            return redirect(safe_next(request.args.get("next")))
        flash(_("Employee number, e-mail or password is wrong."), "error")
        return render("auth/login.html", login=login_name), 401
    return render("auth/login.html", login=login_name)


@bp.post("/logout")
@login_required
def logout() -> Any:
    """Ends every session of this person, on every device, with the remember-me cookies."""
    current_user.end_sessions()
    db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.post("/language/<code>")
def language(code: str) -> Any:
    if code not in LANGUAGES:
        return redirect(url_for("home.index"))
    session["lang"] = code
    if current_user.is_authenticated:
        current_user.language = code
        db.session.commit()
    return redirect(safe_next(request.form.get("next")))


def _page(template: str, **context: Any) -> str:
    return render(template, min_password=passwords.MIN_LENGTH, **context)


def _typed(name: str) -> str:
    return request.form.get(name, "")[: passwords.MAX_LENGTH + 1]


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password() -> Any:
    """Change one's own password: every other session and device is signed out."""
    if request.method == "POST":
        me = user()
        limits = login_limits()
        wait = logins.retry_after(me.employee_no, request.remote_addr, limits)
        if wait:
            message = _(
                "Too many failed log-ins. Try again in %(minutes)s min.", minutes=-(-wait // 60)
            )
            return _page("auth/password.html", error=message), 429, {"Retry-After": str(wait)}
        try:
            passwords.change_password(me, _typed("current"), _typed("new"), _typed("again"))
        except passwords.WrongPassword as exc:
            logins.failed(me.employee_no, request.remote_addr, limits)
            return _page("auth/password.html", error=error_text(exc)), 422
        except ValidationFailed as exc:
            return _page("auth/password.html", error=error_text(exc)), 422
        session.clear()
        login_user(me)  # this session goes on under the new epoch
        flash(_("Your password is changed. Other devices are signed out."), "success")
        return redirect(url_for("home.index"))
    return _page("auth/password.html")


@bp.route("/password/set/<token>", methods=["GET", "POST"])
def set_password(token: str) -> Any:
    """A one-time set-password link: HR hands it to a new person (or an admin, for a reset)."""
    days = int(current_app.config["PASSWORD_LINK_DAYS"])
    person = passwords.holder(token[:500], str(current_app.secret_key), days)
    if request.method == "POST":
        try:
            passwords.set_password(person, _typed("new"), _typed("again"))
        except ValidationFailed as exc:
            return _page("auth/set_password.html", person=person, error=error_text(exc)), 422
        if current_user.is_authenticated:
            logout_user()
        session.clear()
        flash(_("Your password is set. Log in with it."), "success")
        return redirect(url_for("auth.login"))
    return _page("auth/set_password.html", person=person)

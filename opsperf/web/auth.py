"""Log-in, log-out and the language switch."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from opsperf.persistence.models import db
from opsperf.services import logins
from opsperf.web.helpers import LANGUAGES, login_limits, render

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    if target and not urlsplit(target).netloc and target.startswith("/"):
        return target
    return url_for("home.index")


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
            return redirect(_safe_next(request.args.get("next")))
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
    return redirect(_safe_next(request.form.get("next")))

"""The web layer: blueprints, templates, HTMX fragments. Only this layer touches requests."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, g
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.routing import IntegerConverter

from opsperf.definitions.registry import Registry
from opsperf.engine import failures
from opsperf.persistence.models import User, db
from opsperf.services import expression_failures
from opsperf.web import errors, helpers, vocabulary
from opsperf.web.helpers import MAX_ID

csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()
htmx = Htmx()


@login_manager.user_loader
def _load_user(session_id: str) -> User | None:
    """The person of a session or remember-me cookie ("<id>.<epoch>", see User.get_id),
    unless they were signed out everywhere since it was issued, or deactivated."""
    user_id, _, epoch = session_id.partition(".")
    if not (user_id.isdigit() and epoch.isdigit() and len(session_id) < 40):
        return None
    if int(user_id) > MAX_ID or int(epoch) > MAX_ID:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_epoch != int(epoch):
        return None
    return user


class RecordId(IntegerConverter):
    """``<int:…>`` in every route: a record id fits the database's integer column, so an id
    past it is a 404 like any other missing record (not an overflow in the driver)."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


# Scripts only from our own files (no inline script, no eval: htmx runs with allowEval off);
# styles from our stylesheet plus the few computed widths in style attributes; nothing may
# frame the pages, and forms post only here.
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _secure_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if current_app.config.get("SECURE_COOKIES"):  # served over HTTPS: browsers stay on it
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def _collect_failures() -> None:
    g.failures_token = failures.begin()


def _store_failures(_exc: BaseException | None) -> None:
    """Expressions that failed in this request with every input present: kept for HR."""
    token = g.pop("failures_token", None)
    found = failures.end(token) if token is not None else []
    if not found:
        return
    try:
        db.session.rollback()  # whatever the request left unfinished is not ours to store
        expression_failures.record(found)
    except SQLAlchemyError:
        db.session.rollback()
        logging.getLogger("opsperf").exception("could not store expression failures")


def init_app(app: Flask) -> None:
    """Register extensions, the definition registry, blueprints and error pages."""
    app.url_map.converters["int"] = RecordId
    app.after_request(_secure_headers)
    app.before_request(_collect_failures)
    app.teardown_request(_store_failures)
    registry = Registry(app.config["DEFINITION_ROOTS"], app.config["DEFINITION_CHECK_INTERVAL"])
    registry.reload()
    app.extensions["opsperf.registry"] = registry
    htmx.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=helpers.select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = ""
    helpers.init_app(app)
    vocabulary.init_app(app)
    errors.init_app(app)

    from opsperf.web import (
        actuals,
        admin,
        alignment,
        api,
        appraisals,
        auth,
        calibration,
        comments,
        cycles,
        dashboards,
        follow_ups,
        goals,
        home,
        jobs,
        notifications,
        reports,
    )

    for module in (
        auth,
        home,
        appraisals,
        comments,
        cycles,
        calibration,
        alignment,
        dashboards,
        follow_ups,
        goals,
        admin,
        actuals,
        jobs,
        reports,
        notifications,
    ):
        app.register_blueprint(module.bp)
    app.register_blueprint(notifications.outbox)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)

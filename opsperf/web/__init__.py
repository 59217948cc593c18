"""The web layer: blueprints, templates, HTMX fragments. Only this layer touches requests."""

from __future__ import annotations

from flask import Flask
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx

from opsperf.definitions.registry import Registry
from opsperf.persistence.models import User, db
from opsperf.web import errors, helpers, vocabulary

csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()
htmx = Htmx()


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


def init_app(app: Flask) -> None:
    """Register extensions, the definition registry, blueprints and error pages."""
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

    from opsperf.web import admin, api, appraisals, auth, cycles, home, jobs

    for module in (auth, home, appraisals, cycles, admin, jobs):
        app.register_blueprint(module.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)

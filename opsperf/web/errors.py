"""Domain errors → HTTP status codes with a clear message; never a traceback."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, IntegrityError
from werkzeug.exceptions import HTTPException

from opsperf.errors import (
    N_,
    Conflict,
    DefinitionError,
    NotFound,
    PermissionDenied,
    TransitionNotAllowed,
    ValidationFailed,
)
from opsperf.persistence.models import db
from opsperf.web.helpers import encodable, error_text

STATUS = {
    NotFound: 404,
    PermissionDenied: 403,
    TransitionNotAllowed: 403,
    Conflict: 409,
    ValidationFailed: 422,
    DefinitionError: 503,
}
TITLES = {
    400: N_("Bad request"),
    401: N_("Not logged in"),
    403: N_("Not allowed"),
    404: N_("Not found"),
    405: N_("Method not allowed"),
    409: N_("Changed meanwhile"),
    413: N_("Too large"),
    422: N_("Please check your input"),
    429: N_("Too many attempts"),
    500: N_("Something went wrong"),
    503: N_("Definitions are not available"),
}
UNTITLED = N_("Error")


def respond(status: int, message: str, problems: list[Any] | None = None) -> Any:
    """One error response: JSON for the API, a fragment for HTMX, else a full page.

    What the failed request left in the session is rolled back first: nothing of it is
    stored, and the page can still read the signed-in person."""
    db.session.rollback()
    title = _(TITLES.get(status) or UNTITLED)
    if request.path.startswith("/api/"):
        payload: dict[str, Any] = {"error": title, "message": message, "status": status}
        if problems:
            payload["problems"] = [str(p) for p in problems]
        return jsonify(payload), status
    if getattr(request, "htmx", False):
        html = encodable(render_template("_error_fragment.html", title=title, message=message))
        headers = {"HX-Retarget": "#messages", "HX-Reswap": "innerHTML"}
        return html, status, headers
    page = render_template("error.html", status=status, title=title, message=message)
    return encodable(page), status


def init_app(app: Flask) -> None:
    for error_class, status in STATUS.items():
        app.register_error_handler(error_class, _domain(status))
    app.register_error_handler(CSRFError, _csrf)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(DataError, _data)
    app.register_error_handler(IntegrityError, _integrity)


def _domain(status: int) -> Any:
    def handle(exc: Exception) -> Any:
        problems = getattr(exc, "problems", None)
        return respond(status, error_text(exc), problems)

    return handle


def _csrf(exc: CSRFError) -> Any:
    return respond(400, _("The form expired or was not sent by this site. Reload and try again."))


def _http(exc: HTTPException) -> Any:
    status = exc.code or 500
    messages = {
        400: _("The request could not be understood. Reload the page and try again."),
        401: _("Log in to continue."),
        403: _("You do not have access to this page or action."),
        404: _("There is nothing at this address."),
        405: _("This address does not accept that kind of request."),
        413: _("The upload is too large."),
        500: _("Something went wrong on our side. Try again, or tell an administrator."),
    }
    return respond(status, messages.get(status, exc.description or ""))


def _data(exc: DataError) -> Any:
    """The database refused a value (too long, out of range, a NUL byte) that a check missed."""
    return respond(422, _("A value is too long or not allowed here; nothing was saved."))


def _integrity(exc: IntegrityError) -> Any:
    return respond(409, _("This clashes with a record saved meanwhile; nothing was saved."))

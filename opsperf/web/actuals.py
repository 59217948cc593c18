"""Actuals from outside: a file of check-ins for a cycle, and the API tokens systems use."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from opsperf import worker
from opsperf.errors import PermissionDenied, ValidationFailed
from opsperf.persistence.models import Cycle
from opsperf.services import checkins, cycles, jobs, tokens
from opsperf.web.helpers import error_text, render, roles_required, user

bp = Blueprint("actuals", __name__)


def _cycle(cycle_id: int) -> Cycle:
    if not checkins.may_import(user()):
        raise PermissionDenied("only HR, administrators and data stewards import actuals")
    return cycles.get(cycle_id)


@bp.get("/cycles/<int:cycle_id>/actuals")
@login_required
def upload(cycle_id: int) -> Any:
    cycle = _cycle(cycle_id)
    return render(
        "cycles/actuals.html",
        cycle=cycle,
        latest=jobs.latest(f"actuals:{cycle.id}"),
        max_rows=checkins.MAX_ROWS,
    )


@bp.post("/cycles/<int:cycle_id>/actuals")
@login_required
def check(cycle_id: int) -> Any:
    """Take the upload and check it in the background; its page previews the import."""
    cycle = _cycle(cycle_id)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a .csv or .xlsx file to import."), "error")
        return redirect(url_for(".upload", cycle_id=cycle.id))
    job = checkins.start_check(cycle.id, user(), upload.filename, upload.read())
    worker.enqueue(job.id)
    return redirect(url_for("jobs.view", job_id=job.id))


@bp.post("/cycles/<int:cycle_id>/actuals/<int:job_id>/import")
@login_required
def start(cycle_id: int, job_id: int) -> Any:
    """Import a checked file: every row, or (when asked) the rows that passed."""
    _cycle(cycle_id)
    job = checkins.start_import(job_id, user(), request.form.get("rows") == "valid")
    worker.enqueue(job.id)
    return redirect(url_for("jobs.view", job_id=job.id))


@bp.route("/admin/tokens", methods=["GET", "POST"])
@login_required
@roles_required("admin")
def api_tokens() -> Any:
    """The API tokens business systems push actuals with; a new token is shown once."""
    secret, status = None, 200
    typed: dict[str, Any] = {"name": "", "scopes": ["actuals:write"]}
    if request.method == "POST":
        typed = {
            "name": request.form.get("name", "")[:1000],
            "scopes": [s[:64] for s in request.form.getlist("scopes")[:10]],
        }
        try:
            token, secret = tokens.create(typed["name"], typed["scopes"], user())
        except ValidationFailed as exc:
            flash(error_text(exc), "error")
            status = 422
        else:
            flash(_("API token %(name)s created. Copy it now: it is not shown again.",
                    name=token.name), "success")  # fmt: skip
            typed = {"name": "", "scopes": ["actuals:write"]}
    page = render(
        "admin/tokens.html",
        tokens=tokens.all_tokens(),
        secret=secret,
        scopes=tokens.SCOPES,
        typed=typed,
    )
    # a new token's secret is in this page: never kept by a browser or a proxy
    return page, status, {"Cache-Control": "no-store"}


@bp.post("/admin/tokens/<int:token_id>/revoke")
@login_required
@roles_required("admin")
def revoke(token_id: int) -> Any:
    token = tokens.revoke(token_id, user())
    flash(_("API token %(name)s is revoked: it no longer works.", name=token.name), "success")
    return redirect(url_for(".api_tokens"))

"""Background jobs as people see them: progress while they run, the outcome after."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from flask_login import login_required

from opsperf.services import jobs as svc
from opsperf.web.helpers import render, user

bp = Blueprint("jobs", __name__, url_prefix="/jobs")


@bp.get("/<int:job_id>")
@login_required
def view(job_id: int) -> Any:
    job = svc.get(job_id, user())
    html = render("jobs/view.html", job=job, elapsed=svc.elapsed(job))
    if getattr(request, "htmx", False) and job.status in svc.FINISHED:
        # The page polling for progress (this one, or a cycle's) shows the outcome in full.
        return html, 200, {"HX-Refresh": "true"}
    return html

"""Background jobs as people see them: progress while they run, the outcome after."""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, request, send_file
from flask_login import login_required

from opsperf.errors import NotFound
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


@bp.get("/<int:job_id>/file")
@login_required
def file(job_id: int) -> Any:
    """The file a finished job made, for whoever may look at the job."""
    job = svc.get(job_id, user())
    if job.status != "done" or not job.output_name or job.output is None:
        raise NotFound("this job has no file to download")
    response = send_file(io.BytesIO(job.output), as_attachment=True, download_name=job.output_name)
    response.headers["Cache-Control"] = "private, no-store"
    return response

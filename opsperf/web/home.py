"""The home page: my tasks, and cycle progress for HR."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask_login import login_required

from opsperf.services import cycles, tasks
from opsperf.services.appraisals import context
from opsperf.web.helpers import render, user

bp = Blueprint("home", __name__)


@bp.get("/")
@login_required
def index() -> Any:
    me = user()
    progress = []
    if me.has_role("hr") or me.has_role("admin"):
        for cycle in tasks.active_cycles():
            counts = cycles.progress(cycle)
            workflow = context(cycle.appraisals[0]).workflow if cycle.appraisals else None
            progress.append((cycle, counts, workflow))
    own = tasks.tasks_for(me)
    return render("home/index.html", tasks=own, progress=progress)

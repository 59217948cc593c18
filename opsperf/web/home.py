"""The home page: my tasks, and cycle progress for HR."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask_login import login_required

from opsperf.services import alignment, calibration, cycles, dashboards, follow_ups, goals, tasks
from opsperf.services.context import compiled_workflow
from opsperf.web.helpers import defs, int_arg, render, text_arg, user

bp = Blueprint("home", __name__)


def progress_cards(limit: int = 6) -> list[dict[str, Any]]:
    """The newest active cycles with their appraisals counted by state (one GROUP BY)."""
    recent = cycles.recent_active_cycles(limit)
    counts = cycles.progress([c.id for c in recent])
    cards = []
    for cycle in recent:
        snapshot_id = cycle.workflow_snapshot_id
        workflow = compiled_workflow(snapshot_id) if snapshot_id else None
        by_state = counts[cycle.id]
        order = list(workflow.leaves) if workflow else []
        final = {p for p, s in workflow.leaves.items() if s.final} if workflow else set()
        cards.append(
            {
                "cycle": cycle,
                "workflow": workflow,
                "counts": cycles.in_workflow_order(by_state, order),
                "total": sum(by_state.values()),
                "closed": sum(n for state, n in by_state.items() if state in final),
            }
        )
    return cards


@bp.get("/")
@login_required
def index() -> Any:
    me = user()
    cards = progress_cards() if me.has_role("hr") or me.has_role("admin") else []
    only = tasks.TaskFilter(
        cycle_id=int_arg("cycle", 0) or None,
        overdue=text_arg("overdue") == "1",
        search=text_arg("q"),
    )
    page = tasks.tasks_for(me, page=int_arg("page", 1), per_page=25, only=only)
    filtered = only != tasks.TaskFilter()
    return render(
        "home/index.html",
        block="tasks",
        tasks=page,
        only=only,
        filtered=filtered,
        progress=cards,
        due=follow_ups.due_for(me),
        boards=calibration.boards_for(defs(), me),
        alignments=alignment.pages_for(defs(), me),
        organisation_dashboard=dashboards.may_open(defs(), me),
        # a data steward's way to the imports (HR and administrators go by the cycle page)
        goal_pages=goals.pages_for(defs(), me),
        import_cycles=(
            cycles.recent_active_cycles(6) if me.has_role("data_steward") and not cards else []
        ),
    )

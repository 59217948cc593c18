"""The alignment page of a cycle (HR: the whole company or a department, a department head:
their subtree): the goal tree with targets, actuals and attainment rolled up, and the people
whose KPI feeds each goal."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask_login import login_required

from opsperf.persistence.models import Cycle
from opsperf.services import alignment as svc
from opsperf.services import cycles as cycles_svc
from opsperf.services.calibration import board_roles
from opsperf.services.context import compiled_workflow
from opsperf.web.helpers import defs, int_arg, render, text_arg, user

bp = Blueprint("alignment", __name__)


def _scope(cycle: Cycle) -> svc.Scope:
    return svc.scope_for(defs(), user(), cycle, text_arg("department", 64))


@bp.get("/cycles/<int:cycle_id>/alignment")
@login_required
def tree(cycle_id: int) -> Any:
    cycle = cycles_svc.get(cycle_id)
    scope = _scope(cycle)
    return render(
        "alignment/tree.html",
        cycle=cycle,
        scope=scope,
        roots=svc.tree(defs(), cycle, scope, board_roles(user())),
        choices=svc.choices(defs(), user(), cycle),
    )


@bp.get("/cycles/<int:cycle_id>/alignment/people")
@login_required
def people(cycle_id: int) -> Any:
    """The people of the scope whose KPI feeds one goal, a page at a time."""
    cycle = cycles_svc.get(cycle_id)
    scope = _scope(cycle)
    goal, node = svc.feed_node(defs(), cycle, scope, text_arg("goal", 130), text_arg("kpi", 200))
    sort = text_arg("sort", 16)
    sort = sort if sort in svc.SORTS else "employee_no"
    page = svc.people(
        cycle, scope, node, int_arg("page", 1), int_arg("per_page", 50, 10, 200), sort
    )
    workflow = compiled_workflow(cycle.workflow_snapshot_id) if cycle.workflow_snapshot_id else None
    return render(
        "alignment/people.html",
        block="people",
        cycle=cycle,
        scope=scope,
        goal=goal,
        node=node,
        page=page,
        sort=sort,
        rows=svc.person_rows(page.items, node, user()),
        workflow=workflow,
    )

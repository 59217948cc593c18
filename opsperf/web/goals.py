"""Department goals whose actual is recorded once per cycle (services.goals)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from opsperf.definitions import org
from opsperf.errors import PermissionDenied, ValidationFailed
from opsperf.persistence.models import User
from opsperf.services import alignment, cycles, goals
from opsperf.services.calibration import headed, is_company_wide
from opsperf.web.helpers import defs, error_text, render, user

bp = Blueprint("goals", __name__)


def _may_open(me: User, department_id: str, rows: list[goals.Recorded]) -> bool:
    """HR and administrators; the heads of the department and of those above it; whoever
    records one of its goals."""
    definitions = defs()
    if is_company_wide(me) or headed(definitions, me) in org.ancestors(definitions, department_id):
        return True
    return any(goals.may_record(definitions, me, r.department, r.goal) for r in rows)


def _page(cycle_id: int, department_id: str, status: int = 200, typed: Any = None) -> Any:
    cycle = cycles.get(cycle_id)
    rows = goals.recorded(defs(), cycle_id, department_id[:64])
    me = user()
    if not _may_open(me, department_id, rows):
        raise PermissionDenied("you may not open this department's goals")
    may = {r.goal.id for r in rows if goals.may_record(defs(), me, r.department, r.goal)}
    # a goal that also rolls up: the figure its people's actuals come to, to record or not
    suggested = alignment.rolled_up(defs(), cycle, department_id) if rows else {}
    html = render(
        "goals/department.html",
        cycle=cycle,
        department=rows[0].department if rows else defs().departments[department_id],
        rows=rows,
        may=may,
        typed=typed or {},
        suggested=suggested,
        figures={r.goal.id: goals.figures(r.goal, r.row.value if r.row else None) for r in rows},
    )
    return html, status


@bp.get("/cycles/<int:cycle_id>/goals/<department_id>")
@login_required
def department(cycle_id: int, department_id: str) -> Any:
    return _page(cycle_id, department_id)


@bp.post("/cycles/<int:cycle_id>/goals/<department_id>/<goal_id>")
@login_required
def record(cycle_id: int, department_id: str, goal_id: str) -> Any:
    value = request.form.get("value", "")[:100]
    note = request.form.get("note", "")[:2000]
    try:
        changes = goals.record(defs(), cycle_id, department_id[:64], goal_id[:64], user(), value,
                               note)  # fmt: skip
    except ValidationFailed as exc:
        flash(error_text(exc), "error")
        typed = {"goal": goal_id, "value": value, "note": note}
        return _page(cycle_id, department_id, status=422, typed=typed)
    flash(_("Recorded.") if changes else _("Nothing changed."), "success")
    return redirect(url_for(".department", cycle_id=cycle_id, department_id=department_id))

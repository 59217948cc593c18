"""Department goals recorded once per cycle, and read by the department's forms.

A goal that declares ``entered_by`` has its actual recorded for each cycle by one of those
roles (the department head, HR, or a custom role that counts in the department — a workshop's
supervisor enters its output once, not into each appraisal). A form of the department reads it
as ``department.<goal>.actual``, ``.target`` and ``.attainment`` (actual ÷ target × 100, or
target ÷ actual for a goal where lower is better): the service layer gives those figures
beside the appraisal's values whenever it evaluates a form that reads them, so the page, the
live total and the stored result all see the same figures, and the result keeps the ones it
was computed from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from opsperf.definitions import org
from opsperf.definitions.loader import DefinitionSet
from opsperf.definitions.schema import DEPARTMENT, GLOBAL_ROLES, Department, Goal
from opsperf.definitions.scopes import goals_read
from opsperf.engine.checkins import parse_number
from opsperf.engine.text import CHECKIN_NOTE_LIMIT as NOTE_LIMIT
from opsperf.engine.text import untypable
from opsperf.errors import NotFound, PermissionDenied, ValidationFailed
from opsperf.persistence.models import Cycle, Event, GoalActual, User, db, utcnow
from opsperf.services import cycles
from opsperf.services.context import Context, is_dept_head

MISSING: dict[str, Any] = {"actual": None, "target": None, "attainment": None}


def attainment(actual: float | None, target: float | None, lower_is_better: bool) -> float | None:
    """Actual against target as a percentage (target ÷ actual when lower is better)."""
    if actual is None or target is None:
        return None
    if lower_is_better:
        return round(target / actual * 100, 2) if actual else None
    return round(actual / target * 100, 2) if target else None


def _lower(goal: Goal) -> bool:
    return getattr(goal, "direction", "higher") == "lower"


def figures(goal: Goal | None, actual: float | None) -> dict[str, Any]:
    if goal is None:
        return dict(MISSING)
    target = goal.target
    return {
        "actual": actual,
        "target": target,
        "attainment": attainment(actual, target, _lower(goal)),
    }


def values_with_goals(ctx: Context) -> dict[str, Any]:
    """The appraisal's values, with ``department`` holding the figures of the department
    goals its form reads (only those; nothing more when it reads none)."""
    values = dict(ctx.appraisal.values or {})
    read = goals_read(ctx.form)
    if not read:
        return values
    a = ctx.appraisal
    stored = {
        row.goal_id: row.value
        for row in db.session.scalars(
            select(GoalActual).where(
                GoalActual.cycle_id == a.cycle_id,
                GoalActual.department_id == a.department_id,
                GoalActual.goal_id.in_(sorted(read)),
            )
        )
    }
    goals = {g.id: g for g in ctx.department.goals}
    values[DEPARTMENT] = {g: figures(goals.get(g), stored.get(g)) for g in sorted(read)}
    return values


# --------------------------------------------------------------------------- recording


def may_record(defs: DefinitionSet, user: User, department: Department, goal: Goal) -> bool:
    """Whether ``user`` holds one of the goal's ``entered_by`` roles for ``department``."""
    for role in goal.entered_by:
        if role in GLOBAL_ROLES and user.has_role(role):
            return True
        if role == "dept_head" and is_dept_head(user, department.id, department.head):
            return True
        declared = org.declarations(defs).get(role)
        if (
            declared is not None
            and user.has_role(role)
            and org.counts_in(declared, department.id, defs)
        ):
            return True
    return False


@dataclass
class Recorded:
    department: Department
    goal: Goal
    row: GoalActual | None


def recorded(defs: DefinitionSet, cycle_id: int, department_id: str) -> list[Recorded]:
    """The department's recorded goals with this cycle's actuals (one query)."""
    department = defs.departments.get(department_id)
    if department is None:
        raise NotFound("department %(id)s does not exist", id=department_id)
    rows = {
        r.goal_id: r
        for r in db.session.scalars(
            select(GoalActual).where(
                GoalActual.cycle_id == cycle_id, GoalActual.department_id == department_id
            )
        )
    }
    return [Recorded(department, g, rows.get(g.id)) for g in department.goals if g.entered_by]


def record(
    defs: DefinitionSet,
    cycle_id: int,
    department_id: str,
    goal_id: str,
    user: User,
    value: str,
    note: str,
) -> dict[str, list[Any]]:
    """Record a goal's actual for the cycle (audited); the changes, empty if none."""
    cycle = cycles.get(cycle_id)
    department = defs.departments.get(department_id)
    goal = next((g for g in department.goals if g.id == goal_id), None) if department else None
    if department is None or goal is None or not goal.entered_by:
        raise NotFound(
            "department %(department)s has no goal %(goal)s whose actual is recorded",
            department=department_id[:64],
            goal=goal_id[:64],
        )
    if not may_record(defs, user, department, goal):
        raise PermissionDenied("you may not record this goal's actual")
    if department_id not in cycle.departments:
        raise ValidationFailed("this department takes no part in the cycle")
    number = parse_number(value)
    if number is None:
        raise ValidationFailed("the value %(value)s is not a number", value=value[:40] or "—")
    text = note.strip()
    if len(text) > NOTE_LIMIT or untypable(text):
        raise ValidationFailed(
            "the note is longer than %(max)s characters or holds control characters",
            max=NOTE_LIMIT,
        )
    changes = put(cycle_id, department_id, goal_id, number, text, user.id, text or None)
    db.session.commit()
    return changes


def put(
    cycle_id: int,
    department_id: str,
    goal_id: str,
    value: float,
    note: str | None,
    by: int | None,
    comment: str | None,
) -> dict[str, list[Any]]:
    """Store a goal's actual for the cycle with its audit entry (not committed); the changes,
    empty when it already holds this value and note (``None``: keep the note)."""
    row = db.session.scalar(
        select(GoalActual).where(
            GoalActual.cycle_id == cycle_id,
            GoalActual.department_id == department_id,
            GoalActual.goal_id == goal_id,
        )
    )
    old = row.value if row is not None else None
    if row is not None and row.value == value and (note is None or (row.note or "") == note):
        return {}
    if row is None:
        row = GoalActual(cycle_id=cycle_id, department_id=department_id, goal_id=goal_id)
        db.session.add(row)
    row.value = value
    if note is not None:
        row.note = note or None
    row.recorded_by_id, row.recorded_at = by, utcnow()
    changes = {f"{department_id}.{goal_id}": [old, value]}
    db.session.add(
        Event(cycle_id=cycle_id, actor_id=by, kind="goal", comment=comment, changes=changes)
    )
    return changes


def recorded_goal(defs: DefinitionSet, department_id: str, goal_id: str) -> Goal | None:
    """A department's goal whose actual is recorded by hand, if there is one."""
    department = defs.departments.get(department_id)
    goal = next((g for g in department.goals if g.id == goal_id), None) if department else None
    return goal if goal is not None and goal.entered_by else None


def pages_for(defs: DefinitionSet, user: User, limit: int = 6) -> list[tuple[Cycle, Department]]:
    """The department goals ``user`` records, in the newest active cycles they take part in
    (for the home page: the definitions are walked, never the company's people)."""
    mine = [
        d
        for d in defs.departments.values()
        if any(g.entered_by and may_record(defs, user, d, g) for g in d.goals)
    ]
    if not mine:
        return []
    out = []
    for cycle in cycles.recent_active_cycles(limit):
        out += [(cycle, d) for d in mine if d.id in cycle.departments]
    return out[:limit]

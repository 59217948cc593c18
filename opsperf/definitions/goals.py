"""The goal cascade as the definitions draw it: goals by reference, and what aligns to what.

A goal is referred to as ``department_id.goal_id`` (``sales.quarterly_revenue``). A department
goal may align to another goal (``aligns_to``), as a KPI may; the checker refuses circles, so
the goals form a forest whose roots align to nothing.
"""

from __future__ import annotations

from opsperf.definitions.loader import DefinitionSet
from opsperf.definitions.schema import Goal


def ref(dept_id: str, goal_id: str) -> str:
    return f"{dept_id}.{goal_id}"


def find(defs: DefinitionSet, target: str) -> Goal | None:
    """The goal ``target`` (``department_id.goal_id``) names, if a valid department has it."""
    dept_id, _, goal_id = target.partition(".")
    dept = defs.departments.get(dept_id)
    return next((g for g in dept.goals if g.id == goal_id), None) if dept else None


def every(defs: DefinitionSet) -> dict[str, Goal]:
    """Every goal of every valid department by reference (the first, if an id repeats)."""
    out: dict[str, Goal] = {}
    for dept in defs.departments.values():
        for goal in dept.goals:
            out.setdefault(ref(dept.id, goal.id), goal)
    return out


def circle(defs: DefinitionSet, start: str) -> list[str]:
    """The goals from ``start`` round to ``start`` again when its alignments lead back to it
    (``[start, start]`` for a goal aligned to itself), else []."""
    chain = [start]
    goal = find(defs, start)
    while goal is not None and goal.aligns_to is not None:
        if goal.aligns_to == start:
            return [*chain, start]
        if goal.aligns_to in chain:
            return []  # a circle further up, which does not pass through ``start``
        chain.append(goal.aligns_to)
        goal = find(defs, goal.aligns_to)
    return []

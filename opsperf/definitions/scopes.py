"""The names each kind of expression may read. The engine fills the same shapes with values.

A scope maps a name to ``None`` (a single value), to another scope (``kpis.revenue.actual``),
or to :data:`~opsperf.definitions.expressions.ANY` (rows of a table: not checked further).
"""

from __future__ import annotations

from typing import Any

from opsperf.definitions.expressions import ANY
from opsperf.definitions.schema import Form, KpiTableField, TableField

Scope = dict[str, Any]


KPI_NAMES: Scope = {"actual": None, "target": None, "score": None, "weight": None}
SCORING_SCOPE: Scope = {"actual": None, "target": None, "weight": None}


def form_scope(form: Form) -> Scope:
    """Field values by id; a KPI table offers ``score`` and each KPI's actual/target/score."""
    scope: Scope = {}
    for f in form.fields():
        if isinstance(f, KpiTableField):
            kpis: Scope = {k.id: dict(KPI_NAMES) for k in f.kpis}
            scope[f.id] = {"score": None, **kpis}
        elif isinstance(f, TableField):
            scope[f.id] = ANY
        else:
            scope[f.id] = None
    return scope


def guard_scope(form: Form) -> Scope:
    """A transition guard sees the form's values, the total score (None until computed), and
    time: ``overdue`` (the current step is past its deadline) and ``days_left`` (whole days
    to it, negative once past; None without a deadline)."""
    return {**form_scope(form), "score": None, "overdue": None, "days_left": None}


def bonus_scope(form: Scope | None = None, person: Scope | None = None) -> Scope:
    """What an incentive policy's bonus formula may read: the form's values (``form``, e.g.
    from :func:`form_scope`), the policy's own names (which win over a field of the same id)
    and ``person.<attribute>``."""
    return {
        **(form or {}),
        "person": dict(person or {}),
        "base_bonus": None,
        "bonus_multiplier": None,
        "score": None,
        "grade": None,
        "department": {"id": None, "bonus_coefficient": None},
        "position": {"id": None},
    }


def goals_read(form: Form) -> frozenset[str]:
    """The goals a form's expressions read as ``department.<goal>``."""
    return form.goals_read

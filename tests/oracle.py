"""Task lists worked out the slow way: every open appraisal, every rule, in Python.

This is what ``services.tasks`` replaced with indexed open steps; tests compare the two.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from opsperf.persistence.models import Appraisal, Cycle, User, db
from opsperf.services.appraisals import actions_for, editable, roles_of
from opsperf.services.context import compute_due, context, state_chain


@dataclass(frozen=True)
class Expected:
    appraisal: int
    actions: frozenset[tuple[str, str]]
    can_edit: bool
    escalated: bool
    due: dt.datetime | None


def tasks_for(user: User, now: dt.datetime) -> dict[int, Expected]:
    """Every open appraisal where ``user`` has something to do, by appraisal id."""
    out = {}
    query = select(Appraisal).join(Cycle).where(Cycle.status == "active")
    for appraisal in db.session.scalars(query):
        ctx = context(appraisal)
        if ctx.final:
            continue
        roles = roles_of(ctx, user)
        actions = {
            (a.trigger, a.kind)
            for a in actions_for(ctx, user)
            if a.kind != "decline"
            and "*" not in ctx.workflow.transition(appraisal.state, a.trigger).sources
        }
        can_edit = bool(editable(ctx, roles))
        due = compute_due(ctx)
        overdue = due is not None and now > due
        escalated = overdue and any(
            s.on_overdue is not None and s.on_overdue.escalate_to in roles for s in state_chain(ctx)
        )
        if actions or can_edit or escalated:
            out[appraisal.id] = Expected(appraisal.id, frozenset(actions), can_edit, escalated, due)
    return out

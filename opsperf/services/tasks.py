"""What awaits a person: forms to fill, steps to take, with deadlines; cycle progress for HR."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select

from opsperf.persistence.models import Appraisal, Cycle, User, db, utcnow
from opsperf.services.appraisals import (
    Action,
    Context,
    actions_for,
    context,
    due_at,
    editable,
    roles_of,
    state_chain,
)


@dataclass
class Task:
    ctx: Context
    actions: list[Action]
    can_edit: bool
    due: dt.datetime | None
    overdue: bool
    escalated: bool

    @property
    def appraisal(self) -> Appraisal:
        return self.ctx.appraisal


def _candidates(user: User) -> list[Appraisal]:
    query = (
        select(Appraisal)
        .join(Cycle)
        .where(Cycle.status == "active")
        .order_by(Appraisal.cycle_id.desc(), Appraisal.id)
    )
    if not user.roles:
        query = query.where(
            or_(
                Appraisal.employee_id == user.id,
                Appraisal.manager_id == user.id,
                Appraisal.department_id == (user.department_id or ""),
            )
        )
    return list(db.session.scalars(query))


def tasks_for(user: User, now: dt.datetime | None = None) -> list[Task]:
    """Every open appraisal where ``user`` has something to do, most urgent first."""
    now = now or utcnow()
    tasks = []
    for appraisal in _candidates(user):
        ctx = context(appraisal)
        if ctx.final:
            continue
        roles = roles_of(ctx, user)
        actions = [a for a in actions_for(ctx, user) if _on_the_path(ctx, a)]
        can_edit = bool(editable(ctx, roles))
        due = due_at(ctx)
        overdue = due is not None and now > due
        escalated = overdue and any(
            s.on_overdue is not None and s.on_overdue.escalate_to in roles for s in state_chain(ctx)
        )
        if actions or can_edit or escalated:
            tasks.append(Task(ctx, actions, can_edit, due, overdue, escalated))
    far = dt.datetime.max
    tasks.sort(key=lambda t: (not t.overdue, t.due or far, t.appraisal.id))
    return tasks


def _on_the_path(ctx: Context, action: Action) -> bool:
    """A task is a step of the cycle; declines and steps open from anywhere ('*', such as
    cancelling) are possible but are nobody's to-do."""
    if action.kind == "decline":
        return False
    t = ctx.workflow.transition(ctx.appraisal.state, action.trigger)
    return "*" not in t.sources


def active_cycles() -> list[Cycle]:
    return list(
        db.session.scalars(select(Cycle).where(Cycle.status == "active").order_by(Cycle.id))
    )

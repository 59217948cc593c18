"""What awaits a person: forms to fill, steps to take, with deadlines — read from open steps."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, distinct, exists, func, or_, select
from sqlalchemy.orm import defer, joinedload

from opsperf.definitions.schema import Form, Text
from opsperf.engine.workflow import CompiledWorkflow, compile_workflow
from opsperf.persistence.models import Appraisal, Cycle, OpenStep, User, Vote, db, utcnow
from opsperf.services import snapshots
from opsperf.services.pages import Page, like
from opsperf.services.steps import actor_keys

STEP_KINDS = ("fire", "request", "approve")


@dataclass(frozen=True)
class Step:
    """One step a person may take now (declines are part of approving, not a task)."""

    trigger: str
    kind: str  # fire | request | approve
    label: Text


@dataclass
class Task:
    appraisal: Appraisal
    workflow: CompiledWorkflow
    form: Form
    actions: list[Step] = field(default_factory=list)
    can_edit: bool = False
    escalated: bool = False
    due: dt.datetime | None = None
    overdue: bool = False


@dataclass(frozen=True)
class TaskFilter:
    cycle_id: int | None = None
    overdue: bool = False
    search: str = ""


def _mine(user: User, now: dt.datetime) -> ColumnElement[bool]:
    """Open steps ``user`` may take now: theirs by person, position or role, not excluded,
    not yet voted on, and escalations only once overdue."""
    voted = exists().where(
        Vote.appraisal_id == OpenStep.appraisal_id,
        Vote.entry_seq == OpenStep.entry_seq,
        Vote.trigger == OpenStep.trigger,
        Vote.user_id == user.id,
    )
    return and_(
        OpenStep.actor.in_(actor_keys(user)),
        or_(OpenStep.kind != "escalate", OpenStep.due_at < now),
        func.coalesce(OpenStep.excluded_user_id, 0) != user.id,
        func.coalesce(OpenStep.excluded_requester_id, 0) != user.id,
        or_(OpenStep.kind != "approve", ~voted),
    )


def _where(user: User, now: dt.datetime, only: TaskFilter) -> list[ColumnElement[bool]]:
    where = [_mine(user, now)]
    if only.cycle_id is not None:
        where.append(OpenStep.cycle_id == only.cycle_id)
    if only.overdue:
        where.append(OpenStep.due_at < now)
    if only.search:
        people = select(Appraisal.id).join(User, Appraisal.employee_id == User.id)
        people = people.where(
            or_(like(User.name, only.search), like(User.employee_no, only.search))
        )
        where.append(OpenStep.appraisal_id.in_(people))
    return where


def tasks_for(
    user: User,
    *,
    page: int = 1,
    per_page: int = 25,
    only: TaskFilter | None = None,
    now: dt.datetime | None = None,
) -> Page[Task]:
    """The open appraisals where ``user`` has something to do, most urgent first, one page."""
    now = now or utcnow()
    where = _where(user, now, only or TaskFilter())
    total = db.session.scalar(select(func.count(distinct(OpenStep.appraisal_id))).where(*where))
    due = func.min(OpenStep.due_at)
    ids_query = (
        select(OpenStep.appraisal_id)
        .where(*where)
        .group_by(OpenStep.appraisal_id)
        .order_by(due.is_(None), due, OpenStep.appraisal_id)
    )
    current: Page[Task] = Page.of(page, per_page, total or 0)
    ids = list(db.session.scalars(ids_query.limit(per_page).offset(current.offset)))
    current.items = _tasks(ids, user, now)
    return current


def _tasks(ids: Sequence[int], user: User, now: dt.datetime) -> list[Task]:
    if not ids:
        return []
    steps = db.session.execute(
        select(OpenStep.appraisal_id, OpenStep.kind, OpenStep.trigger).where(
            OpenStep.appraisal_id.in_(ids), _mine(user, now)
        )
    ).all()
    appraisals = db.session.scalars(
        select(Appraisal)
        .where(Appraisal.id.in_(ids))
        .options(
            joinedload(Appraisal.employee),
            joinedload(Appraisal.cycle),
            defer(Appraisal.values),
            defer(Appraisal.result),
        )
    )
    tasks = {a.id: _task(a, now) for a in appraisals}
    for appraisal_id, kind, trigger in steps:
        task = tasks[appraisal_id]
        if kind == "edit":
            task.can_edit = True
        elif kind == "escalate":
            task.escalated = True
        elif trigger is not None:
            t = task.workflow.transition(task.appraisal.state, trigger)
            task.actions.append(Step(trigger, kind, t.label or Text(zh=trigger, en=trigger)))
    for task in tasks.values():
        order = [t.trigger for t in task.workflow.transitions_from(task.appraisal.state)]
        task.actions.sort(key=lambda s: (order.index(s.trigger), s.kind))
    return [tasks[i] for i in ids]


def _task(a: Appraisal, now: dt.datetime) -> Task:
    pinned = snapshots.pinned(a.workflow_snapshot_id)
    workflow = compile_workflow(pinned.definition, pinned.content_hash)
    due = None if workflow.is_final(a.state) else a.due_at
    return Task(
        appraisal=a,
        workflow=workflow,
        form=snapshots.definition(a.form_snapshot_id),
        due=due,
        overdue=due is not None and now > due,
    )


def recent_active_cycles(limit: int = 6) -> list[Cycle]:
    return list(
        db.session.scalars(
            select(Cycle).where(Cycle.status == "active").order_by(Cycle.id.desc()).limit(limit)
        )
    )

"""What awaits a person: forms to fill, steps to take, with deadlines — read from open steps."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, union_all
from sqlalchemy.orm import defer, joinedload

from opsperf.definitions.schema import Form, Text
from opsperf.engine.workflow import CompiledWorkflow
from opsperf.persistence.models import Appraisal, OpenStep, User, Vote, db, utcnow
from opsperf.services import snapshots
from opsperf.services.context import compiled_workflow
from opsperf.services.pages import COUNT_CAP, MAX_PER_PAGE, Page, like
from opsperf.services.steps import actor_keys


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
    """Of the open steps under one of ``user``'s actor keys, those they may take now: not
    excluded, not yet voted on, and escalations only once overdue."""
    voted = exists().where(
        Vote.appraisal_id == OpenStep.appraisal_id,
        Vote.entry_seq == OpenStep.entry_seq,
        Vote.trigger == OpenStep.trigger,
        Vote.user_id == user.id,
    )
    return and_(
        or_(OpenStep.kind != "escalate", OpenStep.due_at < now),
        func.coalesce(OpenStep.excluded_user_id, 0) != user.id,
        func.coalesce(OpenStep.excluded_requester_id, 0) != user.id,
        or_(OpenStep.kind != "approve", ~voted),
    )


def _filters(only: TaskFilter, now: dt.datetime) -> list[ColumnElement[bool]]:
    where = []
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
    """The open appraisals where ``user`` has something to do, most urgent first, one page.

    Each of the user's actor keys is read along the index (actor, due, appraisal) only as far
    as this page reaches; the union of those short runs holds the page. The count stops at
    ``COUNT_CAP``: beyond that, a list is something to filter, not to page through.
    """
    now = now or utcnow()
    keys = actor_keys(user)
    where = [_mine(user, now), *_filters(only or TaskFilter(), now)]
    number = max(1, page)
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    reach = number * per_page + 1  # one more than this page needs: is there a next page?
    runs = [
        select(OpenStep.due_at, OpenStep.appraisal_id)
        .where(OpenStep.actor == key, *where)
        .distinct()
        .order_by(OpenStep.due_at, OpenStep.appraisal_id)
        .limit(reach)
        .subquery()
        for key in keys
    ]
    union = union_all(*(select(run.c.due_at, run.c.appraisal_id) for run in runs)).subquery()
    ids = list(
        db.session.scalars(
            select(union.c.appraisal_id)
            .group_by(union.c.appraisal_id)
            .order_by(func.min(union.c.due_at), union.c.appraisal_id)
            .limit(per_page + 1)
            .offset((number - 1) * per_page)
        )
    )
    counted = (
        (select(OpenStep.appraisal_id).where(OpenStep.actor.in_(keys), *where))
        .distinct()
        .limit(COUNT_CAP + 1)
        .subquery()
    )
    total = db.session.scalar(select(func.count()).select_from(counted)) or 0
    current: Page[Task] = Page(number, per_page, min(total, COUNT_CAP), exact=total <= COUNT_CAP)
    current.more = len(ids) > per_page
    current.items = _tasks(ids[:per_page], keys, user, now)
    return current


def _tasks(ids: Sequence[int], keys: list[str], user: User, now: dt.datetime) -> list[Task]:
    if not ids:
        return []
    steps = db.session.execute(
        select(OpenStep.appraisal_id, OpenStep.kind, OpenStep.trigger).where(
            OpenStep.appraisal_id.in_(ids), OpenStep.actor.in_(keys), _mine(user, now)
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
    workflow = compiled_workflow(a.workflow_snapshot_id)
    due = None if workflow.is_final(a.state) else a.due_at
    return Task(
        appraisal=a,
        workflow=workflow,
        form=snapshots.definition(a.form_snapshot_id),
        due=due,
        overdue=due is not None and now > due,
    )

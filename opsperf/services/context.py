"""An appraisal together with the pinned definitions it runs on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from opsperf.definitions import statetree
from opsperf.definitions.schema import (
    Department,
    Form,
    IncentivePolicy,
    State,
    Workflow,
    parse_duration,
)
from opsperf.engine.workflow import CompiledWorkflow, compile_workflow
from opsperf.errors import NotFound
from opsperf.persistence.models import Appraisal, User, db
from opsperf.services import snapshots


@dataclass
class Context:
    """An appraisal with the pinned definitions it runs on."""

    appraisal: Appraisal
    form: Form
    workflow: CompiledWorkflow
    policy: IncentivePolicy | None
    department: Department

    @property
    def state(self) -> State:
        return self.workflow.state(self.appraisal.state)

    @property
    def custom_roles(self) -> frozenset[str]:
        """The custom roles that count on this appraisal (pinned at launch; before roles had
        a scope, those its own department declared)."""
        pinned = self.appraisal.custom_roles
        if pinned is None:
            return frozenset(r.id for r in self.department.roles)
        return frozenset(pinned)

    @property
    def final(self) -> bool:
        return self.workflow.is_final(self.appraisal.state)


def compiled_workflow(snapshot_id: int) -> CompiledWorkflow:
    """The machine of a pinned workflow (shared: one per workflow content)."""
    pinned = snapshots.pinned(snapshot_id)
    workflow: Workflow = pinned.definition
    return compile_workflow(workflow, pinned.content_hash)


def context(appraisal: Appraisal) -> Context:
    """Load the pinned form, workflow, policy and department of ``appraisal`` (cached)."""
    policy = (
        snapshots.definition(appraisal.policy_snapshot_id) if appraisal.policy_snapshot_id else None
    )
    return Context(
        appraisal=appraisal,
        form=snapshots.definition(appraisal.form_snapshot_id),
        workflow=compiled_workflow(appraisal.workflow_snapshot_id),
        policy=policy,
        department=snapshots.definition(appraisal.department_snapshot_id),
    )


def is_dept_head(user: User, department_id: str, head_position: str | None) -> bool:
    """Whether ``user`` holds the head position of the department."""
    return (
        head_position is not None
        and user.department_id == department_id
        and user.position_id == head_position
    )


def get(appraisal_id: int) -> Appraisal:
    appraisal = db.session.get(Appraisal, appraisal_id)
    if appraisal is None:
        raise NotFound("appraisal %(id)s does not exist", id=appraisal_id)
    return appraisal


def state_chain(ctx: Context) -> list[State]:
    """The current state and its parents: edit rights written on a parent apply inside it."""
    return [ctx.workflow.state(p) for p in statetree.ancestors(ctx.appraisal.state)]


def deadline_state(states: Mapping[str, State], path: str) -> State | None:
    """The state whose deadline the state ``path`` keeps: the innermost of it and its parents
    that sets ``due`` (None: no deadline). ``states``: a workflow's states by path."""
    for ancestor in reversed(statetree.ancestors(path)):
        state = states.get(ancestor)
        if state is not None and state.due:
            return state
    return None


def compute_due(ctx: Context, period_start: dt.date | None = None) -> dt.datetime | None:
    """When the current state is due, from the innermost state that sets a deadline."""
    state = deadline_state(ctx.workflow.states, ctx.appraisal.state)
    if state is None or state.due is None:
        return None
    start = ctx.appraisal.state_entered_at
    if state.due_from == "cycle_start":
        first_day = period_start or ctx.appraisal.cycle.period_start
        start = dt.datetime.combine(first_day, dt.time())
    return start + parse_duration(state.due)

"""Open steps: who may act on each open appraisal, written down whenever the appraisal changes.

Task lists read these rows through an index instead of working out, for every appraisal in the
company, what each person may do. The rules here mirror ``appraisals.roles_of``,
``appraisals.actions_for`` and ``appraisals.editable``; a test walks a generated company at
random and compares both for every person. Change them together, and bump ``RULES`` so that
``opsperf db upgrade`` rebuilds the rows of every open appraisal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import joinedload

from opsperf.definitions.schema import GLOBAL_ROLES, TransitionDef
from opsperf.engine.forms import Editable
from opsperf.persistence.models import Appraisal, Cycle, OpenStep, Setting, User, db
from opsperf.services.context import Context, compute_due, context, state_chain

Excluded = tuple[int | None, int | None]  # (employee, requester) who may not take the step

# Steps without a deadline sort after every dated one, on every database, straight from the
# index (SQLite puts NULL first, PostgreSQL last).
NO_DEADLINE = dt.datetime(9999, 12, 31)
RULES = "2"
RULES_KEY = "open_steps.rules"
BATCH = 500


def actor_keys(user: User) -> list[str]:
    """Every ``OpenStep.actor`` that stands for ``user``: the person, their position, roles."""
    keys = [f"u:{user.id}"]
    if user.department_id and user.position_id:
        keys.append(f"p:{user.department_id}/{user.position_id}")
    keys += [f"r:{role}" for role in user.roles or []]
    return keys


def actors(ctx: Context, role: str) -> list[str]:
    """Who holds ``role`` on this appraisal, as actor keys (see ``appraisals.roles_of``)."""
    a = ctx.appraisal
    if role == "employee":
        return [f"u:{a.employee_id}"]
    if role == "manager":
        return [f"u:{a.manager_id}"] if a.manager_id else []
    if role == "dept_head":
        head = ctx.department.head
        if a.position_id == head:  # a head's own appraisal is signed off by their manager
            return [f"u:{a.manager_id}"] if a.manager_id else []
        return [f"p:{a.department_id}/{head}"] if head else []
    if role in GLOBAL_ROLES or role in ctx.custom_roles:
        return [f"r:{role}"]
    return []  # a custom role whose scope leaves this department out: nobody


def rows_for(ctx: Context) -> list[dict[str, Any]]:
    """The open-step rows of one appraisal in its current state (none once it is final)."""
    a = ctx.appraisal
    if ctx.final:
        return []
    rows: dict[tuple[str, str, str | None], dict[str, Any]] = {}

    not_self = set(ctx.workflow.definition.not_self)

    def add(
        kind: str, trigger: str | None, roles: Iterable[str], excluded: tuple[Any, Any]
    ) -> None:
        for role in roles:
            # a role that never acts on its holder's own appraisal leaves the employee out
            left_out = (a.employee_id, excluded[1]) if role in not_self else excluded
            for actor in actors(ctx, role):
                rows.setdefault(
                    (actor, kind, trigger),
                    {
                        "appraisal_id": a.id,
                        "cycle_id": a.cycle_id,
                        "actor": actor,
                        "kind": kind,
                        "trigger": trigger,
                        "due_at": a.due_at or NO_DEADLINE,
                        "entry_seq": a.entry_seq,
                        "excluded_user_id": left_out[0],
                        "excluded_requester_id": left_out[1],
                    },
                )

    chain = state_chain(ctx)
    if a.due_at is not None:
        escalations = [s.on_overdue.escalate_to for s in chain if s.on_overdue]
        add("escalate", None, [r for r in escalations if r], (None, None))
    if a.pending_trigger:
        t = ctx.workflow.transition(a.state, a.pending_trigger)
        assert t.approval is not None
        add("approve", t.trigger, t.approval.roles, _excluded(ctx, t))
        return list(rows.values())
    edits: dict[str, list[str]] = {}
    for state in chain:
        for role, refs in state.edit.items():
            edits.setdefault(role, []).extend(refs)
    add(
        "edit",
        None,
        [r for r, refs in edits.items() if Editable.from_refs(ctx.form, refs)],
        (None, None),
    )
    for t in ctx.workflow.transitions_from(a.state):
        if "*" in ctx.workflow.transition(a.state, t.trigger).sources:
            continue  # steps open from anywhere (cancelling) are possible, but nobody's to-do
        if t.approval is None:
            add("fire", t.trigger, t.roles, (None, None))
        elif t.roles:
            add("request", t.trigger, t.roles, (None, None))
        else:
            add("approve", t.trigger, t.approval.roles, _excluded(ctx, t))
    return list(rows.values())


def _excluded(ctx: Context, t: TransitionDef) -> Excluded:
    """The employee and the requester may not approve, unless the workflow allows it."""
    if t.allow_self_approval:
        return None, None
    return ctx.appraisal.employee_id, ctx.appraisal.pending_by_id


def refresh(ctx: Context) -> None:
    """Rewrite the open steps of one appraisal (in the caller's transaction)."""
    db.session.execute(delete(OpenStep).where(OpenStep.appraisal_id == ctx.appraisal.id))
    write(rows_for(ctx))


def write(rows: list[dict[str, Any]]) -> None:
    if rows:
        db.session.execute(insert(OpenStep), rows)


def rebuild() -> int:
    """Recompute deadlines and open steps of every appraisal in an active cycle; commit."""
    db.session.execute(delete(OpenStep))
    count = 0
    for batch in _open_appraisals():
        rows: list[dict[str, Any]] = []
        for appraisal in batch:
            ctx = context(appraisal)
            appraisal.due_at = None if ctx.final else compute_due(ctx)
            rows += rows_for(ctx)
        db.session.flush()
        write(rows)
        count += len(batch)
        db.session.expunge_all()
    db.session.execute(delete(Setting).where(Setting.key == RULES_KEY))
    db.session.add(Setting(key=RULES_KEY, value=RULES))
    db.session.commit()
    return count


def rebuild_if_stale() -> int | None:
    """Rebuild when the rows were written by other rules (or never): after an upgrade."""
    stored = db.session.get(Setting, RULES_KEY)
    if stored is not None and stored.value == RULES:
        return None
    return rebuild()


def _open_appraisals() -> Iterator[list[Appraisal]]:
    ids = list(
        db.session.scalars(
            select(Appraisal.id)
            .join(Cycle, Appraisal.cycle_id == Cycle.id)
            .where(Cycle.status == "active")
            .order_by(Appraisal.id)
        )
    )
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        query = (
            select(Appraisal).where(Appraisal.id.in_(chunk)).options(joinedload(Appraisal.cycle))
        )
        yield list(db.session.scalars(query))

"""Review cycles: launching one appraisal per person in scope, and progress per state."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select

from opsperf.definitions.loader import DefinitionSet
from opsperf.definitions.schema import Department, KpiTableField, TableField
from opsperf.engine.workflow import compile_workflow
from opsperf.errors import N_, NotFound, ValidationFailed
from opsperf.persistence.models import Appraisal, Cycle, Event, User, db
from opsperf.services import snapshots
from opsperf.services.appraisals import context


@dataclass
class Skipped:
    """A person left out of a cycle; ``template`` and ``params`` say why (translated when shown)."""

    user: str
    template: str
    params: dict[str, object] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        return self.template % self.params if self.params else self.template


@dataclass
class Launch:
    cycle: Cycle
    skipped: list[Skipped]


def subtree(defs: DefinitionSet, roots: list[str]) -> list[str]:
    """The departments named and every department below them."""
    children: dict[str, list[str]] = {}
    for dept in defs.departments.values():
        if dept.parent:
            children.setdefault(dept.parent, []).append(dept.id)
    out: list[str] = []
    stack = list(reversed(roots))
    while stack:
        current = stack.pop()
        if current not in out:
            out.append(current)
            stack.extend(reversed(children.get(current, [])))
    return out


def launch(
    defs: DefinitionSet,
    *,
    name: str,
    workflow_id: str,
    period_start: dt.date,
    period_end: dt.date,
    department_ids: list[str],
    actor: User | None,
) -> Launch:
    """Start a cycle: one appraisal per active person in scope whose position uses the workflow."""
    if workflow_id not in defs.workflows:
        raise NotFound("no workflow '%(workflow)s'", workflow=workflow_id)
    if not name.strip():
        raise ValidationFailed("give the cycle a name")
    if period_end < period_start:
        raise ValidationFailed("the period ends before it starts")
    unknown = [d for d in department_ids if d not in defs.departments]
    if not department_ids:
        raise ValidationFailed("choose at least one department")
    if unknown:
        raise ValidationFailed(
            "unknown departments: %(departments)s", departments=", ".join(unknown)
        )
    scope = subtree(defs, department_ids)
    cycle = Cycle(
        name=name.strip(),
        workflow_id=workflow_id,
        period_start=period_start,
        period_end=period_end,
        departments=scope,
        created_by_id=actor.id if actor else None,
    )
    db.session.add(cycle)
    db.session.flush()
    skipped: list[Skipped] = []
    people = db.session.scalars(
        select(User)
        .where(User.department_id.in_(scope), User.active, User.position_id.is_not(None))
        .order_by(User.employee_no)
    )
    pin = _pinner(defs)
    located = defs.source("Workflow", workflow_id)
    initial = compile_workflow(defs.workflows[workflow_id], located.content_hash).initial
    for person in people:
        reason = _appraise(defs, cycle, person, pin, initial)
        if reason:
            skipped.append(Skipped(person.name, *reason))
    if not cycle.appraisals:
        db.session.rollback()
        raise ValidationFailed("nobody in these departments has a position using this workflow")
    db.session.add(
        Event(
            cycle_id=cycle.id,
            actor_id=actor.id if actor else None,
            kind="launch",
            comment=f"{len(cycle.appraisals)} appraisals",
        )
    )
    db.session.commit()
    return Launch(cycle, skipped)


def _pinner(defs: DefinitionSet) -> Callable[[str, str], int]:
    """Snapshot ids for one launch: each definition is pinned (and looked up) only once."""
    ids: dict[tuple[str, str], int] = {}

    def pin(kind: str, ident: str) -> int:
        if (kind, ident) not in ids:
            ids[(kind, ident)] = snapshots.pin(defs, kind, ident).id
        return ids[(kind, ident)]

    return pin


def _appraise(
    defs: DefinitionSet,
    cycle: Cycle,
    person: User,
    pin: Callable[[str, str], int],
    initial: str,
) -> tuple[str, dict[str, object]] | None:
    """Add the person's appraisal; or say why not (a message template and its params)."""
    dept: Department = defs.departments[person.department_id or ""]
    position = next((p for p in dept.positions if p.id == person.position_id), None)
    if position is None:
        return (
            N_("position '%(position)s' is not defined in department %(department)s"),
            {"position": person.position_id, "department": dept.id},
        )
    if position.workflow != cycle.workflow_id:
        return (
            N_("position '%(position)s' uses workflow '%(workflow)s'"),
            {"position": position.id, "workflow": position.workflow},
        )
    policy_id = position.policy or next(
        (p.id for p in defs.policies.values() if p.workflow == cycle.workflow_id), None
    )
    appraisal = Appraisal(
        cycle=cycle,
        employee_id=person.id,
        manager_id=person.manager_id,
        department_id=dept.id,
        position_id=position.id,
        form_snapshot_id=pin("Form", position.form),
        workflow_snapshot_id=pin("Workflow", cycle.workflow_id),
        policy_snapshot_id=pin("IncentivePolicy", policy_id) if policy_id else None,
        department_snapshot_id=pin("Department", dept.id),
        state=initial,
        values=_initial_values(defs, position.form),
    )
    db.session.add(appraisal)
    return None


def _initial_values(defs: DefinitionSet, form_id: str) -> dict[str, object]:
    """Defaults from the form: field defaults and each KPI's proposed target."""
    values: dict[str, object] = {}
    for f in defs.forms[form_id].fields():
        if isinstance(f, KpiTableField):
            values[f.id] = {
                k.id: {"target": k.target, "actual": None, "note": None} for k in f.kpis
            }
        elif isinstance(f, TableField):
            values[f.id] = []
        elif getattr(f, "default", None) is not None:
            default = f.default
            values[f.id] = default.isoformat() if isinstance(default, dt.date) else default
    return values


def get(cycle_id: int) -> Cycle:
    cycle = db.session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound("cycle %(id)s does not exist", id=cycle_id)
    return cycle


def progress(cycle: Cycle) -> list[tuple[str, int]]:
    """How many appraisals are in each state, in the workflow's order of states."""
    counts = Counter(a.state for a in cycle.appraisals)
    if not cycle.appraisals:
        return []
    order = list(context(cycle.appraisals[0]).workflow.leaves)
    return sorted(counts.items(), key=lambda item: order.index(item[0]) if item[0] in order else 0)


def all_cycles() -> list[Cycle]:
    return list(db.session.scalars(select(Cycle).order_by(Cycle.id.desc())))

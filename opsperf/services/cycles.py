"""Review cycles: launching one appraisal per person in scope, lists and progress from SQL.

A launch has two halves. :func:`start` checks the request and records the cycle (status
``launching``); :func:`populate` adds the appraisals in batches, each committed with the
progress, skipping people who already have one — so a launch that stopped half-way resumes
where it stopped. Then the cycle is ``active``. The web runs ``populate`` as a background job;
:func:`launch` runs both at once (command line, demo, tests).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, tuple_
from sqlalchemy.orm import joinedload

from opsperf.definitions import org
from opsperf.definitions.loader import DefinitionSet
from opsperf.definitions.schema import Department, KpiTableField, TableField
from opsperf.engine.text import untypable
from opsperf.errors import N_, NotFound, ValidationFailed
from opsperf.persistence.models import Appraisal, Cycle, Event, Job, User, db, utcnow
from opsperf.services import jobs, snapshots, steps
from opsperf.services.context import Context, compiled_workflow, compute_due
from opsperf.services.pages import Page, like

BATCH = 500
MAX_SKIPPED_SHOWN = 200
LAUNCH_JOB = "launch_cycle"
MAX_NAME = 200


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
    created: int
    skipped: list[Skipped]
    skipped_total: int


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


def _positions_using(defs: DefinitionSet, scope: list[str], workflow_id: str) -> list[Any]:
    return [
        (dept_id, p.id)
        for dept_id in scope
        for p in defs.departments[dept_id].positions
        if p.workflow == workflow_id
    ]


def start(
    defs: DefinitionSet,
    *,
    name: str,
    workflow_id: str,
    period_start: dt.date,
    period_end: dt.date,
    department_ids: list[str],
    actor: User | None,
) -> Cycle:
    """Check a launch and record the cycle (committed, status ``launching``, no appraisals)."""
    if workflow_id not in defs.workflows:
        raise NotFound("no workflow '%(workflow)s'", workflow=workflow_id)
    if not name.strip():
        raise ValidationFailed("give the cycle a name")
    if len(name.strip()) > MAX_NAME:
        raise ValidationFailed("the name is longer than %(max)s characters", max=MAX_NAME)
    if untypable(name):
        raise ValidationFailed("the name holds control characters or broken symbols")
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
    pairs = _positions_using(defs, scope, workflow_id)
    anyone = pairs and db.session.scalar(
        select(User.id)
        .where(User.active, tuple_(User.department_id, User.position_id).in_(pairs))
        .limit(1)
    )
    if not anyone:
        raise ValidationFailed("nobody in these departments has a position using this workflow")
    cycle = Cycle(
        name=name.strip(),
        workflow_id=workflow_id,
        period_start=period_start,
        period_end=period_end,
        departments=scope,
        status="launching",
        workflow_snapshot_id=snapshots.pin(defs, "Workflow", workflow_id).id,
        created_by_id=actor.id if actor else None,
    )
    db.session.add(cycle)
    db.session.commit()
    return cycle


def populate(
    defs: DefinitionSet, cycle: Cycle, progress: Callable[[int, int], None]
) -> dict[str, Any]:
    """Add the appraisals of a launching cycle, a batch at a time; then make it active.

    ``progress(done, total)`` must commit: each batch is kept once it is reported.
    """
    people = list(
        db.session.execute(
            select(User.id, User.name, User.department_id, User.position_id, User.manager_id)
            .where(
                User.department_id.in_(cycle.departments),
                User.active,
                User.position_id.is_not(None),
            )
            .order_by(User.employee_no)
        )
    )
    have = set(db.session.scalars(select(Appraisal.employee_id).filter_by(cycle_id=cycle.id)))
    launcher = _Launcher(defs, cycle)
    for start_at in range(0, len(people), BATCH):
        batch = people[start_at : start_at + BATCH]
        launcher.add([p for p in batch if p.id not in have])
        progress(start_at + len(batch), len(people))
    created = db.session.scalar(
        select(func.count()).select_from(Appraisal).filter_by(cycle_id=cycle.id)
    )
    if not created:
        raise ValidationFailed("nobody in these departments has a position using this workflow")
    cycle.status = "active"
    db.session.add(
        Event(
            cycle_id=cycle.id,
            actor_id=cycle.created_by_id,
            kind="launch",
            comment=f"{created} appraisals",
        )
    )
    progress(len(people), len(people))
    return {
        "created": created,
        "skipped_total": len(launcher.skipped),
        "skipped": [
            {"user": s.user, "template": s.template, "params": s.params}
            for s in launcher.skipped[:MAX_SKIPPED_SHOWN]
        ],
    }


class _Launcher:
    """Creates appraisals for one cycle: pins each definition once, builds contexts once."""

    def __init__(self, defs: DefinitionSet, cycle: Cycle) -> None:
        assert cycle.workflow_snapshot_id is not None, "start() pins the cycle's workflow"
        self.defs = defs
        self.cycle = cycle
        self.workflow_snapshot_id = cycle.workflow_snapshot_id
        self.workflow = compiled_workflow(cycle.workflow_snapshot_id)
        self.snapshot_ids: dict[tuple[str, str], int] = {}
        self.skipped: list[Skipped] = []
        self.roles_by_department: dict[str, list[str]] = {}
        self.declared = org.declarations(defs)

    def pin(self, kind: str, ident: str) -> int:
        if (kind, ident) not in self.snapshot_ids:
            self.snapshot_ids[(kind, ident)] = snapshots.pin(self.defs, kind, ident).id
        return self.snapshot_ids[(kind, ident)]

    def custom_roles(self, dept_id: str) -> list[str]:
        if dept_id not in self.roles_by_department:
            workflow = self.workflow.definition
            self.roles_by_department[dept_id] = org.roles_in_force(
                self.defs, workflow, dept_id, self.declared
            )
        return self.roles_by_department[dept_id]

    def add(self, people: Sequence[Any]) -> None:
        """Add the appraisals of ``people`` and their open steps (flushed, not committed)."""
        now = utcnow()
        made: list[tuple[Appraisal, Context]] = []
        for person in people:
            found = self._appraisal(person, now)
            if isinstance(found, Skipped):
                self.skipped.append(found)
            else:
                made.append(found)
        db.session.flush()
        steps.write([row for _, ctx in made for row in steps.rows_for(ctx)])

    def _appraisal(self, person: Any, now: dt.datetime) -> tuple[Appraisal, Context] | Skipped:
        """The person's new appraisal, or why they are left out."""
        defs, cycle = self.defs, self.cycle
        dept: Department = defs.departments[person.department_id]
        position = next((p for p in dept.positions if p.id == person.position_id), None)
        if position is None:
            return Skipped(
                person.name,
                N_("position '%(position)s' is not defined in department %(department)s"),
                {"position": person.position_id, "department": dept.id},
            )
        if position.workflow != cycle.workflow_id:
            return Skipped(
                person.name,
                N_("position '%(position)s' uses workflow '%(workflow)s'"),
                {"position": position.id, "workflow": position.workflow},
            )
        policy_id = position.policy or next(
            (p.id for p in defs.policies.values() if p.workflow == cycle.workflow_id), None
        )
        appraisal = Appraisal(
            cycle_id=cycle.id,
            employee_id=person.id,
            manager_id=person.manager_id,
            department_id=dept.id,
            position_id=position.id,
            form_snapshot_id=self.pin("Form", position.form),
            workflow_snapshot_id=self.workflow_snapshot_id,
            policy_snapshot_id=self.pin("IncentivePolicy", policy_id) if policy_id else None,
            department_snapshot_id=self.pin("Department", dept.id),
            custom_roles=self.custom_roles(dept.id),
            state=self.workflow.initial,
            state_entered_at=now,
            values=_initial_values(defs, position.form),
        )
        ctx = Context(
            appraisal=appraisal,
            form=defs.forms[position.form],
            workflow=self.workflow,
            policy=defs.policies[policy_id] if policy_id else None,
            department=dept,
        )
        appraisal.due_at = compute_due(ctx, cycle.period_start)
        db.session.add(appraisal)
        return appraisal, ctx


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


def launch(defs: DefinitionSet, **details: Any) -> Launch:
    """Start a cycle (``details`` as for :func:`start`) and add its appraisals now, here."""
    cycle = start(defs, **details)
    result = populate(defs, cycle, lambda done, total: db.session.commit())
    skipped = [Skipped(s["user"], s["template"], s["params"]) for s in result["skipped"]]
    return Launch(cycle, result["created"], skipped, result["skipped_total"])


@jobs.handler(LAUNCH_JOB)
def _launch_job(defs: DefinitionSet, job: Job, progress: jobs.Progress) -> dict[str, Any]:
    cycle = get(int(job.params["cycle_id"]))
    if cycle.status != "launching":
        return dict(job.result or {})
    return populate(defs, cycle, progress)


def get(cycle_id: int) -> Cycle:
    cycle = db.session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound("cycle %(id)s does not exist", id=cycle_id)
    return cycle


# --------------------------------------------------------------------------- lists and counts


def progress(cycle_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """How many appraisals of each cycle are in each state (one GROUP BY)."""
    out: dict[int, dict[str, int]] = {cycle_id: {} for cycle_id in cycle_ids}
    if cycle_ids:
        rows = db.session.execute(
            select(Appraisal.cycle_id, Appraisal.state, func.count())
            .where(Appraisal.cycle_id.in_(cycle_ids))
            .group_by(Appraisal.cycle_id, Appraisal.state)
        )
        for cycle_id, state, count in rows:
            out[cycle_id][state] = count
    return out


def recent_active_cycles(limit: int = 6) -> list[Cycle]:
    """The newest cycles still running."""
    return list(
        db.session.scalars(
            select(Cycle).where(Cycle.status == "active").order_by(Cycle.id.desc()).limit(limit)
        )
    )


def in_workflow_order(counts: dict[str, int], order: Sequence[str]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: order.index(item[0]) if item[0] in order else 0)


def cycles_page(page: int = 1, per_page: int = 25, search: str = "") -> Page[Cycle]:
    """Cycles, newest first, one page (the counts come from :func:`progress`)."""
    query = select(Cycle)
    if search:
        query = query.where(like(Cycle.name, search))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    current: Page[Cycle] = Page.of(page, per_page, total)
    current.items = list(
        db.session.scalars(query.order_by(Cycle.id.desc()).limit(per_page).offset(current.offset))
    )
    return current


@dataclass(frozen=True)
class AppraisalFilter:
    departments: tuple[str, ...] = ()
    state: str = ""
    overdue: bool = False
    grade: str = ""
    search: str = ""
    sort: str = "employee_no"
    position: str = ""


# Appraisals are created in employee-number order, so their id keeps it without a join.
SORTS: dict[str, Any] = {
    "employee_no": (Appraisal.id,),
    "name": (User.name, Appraisal.id),
    "department": (Appraisal.department_id, Appraisal.id),
    "state": (Appraisal.state, Appraisal.id),
    "due": (Appraisal.due_at, Appraisal.id),
    "score": (Appraisal.score.desc(), Appraisal.id),
    "-score": (Appraisal.score, Appraisal.id),
}


def filtered(cycle: Cycle, only: AppraisalFilter, now: dt.datetime, what: Any) -> Select[Any]:
    """``what`` of the cycle's appraisals that pass the filter (people joined only to search)."""
    query = select(what).where(Appraisal.cycle_id == cycle.id)
    if only.search or only.sort == "name":
        query = query.join(User, Appraisal.employee_id == User.id)
    conditions: list[ColumnElement[bool]] = []
    if only.departments:
        conditions.append(Appraisal.department_id.in_(only.departments))
    if only.state:
        conditions.append(Appraisal.state == only.state)
    if only.overdue:
        conditions.append(Appraisal.due_at < now)
    if only.grade:
        conditions.append(Appraisal.grade == only.grade)
    if only.position:
        conditions.append(Appraisal.position_id == only.position)
    if only.search:
        conditions.append(or_(like(User.name, only.search), like(User.employee_no, only.search)))
    return query.where(*conditions)


def appraisals_page(
    cycle: Cycle,
    only: AppraisalFilter,
    page: int = 1,
    per_page: int = 50,
    now: dt.datetime | None = None,
) -> Page[Appraisal]:
    """The appraisals of a cycle that pass the filter, sorted, one page."""
    now = now or utcnow()
    total = db.session.scalar(filtered(cycle, only, now, func.count(Appraisal.id))) or 0
    current: Page[Appraisal] = Page.of(page, per_page, total)
    order = SORTS.get(only.sort, SORTS["employee_no"])
    current.items = list(
        db.session.scalars(
            filtered(cycle, only, now, Appraisal)
            .options(joinedload(Appraisal.employee))
            .order_by(*order)
            .limit(current.per_page)
            .offset(current.offset)
        )
    )
    return current


def grades(defs: DefinitionSet, cycle: Cycle) -> list[str]:
    """The grades a cycle's appraisals can get: those of the policies for its workflow."""
    found: list[str] = []
    for policy in defs.policies.values():
        if policy.workflow == cycle.workflow_id:
            found += [g.grade for g in policy.grades if g.grade not in found]
    return found


def overdue_count(cycle: Cycle, now: dt.datetime | None = None) -> int:
    """Appraisals past their current deadline (final states have none)."""
    query = select(func.count()).select_from(Appraisal)
    query = query.where(Appraisal.cycle_id == cycle.id, Appraisal.due_at < (now or utcnow()))
    return db.session.scalar(query) or 0

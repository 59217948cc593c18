"""Dashboards: a cycle's figures for HR (the whole company or any department), a department
head (their subtree) and each person (their own appraisals across cycles).

Every count is one ``GROUP BY`` over the cycle and the few cycles before it (``_tally``: by
cycle, department, state, grade and policy, read from one covering index), so a dashboard's
cost is bounded by departments × states × grades, not by people. The KPI attainment of a
department reads ``appraisals.values``; it is one aggregate over the cycle's rows, kept until
an appraisal of the cycle changes (the fingerprint of ``services.alignment``). The people ×
KPIs heat table and the movers are pages and limits in SQL (docs/DESIGN.md, "Dashboards").
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Float, and_, case, cast, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import aliased, joinedload

from opsperf.definitions.loader import DefinitionSet
from opsperf.definitions.schema import Form, IncentivePolicy, Kpi, KpiTableField
from opsperf.engine.forms import withheld
from opsperf.errors import NotFound, PermissionDenied
from opsperf.persistence.cache import KeptPerCycle
from opsperf.persistence.models import Appraisal, Cycle, Snapshot, User, db, utcnow
from opsperf.services import alignment, calibration, snapshots
from opsperf.services import appraisals as appraisals_svc
from opsperf.services.alignment import attainment
from opsperf.services.calibration import board_roles, headed, is_company_wide
from opsperf.services.context import compiled_workflow, context
from opsperf.services.pages import Page

TREND_CYCLES = 4  # the cycle shown and up to three before it
MOVERS = 10  # people in each of the top and bottom movers
MY_CYCLES = 8  # cycles on a person's own dashboard
CYCLE_CHOICES = 24  # cycles offered in the picker


# --------------------------------------------------------------------------- who sees what


@dataclass(frozen=True)
class Scope:
    """What a dashboard counts: ``departments`` of ``cycle`` (``root`` and those below it;
    ``root`` None: the whole cycle), people of ``position`` only when one is named."""

    cycle: Cycle
    root: str | None
    departments: tuple[str, ...]
    position: str = ""

    @property
    def whole(self) -> bool:
        """Whether every department of the cycle counts (no department condition needed)."""
        return self.root is None


def may_open(defs: DefinitionSet, user: User) -> bool:
    """Whether ``user`` may open the organisation dashboard (HR, administrators, heads)."""
    return is_company_wide(user) or headed(defs, user) is not None


def cycles_for(defs: DefinitionSet, user: User) -> list[Cycle]:
    """The cycles the reader may pick, newest first: HR all of them, a head those their
    department takes part in."""
    if not may_open(defs, user):
        raise PermissionDenied("only HR and department heads see the dashboards of a cycle")
    found = db.session.scalars(
        select(Cycle).where(Cycle.status != "launching").order_by(Cycle.id.desc()).limit(200)
    )
    own = None if is_company_wide(user) else headed(defs, user)
    return [c for c in found if own is None or own in c.departments][:CYCLE_CHOICES]


def pick_cycle(defs: DefinitionSet, user: User, cycle_id: int | None) -> Cycle | None:
    """The cycle asked for (NotFound when there is none), else the newest the reader may see."""
    choices = cycles_for(defs, user)
    if cycle_id is None:
        return choices[0] if choices else None
    cycle = db.session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound("cycle %(id)s does not exist", id=cycle_id)
    return cycle


def scope_for(
    defs: DefinitionSet, user: User, cycle: Cycle, department: str, position: str = ""
) -> Scope:
    """What ``user`` sees of ``cycle`` for ``department`` ('': the widest they may see): HR
    and administrators the whole cycle or any department in it, a head their subtree."""
    own = None if is_company_wide(user) else headed(defs, user)
    if own is not None and own not in cycle.departments and not department:
        raise NotFound("your department is not part of cycle %(id)s", id=cycle.id)
    refused = PermissionDenied("only HR and department heads see the dashboards of a cycle")
    found = alignment.scope_for(defs, user, cycle, department, refused)
    root, departments = found.root, found.departments
    if position and position not in {p for p, _ in positions(defs, departments)}:
        raise NotFound("there is no position '%(id)s' in these departments", id=position)
    return Scope(cycle, root, departments, position)


def positions(defs: DefinitionSet, departments: Sequence[str]) -> list[tuple[str, Any]]:
    """(position id, its name) of the departments, each id once, in the order declared."""
    out: dict[str, Any] = {}
    for dept_id in departments:
        dept = defs.departments.get(dept_id)
        for p in dept.positions if dept else []:
            out.setdefault(p.id, p.name)
    return list(out.items())


# --------------------------------------------------------------------------- the tally


@dataclass(frozen=True)
class Tally:
    """How many appraisals of a scope share a cycle, department, state, grade and policy; how
    many of them have a score, the sum of those scores and how many are past their deadline."""

    cycle: int
    department: str
    state: str
    grade: str | None
    policy: int | None
    count: int
    scored: int
    score_sum: float
    overdue: int


def _where(scope: Scope, cycle_ids: Sequence[int]) -> list[Any]:
    conditions: list[Any] = [Appraisal.cycle_id.in_(cycle_ids)]
    if not scope.whole:
        conditions.append(Appraisal.department_id.in_(scope.departments))
    if scope.position:
        conditions.append(Appraisal.position_id == scope.position)
    return conditions


def _tally(scope: Scope, cycle_ids: Sequence[int], now: dt.datetime) -> list[Tally]:
    """One GROUP BY over the cycles' appraisals in scope (from ix_appraisals_cycle_dashboard)."""
    overdue = func.sum(case((Appraisal.due_at < now, 1), else_=0))
    rows = db.session.execute(
        select(
            Appraisal.cycle_id,
            Appraisal.department_id,
            Appraisal.state,
            Appraisal.grade,
            Appraisal.policy_snapshot_id,
            func.count(),
            func.count(Appraisal.score),
            func.coalesce(func.sum(Appraisal.score), 0),
            overdue,
        )
        .where(*_where(scope, cycle_ids))
        .group_by(
            Appraisal.cycle_id,
            Appraisal.department_id,
            Appraisal.state,
            Appraisal.grade,
            Appraisal.policy_snapshot_id,
        )
    )
    return [
        Tally(c, d, s, g, p, n, k, float(t or 0), int(o or 0)) for c, d, s, g, p, n, k, t, o in rows
    ]


def _finals(cycle: Cycle) -> set[str]:
    if cycle.workflow_snapshot_id is None:
        return set()
    workflow = compiled_workflow(cycle.workflow_snapshot_id)
    return {s for s in workflow.leaves if workflow.is_final(s)}


def _graded_states(cycle: Cycle) -> set[str] | None:
    """The states whose grades count: the calibrated population when the workflow calibrates,
    else (None) every state."""
    step = calibration.step_for(cycle)
    return set(step.population) if step else None


# --------------------------------------------------------------------------- the figures


@dataclass
class Line:
    """One department's figures (or the scope's, ``department`` None)."""

    department: str | None
    total: int = 0
    closed: int = 0
    overdue: int = 0
    scored: int = 0
    score_sum: float = 0.0
    attained: int = 0  # KPI figures with an attainment
    attainment_sum: float = 0.0

    @property
    def completion(self) -> float | None:
        return self.closed / self.total * 100 if self.total else None

    @property
    def average_score(self) -> float | None:
        return self.score_sum / self.scored if self.scored else None

    @property
    def average_attainment(self) -> float | None:
        return self.attainment_sum / self.attained if self.attained else None


@dataclass
class GradeShare:
    """A grade of a policy: how many of the graded population have it, against its quota."""

    grade: str
    label: Any
    count: int
    share: float | None
    quota_min: float | None
    quota_max: float | None

    @property
    def outside(self) -> bool:
        if self.share is None:
            return False
        low = self.quota_min is not None and self.share < self.quota_min
        return low or (self.quota_max is not None and self.share > self.quota_max)


@dataclass
class Grades:
    """The grade distribution of one policy in the scope."""

    policy: IncentivePolicy
    shares: list[GradeShare]
    population: int
    quotas_apply: bool


@dataclass
class TrendPoint:
    """One cycle of the trend: its average score and how many people have each grade."""

    cycle: Cycle
    line: Line
    grades: Counter[str]


@dataclass
class Overview:
    """What the organisation dashboard shows of a scope."""

    scope: Scope
    states: list[tuple[str, int]]  # in workflow order
    total: Line
    departments: list[Line]
    grades: list[Grades]
    trend: list[TrendPoint]
    previous: Cycle | None


def earlier_cycles(cycle: Cycle, departments: Sequence[str], limit: int) -> list[Cycle]:
    """Up to ``limit`` cycles before ``cycle`` (by period, then launch) that appraise one of
    ``departments``, newest first."""
    wanted = set(departments)
    found = db.session.scalars(
        select(Cycle)
        .where(
            Cycle.status != "launching",
            Cycle.id != cycle.id,
            (Cycle.period_start < cycle.period_start)
            | (and_(Cycle.period_start == cycle.period_start, Cycle.id < cycle.id)),
        )
        .order_by(Cycle.period_start.desc(), Cycle.id.desc())
        .limit(200)
    )
    return [c for c in found if wanted & set(c.departments)][:limit]


def overview(defs: DefinitionSet, scope: Scope, reader: User | None = None) -> Overview:
    """The figures of the organisation dashboard: one GROUP BY over the cycle and those before
    it, and the KPI attainment of each department (kept until the cycle changes)."""
    cycle = scope.cycle
    before = earlier_cycles(cycle, scope.departments, TREND_CYCLES - 1)
    rows = _tally(scope, [cycle.id, *[c.id for c in before]], utcnow())
    mine = [t for t in rows if t.cycle == cycle.id]
    finals = _finals(cycle)
    lines: dict[str, Line] = {d: Line(d) for d in scope.departments}
    total = Line(None)
    states: Counter[str] = Counter()
    for t in mine:
        states[t.state] += t.count
        for line in (lines.setdefault(t.department, Line(t.department)), total):
            _count(line, t, finals)
    roles = board_roles(reader) if reader is not None else None
    for dept, (n, s) in attainment_by_department(scope, roles).items():
        for line in (lines.setdefault(dept, Line(dept)), total):
            line.attained += n
            line.attainment_sum += s
    order = (
        list(compiled_workflow(cycle.workflow_snapshot_id).leaves)
        if cycle.workflow_snapshot_id
        else []
    )
    ordered = sorted(
        states.items(), key=lambda i: order.index(i[0]) if i[0] in order else len(order)
    )
    trend = [_point(c, [t for t in rows if t.cycle == c.id]) for c in [*reversed(before), cycle]]
    return Overview(
        scope,
        ordered,
        total,
        [lines[d] for d in lines if lines[d].total],
        _grades(cycle, mine),
        trend,
        before[0] if before else None,
    )


def _count(line: Line, t: Tally, finals: set[str]) -> None:
    line.total += t.count
    line.closed += t.count if t.state in finals else 0
    line.overdue += t.overdue
    line.scored += t.scored
    line.score_sum += t.score_sum


def _point(cycle: Cycle, rows: list[Tally]) -> TrendPoint:
    line = Line(None)
    finals = _finals(cycle)
    graded = _graded_states(cycle)
    grades: Counter[str] = Counter()
    for t in rows:
        _count(line, t, finals)
        if t.grade is not None and (graded is None or t.state in graded):
            grades[t.grade] += t.count
    return TrendPoint(cycle, line, grades)


def _grades(cycle: Cycle, rows: list[Tally]) -> list[Grades]:
    """The grade counts of the graded population per policy, against each grade's quota."""
    graded = _graded_states(cycle)
    by_policy: dict[int, Counter[str]] = {}
    for t in rows:
        if t.policy is not None and t.grade is not None and (graded is None or t.state in graded):
            by_policy.setdefault(t.policy, Counter())[t.grade] += t.count
    out = []
    for policy_id, counts in sorted(by_policy.items()):
        policy: IncentivePolicy = snapshots.definition(policy_id)
        population = sum(counts.values())
        shares = [
            GradeShare(
                g.grade,
                g.label,
                counts.get(g.grade, 0),
                counts.get(g.grade, 0) / population * 100 if population else None,
                g.quota_min,
                g.quota_max,
            )
            for g in policy.grades
        ]
        applies = population >= policy.quotas.min_population
        out.append(Grades(policy, shares, population, applies))
    return out


# --------------------------------------------------------------------------- KPI attainment


@dataclass(frozen=True)
class Column:
    """A KPI of a pinned form as a dashboard reads it."""

    snapshot: int
    form: Form
    field: str
    kpi: Kpi

    @property
    def key(self) -> str:
        return f"{self.field}.{self.kpi.id}"


def _form_kpis(form: Form, roles: frozenset[str] | None) -> list[tuple[str, Kpi]]:
    hidden = withheld(form, roles) if roles is not None else frozenset()
    return [
        (f.id, k)
        for f in form.fields()
        if isinstance(f, KpiTableField) and f.id not in hidden
        for k in f.kpis
    ]


def _columns(roles: frozenset[str] | None) -> dict[int, list[Column]]:
    """Every pinned form's KPIs the reader may see, by snapshot (each parsed once a process)."""
    out: dict[int, list[Column]] = {}
    for snapshot_id in db.session.scalars(
        select(Snapshot.id).where(Snapshot.kind == "Form").order_by(Snapshot.id)
    ):
        form: Form = snapshots.definition(snapshot_id)
        found = [Column(snapshot_id, form, f, k) for f, k in _form_kpis(form, roles)]
        if found:
            out[snapshot_id] = found
    return out


_kept = KeptPerCycle()  # attainment by department, until an appraisal of the cycle changes


def attainment_by_department(
    scope: Scope, roles: frozenset[str] | None = None
) -> dict[str, tuple[int, float]]:
    """(how many KPI figures have an attainment, their sum) per department of the scope,
    kept until an appraisal of the cycle changes (as the alignment page keeps its figures)."""
    columns = _columns(roles)
    if not columns:
        return {}
    key = (
        scope.departments if not scope.whole else None,
        scope.position,
        tuple((s, c.key) for s, cs in columns.items() for c in cs),
    )
    return _kept.get(scope.cycle.id, key, lambda: _attainment_query(scope, columns))


def _attainment_query(
    scope: Scope, columns: dict[int, list[Column]]
) -> dict[str, tuple[int, float]]:
    """One aggregate over the cycle's rows in scope: each form's KPIs read into the same few
    slot columns (a form's first KPI into slot 0 …), each person's attainment of each KPI
    worked out in SQL, summed and counted per department."""
    postgres = db.engine.dialect.name == "postgresql"
    document = cast(Appraisal.values, JSONB) if postgres else Appraisal.values
    rows = select(
        Appraisal.department_id.label("department"),
        Appraisal.form_snapshot_id.label("form"),
        document.label("doc"),
    ).where(*_where(scope, [scope.cycle.id]))
    base = rows.offset(0).subquery()
    slots = range(max(len(c) for c in columns.values()))
    read: list[Any] = [base.c.department, base.c.form]
    for slot in slots:
        for part in ("actual", "target"):
            whens = {
                s: _raw(base.c.doc, (cs[slot].field, cs[slot].kpi.id, part), postgres)
                for s, cs in columns.items()
                if slot < len(cs)
            }
            read.append(case(whens, value=base.c.form).label(f"k{slot}_{part}"))
    raw = select(*read).offset(0).subquery()
    numbers: list[Any] = [raw.c.department, raw.c.form]
    for slot in slots:
        numbers.append(_number(raw.c[f"k{slot}_actual"], postgres).label(f"k{slot}_actual"))
        declared = {
            s: cs[slot].kpi.target
            for s, cs in columns.items()
            if slot < len(cs) and cs[slot].kpi.target is not None
        }
        target = _number(raw.c[f"k{slot}_target"], postgres)
        if declared:
            target = func.coalesce(target, case(declared, value=raw.c.form))
        numbers.append(target.label(f"k{slot}_target"))
    values = select(*numbers).offset(0).subquery()
    sums: list[Any] = []
    counts: list[Any] = []
    for slot in slots:
        lower = [
            s for s, cs in columns.items() if slot < len(cs) and cs[slot].kpi.direction == "lower"
        ]
        actual, target = values.c[f"k{slot}_actual"], values.c[f"k{slot}_target"]
        ratio = case(
            (values.c.form.in_(lower), case((actual > 0, target * 100.0 / actual))),
            else_=case((target > 0, actual * 100.0 / target)),
        )
        sums.append(func.coalesce(func.sum(ratio), 0))
        counts.append(func.count(ratio))
    query = select(values.c.department, *sums, *counts).group_by(values.c.department)
    out: dict[str, tuple[int, float]] = {}
    n = len(slots)
    for row in db.session.execute(query):
        count = sum(int(c or 0) for c in row[1 + n :])
        if count:
            out[row[0]] = (count, sum(float(s or 0) for s in row[1 : 1 + n]))
    return out


def _raw(doc: Any, path: tuple[str, ...], postgres: bool) -> Any:
    if postgres:
        return doc[path]
    return func.json_extract(doc, "$." + ".".join(f'"{part}"' for part in path))


def _number(raw: Any, postgres: bool) -> Any:
    if postgres:
        return case((func.jsonb_typeof(raw) == "number", cast(raw, Float)))
    return case((func.typeof(raw).in_(("integer", "real")), raw), else_=None)


# --------------------------------------------------------------------------- people × KPIs


@dataclass
class HeatRow:
    """One person of the heat table: their attainment of each KPI column (None: no figure,
    or a KPI their form does not have or keeps from the reader)."""

    appraisal: Appraisal
    cells: dict[str, float | None]
    openable: bool


@dataclass
class Heat:
    columns: list[tuple[str, Kpi]]  # (field.kpi, the KPI) in order of first appearance
    rows: list[HeatRow]
    page: Page[Appraisal]


def heat(scope: Scope, reader: User, page: int = 1, per_page: int = 25) -> Heat:
    """One page of the scope's people (in employee-number order, paged in SQL) with their
    attainment of each KPI: bounded work, whatever the size of the company."""
    query = select(Appraisal).where(*_where(scope, [scope.cycle.id]))
    total = db.session.scalar(select(func.count()).where(*_where(scope, [scope.cycle.id]))) or 0
    current: Page[Appraisal] = Page.of(page, per_page, total)
    current.items = list(
        db.session.scalars(
            query.options(joinedload(Appraisal.employee))
            .order_by(Appraisal.id)
            .limit(current.per_page)
            .offset(current.offset)
        )
    )
    columns: dict[str, Kpi] = {}
    rows = []
    for a in current.items:
        ctx = context(a)
        roles = appraisals_svc.roles_of(ctx, reader)
        if a.employee_id != reader.id:
            roles |= board_roles(reader)
        cells: dict[str, float | None] = {}
        for field_id, kpi in _form_kpis(ctx.form, frozenset(roles)):
            key = f"{field_id}.{kpi.id}"
            columns.setdefault(key, kpi)
            cells[key] = kpi_attainment(a.values or {}, field_id, kpi)
        rows.append(HeatRow(a, cells, appraisals_svc.can_view(ctx, reader)))
    return Heat(list(columns.items()), rows, current)


def kpi_attainment(values: dict[str, Any], field_id: str, kpi: Kpi) -> float | None:
    """A person's attainment of a KPI: actual ÷ target as a percentage (target ÷ actual when
    lower is better), the target as agreed, else the KPI's."""
    table = values.get(field_id)
    cells = table.get(kpi.id) if isinstance(table, dict) else None
    cells = cells if isinstance(cells, dict) else {}
    actual, typed = (_plain(cells.get(c)) for c in ("actual", "target"))
    return attainment(actual, typed if typed is not None else kpi.target, kpi.direction)


def _plain(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


# --------------------------------------------------------------------------- movers


@dataclass(frozen=True)
class Mover:
    appraisal_id: int
    name: str
    employee_no: str
    department: str
    before: float
    after: float

    @property
    def change(self) -> float:
        return self.after - self.before


def movers(
    scope: Scope, previous: Cycle | None, limit: int = MOVERS
) -> tuple[list[Mover], list[Mover]]:
    """The people of the scope present in both cycles whose score rose most and fell most
    since ``previous`` (each list ordered and limited in SQL)."""
    if previous is None:
        return [], []
    before = aliased(Appraisal)
    change = Appraisal.score - before.score
    query = (
        select(
            Appraisal.id,
            User.name,
            User.employee_no,
            Appraisal.department_id,
            before.score,
            Appraisal.score,
        )
        .join(
            before,
            and_(before.employee_id == Appraisal.employee_id, before.cycle_id == previous.id),
        )
        .join(User, User.id == Appraisal.employee_id)
        .where(
            *_where(scope, [scope.cycle.id]),
            Appraisal.score.is_not(None),
            before.score.is_not(None),
        )
    )
    up = db.session.execute(
        query.where(change > 0).order_by(change.desc(), Appraisal.id).limit(limit)
    )
    down = db.session.execute(query.where(change < 0).order_by(change, Appraisal.id).limit(limit))
    return [_mover(r) for r in up], [_mover(r) for r in down]


def _mover(row: Any) -> Mover:
    ident, name, number, department, before, after = row
    return Mover(ident, name, number, department, float(before), float(after))


# --------------------------------------------------------------------------- my dashboard


@dataclass
class MyCycle:
    """One of a person's appraisals as their own dashboard shows it."""

    appraisal: Appraisal
    provisional: bool
    kpis: dict[str, float | None] = field(default_factory=dict)


@dataclass
class Mine:
    cycles: list[MyCycle]  # oldest first
    kpis: list[tuple[str, Kpi]]


def mine(user: User, limit: int = MY_CYCLES) -> Mine:
    """The person's own appraisals of the newest ``limit`` cycles, with score, grade and the
    attainment of each KPI their form shows them."""
    found = list(
        db.session.scalars(
            select(Appraisal)
            .join(Cycle, Cycle.id == Appraisal.cycle_id)
            .where(Appraisal.employee_id == user.id)
            .options(joinedload(Appraisal.cycle))
            .order_by(Cycle.period_start.desc(), Cycle.id.desc())
            .limit(limit)
        )
    )
    columns: dict[str, Kpi] = {}
    out = []
    for a in reversed(found):
        ctx = context(a)
        row = MyCycle(a, calibration.provisional(ctx))
        for field_id, kpi in _form_kpis(ctx.form, frozenset(appraisals_svc.roles_of(ctx, user))):
            key = f"{field_id}.{kpi.id}"
            columns.setdefault(key, kpi)
            row.kpis[key] = kpi_attainment(a.values or {}, field_id, kpi)
        out.append(row)
    return Mine(out, list(columns.items()))

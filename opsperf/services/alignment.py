"""The goal cascade of a cycle: each goal with its target, actual and attainment, worked out by
its ``rollup`` from the goals aligned to it and every person's KPI aligned to it.

A person's KPI is read from ``appraisals.values`` (``values[field][kpi]['actual']`` and
``['target']``, the target falling back to the KPI's declared one). Those figures are
aggregated in the database: one GROUP BY over the cycle's appraisals in scope, by pinned form,
reading each KPI's numbers once per row, so a page costs one aggregate query however many
people there are; its figures are kept until an appraisal of the cycle changes (``_figures``).
The rules are worked out in Python over the aggregates (docs/DESIGN.md, "Goal cascade").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, String, and_, case, cast, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import joinedload

from opsperf.definitions import goals as goal_refs
from opsperf.definitions import org
from opsperf.definitions.loader import DefinitionSet
from opsperf.definitions.schema import Department, Form, Goal, Kpi, KpiTableField
from opsperf.engine.forms import withheld
from opsperf.errors import NotFound, PermissionDenied
from opsperf.persistence.cache import KeptPerCycle
from opsperf.persistence.models import Appraisal, Cycle, GoalActual, Snapshot, User, db
from opsperf.services import appraisals as appraisals_svc
from opsperf.services import cycles as cycles_svc
from opsperf.services import snapshots
from opsperf.services.calibration import board_roles, headed, is_company_wide
from opsperf.services.context import context
from opsperf.services.cycles import subtree
from opsperf.services.pages import Page

SORTS = ("employee_no", "-actual", "actual")


# --------------------------------------------------------------------------- who sees what


@dataclass(frozen=True)
class Scope:
    """The departments a page counts: ``root`` and those below it in the cycle, or (``root``
    None) every department of the cycle."""

    root: str | None
    departments: tuple[str, ...]


def may_open(defs: DefinitionSet, user: User) -> bool:
    return is_company_wide(user) or headed(defs, user) is not None


def scope_for(
    defs: DefinitionSet,
    user: User,
    cycle: Cycle,
    department: str,
    refused: PermissionDenied | None = None,
) -> Scope:
    """What ``user`` sees of ``cycle`` for ``department`` ('': the widest they may see): HR and
    administrators the whole cycle or any department in it, a department head their subtree
    (the dashboards ask too, with their own ``refused`` for anyone else)."""
    own = None if is_company_wide(user) else headed(defs, user)
    if own is None and not is_company_wide(user):
        raise refused or PermissionDenied("only HR and department heads see how goals align")
    if department and department not in cycle.departments:
        if department in defs.departments:
            raise NotFound("department '%(id)s' is not part of this cycle", id=department)
        raise NotFound("there is no department '%(id)s'", id=department)
    if own is not None and department and department not in subtree(defs, [own]):
        raise PermissionDenied("you see only your own department and those below it")
    root = department or own
    if root is None:
        return Scope(None, tuple(cycle.departments))
    return below(defs, cycle, root)


def below(defs: DefinitionSet, cycle: Cycle, root: str) -> Scope:
    """``root`` and the departments under it that take part in the cycle."""
    return Scope(root, tuple(d for d in subtree(defs, [root]) if d in cycle.departments))


def choices(defs: DefinitionSet, user: User, cycle: Cycle) -> list[str]:
    """The departments of the cycle the reader may pick."""
    if is_company_wide(user):
        return list(cycle.departments)
    own = headed(defs, user)
    allowed = set(subtree(defs, [own])) if own else set()
    return [d for d in cycle.departments if d in allowed]


def pages_for(defs: DefinitionSet, user: User, limit: int = 6) -> list[tuple[Cycle, str | None]]:
    """The alignment pages ``user`` may open in the newest active cycles: (cycle, the
    department it opens on; None: the whole cycle)."""
    if not may_open(defs, user):
        return []
    own = None if is_company_wide(user) else headed(defs, user)
    return [
        (cycle, own)
        for cycle in cycles_svc.recent_active_cycles(limit)
        if own is None or own in cycle.departments
    ]


# --------------------------------------------------------------------------- the rules


@dataclass
class Tally:
    """Values that feed a goal, summed up so that every rule can be worked out from it:
    how many, their sum, weighted sum and weights, lowest, highest, and the newest."""

    count: int = 0
    total: float = 0.0
    weighted: float = 0.0  # Σ weight × value
    weights: float = 0.0  # Σ weight
    low: float | None = None
    high: float | None = None
    at: dt.datetime | None = None  # when the newest value was recorded
    latest: float | None = None  # that value (of values recorded at one moment, one of them)

    @classmethod
    def one(cls, value: float | None, weight: float, at: dt.datetime | None) -> Tally:
        """A single value (an aligned goal's figure), or nothing when there is none."""
        if value is None:
            return cls()
        return cls(1, value, weight * value, weight, value, value, at, value)

    def add(self, other: Tally) -> None:
        if not other.count:
            return
        self.count += other.count
        self.total += other.total
        self.weighted += other.weighted
        self.weights += other.weights
        self.low = other.low if self.low is None or other.low is None else min(self.low, other.low)
        self.high = (
            other.high if self.high is None or other.high is None else max(self.high, other.high)
        )
        if _newer(other.at, other.latest, self.at, self.latest):
            self.at, self.latest = other.at, other.latest

    def value(self, rule: str | None) -> float | None:
        """The figure ``rule`` makes of these values (None: no rule, or no values)."""
        if rule is None or not self.count:
            return None
        if rule == "sum":
            return self.total
        if rule == "average":
            return self.total / self.count
        if rule == "weighted_average":
            return self.weighted / self.weights if self.weights else None
        if rule == "min":
            return self.low
        if rule == "max":
            return self.high
        return self.latest


def _newer(at: Any, value: Any, than_at: Any, than_value: Any) -> bool:
    if at is None or value is None:
        return False
    if than_at is None or than_value is None:
        return True
    return bool((at, value) > (than_at, than_value))


def attainment(actual: float | None, target: float | None, direction: str) -> float | None:
    """actual ÷ target (higher is better) or target ÷ actual (lower is better) as a percentage;
    None when there is no figure or nothing to divide by."""
    if actual is None or target is None:
        return None
    if direction == "lower":
        return target / actual * 100 if actual > 0 else None
    return actual / target * 100 if target > 0 else None


# --------------------------------------------------------------------------- the tree


@dataclass(frozen=True)
class Feed:
    """A KPI of a pinned form that serves a goal: the form's snapshot, the KPI table and KPI."""

    snapshot: int
    form: Form
    field: str
    kpi: Kpi

    @property
    def path(self) -> tuple[str, str]:
        return (self.field, self.kpi.id)

    @property
    def key(self) -> str:
        """How a page names the KPI: ``form.field.kpi``."""
        return f"{self.form.id}.{self.field}.{self.kpi.id}"


@dataclass
class KpiNode:
    """One KPI (of one form) aligned to a goal, across the people of the scope."""

    feed: Feed
    rule: str | None  # the goal's rollup
    snapshots: list[int] = field(default_factory=list)
    people: int = 0
    actuals: Tally = field(default_factory=Tally)
    targets: Tally = field(default_factory=Tally)

    @property
    def recorded(self) -> int:
        """How many of the people have an actual."""
        return self.actuals.count

    @property
    def actual(self) -> float | None:
        return self.actuals.value(self.rule)

    @property
    def target(self) -> float | None:
        return self.targets.value(self.rule)

    @property
    def attainment(self) -> float | None:
        return attainment(self.actual, self.target, self.feed.kpi.direction)


@dataclass
class GoalNode:
    """A goal with what aligns to it. ``outside``: a goal of a department the scope does not
    hold (``above`` it, or elsewhere), shown for what the scope carries of it: like every
    figure of the page, its figures count the scope's people only."""

    ref: str
    department: Department
    goal: Goal
    outside: bool = False
    above: bool = False
    goals: list[GoalNode] = field(default_factory=list)
    kpis: list[KpiNode] = field(default_factory=list)
    actuals: Tally = field(default_factory=Tally)
    targets: Tally = field(default_factory=Tally)
    # the actual recorded for the department this cycle (a goal with ``entered_by``; only
    # for a goal of the page's departments): it is the goal's actual, whatever rolls up
    recorded: float | None = None
    recorded_at: dt.datetime | None = None

    @property
    def actual(self) -> float | None:
        if self.recorded is not None:
            return self.recorded
        return self.actuals.value(self.goal.rollup)

    @property
    def rolled_up(self) -> float | None:
        """What the goal's rule makes of what aligns to it (beside a recorded actual)."""
        return self.actuals.value(self.goal.rollup)

    @property
    def target(self) -> float | None:
        if self.goal.target is not None:
            return self.goal.target
        return self.targets.value(self.goal.rollup)

    @property
    def attainment(self) -> float | None:
        return attainment(self.actual, self.target, self.goal.direction)

    def work_out(self) -> None:
        """Roll this goal up from its aligned goals (worked out first) and KPIs."""
        for child in self.goals:
            child.work_out()
            weight = child.goal.weight
            at = child.recorded_at if child.recorded is not None else child.actuals.at
            self.actuals.add(Tally.one(child.actual, weight, at))
            self.targets.add(Tally.one(child.target, weight, child.targets.at))
        for node in self.kpis:
            self.actuals.add(node.actuals)
            self.targets.add(node.targets)


def tree(
    defs: DefinitionSet, cycle: Cycle, scope: Scope, roles: frozenset[str] | None = None
) -> list[GoalNode]:
    """The goals of the scope's departments and the goals above them they carry, as a forest
    of goals with their aligned goals and KPIs, every figure worked out. ``roles``: the
    reader's (as on the calibration board); a KPI table a form withholds from them feeds
    nothing they see (None: the server's own figures, everything counts)."""
    nodes = _goal_nodes(defs, scope)
    feeds = _feeds(set(nodes), roles)
    for kpi in _kpi_nodes(nodes, feeds, _figures(cycle, scope, feeds, nodes)):
        if kpi.people:  # a form nobody in scope has is not shown
            nodes[kpi.feed.kpi.aligns_to or ""].kpis.append(kpi)
    _recorded(cycle, scope, nodes)
    roots = []
    for node in nodes.values():
        parent = nodes.get(node.goal.aligns_to or "")
        if parent is None:
            roots.append(node)
        else:
            parent.goals.append(node)
    for root in roots:
        root.work_out()
    return roots


def _recorded(cycle: Cycle, scope: Scope, nodes: dict[str, GoalNode]) -> None:
    """The actuals recorded this cycle for the goals of the page's departments (one query)."""
    inside = [n for n in nodes.values() if not n.outside and n.goal.entered_by]
    if not inside:
        return
    rows = db.session.scalars(
        select(GoalActual).where(
            GoalActual.cycle_id == cycle.id,
            GoalActual.department_id.in_(sorted({n.department.id for n in inside})),
        )
    )
    by_ref = {goal_refs.ref(r.department_id, r.goal_id): r for r in rows}
    for node in inside:
        found = by_ref.get(node.ref)
        if found is not None:
            node.recorded, node.recorded_at = found.value, found.recorded_at


def _goal_nodes(defs: DefinitionSet, scope: Scope) -> dict[str, GoalNode]:
    """The goals of the scope's departments, and outside them the goals those goals and the
    KPIs of the scope's forms align to (up to the top), in the order of the department tree
    (a department's goals in the order written)."""
    inside = set(scope.departments)
    above = {a for d in inside for a in org.ancestors(defs, d)} - inside
    found: dict[str, tuple[Department, Goal]] = {}
    aligned: list[str | None] = []
    for dept in [defs.departments[d] for d in scope.departments if d in defs.departments]:
        for goal in dept.goals:
            found.setdefault(goal_refs.ref(dept.id, goal.id), (dept, goal))
            aligned.append(goal.aligns_to)
        forms = [defs.forms[p.form] for p in dept.positions if p.form in defs.forms]
        aligned += [k.aligns_to for form in forms for k in _kpis(form)]
    for current in aligned:
        while current is not None and current not in found:
            carried = goal_refs.find(defs, current)
            if carried is None:
                break
            found[current] = (defs.departments[current.split(".", 1)[0]], carried)
            current = carried.aligns_to
    order = {d: i for i, d in enumerate(subtree(defs, _tops(defs)))}
    refs = sorted(found, key=lambda r: (order.get(found[r][0].id, len(order)), _index(found[r])))
    return {
        r: GoalNode(
            r, *found[r], outside=found[r][0].id not in inside, above=found[r][0].id in above
        )
        for r in refs
    }


def _kpis(form: Form) -> list[Kpi]:
    return [k for f in form.fields() if isinstance(f, KpiTableField) for k in f.kpis]


def _tops(defs: DefinitionSet) -> list[str]:
    return [d.id for d in defs.departments.values() if d.parent not in defs.departments]


def _index(entry: tuple[Department, Goal]) -> int:
    dept, goal = entry
    return dept.goals.index(goal)


def _feeds(refs: set[str], roles: frozenset[str] | None = None) -> list[Feed]:
    """Every KPI of a pinned form that aligns to one of ``refs``, in a table not withheld
    from ``roles`` (snapshots are few: one per form version; each is parsed once per
    process)."""
    found = []
    for snapshot_id in db.session.scalars(
        select(Snapshot.id).where(Snapshot.kind == "Form").order_by(Snapshot.id)
    ):
        form: Form = snapshots.definition(snapshot_id)
        hidden = withheld(form, roles) if roles is not None else frozenset()
        for f in form.fields():
            if isinstance(f, KpiTableField) and f.id not in hidden:
                found += [Feed(snapshot_id, form, f.id, k) for k in f.kpis if k.aligns_to in refs]
    return found


def _kpi_nodes(
    goals: dict[str, GoalNode], feeds: list[Feed], figures: dict[int, dict[str, Any]]
) -> list[KpiNode]:
    """One node per goal and KPI of a form (versions of a form together), with its figures."""
    nodes: dict[tuple[str, str], KpiNode] = {}
    slots: dict[int, int] = {}
    for feed in feeds:
        goal = goals[feed.kpi.aligns_to or ""]
        node = nodes.setdefault((goal.ref, feed.key), KpiNode(feed, goal.goal.rollup))
        node.snapshots.append(feed.snapshot)
        slot = slots[feed.snapshot] = slots.get(feed.snapshot, -1) + 1
        row = figures.get(feed.snapshot)
        if row is None:  # nobody in scope uses this version of the form
            continue
        node.people += row["people"]
        node.actuals.add(_tally(row, _column(slot, "actual"), feed.kpi.weight))
        node.targets.add(_tally(row, _column(slot, "target"), feed.kpi.weight))
    return sorted(nodes.values(), key=lambda n: (n.feed.form.id, _position(n.feed)))


def _position(feed: Feed) -> tuple[int, int]:
    fields = [f for f in feed.form.fields() if isinstance(f, KpiTableField)]
    table = next(f for f in fields if f.id == feed.field)
    return fields.index(table), [k.id for k in table.kpis].index(feed.kpi.id)


def _tally(row: dict[str, Any], name: str, weight: float) -> Tally:
    """The figures of one KPI column of one form version as the aggregate query gave them;
    each person's value weighs the KPI's weight on the form."""
    count = int(row[f"{name}_n"] or 0)
    if not count:
        return Tally()
    total = float(row[f"{name}_sum"] or 0)
    at, latest = _newest(row.get(f"{name}_latest"))
    return Tally(
        count,
        total,
        weight * total,
        weight * count,
        _float(row.get(f"{name}_min")),
        _float(row.get(f"{name}_max")),
        at,
        latest,
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


# --------------------------------------------------------------------------- the query


def _column(slot: int, column: str) -> str:
    return f"k{slot}_{column}"


# Figures of recent pages, kept until an appraisal of the cycle changes.
_kept = KeptPerCycle()


def _figures(
    cycle: Cycle, scope: Scope, feeds: list[Feed], goals: dict[str, GoalNode]
) -> dict[int, dict[str, Any]]:
    """``_aggregate``'s figures, kept until the cycle's appraisals change (the figures are
    the same for the same snapshots, KPIs and rules: snapshots never change)."""
    if not feeds or not scope.departments:
        return {}
    key = (
        scope.departments,
        tuple((f.snapshot, f.field, f.kpi.id, _dated(f, goals)) for f in feeds),
        frozenset(node.goal.rollup for node in goals.values()),
    )
    return _kept.get(cycle.id, key, lambda: _aggregate(cycle, scope, feeds, goals))


def _aggregate(
    cycle: Cycle, scope: Scope, feeds: list[Feed], goals: dict[str, GoalNode]
) -> dict[int, dict[str, Any]]:
    """Per pinned form: how many people of the scope have it, and for each of its aligned KPIs
    the count and sum of their actuals and of their targets (and the lowest, highest and
    newest, when a rule on the page needs them). One query over the cycle's rows in scope.

    Every form's aligned KPIs are read into the same few columns, the form's first aligned KPI
    into slot 0 and so on, so the query has as many columns as the largest form has aligned
    KPIs, not as all forms together.
    """
    if not feeds or not scope.departments:
        return {}
    by_form: dict[int, list[Feed]] = {}
    for feed in feeds:
        by_form.setdefault(feed.snapshot, []).append(feed)
    rules = {node.goal.rollup for node in goals.values()}
    postgres = db.engine.dialect.name == "postgresql"
    # Each level is worked out once per row: OFFSET 0 keeps the planner from folding it into
    # the next. PostgreSQL parses the JSON text once into jsonb; SQLite reads each number once.
    document = cast(Appraisal.values, JSONB) if postgres else Appraisal.values
    rows = select(
        Appraisal.form_snapshot_id.label("form"),
        Appraisal.updated_at.label("at"),
        document.label("doc"),
    ).where(Appraisal.cycle_id == cycle.id)
    if tuple(scope.departments) != tuple(cycle.departments):
        rows = rows.where(Appraisal.department_id.in_(scope.departments))
    base = rows.offset(0).subquery()
    slots = range(max(len(found) for found in by_form.values()))
    raw: list[Any] = [base.c.form, base.c.at]
    for slot in slots:
        for column in ("actual", "target"):
            whens = {
                form: _raw(base.c.doc, (*found[slot].path, column), postgres)
                for form, found in by_form.items()
                if slot < len(found)
            }
            raw.append(case(whens, value=base.c.form).label(_column(slot, column)))
    read = select(*raw).offset(0).subquery()
    numbers: list[Any] = [read.c.form, read.c.at]
    for slot in slots:
        numbers.append(
            _number(read.c[_column(slot, "actual")], postgres).label(_column(slot, "actual"))
        )
        declared = {
            form: found[slot].kpi.target
            for form, found in by_form.items()
            if slot < len(found) and found[slot].kpi.target is not None
        }
        target = _number(read.c[_column(slot, "target")], postgres)
        if declared:
            target = func.coalesce(target, case(declared, value=read.c.form))
        numbers.append(target.label(_column(slot, "target")))
    values = select(*numbers).offset(0).subquery()
    columns: list[Any] = [values.c.form, func.count().label("people")]
    for slot in slots:
        dated = [
            form for form, found in by_form.items() if found[slot:] and _dated(found[slot], goals)
        ]
        for column in ("actual", "target"):
            name = _column(slot, column)
            columns += _aggregates(values, name, rules)
            if dated:  # the newest value, for the forms whose KPI a latest rule reads
                newest = _stamped(values.c.at, values.c[name], values.c.form.in_(dated), postgres)
                columns.append(func.max(newest).label(f"{name}_latest"))
    query: Select[Any] = select(*columns).group_by(values.c.form)
    return {row.form: dict(row._mapping) for row in db.session.execute(query)}


def _raw(doc: Any, path: tuple[str, ...], postgres: bool) -> Any:
    """What the JSON ``doc`` holds at ``path`` (JSON on PostgreSQL, an SQL value on SQLite)."""
    if postgres:
        return doc[path]
    return func.json_extract(doc, "$." + ".".join(f'"{part}"' for part in path))


def _number(raw: Any, postgres: bool) -> ColumnElement[Any]:
    """``raw`` when it is a number, else NULL (a null, a text, nothing there)."""
    if postgres:
        return case((func.jsonb_typeof(raw) == "number", cast(raw, Float)))
    return case((func.typeof(raw).in_(("integer", "real")), raw), else_=None)


def _aggregates(values: Any, name: str, rules: set[Any]) -> list[Any]:
    number = values.c[name]
    out = [func.count(number).label(f"{name}_n"), func.sum(number).label(f"{name}_sum")]
    if "min" in rules:
        out.append(func.min(number).label(f"{name}_min"))
    if "max" in rules:
        out.append(func.max(number).label(f"{name}_max"))
    return out


def _dated(feed: Feed, goals: dict[str, GoalNode]) -> bool:
    """Whether a ``latest`` rule reads when the KPI's values were recorded: its goal's, or one
    above it (which reads when its aligned goals' values were)."""
    current = goals.get(feed.kpi.aligns_to or "")
    seen: set[str] = set()
    while current is not None and current.ref not in seen:
        if current.goal.rollup == "latest":
            return True
        seen.add(current.ref)
        current = goals.get(current.goal.aligns_to or "")
    return False


STAMP = 26  # characters of a time written as YYYY-MM-DD HH:MM:SS.ffffff


def _stamped(at: Any, number: Any, where: Any, postgres: bool) -> Any:
    """A value behind the time it was recorded, as text, so that the greatest is the newest
    (SQLite holds times as such text already): ``latest`` needs no window over the rows."""
    when = func.to_char(at, "YYYY-MM-DD HH24:MI:SS.US") if postgres else cast(at, String)
    return case((and_(where, number.is_not(None)), when + cast(number, String)))


def _newest(stamped: str | None) -> tuple[dt.datetime | None, float | None]:
    if not stamped:
        return None, None
    return dt.datetime.fromisoformat(stamped[:STAMP]), float(stamped[STAMP:])


# --------------------------------------------------------------------------- the people


def feed_node(
    defs: DefinitionSet, cycle: Cycle, scope: Scope, goal: str, kpi: str
) -> tuple[GoalNode, KpiNode]:
    """The goal ``goal`` of the page and its KPI ``kpi`` (``form.field.kpi``); NotFound when
    the page does not show them."""
    nodes = _goal_nodes(defs, scope)
    node = nodes.get(goal)
    feeds = [f for f in _feeds({goal}) if f.key == kpi] if node else []
    if node is None or not feeds:
        raise NotFound(
            "this page shows no KPI '%(kpi)s' aligned to goal '%(goal)s'", kpi=kpi, goal=goal
        )
    kpi_node = KpiNode(feeds[0], node.goal.rollup, [f.snapshot for f in feeds])
    return node, kpi_node


def people(
    cycle: Cycle, scope: Scope, node: KpiNode, page: int = 1, per_page: int = 50, sort: str = ""
) -> Page[Appraisal]:
    """The appraisals of the scope whose KPI feeds ``node``, one page, filtered and sorted in
    the database."""
    query = select(Appraisal).where(
        Appraisal.cycle_id == cycle.id,
        Appraisal.form_snapshot_id.in_(node.snapshots),
        Appraisal.department_id.in_(scope.departments),
    )
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    current: Page[Appraisal] = Page.of(page, per_page, total)
    postgres = _postgres()
    actual = _number(_raw(_document(), (*node.feed.path, "actual"), postgres), postgres)
    order: list[Any] = [Appraisal.id]
    if sort == "-actual":
        order = [actual.desc().nulls_last(), Appraisal.id]
    elif sort == "actual":
        order = [actual.asc().nulls_last(), Appraisal.id]
    current.items = list(
        db.session.scalars(
            query.options(joinedload(Appraisal.employee))
            .order_by(*order)
            .limit(current.per_page)
            .offset(current.offset)
        )
    )
    return current


def _postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


def _document() -> Any:
    return cast(Appraisal.values, JSONB) if _postgres() else Appraisal.values


@dataclass
class PersonRow:
    """One person whose KPI feeds a goal, as the reader may see it."""

    appraisal: Appraisal
    actual: float | None
    target: float | None
    attainment: float | None
    hidden: bool  # the form keeps this KPI table from the reader (visible_to / hidden_from)
    openable: bool  # the reader may open the appraisal


def person_rows(items: Sequence[Appraisal], node: KpiNode, user: User) -> list[PersonRow]:
    """The page's people with their actual and target of the KPI (the declared target when
    none was typed), unless the form withholds the KPI table from the reader."""
    rows = []
    field_id, kpi_id = node.feed.path
    for a in items:
        ctx = context(a)
        roles = appraisals_svc.roles_of(ctx, user)
        if a.employee_id != user.id:  # as on the calibration board: a head looks as dept_head
            roles |= board_roles(user)
        hidden = field_id in withheld(ctx.form, roles)
        table = (a.values or {}).get(field_id)
        cells = table.get(kpi_id) if isinstance(table, dict) and not hidden else None
        cells = cells if isinstance(cells, dict) else {}
        actual, typed = (_plain_number(cells.get(c)) for c in ("actual", "target"))
        target = None if hidden else (typed if typed is not None else node.feed.kpi.target)
        rows.append(
            PersonRow(
                a,
                actual,
                target,
                attainment(actual, target, node.feed.kpi.direction),
                hidden,
                appraisals_svc.can_view(ctx, user),
            )
        )
    return rows


def _plain_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def rolled_up(defs: DefinitionSet, cycle: Cycle, department_id: str) -> dict[str, float]:
    """What each goal of a department rolls up to from what aligns to it in the cycle (the
    department and those below it), by goal id: the figure to record for a goal whose actual
    is recorded by hand (``entered_by``) and also declares a ``rollup``."""
    dept = defs.departments.get(department_id)
    if dept is None or not any(g.rollup and g.entered_by for g in dept.goals):
        return {}  # nothing to offer: no goal is both recorded by hand and rolled up
    scope = below(defs, cycle, department_id)
    out: dict[str, float] = {}

    def visit(nodes: Sequence[GoalNode]) -> None:
        for node in nodes:
            if node.department.id == department_id and node.rolled_up is not None:
                out[node.goal.id] = node.rolled_up
            visit(node.goals)

    visit(tree(defs, cycle, scope))
    return out

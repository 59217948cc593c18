"""Dashboards: a cycle's figures for HR and department heads, and each person's own results
across cycles. Every chart is an SVG drawn on the server (opsperf.charts) beside a table of
the same figures; every table downloads as CSV or XLSX (services.exports)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from flask import Blueprint, Response, redirect, url_for
from flask_babel import gettext as _
from flask_login import login_required

from opsperf import charts
from opsperf.errors import NotFound
from opsperf.persistence.models import Cycle, utcnow
from opsperf.services import alignment, exports
from opsperf.services import cycles as cycles_svc
from opsperf.services import dashboards as svc
from opsperf.services.calibration import is_company_wide
from opsperf.web import reports
from opsperf.web.helpers import MAX_ID, defs, int_arg, label, render, state_label, text_arg, user

bp = Blueprint("dashboards", __name__, url_prefix="/dashboards")

HEAT_PER_PAGE = 25
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Cell:
    """A table cell: its value, where it links to, whether it is a percentage."""

    value: Any
    href: str | None = None
    percent: bool = False


@dataclass
class Table:
    """A dashboard table: shown beside its chart, downloaded as CSV or XLSX."""

    id: str
    caption: str
    header: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    # the SVG drawn from the same figures, drawn only for the page (never for a download)
    charts: list[Callable[[], str]] = field(default_factory=list)

    def chart(self) -> str:
        return "".join(draw() for draw in self.charts)

    numeric: set[int] = field(default_factory=set)  # columns aligned right

    def values(self) -> list[list[Any]]:
        return [[_exported(c) for c in row] for row in self.rows]


def _exported(cell: Cell) -> Any:
    value = cell.value
    if isinstance(value, float):
        return round(value, 2)
    return value


def _pct(value: float | None, href: str | None = None) -> Cell:
    return Cell(value, href, percent=True)


# --------------------------------------------------------------------------- the organisation


def _scope() -> svc.Scope | None:
    cycle = svc.pick_cycle(defs(), user(), int_arg("cycle", 0, 1, MAX_ID) or None)
    if cycle is None:
        return None
    return svc.scope_for(
        defs(), user(), cycle, text_arg("department", 64), text_arg("position", 64)
    )


@bp.get("/")
@login_required
def index() -> Any:
    """The dashboard the reader sees first: the organisation's, else their own."""
    if svc.may_open(defs(), user()):
        return redirect(url_for(".company"))
    return redirect(url_for(".me"))


@bp.get("/company")
@login_required
def company() -> Any:
    """HR: the whole company or any department; a department head: their subtree."""
    scope = _scope()
    choices = svc.cycles_for(defs(), user())
    if scope is None:
        return render("dashboards/company.html", scope=None, cycles=choices, tables=[])
    tables, heat_page = _company_tables(scope, int_arg("page", 1))
    return render(
        "dashboards/company.html",
        scope=scope,
        cycles=choices,
        departments=alignment.choices(defs(), user(), scope.cycle),
        positions=svc.positions(defs(), scope.departments),
        tables=tables,
        heat_page=heat_page,
        company_wide=is_company_wide(user()),
    )


@bp.get("/company.pdf")
@login_required
def company_pdf() -> Any:
    """The organisation dashboard printed: the same charts (the same SVG) and tables."""
    scope = _scope()
    if scope is None:
        raise NotFound("there is no cycle to show yet")
    tables, _page = _company_tables(scope, int_arg("page", 1))
    where = _department(scope.root) if scope.root else _("Whole company")
    subtitle = f"{scope.cycle.name} · {scope.cycle.period_start} – {scope.cycle.period_end}"
    page = render("reports/dashboard.html", title=f"{_('Dashboard')} · {where}",
                  subtitle=subtitle, tables=tables, now=utcnow())  # fmt: skip
    name = f"dashboard-{scope.cycle.id}-{scope.root or 'company'}.pdf"
    return reports.send_pdf(reports.printed(page), name)


@bp.get("/company.<any(csv, xlsx):kind>")
@login_required
def company_export(kind: str) -> Any:
    """One table of the organisation dashboard (``table``) as a spreadsheet."""
    scope = _scope()
    if scope is None:
        raise NotFound("there is no cycle to show yet")
    wanted = text_arg("table", 32)
    tables, _page = _company_tables(scope, int_arg("page", 1))
    found = next((t for t in tables if t.id == wanted), None)
    if found is None:
        raise NotFound("this dashboard has no table '%(id)s'", id=wanted)
    return _download(found, kind, f"dashboard-{scope.cycle.id}-{scope.root or 'company'}")


def _company_tables(scope: svc.Scope, page: int) -> tuple[list[Table], Any]:
    figures = svc.overview(defs(), scope, user())
    heat = svc.heat(scope, user(), page, HEAT_PER_PAGE)
    rising, falling = svc.movers(scope, figures.previous)
    links = _Links(scope, is_company_wide(user()))
    tables = [
        _states(figures, links),
        _departments(figures, links),
        *_grade_tables(figures, links),
        _trend(figures),
        _heat(heat),
        _movers("rising", _("Rising most since the previous cycle"), rising, figures.previous),
        _movers("falling", _("Falling most since the previous cycle"), falling, figures.previous),
    ]
    return tables, heat.page


class _Links:
    """Links to the list of the appraisals behind a figure: for HR the cycle page's list,
    filtered; for a department head the dashboard's own list of their subtree."""

    def __init__(self, scope: svc.Scope, company_wide: bool) -> None:
        self.scope = scope
        self.company_wide = company_wide

    def to(self, department: str | None = None, **only: Any) -> str:
        kept = {k: v for k, v in only.items() if v}
        if not self.company_wide:
            return str(
                url_for(
                    "dashboards.appraisals",
                    cycle=self.scope.cycle.id,
                    department=department or self.scope.root,
                    exact="1" if department else None,
                    position=self.scope.position or None,
                    **kept,
                )
            )
        departments = (
            [department]
            if department
            else (None if self.scope.whole else list(self.scope.departments))
        )
        return str(
            url_for(
                "cycles.view",
                cycle_id=self.scope.cycle.id,
                department=departments,
                position=self.scope.position or None,
                **kept,
            )
        )


def _link(links: _Links | None, **only: Any) -> str | None:
    return links.to(**only) if links else None


def _workflow(cycle: Cycle) -> Any:
    from opsperf.services.context import compiled_workflow

    return compiled_workflow(cycle.workflow_snapshot_id) if cycle.workflow_snapshot_id else None


def _states(figures: svc.Overview, links: _Links | None) -> Table:
    workflow = _workflow(figures.scope.cycle)
    total = sum(n for _s, n in figures.states) or 1
    table = Table(
        "states",
        _("Appraisals by step"),
        [_("Step"), _("Appraisals"), _("Share")],
        numeric={1, 2},
    )
    names = [state_label(s, workflow) if workflow else s for s, _n in figures.states]
    for name, (state, n) in zip(names, figures.states, strict=True):
        table.rows.append([Cell(name), Cell(n, _link(links, state=state)), _pct(n / total * 100)])
    table.charts.append(
        lambda: charts.bar(
            table.caption,
            names,
            [(_("Appraisals"), [n for _s, n in figures.states])],
            _("No appraisals"),
            horizontal=True,
            counts=True,
            show_legend=False,
        )
    )
    return table


def _departments(figures: svc.Overview, links: _Links | None) -> Table:
    table = Table(
        "departments",
        _("Completion, score and KPI attainment by department"),
        [
            _("Department"),
            _("Appraisals"),
            _("Closed"),
            _("Completion"),
            _("Overdue"),
            _("Average score"),
            _("Average KPI attainment"),
        ],
        numeric={1, 2, 3, 4, 5, 6},
    )
    lines = [*figures.departments, figures.total]
    names = [_department(line.department) for line in figures.departments]
    for line in lines:
        dept = line.department
        name = _department(dept) if dept else _("All shown")
        table.rows.append(
            [
                Cell(name),
                Cell(line.total, _link(links, department=dept)),
                Cell(line.closed),
                _pct(line.completion),
                Cell(line.overdue, _link(links, department=dept, overdue="1")),
                Cell(line.average_score),
                _pct(line.average_attainment),
            ]
        )
    lines = figures.departments
    open_on_time = [max(x.total - x.closed - x.overdue, 0) for x in lines]
    table.charts.append(
        lambda: charts.bar(
            _("Completion by department"),
            names,
            [
                (_("Closed"), [x.closed for x in lines]),
                (_("Open, on time"), open_on_time),
                (_("Overdue"), [x.overdue for x in lines]),
            ],
            _("No appraisals"),
            horizontal=True,
            stacked=True,
            counts=True,
            colors=("#1a7f37", "#8c959f", "#cf222e"),
        )
    )
    table.charts.append(
        lambda: charts.bar(
            _("Average score and KPI attainment by department"),
            names,
            [
                (_("Average score"), [x.average_score for x in lines]),
                (_("Average KPI attainment (%)"), [x.average_attainment for x in lines]),
            ],
            _("No scores yet"),
            horizontal=True,
        )
    )
    return table


def _department(department_id: str | None) -> str:
    dept = defs().departments.get(department_id or "")
    return label(dept.name) if dept else str(department_id)


def _grade_tables(figures: svc.Overview, links: _Links | None) -> list[Table]:
    out = []
    for index, grades in enumerate(figures.grades):
        policy = label(grades.policy.name)
        table = Table(
            "grades" if index == 0 else f"grades-{index + 1}",
            _("Grades against the quotas: %(policy)s", policy=policy),
            [
                _("Grade"),
                _("People"),
                _("Share"),
                _("Quota at least"),
                _("Quota at most"),
                _("Within quota"),
            ],
            numeric={1, 2, 3, 4},
        )
        for g in grades.shares:
            name = f"{g.grade} · {label(g.label)}" if g.label else g.grade
            within = "—" if not grades.quotas_apply else (_("no") if g.outside else _("yes"))
            table.rows.append(
                [
                    Cell(name),
                    Cell(g.count, _link(links, grade=g.grade)),
                    _pct(g.share),
                    _pct(g.quota_min),
                    _pct(g.quota_max),
                    Cell(within),
                ]
            )
        series = [
            (_("Share (%)"), [g.share for g in grades.shares]),
            (_("Quota at least (%)"), [g.quota_min for g in grades.shares]),
            (_("Quota at most (%)"), [g.quota_max for g in grades.shares]),
        ]
        table.charts.append(
            partial(
                charts.bar,
                table.caption,
                [g.grade for g in grades.shares],
                series,
                _("No grades yet"),
                percent=True,
                colors=("#1f5cc8", "#aceebb", "#ffcecb"),
            )
        )
        out.append(table)
    return out


def _trend(figures: svc.Overview) -> Table:
    grades: list[str] = []
    for point in figures.trend:
        grades += [g for g in sorted(point.grades) if g not in grades]
    order = {g: i for i, g in enumerate("SABCDE")}
    grades.sort(key=lambda g: (order.get(g, len(order)), g))
    table = Table(
        "trend",
        _("Trend over the last cycles"),
        [_("Cycle"), _("Appraisals"), _("Completion"), _("Average score"), *grades],
        numeric=set(range(1, 4 + len(grades))),
    )
    scope = figures.scope
    for point in figures.trend:
        href = url_for(
            ".company",
            cycle=point.cycle.id,
            department=scope.root if scope.root in point.cycle.departments else None,
            position=scope.position or None,
        )
        table.rows.append(
            [
                Cell(point.cycle.name, href),
                Cell(point.line.total),
                _pct(point.line.completion),
                Cell(point.line.average_score),
                *[Cell(point.grades.get(g, 0)) for g in grades],
            ]
        )
    names = [p.cycle.name for p in figures.trend]
    table.charts.append(
        lambda: charts.bar(
            _("Average score by cycle"),
            names,
            [(_("Average score"), [p.line.average_score for p in figures.trend])],
            _("No scores yet"),
            show_legend=False,
        )
    )
    table.charts.append(
        lambda: charts.bar(
            _("Grade mix by cycle (%)"),
            names,
            [
                (g, [_share(p.grades.get(g, 0), sum(p.grades.values())) for p in figures.trend])
                for g in grades
            ],
            _("No grades yet"),
            stacked=True,
            percent=True,
            colors=charts.grade_colors(grades),
        )
    )
    return table


def _share(count: int, total: int) -> float | None:
    return count / total * 100 if total else None


def _heat(heat: svc.Heat) -> Table:
    table = Table(
        "heat",
        _("KPI attainment of each person"),
        [
            _("Person"),
            _("Employee no."),
            _("Department"),
            *[label(k.name) for _key, k in heat.columns],
        ],
        numeric=set(range(3, 3 + len(heat.columns))),
    )
    for row in heat.rows:
        a = row.appraisal
        href = url_for("appraisals.view", appraisal_id=a.id) if row.openable else None
        table.rows.append(
            [
                Cell(a.employee.name, href),
                Cell(a.employee.employee_no),
                Cell(_department(a.department_id)),
                *[_pct(row.cells.get(key)) for key, _k in heat.columns],
            ]
        )
    return table


def _movers(ident: str, caption: str, found: Sequence[svc.Mover], previous: Cycle | None) -> Table:
    table = Table(
        ident,
        caption,
        [
            _("Person"),
            _("Employee no."),
            _("Department"),
            _("Previous score"),
            _("Score"),
            _("Change"),
        ],
        numeric={3, 4, 5},
    )
    for m in found:
        table.rows.append(
            [
                Cell(m.name, url_for("appraisals.view", appraisal_id=m.appraisal_id)),
                Cell(m.employee_no),
                Cell(_department(m.department)),
                Cell(m.before),
                Cell(m.after),
                Cell(m.change),
            ]
        )
    return table


# --------------------------------------------------------------------------- my own


@bp.get("/appraisals")
@login_required
def appraisals() -> Any:
    """The appraisals behind a dashboard figure, a page at a time: the scope of the dashboard
    (a head's subtree at most), narrowed by step, grade or overdue (``exact``: the named
    department alone, not those below it)."""
    scope = _scope()
    if scope is None:
        raise NotFound("there is no cycle to show yet")
    departments = scope.departments
    if text_arg("exact", 1) == "1" and scope.root:
        departments = (scope.root,)
    workflow = _workflow(scope.cycle)
    state = text_arg("state", 128)
    if state and (workflow is None or state not in workflow.leaves):
        raise NotFound("there is no step '%(state)s' in this cycle", state=state)
    only = cycles_svc.AppraisalFilter(
        departments=() if scope.whole else departments,
        state=state,
        overdue=text_arg("overdue", 1) == "1",
        grade=text_arg("grade", 16),
        position=scope.position,
    )
    page = cycles_svc.appraisals_page(
        scope.cycle, only, int_arg("page", 1), int_arg("per_page", 50, 10, 200)
    )
    where = _department(scope.root) if scope.root else _("Whole company")
    return render(
        "dashboards/appraisals.html", scope=scope, where=where, page=page, only=only,
        workflow=workflow,
    )  # fmt: skip


@bp.get("/me")
@login_required
def me() -> Any:
    """The reader's own score, grade and KPI attainment across their cycles."""
    return render("dashboards/me.html", tables=_my_tables())


@bp.get("/me.pdf")
@login_required
def me_pdf() -> Any:
    me = user()
    page = render("reports/dashboard.html", title=_("My dashboard"),
                  subtitle=f"{me.name} · {me.employee_no}", tables=_my_tables(),
                  now=utcnow())  # fmt: skip
    return reports.send_pdf(reports.printed(page), "my-dashboard.pdf")


@bp.get("/me.<any(csv, xlsx):kind>")
@login_required
def me_export(kind: str) -> Any:
    wanted = text_arg("table", 32)
    found = next((t for t in _my_tables() if t.id == wanted), None)
    if found is None:
        raise NotFound("this dashboard has no table '%(id)s'", id=wanted)
    return _download(found, kind, "my-dashboard")


def _my_tables() -> list[Table]:
    mine = svc.mine(user())
    names = [row.appraisal.cycle.name for row in mine.cycles]
    scores = Table(
        "scores",
        _("My score and grade by cycle"),
        [_("Cycle"), _("Step"), _("Score"), _("Grade"), _("Provisional")],
        numeric={2},
    )
    for row in mine.cycles:
        a = row.appraisal
        workflow = _workflow(a.cycle)
        scores.rows.append(
            [
                Cell(a.cycle.name, url_for("appraisals.view", appraisal_id=a.id)),
                Cell(state_label(a.state, workflow) if workflow else a.state),
                Cell(a.score),
                Cell(a.grade or "—"),
                Cell(_("yes") if row.provisional else ""),
            ]
        )
    scores.charts.append(
        lambda: charts.bar(
            _("My score by cycle"),
            names,
            [(_("Score"), [row.appraisal.score for row in mine.cycles])],
            _("No scores yet"),
            show_legend=False,
        )
    )
    kpis = Table(
        "kpis",
        _("My KPI attainment by cycle"),
        [_("KPI"), *names],
        numeric=set(range(1, 1 + len(names))),
    )
    for key, kpi in mine.kpis:
        kpis.rows.append([Cell(label(kpi.name)), *[_pct(row.kpis.get(key)) for row in mine.cycles]])
    kpis.charts.append(
        lambda: charts.bar(
            kpis.caption + " (%)",
            names,
            [
                (label(kpi.name), [row.kpis.get(key) for row in mine.cycles])
                for key, kpi in mine.kpis
            ],
            _("No KPI figures yet"),
            percent=True,
        )
    )
    return [scores, kpis]


# --------------------------------------------------------------------------- downloads


def _download(table: Table, kind: str, stem: str) -> Response:
    header = [
        h + (" (%)" if any(r[i].percent for r in table.rows) else "")
        for i, h in enumerate(table.header)
    ]
    if kind == "csv":
        response = Response(
            exports.csv_text(header, table.values()), mimetype="text/csv; charset=utf-8"
        )
    else:
        response = Response(exports.xlsx(table.id, header, table.values()), mimetype=XLSX)
    name = f"{stem}-{table.id}.{kind}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response

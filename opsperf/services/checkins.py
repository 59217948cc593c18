"""Check-ins: KPI actuals recorded period by period, from the page, a file or the API.

A KPI that declares ``checkins: {period, aggregate}`` takes one value per period of its cycle
(a row of ``checkins``). Whenever its series changes, the series is aggregated
(:func:`opsperf.engine.checkins.aggregate`) and the result written into the appraisal's values
as the KPI's ``actual``: scoring, the live total and the snapshots read it as before. Every
change is an event of kind ``checkin`` in the audit trail, with the source (``page``,
``import`` or ``api``) as its trigger and the file's or token's name as its comment.

Who may record: on the page, whoever may edit the KPI's actual in the appraisal's current
state. From a file or the API, any appraisal whose current state lets anyone edit it
(:func:`accepting`): the data comes from the business, not from a role on the appraisal.
Saving the value a period already has changes nothing, so sending a file twice is harmless.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm.attributes import flag_modified

from opsperf.definitions import statetree
from opsperf.definitions.loader import DefinitionSet
from opsperf.definitions.schema import Form, Kpi, KpiTableField
from opsperf.engine import checkins as series_rules
from opsperf.engine.checkins import parse_number
from opsperf.engine.forms import NOTHING, Editable, withheld
from opsperf.engine.text import CHECKIN_NOTE_LIMIT, untypable
from opsperf.engine.workflow import CompiledWorkflow
from opsperf.errors import N_, Conflict, PermissionDenied, ValidationFailed
from opsperf.persistence.models import (
    ActualsBatch,
    ApiToken,
    Appraisal,
    CheckIn,
    Cycle,
    GoalActual,
    Job,
    User,
    db,
    utcnow,
)
from opsperf.services import cycles, jobs, snapshots
from opsperf.services import goals as goals_svc
from opsperf.services.appraisals import (
    check_version,
    event,
    one_writer,
    require_view,
    rights_of,
    roles_of,
)
from opsperf.services.context import Context, compiled_workflow, context, get
from opsperf.services.people import MAX_COLUMNS, RowProblem, decode_text, open_workbook

NOTE_LIMIT = CHECKIN_NOTE_LIMIT

# --------------------------------------------------------------------------- definitions


def checkin_kpis(form: Form) -> list[tuple[KpiTableField, Kpi]]:
    """The KPIs of ``form`` whose actual is checked in, with their tables."""
    return [
        (f, k)
        for f in form.fields()
        if isinstance(f, KpiTableField)
        for k in f.kpis
        if k.series_rule is not None
    ]


def find_kpi(form: Form, written: str) -> tuple[KpiTableField, Kpi] | None:
    """The KPI a file names: its id, or ``table.kpi`` where two tables share an id."""
    table_id, _, kpi_id = written.rpartition(".")
    found = [(f, k) for f, k in _all_kpis(form) if k.id == kpi_id and table_id in ("", f.id)]
    return found[0] if len(found) == 1 else None


def _kpi_named(form_snapshot: int, written: str) -> tuple[KpiTableField, Kpi] | None:
    """:func:`find_kpi` on a pinned form, remembered by the form's content: a file names the
    same few KPIs on every row."""
    if len(written) > 130:  # longer than any table.kpi id
        return None
    pinned = snapshots.pinned(form_snapshot)
    key = (pinned.content_hash, written)
    if key not in _NAMED:
        if len(_NAMED) > 4096:
            _NAMED.clear()
        _NAMED[key] = find_kpi(pinned.definition, written)
    return _NAMED[key]


_NAMED: dict[tuple[str, str], tuple[KpiTableField, Kpi] | None] = {}
_ACCEPTED: dict[tuple[str, str, str], frozenset[str]] = {}


def _all_kpis(form: Form) -> list[tuple[KpiTableField, Kpi]]:
    return [(f, k) for f in form.fields() if isinstance(f, KpiTableField) for k in f.kpis]


def accepting(form: Form, workflow: CompiledWorkflow, state: str) -> Editable:
    """What anyone may edit in ``state`` (the state and the states around it): the KPIs whose
    actuals a file or the API may bring in while an appraisal is there."""
    if workflow.is_final(state):
        return NOTHING
    chain = [workflow.state(p) for p in statetree.ancestors(state)]
    refs = [ref for s in chain for role_refs in s.edit.values() for ref in role_refs]
    return Editable.from_refs(form, refs)


def _accepted(form_snapshot: int, workflow_snapshot: int, state: str) -> frozenset[str]:
    """``table.kpi`` of every checked-in KPI that may be brought in at ``state``, remembered
    by the pinned form's and workflow's content: the same for every appraisal that shares
    them."""
    form, workflow = snapshots.pinned(form_snapshot), snapshots.pinned(workflow_snapshot)
    key = (form.content_hash, workflow.content_hash, state)
    found = _ACCEPTED.get(key)
    if found is None:
        rights = accepting(form.definition, compiled_workflow(workflow_snapshot), state)
        found = frozenset(
            f"{f.id}.{k.id}"
            for f, k in checkin_kpis(form.definition)
            if rights.cell(f, k.id, "actual")
        )
        if len(_ACCEPTED) > 1024:
            _ACCEPTED.clear()
        _ACCEPTED[key] = found
    return found


def cycle_periods(cycle: Cycle, kpi: Kpi) -> list[series_rules.Period]:
    assert kpi.series_rule is not None
    return series_rules.periods(kpi.series_rule.period, cycle.period_start, cycle.period_end)


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Point:
    period: str
    value: float
    note: str | None
    source: str
    source_ref: str | None
    by: str | None
    at: dt.datetime


@dataclass
class Series:
    """One KPI's check-ins on one appraisal, with what the page needs to draw it."""

    table: KpiTableField
    kpi: Kpi
    periods: list[series_rules.Period]
    points: dict[str, Point]
    actual: float | None
    target: float | None
    may_record: bool = False


def series_of(ctx: Context, user: User, unseen: Iterable[str] = ()) -> list[Series]:
    """Every checked-in KPI of the appraisal that ``user`` may see, with its series (one
    query). ``unseen``: fields the page does not show the reader now (besides those withheld
    from their roles)."""
    hidden = set(unseen) | withheld(ctx.form, roles_of(ctx, user))
    kpis = [(t, k) for t, k in checkin_kpis(ctx.form) if t.id not in hidden]
    if not kpis:
        return []
    a = ctx.appraisal
    rows = db.session.execute(
        select(CheckIn, User.name)
        .outerjoin(User, User.id == CheckIn.recorded_by_id)
        .where(CheckIn.appraisal_id == a.id)
    ).all()
    by_kpi: dict[tuple[str, str], dict[str, Point]] = {}
    for c, name in rows:
        by_kpi.setdefault((c.field_id, c.kpi_id), {})[c.period] = Point(
            c.period, c.value, c.note, c.source, c.source_ref, name, c.recorded_at
        )
    rights = rights_of(ctx, user)
    values = a.values or {}
    out = []
    for table, kpi in kpis:
        row = (values.get(table.id) or {}).get(kpi.id) or {}
        target = row.get("target")
        out.append(
            Series(
                table,
                kpi,
                cycle_periods(a.cycle, kpi),
                by_kpi.get((table.id, kpi.id), {}),
                row.get("actual"),
                target if target is not None else kpi.target,
                rights.cell(table, kpi.id, "actual"),
            )
        )
    return out


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class Entry:
    """One period's value for one KPI (a row of a file, a line of a post)."""

    table: str
    kpi: str
    period: str
    value: float
    note: str | None = None  # None: keep the note the period has


def _apply(
    a: Appraisal,
    form: Form,
    entries: Sequence[Entry],
    existing: dict[tuple[str, str, str], CheckIn],
    user: User | None,
    source: str,
    source_ref: str | None,
) -> dict[str, list[Any]]:
    """Write ``entries`` into the appraisal's series and its actuals (not committed)."""
    changes: dict[str, list[Any]] = {}
    touched: set[tuple[str, str]] = set()
    now = utcnow()
    for e in entries:
        key = (e.table, e.kpi, e.period)
        old = existing.get(key)
        if old is not None and old.value == e.value and (e.note is None or e.note == old.note):
            continue
        changes[f"{e.table}.{e.kpi}@{e.period}"] = [old.value if old else None, e.value]
        touched.add((e.table, e.kpi))
        if old is None:
            old = CheckIn(appraisal_id=a.id, field_id=e.table, kpi_id=e.kpi, period=e.period)
            db.session.add(old)
            existing[key] = old
        old.value = e.value
        if e.note is not None:
            old.note = e.note or None
        old.source, old.source_ref = source, source_ref
        old.recorded_by_id = user.id if user else None
        old.recorded_at = now
    if not changes:
        return changes
    values = dict(a.values or {})
    rules = {(f.id, k.id): k.series_rule for f, k in checkin_kpis(form)}
    for table, kpi in sorted(touched):
        rule = rules[(table, kpi)]
        assert rule is not None
        points = [(p, c.value) for (t, k, p), c in existing.items() if (t, k) == (table, kpi)]
        actual = series_rules.aggregate(rule.aggregate, points)
        rows = dict(values.get(table) or {})
        row = dict(rows.get(kpi) or {})
        if row.get("actual") != actual:
            changes[f"{table}.{kpi}.actual"] = [row.get("actual"), actual]
            row["actual"] = actual
            rows[kpi] = row
            values[table] = rows
    a.values = values
    flag_modified(a, "values")  # the version moves even when the actual does not
    db.session.add(event(a, user, "checkin", trigger=source, comment=source_ref, changes=changes))
    return changes


def _existing(appraisal_ids: Iterable[int]) -> dict[int, dict[tuple[str, str, str], CheckIn]]:
    out: dict[int, dict[tuple[str, str, str], CheckIn]] = {}
    ids = list(appraisal_ids)
    if not ids:
        return out
    for c in db.session.scalars(select(CheckIn).where(CheckIn.appraisal_id.in_(ids))):
        out.setdefault(c.appraisal_id, {})[(c.field_id, c.kpi_id, c.period)] = c
    return out


@dataclass
class Posted:
    """A check-in posted from the appraisal page, and what was wrong with it."""

    errors: dict[str, str] = field(default_factory=dict)
    changes: dict[str, list[Any]] = field(default_factory=dict)


def record(
    appraisal_id: int,
    user: User,
    period: str,
    typed: Mapping[str, tuple[str, str]],
    expected_version: int | None,
    source: tuple[str, str | None] = ("page", None),
) -> Posted:
    """One period's check-ins from the page (or a person's own API call, ``source`` ("api",
    "API")), in one save: ``typed`` maps ``table.kpi`` to the value and note typed for it (a
    KPI left blank is left as it is). ``user`` must be allowed to edit the actual of each KPI
    now."""
    outcome = Posted()
    with one_writer():
        a = get(appraisal_id)
        ctx = context(a)
        require_view(ctx, user)
        check_version(a, expected_version)
        rights = rights_of(ctx, user)
        entries: list[Entry] = []
        for ref, (value, note) in typed.items():
            found = find_kpi(ctx.form, ref)
            if found is None or found[1].series_rule is None:
                raise ValidationFailed(
                    "this form has no KPI %(kpi)s that takes check-ins", kpi=ref[:64]
                )
            table, k = found
            rule = k.series_rule
            assert rule is not None
            if not rights.cell(table, k.id, "actual"):
                raise PermissionDenied("you cannot record check-ins for this KPI at this step")
            if not value.strip() and not note.strip():
                continue
            when = series_rules.period_key(rule.period, period)
            if when is None or not series_rules.belongs(
                when, a.cycle.period_start, a.cycle.period_end
            ):
                outcome.errors["period"] = "period"
            number = parse_number(value)
            if number is None:
                outcome.errors[f"{ref}.value"] = "number"
            text = note.strip()
            if len(text) > NOTE_LIMIT:
                outcome.errors[f"{ref}.note"] = "max_length"
            elif untypable(text):
                outcome.errors[f"{ref}.note"] = "characters"
            if when is not None and number is not None:
                entries.append(Entry(table.id, k.id, when.key, number, text or None))
        if not entries and not outcome.errors:
            outcome.errors["values"] = "empty"
        if outcome.errors:
            return outcome
        existing = _existing([a.id]).get(a.id, {})
        outcome.changes = _apply(a, ctx.form, entries, existing, user, *source)
        if outcome.changes:
            db.session.commit()
    return outcome


# --------------------------------------------------------------------------- files and batches

COLUMNS = ("employee_no", "kpi", "period", "value")
ALIASES = {
    "工号": "employee_no",
    "员工编号": "employee_no",
    "员工工号": "employee_no",
    "employee no": "employee_no",
    "employee_number": "employee_no",
    "指标": "kpi",
    "指标编号": "kpi",
    "kpi": "kpi",
    "kpi_id": "kpi",
    "kpi id": "kpi",
    "期间": "period",
    "周期": "period",
    "月份": "period",
    "实际值": "value",
    "数值": "value",
    "实际": "value",
    "actual": "value",
    "备注": "note",
    "说明": "note",
    "部门": "department",
    "部门编号": "department",
}
MAX_ROWS = 200_000  # rows of one file
MAX_BATCH = 1_000  # rows of one API batch
CHUNK = 2_000  # rows checked (and written) together
MAX_PROBLEMS_KEPT = 500
MAX_CHANGES_SHOWN = 50


@dataclass(frozen=True)
class Row:
    number: int
    employee_no: str
    kpi: str
    period: object
    value: object
    note: str | None
    department: str = ""  # a department goal's actual (no employee): kpi names the goal


CELL_LIMIT = 600  # characters of a cell kept for checking (a note may hold 500)


def read_file(name: str, data: bytes) -> Iterator[Row]:
    """The rows of a CSV (UTF-8 or GBK) or XLSX file of actuals, one at a time, numbered as
    in the file (row 1 is the header)."""
    lowered = name.lower()
    if lowered.endswith((".xlsx", ".xlsm")):
        cells: Iterator[list[Any]] = _sheet_cells(data)
    elif lowered.endswith(".csv"):
        cells = _csv_cells(decode_text(data))
    else:
        raise ValidationFailed("actuals files are .csv or .xlsx")
    header = next(cells, None)
    if header is None:
        raise ValidationFailed("the file is empty")
    keys = [ALIASES.get(str(h).strip().lower(), str(h).strip().lower()) for h in header]
    missing = [c for c in COLUMNS if c not in keys]
    if missing:
        raise ValidationFailed(
            "missing columns: %(columns)s (row 1 is the header)", columns=", ".join(missing)
        )
    at = {k: keys.index(k) for k in (*COLUMNS, "note", "department") if k in keys}
    for number, row in enumerate(cells, start=2):
        if number > MAX_ROWS + 1:
            raise ValidationFailed(
                "the file has more than %(max)s rows: split it and import the parts", max=MAX_ROWS
            )
        if not any(str(c).strip() for c in row):
            continue

        def cell(key: str, row: list[Any] = row) -> Any:
            i = at.get(key)
            value = row[i] if i is not None and i < len(row) else ""
            if isinstance(value, float):  # a number cell of a spreadsheet
                if key == "value":
                    return value
                return str(int(value)) if value.is_integer() else str(value)
            return str(value).strip()[:CELL_LIMIT]

        yield Row(
            number,
            str(cell("employee_no")),
            str(cell("kpi")),
            cell("period"),
            cell("value"),
            str(cell("note")) if "note" in at else None,
            str(cell("department")) if "department" in at else "",
        )


def _csv_cells(text: str) -> Iterator[list[Any]]:
    reader = csv.reader(io.StringIO(text))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ValidationFailed(
                "row %(row)s of the file cannot be read: %(error)s",
                row=reader.line_num,
                error=str(exc),
            ) from exc
        yield row


def _sheet_cells(data: bytes) -> Iterator[list[Any]]:
    """The first sheet's rows. A number shown as a percentage (18%, stored as 0.18) is read
    as it is shown, 18, as a CSV would carry it; other numbers as they are; the rest as
    text."""
    book = open_workbook(data)
    try:
        for row in book.worksheets[0].iter_rows(max_col=MAX_COLUMNS):
            out: list[Any] = []
            for c in row:
                value = getattr(c, "value", None)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    shown = "%" in str(getattr(c, "number_format", "") or "")
                    out.append(float(value) * 100 if shown else float(value))
                elif isinstance(value, dt.datetime | dt.date):
                    out.append(value.isoformat())
                else:
                    out.append("" if value is None else str(value))
            yield out
    finally:
        book.close()


def rows_of_batch(items: Sequence[Any]) -> Iterator[Row]:
    """The rows of an API batch: objects with employee_no, kpi, period, value and a note."""
    for number, item in enumerate(items, start=1):
        if not isinstance(item, Mapping):
            yield Row(number, "", "", None, None, None)
            continue
        note = item.get("note")
        yield Row(
            number,
            str(item.get("employee_no") or "").strip(),
            str(item.get("kpi") or "").strip(),
            item.get("period"),
            item.get("value"),
            None if note is None else str(note),
            str(item.get("department") or "").strip()[:64],
        )


@dataclass
class Plan:
    """A file or batch checked against the cycle: what would change, and what is wrong."""

    rows: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    problems_total: int = 0
    samples: list[dict[str, Any]] = field(default_factory=list)
    appraisals: set[int] = field(default_factory=set)
    written: int = 0
    stopped_at: int | None = None  # the first row of the chunk the writing stopped at

    @property
    def valid(self) -> int:
        return self.new + self.changed + self.unchanged

    def problem(self, problem: RowProblem) -> None:
        self.problems_total += 1
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append(problem)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "valid": self.valid,
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "appraisals": len(self.appraisals),
            "written": self.written,
            "stopped_at": self.stopped_at,
            "problems_total": self.problems_total,
            "problems": [
                {"row": p.row, "template": p.template, "params": p.params} for p in self.problems
            ],
            "samples": self.samples,
        }


NOT_A_PERIOD = {
    "week": N_("the period %(period)s is not a week (write it like %(example)s)"),
    "month": N_("the period %(period)s is not a month (write it like %(example)s)"),
    "quarter": N_("the period %(period)s is not a quarter (write it like %(example)s)"),
}
_Valid = tuple[Row, int, str, Entry]  # a row that passed: its appraisal, the person, the entry


class _Checker:
    """Checks rows a chunk at a time: a few indexed queries per chunk, never per row."""

    def __init__(
        self, cycle: Cycle, importer: int | None = None, defs: DefinitionSet | None = None
    ) -> None:
        self.cycle = cycle
        self.importer = importer  # the person bringing the rows in, whose own are refused
        self.defs = defs  # to read department goals' rows (None: such rows are refused)
        self.departments = set(cycle.departments) if defs is not None else set()
        # the department goals' rows of the last chunk that change something:
        # (department, goal, value, note)
        self.goals_due: list[tuple[str, str, float, str | None]] = []
        self.seen: set[tuple[int, str, str, str]] = set()
        self.existing: dict[int, dict[tuple[str, str, str], CheckIn]] = {}

    def forget(self, *more: Iterable[Any]) -> None:
        """Let go of what the last chunk loaded, so a large file holds one chunk at a time."""
        for series in self.existing.values():
            for c in series.values():
                if c in db.session:
                    db.session.expunge(c)
        for objects in more:
            for o in objects:
                if o in db.session:
                    db.session.expunge(o)
        self.existing = {}

    def chunk(
        self, rows: Sequence[Row], plan: Plan
    ) -> dict[int, tuple[Appraisal | None, list[Entry]]]:
        """Check ``rows``; the valid ones grouped by appraisal id (appraisal loaded only for
        those with a change)."""
        numbers = {r.employee_no.lower() for r in rows if r.employee_no}
        found = (
            db.session.execute(
                select(
                    func.lower(User.employee_no),
                    Appraisal.id,
                    Appraisal.state,
                    Appraisal.pending_trigger,
                    Appraisal.form_snapshot_id,
                    Appraisal.workflow_snapshot_id,
                    User.name,
                    User.id,
                )
                .join(
                    Appraisal,
                    (Appraisal.employee_id == User.id) & (Appraisal.cycle_id == self.cycle.id),
                )
                .where(func.lower(User.employee_no).in_(numbers))
            ).all()
            if numbers
            else []
        )
        by_no = {f[0]: f for f in found}
        unknown: set[str] = set()
        if len(by_no) < len(numbers):
            known = set(
                db.session.scalars(
                    select(func.lower(User.employee_no)).where(
                        func.lower(User.employee_no).in_(numbers - set(by_no))
                    )
                )
            )
            unknown = numbers - set(by_no) - known
        valid: list[tuple[Row, int, str, Entry]] = []
        for_goals: list[tuple[Row, str, str, float, str | None]] = []
        for r in rows:
            plan.rows += 1
            if r.department and not r.employee_no:
                recorded = self._goal_row(r, plan)
                if recorded is not None:
                    dept, goal, value, note = recorded
                    for_goals.append((r, dept, goal, value, note))
                continue
            entry = self._row(r, by_no, unknown, plan)
            if entry is not None:
                valid.append(entry)
        self._goals(for_goals, plan)
        existing = _existing({a_id for _, a_id, _, _ in valid})
        out: dict[int, tuple[Appraisal | None, list[Entry]]] = {}
        for r, a_id, name, e in valid:
            old = existing.get(a_id, {}).get((e.table, e.kpi, e.period))
            if old is None:
                plan.new += 1
            elif old.value == e.value and (e.note is None or e.note == old.note):
                plan.unchanged += 1
                continue
            else:
                plan.changed += 1
            plan.appraisals.add(a_id)
            if len(plan.samples) < MAX_CHANGES_SHOWN:
                plan.samples.append(
                    {
                        "row": r.number,
                        "employee_no": r.employee_no,
                        "name": name,
                        "kpi": f"{e.table}.{e.kpi}",
                        "period": e.period,
                        "old": old.value if old is not None else None,
                        "new": e.value,
                    }
                )
            out.setdefault(a_id, (None, []))[1].append(e)
        self.existing = existing
        return out

    def _goal_row(self, r: Row, plan: Plan) -> tuple[str, str, float, str | None] | None:
        """A department goal's actual for the cycle (a row naming a department and no
        employee): its department, goal, value and note, or None when it has a problem."""

        def problem(template: str, **params: object) -> None:
            plan.problem(RowProblem(r.number, template, params))

        dept = r.department
        if self.defs is None or dept not in self.defs.departments:
            problem(N_("there is no department %(department)s"), department=dept)
            return None
        if dept not in self.departments:
            problem(N_("department %(department)s takes no part in this cycle"), department=dept)
            return None
        goal = goals_svc.recorded_goal(self.defs, dept, r.kpi)
        if goal is None:
            problem(
                N_("department %(department)s has no goal %(goal)s whose actual is recorded"),
                department=dept, goal=r.kpi[:64] or "—",
            )  # fmt: skip
            return None
        value = parse_number(r.value)
        if value is None:
            problem(N_("the value %(value)s is not a number"), value=str(r.value)[:40] or "—")
            return None
        note = (r.note.strip() or None) if r.note is not None else None
        if note is not None and (len(note) > NOTE_LIMIT or untypable(note)):
            problem(
                N_("the note is longer than %(max)s characters or holds control characters"),
                max=NOTE_LIMIT,
            )
            return None
        key = (-1, dept, goal.id, "")
        if key in self.seen:
            problem(N_("a second value for department %(department)s, goal %(goal)s in this "
                       "file"), department=dept, goal=goal.id)  # fmt: skip
            return None
        self.seen.add(key)
        return dept, goal.id, value, note

    def _goals(self, rows: list[tuple[Row, str, str, float, str | None]], plan: Plan) -> None:
        """Count the department goals' rows against what the cycle holds (one query) and keep
        those that change something for the write."""
        self.goals_due = []
        if not rows:
            return
        held = {
            (g.department_id, g.goal_id): g
            for g in db.session.scalars(
                select(GoalActual).where(
                    GoalActual.cycle_id == self.cycle.id,
                    GoalActual.department_id.in_(sorted({d for _, d, _, _, _ in rows})),
                )
            )
        }
        for r, dept, goal, value, note in rows:
            old = held.get((dept, goal))
            if old is None:
                plan.new += 1
            elif old.value == value and (note is None or note == (old.note or "")):
                plan.unchanged += 1
                continue
            else:
                plan.changed += 1
            if len(plan.samples) < MAX_CHANGES_SHOWN:
                plan.samples.append(
                    {"row": r.number, "employee_no": "", "name": dept, "kpi": goal,
                     "period": "", "old": old.value if old is not None else None, "new": value}
                )  # fmt: skip
            self.goals_due.append((dept, goal, value, note))

    def _row(
        self, r: Row, by_no: Mapping[str, Any], unknown: set[str], plan: Plan
    ) -> _Valid | None:
        def problem(template: str, **params: object) -> _Valid | None:  # the row is left out
            plan.problem(RowProblem(r.number, template, params))
            return None

        if not r.employee_no:
            return problem(N_("the employee number is empty"))
        hit = by_no.get(r.employee_no.lower())
        if hit is None:
            if r.employee_no.lower() in unknown:
                return problem(N_("nobody has the employee number %(no)s"), no=r.employee_no[:64])
            return problem(
                N_("there is no appraisal of %(no)s in this cycle"), no=r.employee_no[:64]
            )
        _, a_id, state, pending, form_id, workflow_id, name, person = hit
        if person == self.importer:
            return problem(
                N_("the employee number %(no)s is yours: nobody brings in the actuals of "
                   "their own appraisal"),
                no=r.employee_no[:64],
            )  # fmt: skip
        found = _kpi_named(form_id, r.kpi) if r.kpi else None
        if found is None:
            return problem(
                N_("KPI %(kpi)s is not on %(no)s's form"), kpi=r.kpi[:64] or "—", no=r.employee_no
            )
        table, kpi = found
        if kpi.series_rule is None:
            return problem(
                N_("KPI %(kpi)s takes one actual typed in the form, not check-ins"), kpi=kpi.id
            )
        kind = kpi.series_rule.period
        when = series_rules.period_key(kind, r.period)
        if when is None:
            return problem(
                NOT_A_PERIOD[kind],
                period=str(r.period)[:40] or "—",
                example=series_rules.containing(kind, self.cycle.period_start).key,
            )
        if not series_rules.belongs(when, self.cycle.period_start, self.cycle.period_end):
            return problem(
                N_("the period %(period)s is outside the cycle (%(start)s – %(end)s)"),
                period=when.key,
                start=self.cycle.period_start.isoformat(),
                end=self.cycle.period_end.isoformat(),
            )
        value = parse_number(r.value)
        if value is None:
            return problem(
                N_("the value %(value)s is not a number"), value=str(r.value)[:40] or "—"
            )
        note = (r.note.strip() or None) if r.note is not None else None  # empty: keep
        if note is not None and (len(note) > NOTE_LIMIT or untypable(note)):
            return problem(
                N_("the note is longer than %(max)s characters or holds control characters"),
                max=NOTE_LIMIT,
            )
        key = (a_id, table.id, kpi.id, when.key)
        if key in self.seen:
            return problem(
                N_("a second value for %(no)s, %(kpi)s, %(period)s in this file"),
                no=r.employee_no, kpi=kpi.id, period=when.key,
            )  # fmt: skip
        self.seen.add(key)
        if pending or f"{table.id}.{kpi.id}" not in _accepted(form_id, workflow_id, state):
            return problem(
                N_("the appraisal of %(no)s is at a step that takes no actuals for %(kpi)s"),
                no=r.employee_no, kpi=kpi.id,
            )  # fmt: skip
        return r, a_id, name, Entry(table.id, kpi.id, when.key, value, note)


def _chunks(rows: Iterable[Row]) -> Iterator[list[Row]]:
    size = CHUNK
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


Progress = Callable[[int], None]


def check(
    cycle: Cycle,
    rows: Iterable[Row],
    progress: Progress | None = None,
    importer: User | None = None,
    defs: DefinitionSet | None = None,
) -> Plan:
    """Check every row and count what would change; nothing is written. ``importer``: whose
    own appraisal's rows are refused; ``defs``: to read department goals' rows."""
    plan, checker = Plan(), _Checker(cycle, importer.id if importer else None, defs)
    for chunk in _chunks(rows):
        checker.chunk(chunk, plan)
        checker.forget()
        if progress:
            progress(plan.rows)
    return plan


def write(
    cycle: Cycle,
    rows: Iterable[Row],
    user: User | None,
    source: str,
    source_ref: str | None,
    *,
    commit_each_chunk: bool = True,
    stop_on_problem: bool = False,
    progress: Progress | None = None,
    defs: DefinitionSet | None = None,
) -> Plan:
    """Write the rows that pass, a chunk per transaction (or all in one, without
    ``commit_each_chunk``). Each chunk is checked again as it is written: things may have
    moved since a file was checked. With ``stop_on_problem`` a chunk that now has a problem
    is not written and the writing stops there (``plan.stopped_at``: its first row)."""
    plan, checker = Plan(), _Checker(cycle, user.id if user else None, defs)
    with one_writer():
        for chunk in _chunks(rows):
            before = plan.problems_total
            grouped = checker.chunk(chunk, plan)
            if stop_on_problem and plan.problems_total > before:
                plan.stopped_at = chunk[0].number
                db.session.rollback()
                break
            appraisals: dict[int, Appraisal] = {}
            if grouped:
                # Lock the appraisals, then read their series afresh: a check-in saved on a
                # page meanwhile is summed in, never overwritten (and the version moves, so
                # a page still showing the old one is refused).
                appraisals = {
                    a.id: a
                    for a in db.session.scalars(
                        select(Appraisal).where(Appraisal.id.in_(list(grouped))).with_for_update()
                    )
                }
                fresh = _existing(list(grouped))
                for a_id, (_, entries) in grouped.items():
                    a = appraisals[a_id]
                    form: Form = snapshots.definition(a.form_snapshot_id)
                    existing = fresh.setdefault(a_id, {})
                    changes = _apply(a, form, entries, existing, user, source, source_ref)
                    plan.written += sum(1 for k in changes if "@" in k)
                checker.existing = fresh
            comment = f"{source}: {source_ref}" if source_ref else source
            for dept, goal, value, note in checker.goals_due:
                changed = goals_svc.put(
                    cycle.id, dept, goal, value, note, user.id if user else None, comment
                )
                plan.written += len(changed)
            if commit_each_chunk:
                db.session.commit()
                checker.forget(appraisals.values())
            if progress:
                progress(plan.rows)
    return plan


def import_rows(
    cycle: Cycle,
    rows: Callable[[], Iterable[Row]],
    user: User | None,
    source: str,
    source_ref: str | None,
    *,
    valid_only: bool = False,
    progress: Progress | None = None,
    defs: DefinitionSet | None = None,
) -> Plan:
    """Check the whole file first; write nothing if any row is wrong (unless ``valid_only``:
    then the rows that pass). ``rows`` is called once per pass, so a file is streamed twice
    rather than held. A row that goes wrong between the check and the write (an appraisal
    moved on) stops the writing there, unless ``valid_only``; ``plan.written`` says what was
    written before."""
    checked = check(cycle, rows(), progress, importer=user, defs=defs)
    if checked.problems_total and not valid_only:
        return checked
    written = write(
        cycle, rows(), user, source, source_ref, stop_on_problem=not valid_only,
        progress=progress, defs=defs,
    )  # fmt: skip
    written.rows = checked.rows
    return written


def cycle_for_import(cycle_id: int) -> Cycle:
    cycle = db.session.get(Cycle, cycle_id)
    if cycle is None:
        raise ValidationFailed("cycle %(id)s does not exist", id=cycle_id)
    return cycle


# --------------------------------------------------------------------------- background jobs

CHECK_JOB = "actuals_check"
IMPORT_JOB = "actuals_import"
IMPORTERS = ("hr", "admin", "data_steward")


def may_import(user: User) -> bool:
    return any(user.has_role(r) for r in IMPORTERS)


def estimate_rows(name: str, data: bytes) -> int:
    """About how many rows a file has, for the progress bar (lines of a CSV; an XLSX says
    its own size)."""
    if name.lower().endswith(".csv"):
        return max(data.count(b"\n") - (1 if data.endswith(b"\n") else 0), 0)
    try:
        book = open_workbook(data)
    except ValidationFailed:  # reading it says so, in the check
        return 0
    try:
        return max(int(book.worksheets[0].max_row or 1) - 1, 0)
    except Exception:  # a damaged sheet: the same
        return 0
    finally:
        book.close()


def _job_cycle(job: Job) -> Cycle:
    return cycle_for_import(int(job.params.get("cycle_id") or 0))


@jobs.handler(CHECK_JOB)
def _check_job(defs: DefinitionSet, job: Job, progress: jobs.Progress) -> dict[str, Any]:
    """Check a file and say what importing it would change; the file is kept for the import."""
    name, data = str(job.params.get("filename", "")), job.payload or b""
    total = estimate_rows(name, data)
    progress(0, total)
    plan = check(
        _job_cycle(job),
        read_file(name, data),
        lambda n: progress(n, max(total, n)),
        importer=job.created_by,
        defs=defs,
    )
    job.output, job.output_name = data, name
    return plan.as_dict()


@jobs.handler(IMPORT_JOB)
def _import_job(defs: DefinitionSet, job: Job, progress: jobs.Progress) -> dict[str, Any]:
    """Check the file again (things may have moved since the preview), then write it."""
    name, data = str(job.params.get("filename", "")), job.payload or b""
    valid_only = bool(job.params.get("valid_only"))
    total = estimate_rows(name, data)
    plan = import_rows(
        _job_cycle(job),
        lambda: read_file(name, data),
        job.created_by,
        "import",
        name,
        valid_only=valid_only,
        progress=lambda n: progress(n, max(total, n)),
        defs=defs,
    )
    return {**plan.as_dict(), "valid_only": valid_only}


def start_check(cycle_id: int, user: User, name: str, data: bytes) -> Job:
    """Record the check of an uploaded file (to be enqueued)."""
    if not may_import(user):
        raise PermissionDenied("only HR, administrators and data stewards import actuals")
    cycle_for_import(cycle_id)
    if not name.lower().endswith((".csv", ".xlsx", ".xlsm")):
        raise ValidationFailed("actuals files are .csv or .xlsx")
    return jobs.create(
        CHECK_JOB,
        user,
        params={"cycle_id": cycle_id, "filename": name[-200:]},
        payload=data,
        subject=f"actuals:{cycle_id}",
    )


def start_import(check_job_id: int, user: User, valid_only: bool) -> Job:
    """Record the import of a file that was checked (to be enqueued)."""
    checked = jobs.get(check_job_id, user)
    if checked.kind != CHECK_JOB or checked.status != "done" or checked.output is None:
        raise ValidationFailed("this file has not been checked; upload it again")
    if not may_import(user):
        raise PermissionDenied("only HR, administrators and data stewards import actuals")
    return jobs.create(
        IMPORT_JOB,
        user,
        params={**checked.params, "valid_only": valid_only},
        payload=checked.output,
        subject=checked.subject,
    )


# --------------------------------------------------------------------------- the API


@dataclass
class Pushed:
    plan: Plan
    replayed: bool = False


def push_batch(
    defs: DefinitionSet, token: ApiToken, cycle_id: object, key: object, items: object
) -> Pushed:
    """A batch of rows from a business system: all written in one transaction or none.

    ``key`` is the client's name for the batch: the same batch sent again (a retry after a
    lost answer) is answered as the first time and changes nothing; other rows under a key
    already used are refused.
    """
    if not isinstance(key, str) or not key.strip() or len(key) > 100 or untypable(key):
        raise ValidationFailed("give the batch a key of 1 to 100 characters (the idempotency key)")
    if not isinstance(cycle_id, int) or isinstance(cycle_id, bool) or not 0 < cycle_id < 2**31:
        raise ValidationFailed("name the cycle by its id (a whole number)")
    if not isinstance(items, list) or not items:
        raise ValidationFailed("send the rows as a non-empty list")
    if len(items) > MAX_BATCH:
        raise ValidationFailed("at most %(max)s rows in one batch", max=MAX_BATCH)
    digest = hashlib.sha256(
        json.dumps([cycle_id, items], sort_keys=True, default=str).encode()
    ).hexdigest()
    with one_writer():
        seen = db.session.scalar(
            select(ActualsBatch).where(
                ActualsBatch.token_id == token.id, ActualsBatch.client_key == key
            )
        )
        if seen is not None:
            if seen.digest != digest:
                raise Conflict(
                    "the key %(key)s was used for other rows; send new rows under a new key",
                    key=key,
                )
            plan = Plan(**{k: v for k, v in seen.result.items() if k in _REPLAYED})
            return Pushed(plan, replayed=True)
        cycle = cycle_for_import(cycle_id)
        checked = check(cycle, rows_of_batch(items), defs=defs)
        if checked.problems_total:
            raise ValidationFailed(
                "nothing was written: %(count)s of the rows have problems",
                count=checked.problems_total,
                problems=list[object](checked.problems),
            )
        plan = write(
            cycle, rows_of_batch(items), None, "api", token.name, commit_each_chunk=False,
            defs=defs,
        )  # fmt: skip
        if plan.problems_total:  # something moved since the check: all or nothing
            raise ValidationFailed(
                "nothing was written: %(count)s of the rows have problems",
                count=plan.problems_total,
                problems=list[object](plan.problems),
            )
        plan.rows = checked.rows
        result = {k: getattr(plan, k) for k in _REPLAYED}
        db.session.add(
            ActualsBatch(token_id=token.id, client_key=key, digest=digest, result=result)
        )
        db.session.commit()
    return Pushed(plan)


_REPLAYED = ("rows", "new", "changed", "unchanged", "written")


def cycle_page(
    cycle_id: int, *, employee_no: str = "", after: int = 0, per_page: int = 100
) -> tuple[list[dict[str, Any]], int | None]:
    """Check-ins of a cycle in the order they were first recorded, ``per_page`` after the
    check-in ``after`` (a cursor, so a deep page costs what the first does), and the cursor
    of the next page (None: this is the last)."""
    cycles.get(cycle_id)
    query = (
        select(CheckIn, User.employee_no)
        .join(Appraisal, Appraisal.id == CheckIn.appraisal_id)
        .join(User, User.id == Appraisal.employee_id)
        .where(Appraisal.cycle_id == cycle_id, CheckIn.id > after)
    )
    if employee_no:
        query = query.where(func.lower(User.employee_no) == employee_no.lower())
    rows = db.session.execute(query.order_by(CheckIn.id).limit(per_page + 1)).all()
    items: list[dict[str, Any]] = [
        {
            "id": c.id,
            "employee_no": number,
            "appraisal": c.appraisal_id,
            "kpi": f"{c.field_id}.{c.kpi_id}",
            "period": c.period,
            "value": c.value,
            "note": c.note,
            "source": c.source,
            "source_ref": c.source_ref,
            "recorded_at": c.recorded_at,
        }
        for c, number in rows[:per_page]
    ]
    return items, (int(items[-1]["id"]) if len(rows) > per_page else None)

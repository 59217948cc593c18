"""Form definitions → WTForms classes, server-side evaluation, and parsing of posted values.

Stored values are plain data: ``{field_id: value}``; a KPI table is
``{kpi_id: {"target", "actual", "note"}}`` and a table is a list of row dicts. Posted names
follow WTForms: ``manager_rating``, ``kpis-revenue-actual``, ``actions-0-owner``. A checkbox or
multi-choice that was shown but left empty is sent only as ``<field>__shown``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import regex
import wtforms
from wtforms import fields as wf
from wtforms.fields.choices import SelectChoice

from opsperf.definitions.schema import (
    KPI_COLUMNS,
    OWN_RIGHT,
    ROW_OWNER,
    ROWS_RIGHT,
    AnyField,
    CheckboxField,
    ChoiceField,
    ColumnField,
    DateField,
    Form,
    Kpi,
    KpiTableField,
    NumberField,
    RatingField,
    TableField,
    Text,
    TextField,
)
from opsperf.engine import failures
from opsperf.engine.scoring import (
    FormScore,
    TableScore,
    expression_values,
    score_form,
    score_tables,
)
from opsperf.engine.text import DEFAULT_LIMITS, KPI_NOTE_LIMIT, untypable
from opsperf.errors import ExpressionError

MAX_COMPUTE_PASSES = 8
PATTERN_TIMEOUT = 0.2  # seconds a field's pattern may take on one value


class FormData(Protocol):
    """What WTForms reads a post from (werkzeug's MultiDict fits)."""

    def getlist(self, key: str) -> list[Any]: ...
    def __contains__(self, key: object) -> bool: ...
    def __iter__(self) -> Any: ...


@dataclass(frozen=True)
class FieldError:
    """A problem with one value: ``code`` says which, ``params`` fill the message."""

    path: str
    code: str
    params: Mapping[str, Any] = field(default_factory=dict)
    text: Text | None = None


# --------------------------------------------------------------------------- WTForms classes


def _scalar_field(f: AnyField | ColumnField) -> wf.Field:
    if isinstance(f, TextField):
        return wf.TextAreaField() if f.type == "textarea" else wf.StringField()
    if isinstance(f, NumberField):
        return wf.IntegerField() if f.type == "integer" else wf.FloatField()
    if isinstance(f, DateField):
        return wf.DateField()
    if isinstance(f, ChoiceField):
        choices = [SelectChoice(c.value, c.value) for c in f.choices]
        if f.type == "multiselect":
            return wf.SelectMultipleField(choices=choices, validate_choice=False)
        return wf.SelectField(choices=choices, validate_choice=False)
    if isinstance(f, CheckboxField):
        return wf.BooleanField()
    if isinstance(f, RatingField):
        return wf.IntegerField()
    raise TypeError(f"no scalar WTForms field for {type(f).__name__}")


def _kpi_form(f: KpiTableField) -> type[wtforms.Form]:
    row = type(
        f"{f.id}_row",
        (wtforms.Form,),
        {"target": wf.FloatField(), "actual": wf.FloatField(), "note": wf.StringField()},
    )
    return type(f"{f.id}_kpis", (wtforms.Form,), {k.id: wf.FormField(row) for k in f.kpis})


def _field(f: AnyField) -> wf.Field:
    if isinstance(f, KpiTableField):
        return wf.FormField(_kpi_form(f))
    if isinstance(f, TableField):
        row = type(f"{f.id}_row", (wtforms.Form,), {c.id: _scalar_field(c) for c in f.columns})
        return wf.FieldList(wf.FormField(row), min_entries=0, max_entries=f.max_rows)
    return _scalar_field(f)


_CLASSES: OrderedDict[tuple[str, int, int, frozenset[str] | None], type[wtforms.Form]] = (
    OrderedDict()
)
_MAX_CLASSES = 512
_LOCK = threading.Lock()


def form_class(form: Form, only: frozenset[str] | None = None) -> type[wtforms.Form]:
    """The WTForms class of a form definition (or of the fields ``only``), built once.

    A post carries the few fields a person may edit now; a class of just those is much
    cheaper to fill than one of the whole form. The classes kept are bounded.
    """
    key = (form.id, form.version, id(form), only)
    cls = _CLASSES.get(key)
    if cls is None:
        attrs = {f.id: _field(f) for f in form.fields() if only is None or f.id in only}
        cls = type(f"{form.id}_form", (wtforms.Form,), attrs)
        with _LOCK:
            cls = _CLASSES.setdefault(key, cls)
            while len(_CLASSES) > _MAX_CLASSES:
                _CLASSES.popitem(last=False)
    return cls


# --------------------------------------------------------------------------- edit rights


@dataclass(frozen=True)
class Editable:
    """What one person may change in the current state: fields, KPI columns or single KPI
    cells, table columns and the right to add rows to a table."""

    fields: frozenset[str] = frozenset()
    kpi_columns: frozenset[tuple[str, str]] = frozenset()
    table_columns: frozenset[tuple[str, str]] = frozenset()
    kpi_cells: frozenset[tuple[str, str, str]] = frozenset()  # (table, kpi, column)
    table_rows: frozenset[str] = frozenset()  # tables rows may be added to
    table_own: frozenset[str] = frozenset()  # tables whose own rows one adds, edits, removes
    owner: int | None = None  # who these rights are for: their rows under ``table.own``

    @classmethod
    def from_refs(cls, form: Form, refs: Iterable[str]) -> Editable:
        """Resolve edit rights against ``form``: section and field ids, ``kpis.actual`` (a
        column of every KPI), ``kpis.qa.actual`` or ``kpis.qa`` (one KPI's cells),
        ``table.column`` (a column of the rows there are) and ``table.rows`` (adding rows)."""
        fields: set[str] = set()
        kpi: set[tuple[str, str]] = set()
        cells: set[tuple[str, str, str]] = set()
        table: set[tuple[str, str]] = set()
        rows: set[str] = set()
        own: set[str] = set()
        sections = {s.id: s for s in form.sections}
        by_id = {f.id: f for f in form.fields()}
        for ref in refs:
            if ref in sections:
                fields.update(f.id for f in sections[ref].fields)
            elif ref in by_id:
                fields.add(ref)
            elif "." in ref:
                owner, rest = ref.split(".", 1)
                target = by_id.get(owner)
                if isinstance(target, KpiTableField):
                    kpi_id, _, column = rest.partition(".")
                    if rest in KPI_COLUMNS:
                        kpi.add((owner, rest))
                    elif any(k.id == kpi_id for k in target.kpis):
                        wanted = [column] if column else list(KPI_COLUMNS)
                        cells.update((owner, kpi_id, c) for c in wanted if c in KPI_COLUMNS)
                elif isinstance(target, TableField):
                    if rest == ROWS_RIGHT:
                        rows.add(owner)
                    elif rest == OWN_RIGHT:
                        own.add(owner)
                    else:
                        table.add((owner, rest))
        for fid in list(fields):
            target = by_id[fid]
            if isinstance(target, KpiTableField):
                kpi.update((fid, c) for c in KPI_COLUMNS)
            elif isinstance(target, TableField):
                table.update((fid, c.id) for c in target.columns)
                rows.add(fid)
        return cls(
            frozenset(fields),
            frozenset(kpi),
            frozenset(table),
            frozenset(cells),
            frozenset(rows),
            frozenset(own),
        )

    def __bool__(self) -> bool:
        return bool(
            self.fields or self.kpi_columns or self.table_columns or self.kpi_cells
            or self.table_rows or self.table_own
        )  # fmt: skip

    def touches(self, f: AnyField) -> bool:
        """Whether any part of field ``f`` is editable."""
        if f.id in self.fields:
            return True
        if isinstance(f, KpiTableField):
            return any(owner == f.id for owner, _ in self.kpi_columns) or any(
                owner == f.id for owner, _, _ in self.kpi_cells
            )
        if isinstance(f, TableField):
            return (
                f.id in self.table_rows
                or f.id in self.table_own
                or any(owner == f.id for owner, _ in self.table_columns)
            )
        return False

    def column(self, f: AnyField, column: str) -> bool:
        """A whole column: of every KPI, or of every row of a table."""
        if isinstance(f, KpiTableField):
            return (f.id, column) in self.kpi_columns
        return (f.id, column) in self.table_columns

    def cell(self, f: AnyField, kpi_id: str, column: str) -> bool:
        """One KPI's cell: by a right on the whole column or on that KPI."""
        return (f.id, column) in self.kpi_columns or (f.id, kpi_id, column) in self.kpi_cells

    def rows(self, f: AnyField) -> bool:
        """Whether rows may be added to table ``f`` (the whole table, or ``table.rows``)."""
        return f.id in self.table_rows

    def own_rows(self, f: AnyField) -> bool:
        """Whether this person adds rows to table ``f`` and edits or removes the ones they
        added (``table.own``), without rights over the whole table."""
        return f.id in self.table_own and f.id not in self.fields and self.owner is not None

    def mine(self, row: Mapping[str, Any]) -> bool:
        return self.owner is not None and row.get(ROW_OWNER) == self.owner

    def without(self, field_ids: Iterable[str]) -> Editable:
        """These rights, except on the fields ``field_ids`` (a person never edits what they
        may not see)."""
        gone = set(field_ids)
        if not gone:
            return self
        return Editable(
            frozenset(f for f in self.fields if f not in gone),
            frozenset(c for c in self.kpi_columns if c[0] not in gone),
            frozenset(c for c in self.table_columns if c[0] not in gone),
            frozenset(c for c in self.kpi_cells if c[0] not in gone),
            frozenset(t for t in self.table_rows if t not in gone),
            frozenset(t for t in self.table_own if t not in gone),
            self.owner,
        )


NOTHING = Editable()


@dataclass(frozen=True)
class Viewer:
    """Who looks at the form, for ``visible_to``/``hidden_from`` and ``visible_if``."""

    state: str | None = None
    roles: frozenset[str] = frozenset()


def _shown_to(item: Any, roles: frozenset[str]) -> bool:
    if set(item.hidden_from) & roles:
        return False
    return item.visible_to is None or bool(set(item.visible_to) & roles)


def withheld(form: Form, roles: Iterable[str]) -> frozenset[str]:
    """The fields a person holding ``roles`` may never see: their section or they are
    ``visible_to`` other roles only, or ``hidden_from`` one of these."""
    held = frozenset(roles)
    return frozenset(
        f.id
        for section in form.sections
        for f in section.fields
        if not (_shown_to(section, held) and _shown_to(f, held))
    )


# --------------------------------------------------------------------------- evaluation


@dataclass
class FieldState:
    """How one field shows right now: visible, required, read-only, editable, its value."""

    definition: AnyField
    visible: bool = True
    required: bool = False
    readonly: bool = False
    editable: bool = False
    value: Any = None
    errors: list[FieldError] = field(default_factory=list)
    withheld: bool = False  # never shown to this viewer (visible_to / hidden_from)


@dataclass
class Evaluation:
    """A form evaluated over a set of values, on the server."""

    form: Form
    values: dict[str, Any]
    context: dict[str, Any]
    fields: dict[str, FieldState]
    sections: dict[str, bool]
    score: FormScore
    rule_errors: list[FieldError] = field(default_factory=list)

    def errors(self) -> list[FieldError]:
        return [e for s in self.fields.values() for e in s.errors] + self.rule_errors


def _name(form: Form) -> str:
    return f"form {form.id} v{form.version}"


def _truth(
    expression: Any,
    context: Mapping[str, Any],
    default: bool,
    failed: bool,
    where: tuple[Form, str] | None = None,
) -> bool:
    """The condition's value; ``default`` without one, ``failed`` when it cannot be worked out
    (conditions fail closed: a field whose ``visible_if`` fails is hidden, a ``readonly_if``
    that fails makes it read-only)."""
    if expression is None:
        return default
    try:
        return bool(expression.evaluate(context))
    except ExpressionError as exc:
        if where is not None:
            failures.note(_name(where[0]), where[1], expression, exc, context)
        return failed


def with_computed(
    form: Form, values: Mapping[str, Any], tables: tuple[TableScore, ...] | None = None
) -> dict[str, Any]:
    """``values`` with every ``compute`` field filled in (repeated until stable).

    ``tables``: the KPI tables of ``values``, scored (computed fields never change them).
    """
    result = dict(values)
    computed = [f for f in form.fields() if f.compute is not None]
    derived = derived_actuals(form)
    if derived:
        tables = None  # the actuals change as the pass goes: score the tables each time
    for _ in range(MAX_COMPUTE_PASSES if computed or derived else 0):
        context = expression_values(form, result, tables)
        changed = False
        for f in computed:
            assert f.compute is not None
            value = _worked_out(form, f"fields.{f.id}.compute", f.compute, context)
            if result.get(f.id) != value:
                result[f.id] = value
                changed = True
        for table, kpi in derived:
            assert kpi.actual_from is not None
            where = f"fields.{table.id}.kpis.{kpi.id}.actual_from"
            value = _worked_out(form, where, kpi.actual_from, context)
            if not (value is None or isinstance(value, int | float)) or isinstance(value, bool):
                failures.note(
                    _name(form), where, kpi.actual_from,
                    ExpressionError(f"`{kpi.actual_from}` gives {value!r}, not a number"),
                    context,
                )  # fmt: skip
                value = None
            rows = dict(result.get(table.id) or {})
            row = dict(rows.get(kpi.id) or {})
            if row.get("actual") != value:
                row["actual"] = value
                rows[kpi.id] = row
                result[table.id] = rows
                changed = True
        if not changed:
            break
    return result


def derived_actuals(form: Form) -> list[tuple[KpiTableField, Kpi]]:
    """The KPIs whose actual is worked out (``actual_from``), with their tables."""
    return [
        (f, k)
        for f in form.fields()
        if isinstance(f, KpiTableField)
        for k in f.kpis
        if k.actual_from is not None
    ]


def _worked_out(form: Form, where: str, expr: Any, context: Mapping[str, Any]) -> Any:
    """A computed value (floats to 4 places), or None when it cannot be worked out."""
    try:
        value = expr.evaluate(context)
    except ExpressionError as exc:
        failures.note(_name(form), where, expr, exc, context)
        return None
    return round(value, 4) if isinstance(value, float) else value


def evaluate(
    form: Form,
    values: Mapping[str, Any],
    editable: Editable = NOTHING,
    viewer: Viewer | None = None,
) -> Evaluation:
    """Compute values, visibility, required-ness and read-only state of every field.

    ``viewer``: who looks; without one (the server's own computations) nothing is withheld and
    ``visible_if`` reads no state and no roles."""
    # KPI tables are scored once: computed fields read them but never change them.
    tables = None if _computed_tables(form) else score_tables(form, values)
    full = with_computed(form, values, tables)
    context = expression_values(form, full, tables)
    viewer = viewer or Viewer()
    seen = {**context, "state": viewer.state, "viewer_roles": sorted(viewer.roles)}
    hidden = withheld(form, viewer.roles) if viewer.roles else frozenset()
    states: dict[str, FieldState] = {}
    sections: dict[str, bool] = {}
    for section in form.sections:
        shown = _truth(
            section.visible_if, seen, True, False, (form, f"sections.{section.id}.visible_if")
        )
        sections[section.id] = shown and not all(f.id in hidden for f in section.fields)
        for f in section.fields:
            where = f"fields.{f.id}"
            readonly = f.compute is not None or _truth(
                f.readonly_if, context, False, True, (form, f"{where}.readonly_if")
            )
            states[f.id] = FieldState(
                definition=f,
                withheld=f.id in hidden,
                visible=shown
                and f.id not in hidden
                and _truth(f.visible_if, seen, True, False, (form, f"{where}.visible_if")),
                required=f.required
                or (isinstance(f, TableField) and f.min_rows > 0)
                or _truth(f.required_if, context, False, False, (form, f"{where}.required_if")),
                readonly=readonly,
                editable=not readonly and f.id not in hidden and editable.touches(f),
                value=full.get(f.id),
            )
    return Evaluation(form, full, context, states, sections, score_form(form, full, tables))


def _computed_tables(form: Form) -> bool:
    """Whether a KPI table is itself computed, or some of its actuals are (then its scores
    follow the computation)."""
    return bool(derived_actuals(form)) or any(
        isinstance(f, KpiTableField) and f.compute is not None for f in form.fields()
    )


def check_complete(evaluation: Evaluation, scope: Editable) -> list[FieldError]:
    """Required values missing and rules broken, for the fields ``scope`` covers."""
    errors: list[FieldError] = []
    for state in evaluation.fields.values():
        f = state.definition
        if not state.visible or not scope.touches(f):
            continue
        if isinstance(f, KpiTableField):
            errors += _kpi_missing(f, state.value or {}, scope)
        elif isinstance(f, TableField) and f.min_rows > len(state.value or []):
            # min_rows asks for rows whether or not the table says required
            code = "required" if not state.value else "min_rows"
            errors.append(FieldError(f.id, code, {"min": f.min_rows}))
        elif state.required and _empty(state.value):
            errors.append(FieldError(f.id, "required"))
        if isinstance(f, TableField) and f.group_by is not None:
            errors += _group_sizes(f, state.value or [])
    field_ids = {f.id for f in evaluation.form.fields() if scope.touches(f)}
    for number, rule in enumerate(evaluation.form.rules):
        if rule.field is not None and rule.field not in field_ids:
            continue
        where = (evaluation.form, f"rules[{number}].check")
        if not _truth(rule.check, evaluation.context, True, True, where):
            errors.append(FieldError(rule.field or "", "rule", {}, rule.message))
    return errors


def _group_sizes(f: TableField, rows: list[Any]) -> list[FieldError]:
    """Each group of rows (same ``group_by`` value) within its row limits."""
    counts: dict[Any, int] = {}
    for row in rows:
        key = row.get(f.group_by) if isinstance(row, Mapping) else None
        if key not in (None, ""):
            counts[key] = counts.get(key, 0) + 1
    errors = []
    for key, count in counts.items():
        if count < f.min_per_group:
            errors.append(FieldError(f.id, "min_per_group", {"min": f.min_per_group, "group": key}))
        elif f.max_per_group is not None and count > f.max_per_group:
            errors.append(FieldError(f.id, "max_per_group", {"max": f.max_per_group, "group": key}))
    return errors


def _kpi_missing(f: KpiTableField, rows: Mapping[str, Any], scope: Editable) -> list[FieldError]:
    errors = []
    for kpi in f.kpis:
        row = rows.get(kpi.id) or {}
        for column in ("target", "actual"):
            if column == "actual" and kpi.actual_from is not None:
                continue  # worked out from fields, which are required (or not) themselves
            if scope.cell(f, kpi.id, column) and row.get(column) is None:
                if column == "target" and kpi.target is not None:
                    continue
                errors.append(FieldError(f"{f.id}.{kpi.id}.{column}", "required"))
    return errors


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value is False


# --------------------------------------------------------------------------- posts


@dataclass
class PostResult:
    """Values after applying a post, with problems found and what changed."""

    values: dict[str, Any]
    errors: list[FieldError]
    changes: dict[str, list[Any]]
    refused: list[str]
    raw: dict[str, Any]


def _posted(form: Form, formdata: FormData) -> frozenset[str]:
    """The ids of the fields a post carries anything for (``id``, ``id-…``, ``id__…``)."""
    ids = {f.id for f in form.fields()}
    found = set()
    for key in formdata:
        name = str(key)
        for candidate in (name, name.split("-", 1)[0], name.split("__", 1)[0]):
            if candidate in ids:
                found.add(candidate)
    return frozenset(found)


def parse_post(
    form: Form, formdata: FormData, current: Mapping[str, Any], editable: Editable
) -> PostResult:
    """Apply the editable parts of a post to ``current``; report refused and invalid input."""
    posted = _posted(form, formdata)
    wt = form_class(form, posted)(formdata=formdata)  # coerces only what was sent
    result = PostResult(dict(current), [], {}, [], {})
    for f in form.fields():
        if f.compute is not None:
            continue
        if f.id not in posted:
            if isinstance(f, KpiTableField):  # every KPI has a row, as after any post
                rows = {k: dict(v) for k, v in (result.values.get(f.id) or {}).items()}
                for kpi in f.kpis:
                    rows.setdefault(kpi.id, {})
                result.values[f.id] = rows
            continue
        bound = wt[f.id]
        if isinstance(f, KpiTableField):
            _apply_kpis(f, bound, result, editable)
        elif isinstance(f, TableField):
            _apply_table(f, bound, formdata, result, editable)
        elif f.id in formdata:
            _apply_scalar(f, bound, result, editable)
        elif _unticked(f) and f.id in editable.fields and f"{f.id}__shown" in formdata:
            # Browsers send nothing for an unticked box or an empty multi-choice.
            _set(result, f.id, f.id, [] if isinstance(f, ChoiceField) else False)
    return result


def _unticked(f: AnyField) -> bool:
    return isinstance(f, CheckboxField) or (isinstance(f, ChoiceField) and f.type == "multiselect")


def _apply_scalar(f: AnyField, bound: wf.Field, result: PostResult, editable: Editable) -> None:
    raw = bound.raw_data
    result.raw[f.id] = raw if isinstance(f, ChoiceField) and f.type == "multiselect" else raw[0]
    value, errors = _coerce(f, bound, f.id)
    if f.id not in editable.fields:
        if value != result.values.get(f.id) and not (
            value in ("", None) and result.values.get(f.id) in ("", None)
        ):
            result.refused.append(f.id)
        return
    if errors:
        result.errors += errors
        return
    _set(result, f.id, f.id, value)


def _set(result: PostResult, path: str, key: str, value: Any) -> None:
    old = result.values.get(key)
    if old != value:
        result.changes[path] = [old, value]
        result.values[key] = value


def _blank(raw: list[Any] | None) -> bool:
    """An input left empty: browsers post it as ``""``, which means no value, not a bad one."""
    return not raw or all(isinstance(v, str) and not v.strip() for v in raw)


def _coerce(f: AnyField | ColumnField, bound: wf.Field, path: str) -> tuple[Any, list[FieldError]]:
    if bound.process_errors and _blank(bound.raw_data):
        return None, []
    if bound.process_errors:
        code = {"integer": "integer", "date": "date"}.get(f.type, "number")
        if isinstance(f, RatingField):
            code = "choice"
        return None, [FieldError(path, code)]
    value = bound.data
    if isinstance(value, float) and not math.isfinite(value):
        return None, [FieldError(path, "number")]  # nan, inf and 1e999 are not amounts
    if isinstance(f, TextField | ChoiceField) and f.type != "multiselect":
        value = (value or "").strip() or None
    if isinstance(value, dt.date):
        value = value.isoformat()
    return value, _range_errors(f, value, path)


def _range_errors(f: AnyField | ColumnField, value: Any, path: str) -> list[FieldError]:
    if value is None or value == "" or value == []:
        return []
    if isinstance(f, NumberField):
        if f.min is not None and value < f.min:
            return [FieldError(path, "min", {"min": f.min})]
        if f.max is not None and value > f.max:
            return [FieldError(path, "max", {"max": f.max})]
    if isinstance(f, RatingField) and not 1 <= value <= f.scale:
        return [FieldError(path, "choice")]
    if isinstance(f, TextField):
        return _text_errors(f, value, path)
    if isinstance(f, ChoiceField):
        allowed = {c.value for c in f.choices}
        picked = value if isinstance(value, list) else [value]
        if any(v not in allowed for v in picked):
            return [FieldError(path, "choice")]
        if f.max_items is not None and len(picked) > f.max_items:
            return [FieldError(path, "max_items", {"max": f.max_items})]
        if f.min_items is not None and len(picked) < f.min_items:
            return [FieldError(path, "min_items", {"min": f.min_items})]
    if isinstance(f, DateField):
        day = dt.date.fromisoformat(value)
        if (f.min and day < f.min) or (f.max and day > f.max):
            return [FieldError(path, "date_range", {"min": f.min, "max": f.max})]
    return []


def _matches(pattern: str, value: str) -> bool:
    """Whether ``value`` matches; a pattern that backtracks for too long counts as no match."""
    try:
        return regex.fullmatch(pattern, value, timeout=PATTERN_TIMEOUT) is not None
    except TimeoutError:
        return False


def _text_errors(f: TextField, value: str, path: str) -> list[FieldError]:
    if untypable(value):
        return [FieldError(path, "characters")]
    limit = f.max_length if f.max_length is not None else DEFAULT_LIMITS[f.type]
    if len(value.replace("\r\n", "\n")) > limit:  # a browser counts a line break once
        return [FieldError(path, "max_length", {"max": limit})]
    if f.min_length is not None and len(value) < f.min_length:
        return [FieldError(path, "min_length", {"min": f.min_length})]
    if f.pattern is not None and not _matches(f.pattern, value):
        return [FieldError(path, "pattern", {"pattern": f.pattern})]
    return []


def _apply_kpis(f: KpiTableField, bound: wf.Field, result: PostResult, ed: Editable) -> None:
    rows = {k: dict(v) for k, v in (result.values.get(f.id) or {}).items()}
    for kpi in f.kpis:
        row = rows.setdefault(kpi.id, {})
        for column in KPI_COLUMNS:
            cell = bound[kpi.id][column]
            if not cell.raw_data:
                continue
            path = f"{f.id}.{kpi.id}.{column}"
            result.raw[path] = cell.raw_data[0]
            value = (cell.data or "").strip() or None if column == "note" else cell.data
            worked_out = column == "actual" and not kpi.typed  # worked out or checked in
            if worked_out or not ed.cell(f, kpi.id, column):
                if value != row.get(column) and cell.raw_data[0] != "":
                    result.refused.append(path)
                continue
            bad_number = isinstance(value, float) and not math.isfinite(value)
            if bad_number or (cell.process_errors and not _blank(cell.raw_data)):
                result.errors.append(FieldError(path, "number"))
                continue
            if isinstance(value, str) and untypable(value):
                result.errors.append(FieldError(path, "characters"))
                continue
            if isinstance(value, str) and len(value) > KPI_NOTE_LIMIT:
                result.errors.append(FieldError(path, "max_length", {"max": KPI_NOTE_LIMIT}))
                continue
            if row.get(column) != value:
                result.changes[path] = [row.get(column), value]
                row[column] = value
    result.values[f.id] = rows


def _apply_own_rows(
    f: TableField,
    bound: wf.Field,
    formdata: FormData,
    result: PostResult,
    ed: Editable,
    old_rows: list[dict[str, Any]],
) -> None:
    """``table.own``: rows others added stay as they are (a change to one is refused); this
    person's rows take what was posted (emptied: removed); new rows are stamped as theirs.
    Rows are matched by position among the rows there were, so removing one's own row never
    shifts another's."""
    rows: list[dict[str, Any]] = []
    # WTForms renumbers the entries it found 0, 1, 2…; a page posts only this person's rows
    # (and new ones), so each entry goes back to the index it was posted under (``table-3-…``).
    pattern = re.compile(rf"^{re.escape(f.id)}-(\d+)-")
    posted = sorted({int(m.group(1)) for key in formdata if (m := pattern.match(str(key)))})
    entries = dict(zip(posted, bound.entries, strict=False))
    for index in range(max([len(old_rows), *(i + 1 for i in entries)])):
        entry = entries.get(index)
        old = old_rows[index] if index < len(old_rows) else None
        if entry is None:  # one's own row, not posted, is kept; a gap in new rows is nothing
            if old is not None:
                rows.append(old)
            continue
        if old is not None and not ed.mine(old):
            _posted_row(f, entry, index, old, lambda _column: False, result)
            rows.append(old)
            continue
        row = _posted_row(f, entry, index, {}, lambda _column: True, result)
        if row is not None:
            rows.append({**row, ROW_OWNER: ed.owner})
    _store_rows(f, rows, old_rows, result)


def _posted_row(
    f: TableField,
    entry: Any,
    index: int,
    old: Mapping[str, Any],
    may: Callable[[str], bool],
    result: PostResult,
) -> dict[str, Any] | None:
    """One posted row: the columns ``may`` allows, coerced; the others as they were (a change
    to one is refused). None for a row left empty."""
    row: dict[str, Any] = {}
    for column in f.columns:
        path = f"{f.id}.{index}.{column.id}"
        cell = entry[column.id]
        result.raw[path] = cell.raw_data[0] if cell.raw_data else None
        if not may(column.id):
            row[column.id] = old.get(column.id)
            sent = cell.raw_data[0] if cell.raw_data else ""
            if sent not in ("", None) and str(sent) != plain_text(old.get(column.id)):
                result.refused.append(path)  # a cell this person may not change
            continue
        value, errors = _coerce(column, cell, path)
        result.errors += errors
        row[column.id] = value
    if not any(v not in (None, "", False, []) for v in row.values()):
        return None
    result.errors += [
        FieldError(f"{f.id}.{index}.{c.id}", "required")
        for c in f.columns
        if c.required and row.get(c.id) in (None, "", [])
    ]
    return row


def _store_rows(
    f: TableField, rows: list[dict[str, Any]], old_rows: list[dict[str, Any]], result: PostResult
) -> None:
    if len(rows) > f.max_rows:
        result.errors.append(FieldError(f.id, "max_rows", {"max": f.max_rows}))
    if rows != old_rows:
        result.changes[f.id] = [len(old_rows), len(rows)]
        result.values[f.id] = rows


def plain_text(value: Any) -> str:
    """A stored cell as a browser would send it back."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _apply_table(
    f: TableField, bound: wf.Field, formdata: FormData, result: PostResult, ed: Editable
) -> None:
    prefix = f"{f.id}-"
    if not any(str(key).startswith(prefix) for key in formdata) and f"{f.id}__rows" not in formdata:
        return
    old_rows: list[dict[str, Any]] = list(result.values.get(f.id) or [])
    whole = f.id in ed.fields
    if ed.own_rows(f):
        _apply_own_rows(f, bound, formdata, result, ed, old_rows)
        return
    if not whole and not any(ed.column(f, c.id) for c in f.columns):
        result.refused.append(f.id)  # ``table.rows`` alone lets nobody fill the new rows
        return
    rows: list[dict[str, Any]] = []
    for index, entry in enumerate(bound.entries):
        old = old_rows[index] if index < len(old_rows) else {}
        row = _posted_row(f, entry, index, old, lambda c: whole or ed.column(f, c), result)
        if row is not None:
            rows.append(row)
    if not whole and (len(rows) < len(old_rows) or (len(rows) > len(old_rows) and not ed.rows(f))):
        # Rows are added with ``table.rows``; removing one needs the whole table, since the
        # cells this person may not change would shift to other rows.
        result.refused.append(f.id)
        return
    _store_rows(f, rows, old_rows, result)

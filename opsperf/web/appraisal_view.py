"""What the appraisal page shows, prepared in Python so the templates stay simple."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from flask_babel import gettext as _

from opsperf.definitions import statetree
from opsperf.definitions.schema import (
    KpiTableField,
    Section,
    TableField,
)
from opsperf.engine.forms import Evaluation, FieldError, FieldState
from opsperf.engine.scoring import TableScore
from opsperf.services.context import state_chain
from opsperf.web.helpers import label, lang, state_label

MESSAGES = {
    "required": lambda p: _("This value is required."),
    "number": lambda p: _("Enter a number."),
    "integer": lambda p: _("Enter a whole number."),
    "date": lambda p: _("Enter a date as YYYY-MM-DD."),
    "choice": lambda p: _("Pick one of the offered choices."),
    "min": lambda p: _("Must be at least %(min)s.", min=p["min"]),
    "max": lambda p: _("Must be at most %(max)s.", max=p["max"]),
    "min_length": lambda p: _("Write at least %(min)s characters.", min=p["min"]),
    "max_length": lambda p: _("Write at most %(max)s characters.", max=p["max"]),
    "pattern": lambda p: _("The value does not have the expected format."),
    "characters": lambda p: _("Remove the control characters or broken symbols from the text."),
    "date_range": lambda p: _("The date is outside the allowed range."),
    "max_items": lambda p: _("Pick at most %(max)s.", max=p["max"]),
    "min_items": lambda p: _("Pick at least %(min)s.", min=p["min"]),
    "max_rows": lambda p: _("At most %(max)s rows.", max=p["max"]),
    "min_rows": lambda p: _("At least %(min)s rows.", min=p["min"]),
    "min_per_group": lambda p: _(
        "“%(group)s” needs at least %(min)s rows.", group=p["group"], min=p["min"]
    ),
    "max_per_group": lambda p: _(
        "“%(group)s” may have at most %(max)s rows.", group=p["group"], max=p["max"]
    ),
}


def message(error: FieldError, language: str) -> str:
    if error.text is not None:
        return error.text.get(language)
    render = MESSAGES.get(error.code)
    return render(error.params) if render else error.code


@dataclass
class FieldView:
    state: FieldState
    errors: list[str] = field(default_factory=list)
    raw: Any = None
    cell_errors: dict[str, list[str]] = field(default_factory=dict)
    cell_raw: dict[str, Any] = field(default_factory=dict)
    table: TableScore | None = None

    @property
    def d(self) -> Any:
        return self.state.definition

    @property
    def id(self) -> str:
        return str(self.state.definition.id)

    def shown(self) -> Any:
        """The value to put in the input: what was typed (when refused) or what is stored."""
        return self.raw if self.raw is not None else self.state.value

    def cell(self, path: str, stored: Any) -> Any:
        return self.cell_raw.get(path, stored)


@dataclass
class SectionView:
    section: Section
    visible: bool
    fields: list[FieldView]

    @property
    def editable(self) -> bool:
        return any(f.state.editable for f in self.fields)

    @property
    def blank(self) -> bool:
        """Nothing typed in yet: every value is empty, a default, or computed."""
        return all(
            f.d.compute is not None
            or f.state.value in (None, "", [], False)
            or f.state.value == getattr(f.d, "default", None)
            for f in self.fields
        )


def build(
    evaluation: Evaluation,
    errors: Iterable[FieldError] = (),
    raw: Mapping[str, Any] | None = None,
    language: str = "zh",
) -> list[SectionView]:
    """Sections with their fields, errors placed beside the field (or cell) they concern."""
    raw = raw or {}
    by_field: dict[str, list[FieldError]] = {}
    for error in errors:
        by_field.setdefault(error.path.split(".", 1)[0], []).append(error)
    tables = {t.field_id: t for t in evaluation.score.tables}
    sections = []
    for section in evaluation.form.sections:
        views = []
        for f in section.fields:
            state = evaluation.fields[f.id]
            if state.withheld:
                continue  # never in the page, not even hidden
            if not state.visible and not state.editable:
                # a field shown only under a condition (the state, the viewer's roles): its
                # place stays for the live preview, its value does not come along
                state = replace(state, value=None)
            view = FieldView(state, raw=raw.get(f.id), table=tables.get(f.id))
            for error in by_field.get(f.id, []):
                text = message(error, language)
                if error.path == f.id:
                    view.errors.append(text)
                else:
                    view.cell_errors.setdefault(error.path, []).append(text)
            if isinstance(f, KpiTableField | TableField):
                prefix = f"{f.id}."
                view.cell_raw = {k: v for k, v in raw.items() if k.startswith(prefix)}
            views.append(view)
        if views:
            # a section with nothing this reader sees now nor may fill stays out of sight
            seen = any(v.state.visible or v.state.editable for v in views)
            sections.append(SectionView(section, evaluation.sections[section.id] and seen, views))
    return sections


def field_names(form: Any) -> dict[str, str]:
    """Value paths (``manager_rating``, ``kpis.revenue.actual``) → labels for the history."""
    columns = {"target": _("Target"), "actual": _("Actual"), "note": _("Note")}
    language = lang()
    names: dict[str, str] = {}
    for f in form.fields():
        names[f.id] = label(f.label, language=language)
        if isinstance(f, KpiTableField):
            for kpi in f.kpis:
                for column, text in columns.items():
                    names[f"{f.id}.{kpi.id}.{column}"] = f"{label(kpi.name, '', language)} · {text}"
                names[f"{f.id}.{kpi.id}"] = label(kpi.name, "", language)
    return names


def error_names(form: Any, errors: Iterable[FieldError], limit: int = 6) -> str:
    """The values a refused post must correct, by name, for the message above the page:
    "Plan summary、Key deals · row 2 · Customer"."""
    names = field_names(form)
    columns = {
        f.id: {c.id: label(c.label, c.id) for c in f.columns}
        for f in form.fields()
        if isinstance(f, TableField)
    }
    found: list[str] = []
    for error in errors:
        path = error.path
        name = names.get(path)
        if name is None:
            head, _dot, rest = path.partition(".")
            index, _dot, column = rest.partition(".")
            name = names.get(head, head)
            if index.isdigit() and head in columns:
                row = _("row %(num)s", num=int(index) + 1)
                name = f"{name} · {row}" + (
                    f" · {columns[head].get(column, column)}" if column else ""
                )
        if name not in found:
            found.append(name)
    shown = "、".join(found[:limit]) if lang() == "zh" else ", ".join(found[:limit])
    return shown + ("…" if len(found) > limit else "")


def workflow_view(ctx: Any) -> dict[str, Any]:
    """State names, the phase stepper and the current state's help, in the page's language."""
    compiled = ctx.workflow
    language = lang()
    names = {path: state_label(path, compiled, language) for path in compiled.states}
    current = ctx.appraisal.state
    top = list(compiled.definition.states)
    phase = statetree.phase(current)
    position = top.index(phase) if phase in top else 0
    steps = []
    first_final = next((n for n in top if compiled.definition.states[n].final), None)
    for index, name in enumerate(top):
        state = compiled.definition.states[name]
        if state.final and name not in (phase, first_final):
            continue
        css = "current" if name == phase else "done" if index < position else ""
        steps.append({"label": label(state.label, name, language), "css": css})
    help_texts = [label(s.help, "", language) for s in state_chain(ctx) if s.help]
    return {
        "state_name": names.get(current, current),
        "state_names": names,
        "steps": steps,
        "state_help": help_texts[-1] if help_texts else "",
    }


@dataclass
class StepGroup:
    """Fields of one section put in the step card: what others filled in (read-only), then
    what the person is asked for next to the buttons."""

    section: Section
    shown: list[FieldView]
    asked: list[FieldView]

    @property
    def blank(self) -> bool:
        """Nothing filled in by the others yet (defaults aside)."""
        return SectionView(self.section, True, self.shown).blank


def take_step_fields(
    sections: list[SectionView], step: Any
) -> tuple[list[SectionView], list[StepGroup]]:
    """Move the fields of ``step`` (``services.appraisals.StepFields``) out of the form's
    sections into the step card, so each is on the page once."""
    kept: list[SectionView] = []
    groups: list[StepGroup] = []
    for s in sections:
        moved = [f for f in s.fields if f.id in step]
        if not moved:
            kept.append(s)
            continue
        asked = [f for f in moved if f.id in step.asked]
        if asked:
            shown = [f for f in moved if f.id not in step.asked]
            groups.append(StepGroup(s.section, shown, asked))
        rest = [f for f in s.fields if f.id not in step]
        if rest:
            kept.append(replace(s, fields=rest))
    return kept, groups

"""The appraisal form's fields as HTML, built in Python.

A form has dozens of fields and a KPI table of cells; as Jinja macros each field cost a dozen
macro calls and context lookups, the largest part of the appraisal page's time. Here each
piece is one function writing escaped strings. Every value that comes from people or from
YAML goes through :func:`escape`. ``f`` is a :class:`~opsperf.web.appraisal_view.FieldView`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import url_for
from markupsafe import Markup, escape

from opsperf.definitions.schema import Text
from opsperf.engine.forms import Editable
from opsperf.engine.text import DEFAULT_LIMITS, KPI_NOTE_LIMIT
from opsperf.errors import N_
from opsperf.web.helpers import fmt_number, fmt_when, marked, plain
from opsperf.web.vocabulary import SCORING_METHODS, formula, role_name

OOB = ' hx-swap-oob="true"'
FORM_ID = "appraisal-form"
# the opening of a form control in markup we wrote (every value in it is escaped)
_CONTROL = re.compile(r"(<(?:input|textarea|select))(?=[\s>])")
NUMBER_TYPES = ("number", "integer", "percent", "money")


def _attr(value: Any) -> str:
    return str(escape("" if value is None else value))


def _id(ident: str | None, i: int) -> str:
    return f' id="{ident}-{i}"' if ident else ""


def _aria(
    label: str | None = None,
    labelledby: str | None = None,
    described: str | None = None,
    invalid: bool = False,
    required: bool = False,
    autofocus: bool = False,
) -> str:
    """The accessibility attributes of a control (values already escaped)."""
    out = ""
    if label:
        out += f' aria-label="{label}"'
    if labelledby:
        out += f' aria-labelledby="{labelledby}"'
    if described:
        out += f' aria-describedby="{described}"'
    if invalid:
        out += ' aria-invalid="true"'
    if required:
        out += " required"
    if autofocus:
        out += " autofocus"
    return out


@dataclass
class Aria:
    """How a control is named and described: ``label`` (an aria-label, for a table cell) or
    ``labelledby`` (the id of its visible label, for a group), the ids of its help and error
    texts, and whether it is invalid, required, or the first invalid control of the page."""

    label: str | None = None
    labelledby: str | None = None
    described: str | None = None
    invalid: bool = False
    required: bool = False
    autofocus: bool = False

    def attrs(self, group: bool = False) -> str:
        """As attributes; ``group``: of a radio or checkbox group (whose required state
        the label says, and whose first box takes the focus)."""
        return _aria(
            self.label,
            self.labelledby,
            self.described,
            self.invalid,
            required=False if group else self.required,
            autofocus=False if group else self.autofocus,
        )


class Widgets:
    """Renders fields for one reader: their language, and what they may edit now."""

    def __init__(
        self, language: str, texts: Any, rights: Editable, series: Iterable[Any] = ()
    ) -> None:
        self.language = language
        self._: Callable[..., str] = texts.gettext
        self.ngettext: Callable[..., str] = texts.ngettext
        self.rights = rights
        # checked-in KPIs (services.checkins.Series) by (table, KPI)
        self.series = {(s.table.id, s.kpi.id): s for s in series}
        # the appraisal and how many comments each KPI row has (``table.kpi``): each row
        # links to its thread; None: no links (the live preview)
        self.comments: tuple[int, dict[str | None, int]] | None = None
        # a refused post: the first control marked invalid takes the focus (autofocus), so
        # that the page opens where the correction is needed
        self.focus_error = False

    def _focus(self, invalid: bool) -> bool:
        """Whether this invalid control is the first of the page (once per page)."""
        if invalid and self.focus_error:
            self.focus_error = False
            return True
        return False

    def label(self, text: Text | str | None) -> str:
        """A YAML label for the inside of an element (Chinese in another language marked)."""
        return str(marked(self.plain_label(text), self.language))

    def label_attr(self, text: Text | str | None) -> str:
        """A YAML label for an attribute, escaped."""
        return _attr(self.plain_label(text))

    def plain_label(self, text: Text | str | None) -> str:
        if text is None:
            return ""
        return text if isinstance(text, str) else text.get(self.language)

    # ------------------------------------------------------------------ small parts

    def help(self, text: Text | str | None, ident: str | None = None) -> str:
        if not text:
            return ""
        said = f' id="{ident}"' if ident else ""
        return f'<div class="field-help"{said}>{self.label(text)}</div>'

    @staticmethod
    def errors(messages: Iterable[str], ident: str | None = None) -> str:
        """Error messages; with ``ident``, each has the id ``<ident>-<n>`` (see
        :func:`error_ids`), for the control's ``aria-describedby``."""
        return "".join(
            f'<div class="field-error"{_id(ident, i)}>{escape(m)}</div>'
            for i, m in enumerate(messages)
        )

    @staticmethod
    def error_ids(ident: str, messages: Iterable[str]) -> list[str]:
        return [f"{ident}-{i}" for i, _m in enumerate(messages)]

    def scroller(self, name: Text | str | None) -> str:
        """A wide table's own scrolling box: reachable by keyboard (arrow keys scroll it) and
        named after the table."""
        return f'tabindex="0" role="region" aria-label="{self.label_attr(name)}"'

    def cell_label(self, column: str, row: str) -> str:
        """The name of a table cell's control, for an ``aria-label``: "Note — Revenue"."""
        return _attr(self._("%(column)s — %(row)s", column=column, row=row))

    def display(self, d: Any, value: Any) -> Markup:
        """A value as text, as the field's type shows it."""
        if value is None or value == "" or value == []:
            return Markup('<span class="muted">—</span>')
        kind = d.type
        if kind in ("select", "radio"):
            chosen = next((c for c in d.choices if c.value == value), None)
            return Markup(self.label(chosen.label) if chosen else escape(value))
        if kind == "multiselect":
            return Markup("、".join(self.label(c.label) for c in d.choices if c.value in value))
        if kind == "checkbox":
            return Markup(escape(self._("Yes") if value else self._("No")))
        if kind == "rating":
            named = f" · {self.label(d.labels[value - 1])}" if d.labels else ""
            return Markup(f"{escape(value)} / {d.scale}{named}")
        if kind == "percent":
            return Markup(f"{escape(fmt_number(value))}%")
        if kind == "money":
            return Markup(f"{escape(fmt_number(value))} {escape(d.unit or d.currency)}")
        if kind in ("number", "integer"):
            unit = f" {escape(d.unit)}" if d.unit else ""
            return Markup(f"{escape(fmt_number(value))}{unit}")
        if kind == "textarea":
            return Markup(f'<span style="white-space: pre-wrap">{escape(value)}</span>')
        if kind == "date":
            return Markup(f'<span class="nowrap">{escape(value)}</span>')
        return Markup(escape(value))

    def input(
        self, d: Any, name: str, value: Any, ident: str | None = None, aria: Aria | None = None
    ) -> str:
        """The control that edits one value (a field, or a table cell)."""
        ident = _attr(ident or name)
        name = _attr(name)
        aria = aria or Aria()
        more = aria.attrs()
        kind = d.type
        if kind in ("text", "textarea"):
            extra = f' maxlength="{d.max_length or DEFAULT_LIMITS[kind]}"'
            if d.placeholder:
                extra += f' placeholder="{self.label_attr(d.placeholder)}"'
            shown = _attr(value)
            if kind == "textarea":
                return (
                    f'<textarea id="{ident}" name="{name}" rows="4"{extra}{more}>{shown}</textarea>'
                )
            return f'<input id="{ident}" name="{name}" value="{shown}"{extra}{more}>'
        if kind in NUMBER_TYPES:
            step = "1" if kind == "integer" else "any"
            low = f' min="{_attr(plain(d.min))}"' if d.min is not None else ""
            high = f' max="{_attr(plain(d.max))}"' if d.max is not None else ""
            shown = _attr(plain(value)) if value is not None else ""
            return (
                f'<input id="{ident}" name="{name}" type="number" inputmode="decimal" '
                f'step="{step}"{low}{high} value="{shown}"{more}>'
            )
        if kind == "date":
            return f'<input id="{ident}" name="{name}" type="date" value="{_attr(value)}"{more}>'
        if kind == "select":
            options = "".join(
                f'<option value="{_attr(c.value)}"{" selected" if c.value == value else ""}>'
                f"{self.label(c.label)}</option>"
                for c in d.choices
            )
            return (
                f'<select id="{ident}" name="{name}"{more}><option value="">—</option>'
                f"{options}</select>"
            )
        group = aria.attrs(group=True)
        first = " autofocus" if aria.autofocus else ""
        if kind in ("multiselect", "radio"):
            boxes = []
            box = "checkbox" if kind == "multiselect" else "radio"
            # a required radio group: every radio says so; a checkbox group's label does
            need = " required" if aria.required and box == "radio" else ""
            for i, c in enumerate(d.choices):
                on = (value and c.value in value) if kind == "multiselect" else c.value == value
                boxes.append(
                    f'<label class="checkbox"><input type="{box}" name="{name}" '
                    f'value="{_attr(c.value)}"{" checked" if on else ""}{need}'
                    f"{'' if i else first}> {self.label(c.label)}</label>"
                )
            shown = (
                f'<input type="hidden" name="{name}__shown" value="1">' if box == "checkbox" else ""
            )
            role = "group" if box == "checkbox" else "radiogroup"
            return (
                f'<div class="row choices" role="{role}" id="{ident}"{group}>{shown}'
                f"{''.join(boxes)}</div>"
            )
        if kind == "checkbox":
            on = " checked" if value in (True, "y", "on") else ""
            text = "" if aria.label else f" {self.label(d.label)}"
            return (
                f'<input type="hidden" name="{name}__shown" value="1"><label class="checkbox">'
                f'<input id="{ident}" type="checkbox" name="{name}" value="y"{on}{more}>'
                f"{text}</label>"
            )
        if kind == "rating":
            steps = []
            need = " required" if aria.required else ""
            for i in range(1, d.scale + 1):
                on = " checked" if str(value) == str(i) else ""
                named = f"<small>{self.label(d.labels[i - 1])}</small>" if d.labels else ""
                steps.append(
                    f'<label><input type="radio" name="{name}" value="{i}"{on}{need}'
                    f"{first if i == 1 else ''}><span>{i}</span>{named}</label>"
                )
            return (
                f'<div class="rating" role="radiogroup" id="{ident}"{group}>{"".join(steps)}</div>'
            )
        return ""

    # ------------------------------------------------------------------ fields

    def field(self, f: Any, oob: bool = False) -> Markup:
        """One field: label, control or value, help and errors (tables have their own)."""
        d = f.d
        if d.type == "kpi_table":
            return self.kpi_table(f)
        if d.type == "table":
            return self.table(f)
        state = f.state
        ident = _attr(d.id)
        css = "field" + (" has-error" if f.errors else "") + ("" if state.editable else " readonly")
        head = (
            f'<div id="field-{ident}"{OOB if oob else ""} class="{css}"'
            f"{'' if state.visible else ' hidden'}>"
        )
        help_id = f"help-{ident}" if d.help else None
        error_ids = self.error_ids(f"error-{ident}", f.errors)
        if d.compute is not None:
            body = f'<div class="label">{self.label(d.label)}</div>{self.computed(f)}'
        elif state.editable:
            body = ""
            required = bool(state.required)
            aria = Aria(
                described=" ".join([*error_ids, *([help_id] if help_id else [])]) or None,
                invalid=bool(f.errors),
                required=required and d.type != "checkbox",
                autofocus=not oob and self._focus(bool(f.errors)),
            )
            css = "required" if required else ""
            if d.type in ("radio", "multiselect", "rating"):
                # a group of boxes: named by its label, which is not a <label> of one box
                aria.labelledby = f"label-{ident}"
                said = ""
                if required and d.type == "multiselect":
                    needed = self._("required")
                    said = f'<span class="sr-only"> ({escape(needed)})</span>'
                body = (
                    f'<div class="label {css}" id="label-{ident}">{self.label(d.label)}{said}</div>'
                )
            elif d.type != "checkbox":
                body = f'<label for="{ident}" class="{css}">{self.label(d.label)}</label>'
            body += self.input(d, d.id, f.shown(), aria=aria)
        else:
            body = (
                f'<div class="label">{self.label(d.label)}</div>'
                f'<div class="value">{self.display(d, state.value)}</div>'
            )
        help_ = self.help(d.help, help_id)
        return Markup(f"{head}{body}{help_}{self.errors(f.errors, f'error-{ident}')}</div>")

    def step_field(self, f: Any, oob: bool = False) -> Markup:
        """A field asked for in the step card, which stands outside the form element: its
        controls name the form (``form="appraisal-form"``), so a step button, *Save draft* and
        the live preview send them with the rest."""
        return Markup(_CONTROL.sub(rf'\1 form="{FORM_ID}"', str(self.field(f, oob))))

    def computed(self, f: Any, oob: bool = False) -> Markup:
        tag = _attr(self._("auto"))  # (outside the f-string: the extractor skips those)
        return Markup(
            f'<div{OOB if oob else ""} class="value computed" data-tag="{tag}" '
            f'id="computed-{_attr(f.id)}">{self.display(f.d, f.state.value)}</div>'
        )

    def kpi_score_cells(self, f: Any, k: Any, oob: bool = False) -> Markup:
        scored = next((s for s in f.table.kpis if s.kpi_id == k.id), None) if f.table else None
        attr = OOB if oob else ""
        title = _attr(formula(scored.formula)) if scored else ""
        score = fmt_number(scored.score if scored else None)
        weighted = fmt_number(scored.weighted if scored else None)
        ident = f"{_attr(f.id)}-{_attr(k.id)}"
        return Markup(
            f'<td{attr} class="num" id="kpi-score-{ident}" title="{title}">{escape(score)}</td>'
            f'<td{attr} class="num" id="kpi-weighted-{ident}">{escape(weighted)}</td>'
        )

    def kpi_actual_cell(self, f: Any, k: Any, row: dict[str, Any], oob: bool = False) -> Markup:
        """An actual worked out from the form (``actual_from``): shown, never typed."""
        tag = _attr(self._("auto"))
        ident = f"{_attr(f.id)}-{_attr(k.id)}"
        title = _attr(str(k.actual_from))
        value = escape(fmt_number(row.get("actual")))
        return Markup(
            f'<td{OOB if oob else ""} class="num" id="kpi-actual-{ident}" title="{title}">'
            f'<span class="computed" data-tag="{tag}">{value}</span></td>'
        )

    def kpi_checked_in_cell(self, f: Any, k: Any, row: dict[str, Any]) -> Markup:
        """An actual that check-ins add up to: shown with its series, recorded below."""
        ident = f"{_attr(f.id)}-{_attr(k.id)}"
        s = self.series.get((f.id, k.id))
        value = escape(fmt_number(row.get("actual")))
        how = escape(self.aggregate_words(k.series_rule))
        line = self.sparkline(s) if s is not None else ""
        missing = ""
        if f.cell_errors.get(f"{f.id}.{k.id}.actual"):  # required now, and nothing recorded
            missing = self.errors([self._("Record its actuals by period (Actuals by period).")])
        css = "num has-error" if missing else "num"
        return Markup(
            f'<td class="{css}" id="kpi-actual-{ident}" title="{how}">'
            f'<span class="checked-in">{value}</span>{line}{missing}</td>'
        )

    def aggregate_words(self, rule: Any) -> str:
        """``checkins: {period: month, aggregate: sum}`` in words: "sum of the monthly
        check-ins"."""
        _ = self._
        words = {
            ("week", "sum"): N_("sum of the weekly check-ins"),
            ("week", "average"): N_("average of the weekly check-ins"),
            ("week", "last"): N_("latest weekly check-in"),
            ("week", "max"): N_("highest weekly check-in"),
            ("week", "min"): N_("lowest weekly check-in"),
            ("month", "sum"): N_("sum of the monthly check-ins"),
            ("month", "average"): N_("average of the monthly check-ins"),
            ("month", "last"): N_("latest monthly check-in"),
            ("month", "max"): N_("highest monthly check-in"),
            ("month", "min"): N_("lowest monthly check-in"),
            ("quarter", "sum"): N_("sum of the quarterly check-ins"),
            ("quarter", "average"): N_("average of the quarterly check-ins"),
            ("quarter", "last"): N_("latest quarterly check-in"),
            ("quarter", "max"): N_("highest quarterly check-in"),
            ("quarter", "min"): N_("lowest quarterly check-in"),
        }
        return _(words[(rule.period, rule.aggregate)])

    def sparkline(self, s: Any, width: int = 72, height: int = 20) -> Markup:
        """A KPI's series as a small line against its target (a dashed line). A summed series
        is drawn as its running total, which is what the target is set for."""
        by_period = {p.period: p.value for p in s.points.values()}
        values: list[float | None] = []
        running = 0.0
        for period in s.periods:
            value = by_period.get(period.key)
            if s.kpi.series_rule.aggregate == "sum":
                if value is not None:
                    running += value
                values.append(running if value is not None else None)
            else:
                values.append(value)
        known = [v for v in values if v is not None]
        if not known:
            return Markup("")
        target = s.target if isinstance(s.target, int | float) else None
        low = min([*known, *([target] if target is not None else [])])
        high = max([*known, *([target] if target is not None else [])])
        low = min(low, 0.0) if s.kpi.series_rule.aggregate == "sum" else low
        span = (high - low) or 1.0
        pad = 2.0
        step = (width - 2 * pad) / max(len(values) - 1, 1)

        def y(v: float) -> float:
            return round(height - pad - (v - low) / span * (height - 2 * pad), 1)

        points = [(round(pad + i * step, 1), y(v)) for i, v in enumerate(values) if v is not None]
        path = " ".join(f"{x},{yy}" for x, yy in points)
        last_x, last_y = points[-1]
        goal = (
            f'<line class="spark-target" x1="0" x2="{width}" y1="{y(target)}" y2="{y(target)}"/>'
            if target is not None
            else ""
        )
        said = self._(
            "%(kpi)s: %(count)s check-ins, %(rule)s %(actual)s, target %(target)s",
            kpi=s.kpi.name if isinstance(s.kpi.name, str) else s.kpi.name.get(self.language),
            count=len(known),
            rule=self.aggregate_words(s.kpi.series_rule),
            actual=fmt_number(s.actual),
            target=fmt_number(target),
        )
        return Markup(
            f'<svg class="sparkline" width="{width}" height="{height}" viewBox="0 0 {width} '
            f'{height}" role="img" aria-label="{_attr(said)}"><title>{escape(said)}</title>'
            f'{goal}<polyline points="{path}"/><circle cx="{last_x}" cy="{last_y}" r="2"/></svg>'
        )

    def kpi_total(self, f: Any, oob: bool = False) -> Markup:
        total = fmt_number(f.table.score if f.table else None)
        return Markup(
            f'<strong{OOB if oob else ""} id="table-score-{_attr(f.id)}">{escape(total)}</strong>'
        )

    def kpi_table(self, f: Any) -> Markup:
        d, state, _ = f.d, f.state, self._
        rows = state.value or {}

        def editable(kpi_id: str, column: str) -> bool:
            return bool(state.editable) and self.rights.cell(d, kpi_id, column)

        notes = any(editable(k.id, "note") for k in d.kpis)
        show_note = notes or any((r or {}).get("note") for r in rows.values())
        note_head = f'<th scope="col">{escape(_("Note"))}</th>' if show_note else ""
        indicator, weight, weighted = _("Indicator"), _("Weight"), _("Weighted")
        ident = _attr(d.id)
        described = f' aria-describedby="help-{ident}"' if d.help else ""
        out = [
            f'<div id="field-{ident}" class="field"{"" if state.visible else " hidden"}>'
            f'<div class="label" id="label-{ident}">{self.label(d.label)}</div>'
            f"{self.help(d.help, f'help-{ident}')}"
            f'<div class="table-wrap" {self.scroller(d.label)}><table class="table kpi-table"'
            f' aria-labelledby="label-{ident}"{described}><thead><tr>'
            f'<th scope="col">{escape(indicator)}</th><th scope="col" class="num">'
            f'{escape(weight)}</th><th scope="col" class="num">{escape(_("Target"))}</th>'
            f'<th scope="col" class="num">{escape(_("Actual"))}</th>'
            f'{note_head}<th scope="col" class="num">{escape(_("Score"))}</th>'
            f'<th scope="col" class="num">{escape(weighted)}</th></tr></thead><tbody>'
        ]
        better = {"higher": escape(_("higher is better")), "lower": escape(_("lower is better"))}
        column_names = {"target": _("Target"), "actual": _("Actual")}
        for k in d.kpis:
            row = rows.get(k.id) or {}
            name = self.label(k.name)
            unit = f' <small class="muted">({self.label(k.unit)})</small>' if k.unit else ""
            method = SCORING_METHODS.get(k.effective_scoring.method)
            how = escape(_(method)) if method else escape(k.effective_scoring.method)
            note = f'<small class="muted">{self.label(k.help)}</small>' if k.help else ""
            cells = [
                f'<tr><td class="kpi-name">{name}{unit} <small class="muted">'
                f"{better.get(k.direction, '')} · {how}</small>{note}"
                f"{self.comment_link(d.id, k)}</td>"
                f'<td class="num">{escape(fmt_number(k.weight))}%</td>'
            ]
            for column in ("target", "actual"):
                if column == "actual" and k.actual_from is not None:
                    cells.append(self.kpi_actual_cell(f, k, row))
                    continue
                if column == "actual" and k.series_rule is not None:
                    cells.append(self.kpi_checked_in_cell(f, k, row))
                    continue
                cells.append(
                    self._kpi_cell(f, k, row, column, editable(k.id, column), column_names)
                )
            if show_note:
                path = f"{d.id}.{k.id}.note"
                if editable(k.id, "note"):
                    cell = f"{_attr(d.id)}-{_attr(k.id)}-note"
                    shown = _attr(f.cell(path, row.get("note")) or "")
                    errors = f.cell_errors.get(path) or []
                    aria = Aria(
                        label=self.cell_label(_("Note"), self.plain_label(k.name)),
                        described=" ".join(self.error_ids(f"{cell}-error", errors)) or None,
                        invalid=bool(errors),
                        autofocus=self._focus(bool(errors)),
                    )
                    cells.append(
                        f'<td class="{"has-error" if errors else ""}"><input id="{cell}"'
                        f' name="{cell}" maxlength="{KPI_NOTE_LIMIT}" value="{shown}"'
                        f"{aria.attrs()}>{self.errors(errors, f'{cell}-error')}</td>"
                    )
                else:
                    cells.append(f"<td>{escape(row.get('note') or '')}</td>")
            cells.append(self.kpi_score_cells(f, k))
            out.append("".join(cells) + "</tr>")
        total = _("KPI score (weighted)")
        # the total is a live region that stays: the preview swaps only the number in it
        out.append(
            f'</tbody><tfoot><tr><th scope="row" colspan="{6 if show_note else 5}">'
            f'{escape(total)}</th><td class="num" aria-live="polite">{self.kpi_total(f)}</td>'
            f"</tr></tfoot></table></div>{self.errors(f.errors)}</div>"
        )
        return Markup("".join(out))

    def comment_link(self, table: str, k: Any) -> str:
        """A KPI row's "comments (n)": its thread, swapped into the comments panel (HTMX) or
        on a page of its own (a plain link)."""
        if self.comments is None:
            return ""
        appraisal_id, counts = self.comments
        ref = f"{table}.{k.id}"
        count = counts.get(ref, 0)
        url = _attr(url_for("comments.panel", appraisal_id=appraisal_id, kpi=ref))
        text = escape(self.ngettext("%(num)s comment", "%(num)s comments", count))
        name = k.name if isinstance(k.name, str) else k.name.get(self.language)
        said = _attr(self._("Comments on %(kpi)s: %(num)s", kpi=name, num=count))
        return (
            f' <a class="comment-link" id="comments-{_attr(table)}-{_attr(k.id)}" href="{url}" '
            f'hx-get="{url}" hx-target="#comments-panel" hx-swap="outerHTML show:#comments:top" '
            f'aria-label="{said}">{text}</a>'
        )

    def _kpi_cell(
        self,
        f: Any,
        k: Any,
        row: dict[str, Any],
        column: str,
        editable: bool,
        column_names: dict[str, str],
    ) -> str:
        path = f"{f.d.id}.{k.id}.{column}"
        errors = f.cell_errors.get(path) or []
        css = "num has-error" if errors else "num"
        ident = f"{_attr(f.d.id)}-{_attr(k.id)}-{column}"
        if editable:
            value = f.cell(path, row.get(column))
            shown = _attr(plain(value)) if value is not None else ""
            aria = Aria(
                label=self.cell_label(column_names[column], self.plain_label(k.name)),
                described=" ".join(self.error_ids(f"{ident}-error", errors)) or None,
                invalid=bool(errors),
                autofocus=self._focus(bool(errors)),
            )
            content = (
                f'<input id="{ident}" name="{ident}" type="number" step="any" inputmode="decimal"'
                f' value="{shown}"{aria.attrs()}>'
            )
        else:
            content = str(escape(fmt_number(row.get(column))))
        return f'<td class="{css}">{content}{self.errors(errors, f"{ident}-error")}</td>'

    def table(self, f: Any) -> Markup:
        d, state, _ = f.d, f.state, self._
        rows = state.value or []
        editable = state.editable and d.id in self.rights.fields
        columns = {c for owner, c in self.rights.table_columns if owner == d.id}
        own = bool(state.editable) and self.rights.own_rows(d)
        may_add = own or (bool(state.editable) and self.rights.rows(d) and bool(columns))
        css = "field has-error" if f.errors else "field"
        head = "".join(f'<th scope="col">{self.label(c.label)}</th>' for c in d.columns)
        ident = _attr(d.id)
        described = f' aria-describedby="help-{ident}"' if d.help else ""
        out = [
            f'<div id="field-{ident}" class="{css}"{"" if state.visible else " hidden"}>'
            f'<div class="label" id="label-{ident}">{self.label(d.label)}</div>'
            f"{self.help(d.help, f'help-{ident}')}"
            f'<div class="table-wrap" {self.scroller(d.label)}><table class="table table-compact"'
            f' aria-labelledby="label-{ident}"{described}><thead><tr>{head}</tr></thead><tbody>'
        ]
        count = len(rows) + (2 if editable or may_add else 0)
        for i in range(count):
            row = rows[i] if i < len(rows) else {}
            cells = []
            for c in d.columns:
                path = f"{d.id}.{i}.{c.id}"
                errors = f.cell_errors.get(path) or []
                cell_css = "has-error" if errors else ""
                new = i >= len(rows)
                may = (
                    editable
                    or (state.editable and c.id in columns and (not new or may_add))
                    or (own and (new or self.rights.mine(row)))
                )
                cell = f"{ident}-{i}-{_attr(c.id)}"
                if may:
                    # named by its column and row: "Status — row 2"
                    aria = Aria(
                        label=_attr(
                            _("%(column)s — row %(num)s", column=self.plain_label(c.label),
                              num=i + 1)
                        ),
                        described=" ".join(self.error_ids(f"{cell}-error", errors)) or None,
                        invalid=bool(errors),
                        autofocus=self._focus(bool(errors)),
                    )  # fmt: skip
                    content = self.input(
                        c, f"{d.id}-{i}-{c.id}", f.cell(path, row.get(c.id)), aria=aria
                    )
                else:
                    content = self.display(c, row.get(c.id))
                cells.append(
                    f'<td class="{cell_css}">{content}{self.errors(errors, f"{cell}-error")}</td>'
                )
            out.append(f"<tr>{''.join(cells)}</tr>")
        if not count:
            empty = escape(_("No rows yet."))
            out.append(f'<tr><td colspan="{len(d.columns)}" class="muted">{empty}</td></tr>')
        out.append("</tbody></table></div>")
        if editable or may_add:
            hint = (
                _(
                    "Fill the empty rows to add entries; clear a row to remove it. "
                    "Save to get more empty rows."
                )
                if editable
                else _(
                    "Fill the empty rows to add entries; clear one of your rows to remove it. "
                    "Save to get more empty rows."
                )
                if own
                else _("Fill the empty rows to add entries. Save to get more empty rows.")
            )
            out.append(
                f'<input type="hidden" name="{_attr(d.id)}__rows" value="1">'
                f'<div class="field-help">{escape(hint)}</div>'
            )
        out.append(f"{self.errors(f.errors)}</div>")
        return Markup("".join(out))


class Timeline:
    """The audit trail as list items, oldest first (see ``services.appraisals.timeline``)."""

    def __init__(
        self,
        widgets: Widgets,
        ctx: Any,
        state_names: dict[str, str],
        field_names: dict[str, str],
        field_defs: dict[str, Any],
        hidden: frozenset[str] = frozenset(),
        private_ok: bool = False,
    ) -> None:
        self.w = widgets
        self.hidden = hidden
        self.private_ok = private_ok  # the reader reads the private notes
        self.ctx = ctx
        self.state_names = state_names
        self.field_names = field_names
        self.field_defs = field_defs
        self.steps = {
            t.trigger: widgets.label(t.label) if t.label else str(escape(t.trigger))
            for t in ctx.workflow.definition.transitions
        }

    def items(self, events: Iterable[Any], more: int | None) -> Markup:
        _ = self.w._
        out = []
        if more:
            url = _attr(
                url_for("appraisals.history", appraisal_id=self.ctx.appraisal.id, before=more)
            )
            earlier = escape(_("Show earlier entries"))
            out.append(
                f'<li class="timeline-more" id="timeline-more"><a class="btn btn-sm btn-ghost" '
                f'href="{url}" hx-get="{url}" hx-target="#timeline-more" hx-swap="outerHTML">'
                f"{earlier}</a></li>"
            )
        system = escape(_("System"))
        for e in events:
            if e.kind in ("save", "checkin") and not self._visible(e.changes):
                continue  # only values this reader may not see: not even that they changed
            if e.kind == "comment" and not self.private_ok:
                if (e.changes or {}).get("visibility") != "public":
                    continue  # a private note: not even that there is one
            danger = e.kind == "decline" or e.trigger in ("reject", "appeal")
            css = " is-danger" if danger else " is-ok" if e.kind == "transition" else ""
            actor = escape(e.actor.name) if e.actor else system
            said = e.comment and e.kind != "checkin"  # a check-in's comment is its source
            comment = f"<div>“{escape(e.comment)}”</div>" if said else ""
            rule = (e.changes or {}).get("rule") if e.kind == "transition" else None
            if rule:  # taken by the scheduler, because the workflow says so
                by_rule = escape(_("By the rule: %(rule)s", rule=rule))
                comment += f'<div class="muted">{by_rule}</div>'

            out.append(
                f'<li class="timeline-item{css}"><time class="timeline-time">{fmt_when(e.at)}'
                f'</time><span class="timeline-actor">{actor}</span><div class="timeline-body">'
                f"{self._what(e)}{comment}</div>{self._changes(e)}</li>"
            )
        return Markup("".join(out))

    def _visible(self, changes: Any) -> dict[str, Any]:
        return {p: v for p, v in (changes or {}).items() if p.split(".", 1)[0] not in self.hidden}

    def _step(self, trigger: str | None) -> str:
        return self.steps.get(trigger or "", str(escape(trigger or "")))

    def _what(self, e: Any) -> str:
        _ = self.w._
        if e.kind == "save":
            count = len(self._visible(e.changes))
            return str(
                escape(self.w.ngettext("saved %(num)s value", "saved %(num)s values", count))
            )
        if e.kind == "transition":
            source = escape(self.state_names.get(e.from_state, e.from_state))
            dest = escape(self.state_names.get(e.to_state, e.to_state))
            return f"{self._step(e.trigger)}: {source} → {dest}"
        if e.kind == "override":
            grade = (e.changes or {}).get("grade") or [None, None]
            return str(
                escape(_("changed the grade at calibration: %(old)s → %(new)s", old=grade[0] or "—",
                         new=grade[1] or "—"))
            )  # fmt: skip
        if e.kind == "checkin":
            count = sum(1 for path in self._visible(e.changes) if "@" in path)
            if e.trigger == "import":
                return str(
                    escape(self.w.ngettext("imported %(num)s check-in from %(file)s",
                                           "imported %(num)s check-ins from %(file)s", count,
                                           file=e.comment or "—"))
                )  # fmt: skip
            if e.trigger == "api":
                return str(
                    escape(self.w.ngettext("%(num)s check-in received from %(system)s",
                                           "%(num)s check-ins received from %(system)s", count,
                                           system=e.comment or "—"))
                )  # fmt: skip
            return str(
                escape(self.w.ngettext("recorded %(num)s check-in", "recorded %(num)s check-ins",
                                       count))
            )  # fmt: skip
        if e.kind == "comment":
            return self._commented(e.changes or {})
        said = {
            "request": N_("requested approval: %(step)s"),
            "vote": N_("approved: %(step)s"),
            "decline": N_("declined: %(step)s"),
        }
        if e.kind in said:  # the step's label is escaped already; the sentence around it too
            return str(escape(_(said[e.kind], step="\x00"))).replace("\x00", self._step(e.trigger))
        return str(escape(e.kind))

    def _commented(self, said: dict[str, Any]) -> str:
        """A comment event: a reply, a thread a step opened, a private note, a KPI's comment."""
        _ = self.w._
        private = ""
        if said.get("visibility") != "public":
            marked = escape(_("Private note"))  # (outside the f-string: the extractor skips those)
            private = f' <span class="badge badge-private">{marked}</span>'
        kpi = said.get("kpi")
        if said.get("reply_to"):
            text = _("replied to a comment")
        elif said.get("to"):
            roles = "、".join(role_name(r) for r in said["to"] if isinstance(r, str))
            text = _("opened a thread with %(roles)s", roles=roles)
        elif isinstance(kpi, str):
            text = _("commented on %(kpi)s", kpi=self.field_names.get(kpi, kpi))
        else:
            text = _("commented")
        return f"{escape(text)}{private}"

    def _changes(self, e: Any) -> str:
        if not e.changes or e.kind not in ("save", "transition", "override", "checkin"):
            return ""
        rows = []
        if e.kind in ("transition", "override"):
            names = {"score": "Score", "grade": "Grade", "bonus": "Bonus"}
            for key, value in e.changes.items():
                if key == "rule":
                    continue  # said beside the step
                name = self.w._(names[key]) if key in names else key
                if isinstance(value, list) and len(value) == 2:  # [before, after]
                    old, new = (escape(fmt_number(v)) for v in value)
                    rows.append(
                        f"<dt>{escape(name)}</dt><dd><del>{old}</del> <ins>{new}</ins></dd>"
                    )
                else:
                    rows.append(f"<dt>{escape(name)}</dt><dd>{escape(fmt_number(value))}</dd>")
        else:
            for path, pair in e.changes.items():
                if path.split(".", 1)[0] in self.hidden:
                    continue  # a value this reader may not see, nor its history
                d = self.field_defs.get(path)
                if d is not None and d.type not in ("table", "kpi_table"):
                    old, new = self.w.display(d, pair[0]), self.w.display(d, pair[1])
                else:
                    old, new = (escape(_short(fmt_number(v))) for v in pair[:2])
                base, _at, period = path.partition("@")
                name = escape(self.field_names.get(base, base) + (f" · {period}" if period else ""))
                rows.append(f"<dt>{name}</dt><dd><del>{old}</del> <ins>{new}</ins></dd>")
        return f'<dl class="timeline-diff">{"".join(rows)}</dl>'


def _short(text: str, length: int = 80) -> str:
    return text if len(text) <= length else text[: length - 3] + "..."

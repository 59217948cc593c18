"""The appraisal as a PDF (WeasyPrint): laid out from ``services.reports`` in the reader's
language, with the vendored CJK font so that Chinese prints on any machine.

``pdf(report)`` needs an application and a request context (the command line makes one with
the language asked for); the routes are on the appraisal page and in the API.
"""

from __future__ import annotations

import base64
import io
import threading
from pathlib import Path
from typing import Any

import segno
from flask import Blueprint, Response, current_app, request, send_file
from flask_babel import gettext as _
from flask_login import login_required
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from opsperf.definitions import org
from opsperf.definitions.schema import KpiTableField, TableField
from opsperf.engine.forms import NOTHING
from opsperf.engine.readable import Words, number, readable
from opsperf.errors import N_
from opsperf.services import reports
from opsperf.web import appraisal_view
from opsperf.web.helpers import defs, label, lang, render, texts, user
from opsperf.web.vocabulary import form_label, formula
from opsperf.web.widgets import Widgets

bp = Blueprint("reports", __name__)

FONTS = Path(__file__).resolve().parent / "static" / "fonts"
FONT_CSS = f"""
@font-face {{ font-family: "Opsperf Sans SC"; font-weight: 400;
  src: url("{(FONTS / "OpsperfSansSC-Regular.otf").as_uri()}"); }}
@font-face {{ font-family: "Opsperf Sans SC"; font-weight: 700;
  src: url("{(FONTS / "OpsperfSansSC-Bold.otf").as_uri()}"); }}
"""
STYLESHEET = Path(__file__).resolve().parent / "static" / "css" / "report.css"

# The names a total or bonus formula reads that are not fields of the form.
TERMS = {
    "score": N_("Score"),
    "grade": N_("Grade"),
    "base_bonus": N_("Base bonus"),
    "bonus_multiplier": N_("Grade multiplier"),
    "department.bonus_coefficient": N_("Department coefficient"),
    "actual": N_("Actual"),
    "target": N_("Target"),
    "weight": N_("Weight"),
}

# WeasyPrint's font configuration and parsed stylesheets, made once per thread (they load the
# font files; a FontConfiguration is not meant to be shared between threads).
_local = threading.local()


def _styles() -> tuple[FontConfiguration, list[CSS]]:
    found = getattr(_local, "styles", None)
    if found is None:
        fonts = FontConfiguration()
        sheets = [
            CSS(string=FONT_CSS, font_config=fonts),
            CSS(filename=str(STYLESHEET), font_config=fonts),
        ]
        found = _local.styles = (fonts, sheets)
    return found


def words() -> Words:
    return Words(
        if_empty=_("%(value)s (%(default)s if empty)"),
        rounded=_("%(value)s, rounded to %(places)s decimal places"),
        between=_("%(value)s, kept between %(low)s and %(high)s"),
        when=_("%(then)s if %(test)s, else %(other)s"),
        and_=_("and"),
        or_=_("or"),
        not_=_("not %(value)s"),
        empty=_("empty"),
    )


def name_of(form: Any) -> Any:
    """How a formula's name reads: a field or KPI by its label, a table's score, a term."""

    def name(path: str) -> str:
        if path in TERMS:
            return str(_(TERMS[path]))
        head, _dot, rest = path.partition(".")
        table = next((f for f in form.fields() if f.id == head), None)
        if table is None:
            return path
        if not rest:
            return form_label(form, head)
        if isinstance(table, KpiTableField):
            if rest == "score":
                return str(_("%(table)s score", table=form_label(form, head)))
            kpi, _dot, column = rest.partition(".")
            shown = form_label(form, f"{head}.{kpi}")
            return f"{shown} {_(TERMS.get(column, column))}" if column else shown
        return path

    return name


def explained(expression: Any, names: Any, values: dict[str, Any] | None) -> dict[str, str]:
    """A formula in words and with its values, or as written when it does not read."""
    if not expression:
        return {}
    expression = str(expression)  # a parsed Expression gives its source
    said = readable(expression, names, words())
    if said is None:
        return {"raw": expression}
    used = readable(expression, names, words(), values or {})
    return {"said": said, "used": used or ""}


def kpi_rows(report: reports.Report) -> list[dict[str, Any]]:
    """Each KPI table the reader may see, with its KPIs as scored (the stored result once
    there is one, else the form as it stands)."""
    form = report.ctx.form
    names = name_of(form)
    stored = {t["field"]: t for t in (report.appraisal.result or {}).get("kpis") or []}
    live = {t.field_id: t for t in report.evaluation.score.tables}
    tables = []
    for f in form.fields():
        if not isinstance(f, KpiTableField) or report.evaluation.fields[f.id].withheld:
            continue
        kpis = {k.id: k for k in f.kpis}
        if f.id in stored:
            scored = [dict(k) for k in stored[f.id].get("kpis") or []]
            score, table_formula = stored[f.id].get("score"), stored[f.id].get("formula")
        elif f.id in live:
            t = live[f.id]
            scored = [
                {"kpi": k.kpi_id, "weight": k.weight, "target": k.target, "actual": k.actual,
                 "method": k.method, "score": k.score, "weighted": k.weighted,
                 "formula": k.formula}
                for k in t.kpis
            ]  # fmt: skip
            score, table_formula = t.score, t.formula
        else:
            continue
        rows = []
        for k in scored:
            d = kpis.get(k["kpi"])
            if d is None:
                continue
            raw = str(k.get("formula") or "")
            method = str(k.get("method") or "")
            if raw.startswith(f"{method}: "):  # "linear: …": the method is named beside it
                raw = raw[len(method) + 2 :]
            rule = formula(raw)
            if k.get("method") == "expression" and d.scoring is not None:
                shown = explained(
                    getattr(d.scoring, "expr", None),
                    names,
                    {"actual": k.get("actual"), "target": k.get("target"), "weight": k["weight"]},
                )
                if shown.get("said"):
                    rule = f"{shown['said']} = {shown['used']}"
                    if k.get("score") is not None:
                        rule += f" = {number(k['score'])}"
            rows.append({**k, "name": label(d.name, d.id), "unit": d.unit or "", "rule": rule})
        tables.append(
            {"label": label(f.label, f.id), "rows": rows, "score": score,
             "formula": formula(table_formula)}
        )  # fmt: skip
    return tables


def total_of(report: reports.Report) -> dict[str, Any]:
    result = report.appraisal.result or {}
    total = result.get("total") or {}
    inputs = total.get("inputs") or {}
    names = name_of(report.ctx.form)
    shown = explained(inputs.get("expression"), names, inputs.get("names"))
    if not shown:
        shown = {"raw": formula(total.get("formula"))} if total.get("formula") else {}
    bonus = result.get("bonus") or {}
    read = (bonus.get("inputs") or {}).get("read") or {}
    bonus_shown = explained((bonus.get("inputs") or {}).get("expression"), names, read)
    return {"total": total, "explained": shown, "bonus": bonus, "bonus_explained": bonus_shown}


def other_sections(report: reports.Report) -> list[dict[str, Any]]:
    """The form's sections with what was filled in, KPI tables aside (they are above)."""
    sections = appraisal_view.build(report.evaluation, language=lang())
    widgets = Widgets(lang(), texts(), NOTHING)
    shown = []
    for s in sections:
        if not s.visible:
            continue
        fields = []
        for f in s.fields:
            if isinstance(f.d, KpiTableField) or not f.state.visible:
                continue
            value = f.state.value
            if value in (None, "", [], False) and f.d.compute is None:
                continue
            if isinstance(f.d, TableField):
                rows = [
                    [widgets.display(c, (row or {}).get(c.id)) for c in f.d.columns]
                    for row in value or []
                    if any((row or {}).get(c.id) not in (None, "") for c in f.d.columns)
                ]
                if rows:
                    fields.append(
                        {"label": label(f.d.label, f.id), "columns":
                         [label(c.label, c.id) for c in f.d.columns], "rows": rows}
                    )  # fmt: skip
                continue
            fields.append({"label": label(f.d.label, f.id), "value": widgets.display(f.d, value)})
        if fields:
            shown.append({"title": label(s.section.title, s.section.id), "fields": fields})
    return shown


def qr_data_uri(url: str) -> str:
    qr = segno.make(url, error="m")
    buffer = io.BytesIO()
    qr.save(buffer, kind="svg", scale=2, border=0, xmldecl=False)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def html(report: reports.Report, base_url: str) -> str:
    link = f"{base_url.rstrip('/')}/appraisals/{report.appraisal.id}?doc={report.digest[:8]}"
    return render(
        "reports/appraisal.html",
        r=report,
        a=report.appraisal,
        ctx=report.ctx,
        tables=kpi_rows(report),
        result=total_of(report),
        sections=other_sections(report),
        link=link,
        qr=qr_data_uri(link),
        company=_company(report),
    )


def _company(report: reports.Report) -> str:
    configured = current_app.config.get("COMPANY_NAME")
    if configured:
        return str(configured)
    definitions = defs()
    top = definitions.departments.get(org.ancestors(definitions, report.ctx.department.id)[-1])
    return label(top.name, top.id) if top is not None else ""


def pdf(report: reports.Report, base_url: str) -> bytes:
    fonts, sheets = _styles()
    document = HTML(string=html(report, base_url), base_url=str(FONTS))
    return bytes(document.write_pdf(stylesheets=sheets, font_config=fonts))


def public_url() -> str:
    return str(current_app.config.get("PUBLIC_URL") or request.url_root)


def download(report: reports.Report) -> Response:
    data = pdf(report, public_url())
    a = report.appraisal
    name = f"appraisal-{a.employee.employee_no}-{a.cycle_id}-{report.document_id}.pdf"
    response = send_file(
        io.BytesIO(data), mimetype="application/pdf", as_attachment=True, download_name=name
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/appraisals/<int:appraisal_id>/report.pdf")
@login_required
def appraisal_pdf(appraisal_id: int) -> Any:
    """The appraisal as a PDF, as the reader may see it."""
    return download(reports.report_of(appraisal_id, user()))

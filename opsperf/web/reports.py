"""The appraisal as a PDF (WeasyPrint): laid out from ``services.reports`` in the reader's
language, with the vendored CJK font so that Chinese prints on any machine.

``pdf(report)`` needs an application and a request context (the command line makes one with
the language asked for); the routes are on the appraisal page and in the API.
"""

from __future__ import annotations

import base64
import io
import multiprocessing
import os
import threading
import zipfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import segno
from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_required
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from opsperf import worker
from opsperf.definitions import org
from opsperf.definitions.schema import KpiTableField, TableField
from opsperf.engine.forms import NOTHING
from opsperf.engine.readable import Words, number, readable
from opsperf.errors import N_, NotFound, PermissionDenied
from opsperf.persistence.models import Job, User, db
from opsperf.services import cycles, jobs, reports
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


def kpi_rule(k: dict[str, Any], d: Any, names: Any, named: bool = True) -> str:
    """How one KPI was scored, in the reader's words: a custom formula in words and then with
    its values; the others as the engine says them (``named``: with the method's own word
    first, as on the appraisal page, where no column names the method)."""
    raw = str(k.get("formula") or "")
    method = str(k.get("method") or "")
    if not named and raw.startswith(f"{method}: "):  # "linear: …": the method is beside it
        raw = raw[len(method) + 2 :]
    if method == "expression" and d is not None and d.scoring is not None:
        values = {"actual": k.get("actual"), "target": k.get("target"), "weight": k.get("weight")}
        shown = explained(getattr(d.scoring, "expr", None), names, values)
        if shown.get("said"):
            rule = f"{shown['said']} = {shown['used']}"
            return rule + (f" = {number(k['score'])}" if k.get("score") is not None else "")
    return formula(raw)


@bp.app_template_global()
def explain_kpi(form: Any, table: str, k: dict[str, Any]) -> str:
    """The appraisal page's line for one scored KPI of the stored result."""
    field = next((f for f in form.fields() if f.id == table), None)
    d = next((x for x in getattr(field, "kpis", []) if x.id == k.get("kpi")), None)
    return kpi_rule(k, d, name_of(form))


@bp.app_template_global()
def explain_table(form: Any, table: dict[str, Any]) -> str:
    """A KPI table's score as the sum of its KPIs' weighted scores, each KPI by its name."""
    kpis = table.get("kpis") or []
    if table.get("score") is None or not kpis or any(k.get("weighted") is None for k in kpis):
        return formula(table.get("formula"))
    field = str(table.get("field"))
    terms = [
        f"{form_label(form, field + '.' + str(k.get('kpi')))} {number(k['score'])} × "
        f"{number(k['weight'])}%"
        for k in kpis
    ]
    return f"{' + '.join(terms)} = {number(table['score'])}"


@bp.app_template_global()
def explain_bonus(form: Any, bonus: dict[str, Any]) -> str:
    """A bonus in words and then with the values used."""
    inputs = bonus.get("inputs") or {}
    shown = explained(inputs.get("expression"), name_of(form), inputs.get("read"))
    if not shown.get("said") or bonus.get("amount") is None:
        return str(bonus.get("formula") or "")
    return f"{shown['said']} = {shown['used']} = {number(bonus['amount'])}"


@bp.app_template_global()
def explain_total(inputs: Any, total: Any, raw: str | None, form: Any) -> str:
    """The total in words and then with its values (the appraisal page's live total and
    result), or the engine's own words when there is no formula or no total yet."""
    inputs = inputs or {}
    shown = explained(inputs.get("expression"), name_of(form), inputs.get("names"))
    if total is None or not shown.get("said"):
        return formula(raw)
    # adjustments apply after the formula: its own result is the total before them
    value = (inputs.get("unadjusted") or {}).get("value", total)
    return f"{shown['said']} = {shown['used']} = {number(value)}"


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
            rule = kpi_rule(k, d, names, named=False)
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
    return printed(html(report, base_url))


def printed(page: str) -> bytes:
    """An HTML page as a PDF, with the report stylesheet and the vendored fonts."""
    fonts, sheets = _styles()
    document = HTML(string=page, base_url=str(FONTS))
    return bytes(document.write_pdf(stylesheets=sheets, font_config=fonts))


def send_pdf(data: bytes, name: str) -> Response:
    response = send_file(
        io.BytesIO(data), mimetype="application/pdf", as_attachment=True, download_name=name
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


def public_url() -> str:
    return str(current_app.config.get("PUBLIC_URL") or request.url_root)


def download(report: reports.Report) -> Response:
    data = pdf(report, public_url())
    a = report.appraisal
    return send_pdf(
        data, f"appraisal-{a.employee.employee_no}-{a.cycle_id}-{report.document_id}.pdf"
    )


@bp.get("/appraisals/<int:appraisal_id>/report.pdf")
@login_required
def appraisal_pdf(appraisal_id: int) -> Any:
    """The appraisal as a PDF, as the reader may see it."""
    return download(reports.report_of(appraisal_id, user()))


# --------------------------------------------------------------------------- batches

# A batch of more appraisals than this is printed by several processes at once (WeasyPrint
# holds the interpreter: threads would take turns); ``REPORT_PROCESSES`` sets how many
# (default: one per core).
PARALLEL_FROM = 40
CHUNK = 20  # appraisals a process prints before it reports back
# What a printing process needs of the app's configuration to make its own.
CHILD_CONFIG = ("SQLALCHEMY_DATABASE_URI", "SQLALCHEMY_ENGINE_OPTIONS", "DEFINITION_ROOTS",
                "SECRET_KEY", "PUBLIC_URL", "COMPANY_NAME", "BABEL_DEFAULT_TIMEZONE")  # fmt: skip


def _print_some(
    job_id: int, ids: list[int], reader_id: int | None, language: str, base: str
) -> int:
    """Print ``ids`` into the batch ``job_id`` as ``reader_id`` may see them; each PDF is
    committed as it is made. Returns how many were printed."""
    printed = 0
    with current_app.test_request_context(
        "/", base_url=base, headers={"Accept-Language": language}
    ):
        reader = db.session.get(User, reader_id) if reader_id is not None else None
        for appraisal_id in ids:
            try:
                report = reports.report_of(appraisal_id, reader)
            except (NotFound, PermissionDenied):
                continue  # gone, or moved out of the reader's reach since the batch began
            reports.keep(
                job_id, appraisal_id, reports.file_name(report.appraisal), pdf(report, base)
            )
            db.session.commit()
            printed += 1
    return printed


_child_app: Any = None


def _child_start(config: dict[str, Any]) -> None:
    global _child_app
    from opsperf import create_app

    _child_app = create_app({**config, "JOBS_QUEUE": "immediate"})


def _child_print(
    job_id: int, ids: list[int], reader_id: int | None, language: str, base: str
) -> int:
    with _child_app.app_context():
        try:
            return _print_some(job_id, ids, reader_id, language, base)
        finally:
            db.session.remove()


@jobs.handler(reports.BATCH_JOB)
def batch_job(defs: Any, job: Job, progress: jobs.Progress) -> dict[str, Any]:
    """Print every appraisal of the batch's cycle and departments the job's creator may see."""
    params = job.params
    cycle = cycles.get(int(params["cycle_id"]))
    reader = job.created_by
    root = str(params.get("root") or "")
    scope = (
        reports.batch_scope(defs, reader, cycle, root)
        if reader
        else reports.BatchScope(root or None, tuple(cycles.subtree(defs, [root])) if root else None)
    )
    ids = reports.batch_ids(cycle, scope)
    done = reports.kept_ids(job.id)
    todo = [i for i in ids if i not in done]
    total = len(ids)
    language = str(params.get("language") or "zh")
    base = str(current_app.config.get("PUBLIC_URL") or "http://localhost/")
    reader_id = reader.id if reader else None
    progress(len(done), total)
    processes = int(current_app.config.get("REPORT_PROCESSES") or os.cpu_count() or 1)
    count = len(done)
    if len(todo) < PARALLEL_FROM or processes < 2:
        for start in range(0, len(todo), CHUNK):
            count += _print_some(job.id, todo[start : start + CHUNK], reader_id, language, base)
            progress(count, total)
    else:
        config = {key: current_app.config.get(key) for key in CHILD_CONFIG}
        chunks = [todo[start : start + CHUNK] for start in range(0, len(todo), CHUNK)]
        with ProcessPoolExecutor(
            max_workers=min(processes, len(chunks)),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_child_start,
            initargs=(config,),
        ) as pool:
            futures = [
                pool.submit(_child_print, job.id, chunk, reader_id, language, base)
                for chunk in chunks
            ]
            for future in as_completed(futures):
                count += future.result()
                progress(count, total)
    job.output_name = f"appraisals-{cycle.id}{'-' + root if root else ''}.zip"
    return {"printed": count, "appraisals": total, "skipped": total - count}


class _Sink(io.RawIOBase):
    """What zipfile writes, handed on a piece at a time (the ZIP is never whole in memory)."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.pieces.append(bytes(data))
        return len(data)

    def drain(self) -> Iterator[bytes]:
        pieces, self.pieces = self.pieces, []
        yield from pieces


def _zipped(job_id: int) -> Iterator[bytes]:
    sink = _Sink()
    seen: set[str] = set()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED) as archive:  # PDFs are compressed
        for name, data in reports.kept(job_id):
            unique, number = name, 1
            while unique in seen:  # two people of one name and number cannot meet, but still
                number += 1
                unique = name.removesuffix(".pdf") + f"-{number}.pdf"
            seen.add(unique)
            archive.writestr(zipfile.ZipInfo(unique, date_time=(2026, 1, 1, 0, 0, 0)), data)
            yield from sink.drain()
    yield from sink.drain()


@bp.post("/cycles/<int:cycle_id>/reports")
@login_required
def print_batch(cycle_id: int) -> Any:
    """Print a cycle's appraisals (or a department's) into a ZIP, in the background."""
    me = user()
    cycle = cycles.get(cycle_id)
    scope = reports.batch_scope(defs(), me, cycle, (request.form.get("department") or "")[:64])
    job = reports.create_batch(me, cycle, scope, lang())
    worker.enqueue(job.id)
    return redirect(url_for("jobs.view", job_id=job.id))


@bp.get("/jobs/<int:job_id>/appraisals.zip")
@login_required
def batch_zip(job_id: int) -> Any:
    """The PDFs of a finished batch as one ZIP, put together as it is sent."""
    job = jobs.get(job_id, user())
    if job.kind != reports.BATCH_JOB or job.status != "done":
        raise NotFound("this job has no PDFs to download")
    response = Response(stream_with_context(_zipped(job.id)), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{job.output_name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response

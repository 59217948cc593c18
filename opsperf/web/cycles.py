"""Review cycles for HR: launch, progress, the appraisals in each state (filtered, paged)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, request, url_for
from flask_login import login_required

from opsperf import worker
from opsperf.engine.workflow import CompiledWorkflow
from opsperf.errors import NotFound, ValidationFailed
from opsperf.persistence.models import Cycle, utcnow
from opsperf.services import cycles as svc
from opsperf.services import jobs, reports, results
from opsperf.services.context import compiled_workflow
from opsperf.web.helpers import (
    defs,
    error_text,
    int_arg,
    label,
    lang,
    render,
    roles_required,
    text_arg,
    user,
)

bp = Blueprint("cycles", __name__, url_prefix="/cycles")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/")
@login_required
@roles_required("hr", "admin")
def index() -> Any:
    search = text_arg("q")
    page = svc.cycles_page(int_arg("page", 1), 25, search)
    counts = svc.progress([c.id for c in page.items])
    totals = {cycle_id: sum(by_state.values()) for cycle_id, by_state in counts.items()}
    return render("cycles/index.html", cycles=page, totals=totals, search=search)


def _date(name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(request.form.get(name, ""))
    except ValueError:
        raise ValidationFailed("Enter the period as dates (YYYY-MM-DD).") from None


@bp.route("/new", methods=["GET", "POST"])
@login_required
@roles_required("hr", "admin")
def new() -> Any:
    definitions = defs()
    form = request.form
    if request.method == "POST":
        try:
            cycle = svc.start(
                definitions,
                name=form.get("name", ""),
                workflow_id=form.get("workflow", ""),
                period_start=_date("period_start"),
                period_end=_date("period_end"),
                department_ids=form.getlist("departments"),
                actor=user(),
            )
        except (ValidationFailed, NotFound) as exc:
            flash(error_text(exc), "error")
            return render("cycles/new.html", defs=definitions, form=form), 422
        _launch(cycle)
        return redirect(url_for(".view", cycle_id=cycle.id))
    return render("cycles/new.html", defs=definitions, form=form)


def _launch(cycle: Cycle) -> None:
    job = jobs.create(
        svc.LAUNCH_JOB, user(), params={"cycle_id": cycle.id}, subject=f"cycle:{cycle.id}"
    )
    worker.enqueue(job.id)


@bp.post("/<int:cycle_id>/launch")
@login_required
@roles_required("hr", "admin")
def resume(cycle_id: int) -> Any:
    """Launch again a cycle whose launch stopped: people who have an appraisal are skipped."""
    cycle = svc.get(cycle_id)
    job = jobs.latest(f"cycle:{cycle.id}")
    if cycle.status == "launching" and (job is None or job.status == "failed"):
        _launch(cycle)
    return redirect(url_for(".view", cycle_id=cycle.id))


def _workflow(cycle: Cycle) -> CompiledWorkflow | None:
    return compiled_workflow(cycle.workflow_snapshot_id) if cycle.workflow_snapshot_id else None


def _filter(cycle: Cycle, workflow: CompiledWorkflow | None) -> svc.AppraisalFilter:
    departments = tuple(d for d in request.args.getlist("department") if d in cycle.departments)
    state = text_arg("state", 128)
    sort = text_arg("sort", 32)
    return svc.AppraisalFilter(
        departments=departments,
        state=state if workflow is not None and state in workflow.leaves else "",
        overdue=text_arg("overdue") == "1",
        grade=text_arg("grade", 16),
        search=text_arg("q"),
        sort=sort if sort in svc.SORTS else "employee_no",
        position=text_arg("position", 64),
    )


@bp.get("/<int:cycle_id>/results.<any(xlsx, csv):kind>")
@login_required
@roles_required("hr", "admin")
def results_sheet(cycle_id: int, kind: str) -> Any:
    """The appraisals the cycle page lists with its filters, as a spreadsheet (in the
    background when it is long)."""
    cycle = svc.get(cycle_id)
    only = _filter(cycle, _workflow(cycle))
    if results.count(cycle, only) > int(current_app.config["PAYOUT_INLINE_ROWS"]):
        job = results.create_job(user(), cycle, only, kind, lang())
        worker.enqueue(job.id)
        return redirect(url_for("jobs.view", job_id=job.id))
    body = results.sheet(defs(), cycle, only, kind, lang())
    mimetype = "text/csv; charset=utf-8" if kind == "csv" else XLSX
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{results.filename(cycle, kind)}"'
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/<int:cycle_id>")
@login_required
@roles_required("hr", "admin")
def view(cycle_id: int) -> Any:
    cycle = svc.get(cycle_id)
    workflow = _workflow(cycle)
    launch_job = jobs.latest(f"cycle:{cycle.id}")
    print_job = jobs.latest(reports.batch_subject(cycle, reports.BatchScope(None, None)))
    only = _filter(cycle, workflow)
    page = svc.appraisals_page(cycle, only, int_arg("page", 1), int_arg("per_page", 50, 10, 200))
    by_state = svc.progress([cycle.id])[cycle.id]
    order = list(workflow.leaves) if workflow else []
    return render(
        "cycles/view.html",
        block="appraisals",
        cycle=cycle,
        workflow=workflow,
        launch_job=launch_job,
        print_job=print_job,
        page=page,
        only=only,
        filtered=only != svc.AppraisalFilter(sort=only.sort),
        counts=svc.in_workflow_order(by_state, order),
        total=sum(by_state.values()),
        overdue=svc.overdue_count(cycle),
        grades=svc.grades(defs(), cycle),
        now=utcnow(),
    )


@bp.app_template_filter("department_name")
def department_name(department_id: str) -> str:
    """A department's name in the reader's language (its id when no longer defined)."""
    dept = defs().departments.get(department_id)
    return label(dept.name) if dept else department_id

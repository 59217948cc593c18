"""The calibration board of a cycle (HR: any department or the company; a department head:
their subtree), grade overrides, the sign-off of a whole department, and the payout sheet."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required

from opsperf import worker
from opsperf.errors import (
    Conflict,
    NotFound,
    OpsperfError,
    PermissionDenied,
    TransitionNotAllowed,
    ValidationFailed,
)
from opsperf.persistence.models import Appraisal, Cycle
from opsperf.services import calibration as svc
from opsperf.services import cycles as cycles_svc
from opsperf.services import payout
from opsperf.services.context import compiled_workflow
from opsperf.services.pages import Page
from opsperf.web.helpers import defs, error_text, form_int, int_arg, lang, render, text_arg, user

bp = Blueprint("calibration", __name__)

SORTS = ("score", "-score", "name", "department", "employee_no")
STATUS = {Conflict: 409, PermissionDenied: 403, TransitionNotAllowed: 409, NotFound: 404}


def _scope(cycle: Cycle, source: Any = None) -> svc.Scope:
    department = text_arg("department", 64, source=source)
    if department and department not in cycle.departments:
        department = ""
    return svc.scope_for(defs(), user(), department)


def _board(
    cycle: Cycle,
    scope: svc.Scope,
    status: int = 200,
    comment: str = "",
    typed: dict[str, Any] | None = None,
) -> Any:
    definitions = defs()
    step = svc.step_for(cycle)
    workflow = compiled_workflow(cycle.workflow_snapshot_id) if cycle.workflow_snapshot_id else None
    sort = text_arg("sort", 16)
    grade = text_arg("grade", 16)
    only = cycles_svc.AppraisalFilter(
        departments=scope.departments or (),
        state=step.state if step else "",
        grade=grade,
        search=text_arg("q"),
        sort=sort if sort in SORTS else "score",
    )
    per_page = int_arg("per_page", 50, 10, 200)
    if step is None:  # nothing is calibrated: an empty list, not the whole cycle
        page: Page[Appraisal] = Page.of(1, per_page, 0)
    else:
        page = cycles_svc.appraisals_page(cycle, only, int_arg("page", 1), per_page)
    me = user()
    rows = svc.board_rows(page.items, me)
    html = render(
        "calibration/board.html",
        block="list",
        cycle=cycle,
        step=step,
        workflow=workflow,
        scope=scope,
        choices=_choices(cycle),
        shares=svc.distribution(definitions, cycle, scope),
        nine_box=svc.nine_box(cycle, scope),
        budgets=svc.budgets(cycle, scope),
        summary=svc.summary(cycle, scope),
        page=page,
        only=only,
        grades=cycles_svc.grades(definitions, cycle),
        rows=rows,
        labels=svc.column_labels(cycle, rows),
        as_of=svc.board_token(cycle, scope),
        comment=comment,
        typed=typed or {},
    )
    return html, status


def _choices(cycle: Cycle) -> list[str]:
    """The departments the reader may pick (their own subtree, or every one of the cycle)."""
    me = user()
    if svc.is_company_wide(me):
        return list(cycle.departments)
    own = svc.headed(defs(), me)
    allowed = set(cycles_svc.subtree(defs(), [own])) if own else set()
    return [d for d in cycle.departments if d in allowed]


@bp.get("/cycles/<int:cycle_id>/calibration")
@login_required
def board(cycle_id: int) -> Any:
    cycle = cycles_svc.get(cycle_id)
    return _board(cycle, _scope(cycle))


@bp.post("/cycles/<int:cycle_id>/calibration/sign-off")
@login_required
def sign_off(cycle_id: int) -> Any:
    """Sign off the calibration of the board's scope in one action."""
    cycle = cycles_svc.get(cycle_id)
    scope = _scope(cycle, request.form)
    as_of = request.form.get("as_of", "")[:64]
    comment = request.form.get("comment", "")[:4000]
    try:
        done = svc.sign_off(defs(), cycle, user(), scope, as_of, comment)
    except OpsperfError as exc:
        flash(error_text(exc), "error")
        return _board(cycle, scope, _status(exc), comment=comment)
    message = ngettext(
        "Signed off %(num)s appraisal.", "Signed off %(num)s appraisals.", done.signed
    )
    if done.completed:
        message += " " + ngettext("%(num)s is now final.", "%(num)s are now final.", done.completed)
    if done.skipped:
        message += " " + ngettext(
            "%(num)s awaits someone else.", "%(num)s await someone else.", done.skipped
        )
    flash(message, "success")
    return redirect(url_for(".board", cycle_id=cycle.id, department=scope.root or None))


@bp.post("/cycles/<int:cycle_id>/calibration/override")
@login_required
def override(cycle_id: int) -> Any:
    """Change one grade on the board, with a reason; refused, the board shows why and keeps
    what was typed."""
    cycle = cycles_svc.get(cycle_id)
    scope = _scope(cycle, request.form)
    form = request.form
    appraisal_id = form_int("appraisal")
    grade = text_arg("grade", 16, source=form)
    reason = form.get("reason", "")[:4000]
    try:
        if appraisal_id is None:
            raise ValidationFailed("say which appraisal's grade changes")
        a = svc.override(cycle, appraisal_id, user(), grade, reason, form_int("version"))
    except OpsperfError as exc:
        flash(error_text(exc), "error")
        typed = {"appraisal": appraisal_id, "grade": grade, "reason": reason}
        return _board(cycle, scope, _status(exc), typed=typed)
    flash(_("%(name)s's grade is now %(grade)s.", name=a.employee.name, grade=a.grade), "success")
    return redirect(url_for(".board", cycle_id=cycle.id, department=scope.root or None))


def _status(exc: OpsperfError) -> int:
    return next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 422)


@bp.get("/cycles/<int:cycle_id>/payout.<any(xlsx, csv):kind>")
@login_required
def payout_sheet(cycle_id: int, kind: str) -> Any:
    """The bonus list for payroll: signed-off results of the scope, as values."""
    cycle = cycles_svc.get(cycle_id)
    scope = _scope(cycle)
    if payout.count(cycle, scope) > int(current_app.config["PAYOUT_INLINE_ROWS"]):
        job = payout.create_job(user(), cycle, scope, kind, lang())
        worker.enqueue(job.id)
        return redirect(url_for("jobs.view", job_id=job.id))
    name = payout.filename(cycle, scope, kind)
    if kind == "csv":
        body: Any = payout.csv_text(defs(), cycle, scope, lang())
        mimetype = "text/csv; charset=utf-8"
    else:
        body = payout.xlsx(defs(), cycle, scope, lang())
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = payout.disposition(name)
    response.headers["Cache-Control"] = "private, no-store"
    return response

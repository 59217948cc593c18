"""Review cycles for HR: launch, progress, the appraisals in each state."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required

from opsperf.errors import NotFound, ValidationFailed
from opsperf.services import cycles as svc
from opsperf.services.appraisals import context, is_overdue
from opsperf.web.helpers import defs, error_text, render, roles_required, user

bp = Blueprint("cycles", __name__, url_prefix="/cycles")


@bp.get("/")
@login_required
@roles_required("hr", "admin")
def index() -> Any:
    return render("cycles/index.html", cycles=svc.all_cycles())


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
            launched = svc.launch(
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
        count = len(launched.cycle.appraisals)
        launched_text = ngettext(
            "Cycle launched with %(num)s appraisal.",
            "Cycle launched with %(num)s appraisals.",
            count,
        )
        flash(launched_text, "success")
        for skipped in launched.skipped:
            reason = error_text(skipped)
            left_out = _("%(person)s was left out: %(reason)s", person=skipped.user, reason=reason)
            flash(left_out, "warning")
        return redirect(url_for(".view", cycle_id=launched.cycle.id))
    return render("cycles/new.html", defs=definitions, form=form)


@bp.get("/<int:cycle_id>")
@login_required
@roles_required("hr", "admin")
def view(cycle_id: int) -> Any:
    cycle = svc.get(cycle_id)
    rows = []
    workflow = None
    for appraisal in cycle.appraisals:
        ctx = context(appraisal)
        workflow = ctx.workflow
        rows.append((appraisal, ctx, is_overdue(ctx) and not ctx.final))
    counts = svc.progress(cycle)
    return render("cycles/view.html", cycle=cycle, rows=rows, counts=counts, workflow=workflow)

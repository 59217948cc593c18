"""Administration: people (list and import) and the state of the definitions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required

from opsperf import worker
from opsperf.errors import DefinitionError
from opsperf.services import expression_failures, jobs
from opsperf.services import people as people_svc
from opsperf.web.helpers import (
    defs,
    int_arg,
    registry,
    render,
    roles_required,
    text_arg,
    user,
)

bp = Blueprint("admin", __name__, url_prefix="/admin")
UPLOAD_TYPES = (".csv", ".xlsx", ".xlsm")


@bp.get("/people")
@login_required
@roles_required("hr", "admin")
def people() -> Any:
    definitions = defs()
    department = text_arg("department", 64)
    only = people_svc.PeopleFilter(
        department=department if department in definitions.departments else "",
        search=text_arg("q"),
    )
    page = people_svc.people_page(only, int_arg("page", 1), int_arg("per_page", 50, 10, 200))
    return render(
        "admin/people.html",
        block="people",
        people=page,
        only=only,
        filtered=only != people_svc.PeopleFilter(),
        defs=definitions,
    )


@bp.post("/people")
@login_required
@roles_required("hr", "admin")
def people_import() -> Any:
    """Take the upload and import it in the background; its page shows progress and outcome."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a .csv or .xlsx file to import."), "error")
        return redirect(url_for(".people"))
    if not upload.filename.lower().endswith(UPLOAD_TYPES):
        flash(_("People files are .csv or .xlsx."), "error")
        return redirect(url_for(".people"))
    me = user()
    job = jobs.create(
        people_svc.IMPORT_JOB,
        me,
        params={"filename": upload.filename[-200:], "by_admin": me.has_role("admin")},
        payload=upload.read(),
    )
    worker.enqueue(job.id)
    return redirect(url_for("jobs.view", job_id=job.id))


@bp.post("/people/<int:person_id>/sign-out")
@login_required
@roles_required("admin")
def sign_out(person_id: int) -> Any:
    """End every session and remember-me cookie of a person (a lost phone, a leaver)."""
    person = people_svc.sign_out_everywhere(person_id)
    flash(_("%(name)s is signed out everywhere.", name=person.name), "success")
    return redirect(url_for(".people", q=person.employee_no))


@bp.get("/definitions")
@login_required
@roles_required("hr", "admin")
def definitions() -> Any:
    reg = registry()
    try:
        current = reg.current
    except DefinitionError:
        current = None
    return render(
        "admin/definitions.html", reg=reg, current=current, failures=expression_failures.latest()
    )


@bp.post("/definitions/reload")
@login_required
@roles_required("hr", "admin")
def reload() -> Any:
    result = registry().reload()
    if result.ok:
        count = len(result.definitions)
        message = ngettext(
            "Definitions reloaded: %(num)s definition is live.",
            "Definitions reloaded: %(num)s definitions are live.",
            count,
        )
        flash(message, "success")
    else:
        flash(_("The definitions have errors; the last good set stays live."), "error")
    return redirect(url_for(".definitions"))

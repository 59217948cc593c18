"""Administration: people (list and import) and the state of the definitions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required
from sqlalchemy import select

from opsperf.errors import DefinitionError, ValidationFailed
from opsperf.persistence.models import User, db
from opsperf.services import people as people_svc
from opsperf.web.helpers import defs, error_text, registry, render, roles_required, user

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/people")
@login_required
@roles_required("hr", "admin")
def people() -> Any:
    users = list(db.session.scalars(select(User).order_by(User.department_id, User.employee_no)))
    return render("admin/people.html", users=users, defs=defs(), problems=[])


@bp.post("/people")
@login_required
@roles_required("hr", "admin")
def people_import() -> Any:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a .csv or .xlsx file to import."), "error")
        return redirect(url_for(".people"))
    try:
        rows = people_svc.read_rows(upload.filename, upload.read())
        result = people_svc.import_people(defs(), rows, by_admin=user().has_role("admin"))
    except ValidationFailed as exc:
        flash(error_text(exc), "error")
        return redirect(url_for(".people"))
    if result.problems:
        db.session.rollback()
        users = list(db.session.scalars(select(User).order_by(User.employee_no)))
        flash(_("Nothing was imported: fix these rows and try again."), "error")
        return render("admin/people.html", users=users, defs=defs(), problems=result.problems), 422
    new, updated = result.created, result.updated
    flash(_("Imported: %(new)s new, %(updated)s updated.", new=new, updated=updated), "success")
    if result.passwords_kept:
        kept = _(
            "Passwords of existing people were left unchanged: only an administrator can "
            "reset them."
        )
        flash(kept, "warning")
    return redirect(url_for(".people"))


@bp.get("/definitions")
@login_required
@roles_required("hr", "admin")
def definitions() -> Any:
    reg = registry()
    try:
        current = reg.current
    except DefinitionError:
        current = None
    return render("admin/definitions.html", reg=reg, current=current)


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

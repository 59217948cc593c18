"""Administration: people (list and import) and the state of the definitions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required

from opsperf import worker
from opsperf.engine.forms import plain_text
from opsperf.errors import DefinitionError
from opsperf.services import expression_failures, jobs, passwords
from opsperf.services import people as people_svc
from opsperf.web.helpers import (
    defs,
    int_arg,
    lang,
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
        without_password=people_svc.count_without_password(),
        attributes=people_svc.attributes_for(definitions, user()),
        link_days=int(current_app.config["PASSWORD_LINK_DAYS"]),
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


@bp.route("/people/<int:person_id>/attributes", methods=["GET", "POST"])
@login_required
@roles_required("hr", "admin")
def attributes(person_id: int) -> Any:
    """One person's declared attributes (monthly salary, quota, level), as the import fills
    them; an empty field clears the value."""
    definitions = defs()
    declared = people_svc.attributes_for(definitions, user())
    if request.method == "GET":
        person = people_svc.person(person_id)
        stored = person.attributes or {}
        values = {i: plain_text(stored.get(i)) for i in declared}
        return render("admin/attributes.html", person=person, declared=declared, values=values)
    values = {i: request.form.get(f"attr-{i}", "")[:1000] for i in declared}
    person, problems = people_svc.save_attributes(definitions, user(), person_id, values)
    if problems:
        shown = {i: _(p.template, **p.params) for i, p in problems.items()}
        page = render(
            "admin/attributes.html",
            person=person,
            declared=declared,
            values=values,
            problems=shown,
        )
        return page, 422
    flash(_("%(name)s's attributes are saved.", name=person.name), "success")
    return redirect(url_for(".people", q=person.employee_no))


def _public_url() -> str:
    return str(current_app.config.get("PUBLIC_URL") or request.url_root)


@bp.post("/people/password-links")
@login_required
@roles_required("hr", "admin")
def password_links() -> Any:
    """A sheet of set-password links for everyone active who has no password yet."""
    department = text_arg("department", 64, source=request.form)
    departments = [department] if department in defs().departments else None
    days = int(current_app.config["PASSWORD_LINK_DAYS"])
    job = passwords.create_links_job(user(), _public_url(), lang(), days, departments)
    worker.enqueue(job.id)
    return redirect(url_for("jobs.view", job_id=job.id))


@bp.post("/people/<int:person_id>/password-link")
@login_required
@roles_required("hr", "admin")
def password_link(person_id: int) -> Any:
    """One person's set-password link, shown once to hand over (a new account, or a reset)."""
    person = people_svc.person(person_id)
    passwords.may_link(user(), person)
    link = _public_url().rstrip("/") + url_for(
        "auth.set_password", token=passwords.token(person, str(current_app.secret_key))
    )
    days = int(current_app.config["PASSWORD_LINK_DAYS"])
    return render("admin/password_link.html", person=person, link=link, days=days)


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

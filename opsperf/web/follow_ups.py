"""Follow-up actions: the list (HR: everyone's; others: theirs, their reports', their role's)
and updating one (status and a note)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from opsperf.errors import N_, ValidationFailed
from opsperf.persistence.models import utcnow
from opsperf.services import follow_ups as svc
from opsperf.web.helpers import defs, error_text, int_arg, render, safe_next, text_arg, user

bp = Blueprint("follow_ups", __name__, url_prefix="/follow-ups")
STATUS_NAMES = {
    "open": N_("Open"),
    "done": N_("Done"),
    "cancelled": N_("Cancelled"),
    "all": N_("All"),
}


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    """What the follow-up partial needs wherever it is included."""
    return {
        "may_update": lambda item: svc.may_update(user(), item),
        "status_names": {k: _(v) for k, v in STATUS_NAMES.items()},
        "today": utcnow().date(),
        "follow_up_label": svc.label_of,
    }


def _filter() -> svc.FollowUpFilter:
    status = text_arg("status", 16)
    department = text_arg("department", 64)
    return svc.FollowUpFilter(
        status=status if status in (*svc.STATUSES, "all") else "open",
        department=department if department in defs().departments else "",
        action=text_arg("action", 64),
        search=text_arg("q"),
        mine=text_arg("mine") == "1",
    )


def _list(status: int = 200) -> Any:
    only = _filter()
    page = svc.page(defs(), user(), only, int_arg("page", 1), int_arg("per_page", 50, 10, 200))
    html = render(
        "follow_ups/index.html",
        block="items",
        page=page,
        only=only,
        filtered=only != svc.FollowUpFilter(),
        defs=defs(),
        statuses=svc.STATUSES,
    )
    return html, status


@bp.get("/")
@login_required
def index() -> Any:
    return _list()


@bp.post("/<int:item_id>")
@login_required
def update(item_id: int) -> Any:
    """Change an item's status or add a note; back to the page it was changed from."""
    status = text_arg("status", 16, source=request.form)
    note = request.form.get("note", "")[:4000]
    try:
        item = svc.update(defs(), item_id, user(), status, note)
    except ValidationFailed as exc:  # refusals (403, 404) are answered as everywhere
        flash(error_text(exc), "error")
        return _list(422)
    flash(_("The follow-up is saved."), "success")
    return redirect(safe_next(request.form.get("next"), url_for(".index", status=item.status)))

"""The inbox (everyone's notifications, the header's unread count, the e-mail choice) and the
e-mail outbox for administrators; and what each notification says, in the reader's language."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from opsperf.errors import N_
from opsperf.persistence.models import Notification
from opsperf.services import notifications as svc
from opsperf.web.helpers import fmt_when, int_arg, label, render, roles_required, text_arg, user

bp = Blueprint("inbox", __name__, url_prefix="/inbox")
outbox = Blueprint("outbox", __name__, url_prefix="/admin/emails")

MESSAGES = {
    "entered": N_("%(person)s's appraisal is now at: %(step)s"),
    "step": N_(
        "%(actor)s took the step “%(trigger)s” on %(person)s's appraisal; it is now at: %(step)s"
    ),
    "fired": N_(
        "The deadline passed, so the system took the step “%(trigger)s” on %(person)s's "
        "appraisal; it is now at: %(step)s"
    ),
    "approval_requested": N_(
        "%(actor)s asks you to sign off “%(trigger)s” on %(person)s's appraisal"
    ),
    "declined": N_("%(actor)s declined “%(trigger)s” on %(person)s's appraisal"),
    "comment": N_("%(actor)s commented on %(person)s's appraisal: %(excerpt)s"),
    "mentioned": N_("%(actor)s mentioned you on %(person)s's appraisal: %(excerpt)s"),
    "reminder": N_("Reminder: “%(step)s” of %(person)s's appraisal is due by %(due)s"),
    "overdue": N_("“%(step)s” of %(person)s's appraisal was due by %(due)s and is overdue"),
    "escalated": N_(
        "“%(step)s” of %(person)s's appraisal was due by %(due)s; it is overdue and "
        "escalated to you"
    ),
}
# When the actor is the person appraised: "on their own appraisal", not "李娜 on 李娜's".
OWN = {
    "step": N_(
        "%(actor)s took the step “%(trigger)s” on their own appraisal; it is now at: %(step)s"
    ),
    "approval_requested": N_("%(actor)s asks you to sign off “%(trigger)s” on their appraisal"),
    "comment": N_("%(actor)s commented on their own appraisal: %(excerpt)s"),
    "mentioned": N_("%(actor)s mentioned you on their own appraisal: %(excerpt)s"),
}
CHOICES = {
    "immediate": N_("E-mail me each notification"),
    "digest": N_("E-mail me a daily digest"),
    "inbox": N_("Only here, no e-mail"),
}
EMAIL_STATUSES = {
    "queued": N_("Queued"),
    "sending": N_("Sending"),
    "sent": N_("Sent"),
    "failed": N_("Failed"),
}


def say(n: Notification, language: str | None = None) -> str:
    """The notification's sentence in the reader's language (``language``: someone else's)."""
    params: Mapping[str, Any] = n.params or {}
    values: dict[str, str] = {}
    for key in ("person", "cycle", "step", "trigger", "actor", "excerpt"):
        values[key] = label(params.get(key), "—", language) or "—"
    values["actor"] = values["actor"] if params.get("actor") else _("Someone")
    due = params.get("due")
    values["due"] = fmt_when(dt.datetime.fromisoformat(due)) if isinstance(due, str) else "—"
    template = MESSAGES.get(n.message, MESSAGES.get(n.event, "%(person)s"))
    if params.get("own") and n.message in OWN:
        template = OWN[n.message]
    return str(_(template, **values))


def link(n: Notification, external: bool = False) -> str:
    if n.appraisal_id is None:
        return url_for("inbox.index", _external=external)
    kpi = (n.params or {}).get("kpi")
    if isinstance(kpi, str):  # a KPI row's thread: its page of comments
        url = url_for("comments.panel", appraisal_id=n.appraisal_id, kpi=kpi, _external=external)
    else:
        url = url_for("appraisals.view", appraisal_id=n.appraisal_id, _external=external)
    return f"{url}#{n.anchor}" if n.anchor else url


@bp.app_context_processor
def _header() -> dict[str, Any]:
    def unread() -> int:
        return svc.unread_count(current_user) if current_user.is_authenticated else 0

    return {"inbox_unread": unread, "say_notification": say}


def _page(status: int = 200) -> Any:
    only = svc.InboxFilter(unread=text_arg("unread", 1) == "1")
    me = user()
    page = svc.inbox(me, only, int_arg("page", 1), int_arg("per_page", svc.INBOX_PAGE, 5, 100))
    html = render(
        "inbox/index.html",
        block="items" if request.headers.get("HX-Request") else None,
        page=page,
        only=only,
        say=say,
        link=link,
        choices={k: _(v) for k, v in CHOICES.items()},
        choice=me.email_notifications,
        mail_on=svc.mail_enabled(),
    )
    return html, status


@bp.get("/")
@login_required
def index() -> Any:
    return _page()


@bp.get("/<int:notification_id>")
@login_required
def open_item(notification_id: int) -> Any:
    """Mark it read and go where it points."""
    return redirect(link(svc.mark_read(user(), notification_id)))


@bp.post("/<int:notification_id>/read")
@login_required
def read(notification_id: int) -> Any:
    svc.mark_read(user(), notification_id)
    if request.headers.get("HX-Request"):
        return _page()
    return redirect(url_for("inbox.index"))


@bp.post("/read-all")
@login_required
def read_all() -> Any:
    count = svc.mark_all_read(user())
    flash(_("Marked %(num)s notifications read.", num=count), "success")
    return redirect(url_for("inbox.index"))


@bp.post("/settings")
@login_required
def settings() -> Any:
    choice = text_arg("email", 16, source=request.form)
    svc.set_choice(user(), choice)
    flash(_("Saved: %(choice)s.", choice=_(CHOICES[choice])), "success")
    return redirect(url_for("inbox.index"))


# --------------------------------------------------------------------------- the outbox


@outbox.get("/")
@login_required
@roles_required("admin")
def emails() -> Any:
    status = text_arg("status", 16)
    status = status if status in EMAIL_STATUSES else ""
    page = svc.emails_page(status or None, int_arg("page", 1), int_arg("per_page", 50, 10, 200))
    return render(
        "inbox/emails.html",
        page=page,
        status=status,
        statuses={k: _(v) for k, v in EMAIL_STATUSES.items()},
        mail_on=svc.mail_enabled(),
    )


@outbox.post("/<int:email_id>/retry")
@login_required
@roles_required("admin")
def retry(email_id: int) -> Any:
    svc.retry(email_id)
    flash(_("The e-mail is queued again; the next run of the scheduler sends it."), "success")
    return redirect(url_for("outbox.emails", status="failed"))


def url_for_inbox() -> str:
    return url_for("inbox.index", _external=True)

"""Comments on an appraisal and its KPI rows: the panel, posting, and the @mention box.

The panel is part of the appraisal page (``appraisals/_comments.html``) and a page of its own
(a KPI row's thread, older threads), which HTMX swaps in place. Posting works with HTMX and as
a plain form post; the JSON API is in ``web/api.py``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from markupsafe import Markup, escape

from opsperf.engine.text import COMMENT_LIMIT
from opsperf.errors import NotFound, PermissionDenied, ValidationFailed
from opsperf.persistence.models import User
from opsperf.services import appraisals as svc
from opsperf.services import comments
from opsperf.services.context import Context, context
from opsperf.services.context import get as get_appraisal
from opsperf.web.helpers import error_text, form_int, int_arg, label, render, safe_next, user
from opsperf.web.vocabulary import role_names

bp = Blueprint("comments", __name__, url_prefix="/appraisals")

TEMPLATE = "appraisals/comments.html"


def _context(appraisal_id: int) -> Context:
    ctx = context(get_appraisal(appraisal_id))
    svc.require_view(ctx, user())
    return ctx


def shown(
    ctx: Context,
    me: User,
    kpi: str | None = None,
    before: int | None = None,
    typed: dict[str, Any] | None = None,
    here: str | None = None,
) -> dict[str, Any]:
    """What the comments panel shows ``me``: a page of threads, the KPI rows' names."""
    roles = svc.roles_of(ctx, me)
    rows = comments.kpis_of(ctx, roles)
    page = comments.threads(ctx, me, kpi, before)
    return {
        "a": ctx.appraisal,
        "ctx": ctx,
        "thread_page": page,
        "kpi_names": {ref: label(name) for ref, (name, _table) in rows.items()},
        "private_roles": role_names(sorted(comments.private_roles(ctx))),
        "typed": typed or {},
        "here": here or (request.full_path.rstrip("?") if request.method == "GET" else ""),
        "paged": before is not None,
    }


def _kpi_arg(source: Any) -> str | None:
    return (source.get("kpi") or "")[:130] or None


@bp.get("/<int:appraisal_id>/comments")
@login_required
def panel(appraisal_id: int) -> Any:
    """An appraisal's threads (``?kpi=`` one KPI row's, ``?before=`` older ones): the panel
    for HTMX, else a page of its own."""
    me = user()
    ctx = _context(appraisal_id)
    before = int_arg("before", 0) or None
    return render(TEMPLATE, block="panel", **shown(ctx, me, _kpi_arg(request.args), before))


@bp.post("/<int:appraisal_id>/comments")
@login_required
def create(appraisal_id: int) -> Any:
    """Post a comment or a reply (``parent``); a private note with ``private``."""
    me = user()
    form = request.form
    body = form.get("body", "")[: COMMENT_LIMIT * 2]
    kpi = _kpi_arg(form)
    parent = form_int("parent") if form.get("parent") else None
    if form.get("parent") and parent is None:
        raise NotFound("comment %(id)s does not exist on this appraisal", id=form["parent"][:20])
    private = bool(form.get("private"))
    try:
        posted = comments.post(appraisal_id, me, body, kpi=kpi, parent_id=parent, private=private)
    except (ValidationFailed, PermissionDenied) as exc:
        if getattr(request, "htmx", False):
            raise  # the message goes to the page's messages; what was typed stays in the box
        ctx = _context(appraisal_id)
        flash(error_text(exc), "error")
        typed = {"body": body, "parent": parent, "private": private}
        status = 403 if isinstance(exc, PermissionDenied) else 422
        return render(TEMPLATE, **shown(ctx, me, kpi, typed=typed)), status
    c = posted.comment
    if getattr(request, "htmx", False):
        ctx = _context(appraisal_id)
        said = _("Your reply was posted.") if c.parent_id else _("Your comment was posted.")
        return render(TEMPLATE, block="panel", announce=said, **shown(ctx, me, c.kpi))
    flash(_("Comment posted."), "success")
    back = safe_next(form.get("next"), url_for("appraisals.view", appraisal_id=appraisal_id))
    return redirect(f"{back.split('#', 1)[0]}#comment-{c.id}")


@bp.get("/<int:appraisal_id>/comments/people")
@login_required
def people(appraisal_id: int) -> Any:
    """The people the comment box offers for ``@q``: those who may read the comment."""
    me = user()
    ctx = _context(appraisal_id)
    private = bool(request.args.get("private"))
    parent = int_arg("parent", 0)
    if parent:
        private = comments.visibility_of(ctx, me, parent) == comments.PRIVATE
    q = (request.args.get("q") or "")[:64]
    found = comments.people_to_mention(ctx, me, q, private)
    box = (request.args.get("box") or "")[:40]
    return render("appraisals/_mention_options.html", people=found, box=box, q=q)


@bp.app_template_global()
def comment_body(text: str, names: dict[int, str]) -> Markup:
    """A comment's text, escaped, each mention shown as the person's name."""
    out: list[str] = []
    last = 0
    for m in comments.MENTION.finditer(text):
        out.append(str(escape(text[last : m.start()])))
        name = names.get(int(m.group(2)), m.group(1))
        out.append(f'<span class="mention">@{escape(name)}</span>')
        last = m.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))

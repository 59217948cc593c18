"""The appraisal page: the form, the steps a person may take, the score and the timeline."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from opsperf.engine.forms import FieldError, evaluate
from opsperf.errors import Conflict, PermissionDenied, TransitionNotAllowed, ValidationFailed
from opsperf.persistence.models import User
from opsperf.services import appraisals as svc
from opsperf.services import calibration, checkins, comments, follow_ups, goals, pdca
from opsperf.services import mine as own
from opsperf.services.context import Context, context
from opsperf.services.context import get as get_appraisal
from opsperf.web import appraisal_view
from opsperf.web import comments as comment_view
from opsperf.web.helpers import defs, error_text, form_int, int_arg, lang, render, texts, user
from opsperf.web.widgets import Timeline, Widgets

bp = Blueprint("appraisals", __name__, url_prefix="/appraisals")


def _page(
    ctx: Context,
    me: User,
    *,
    errors: list[FieldError] | None = None,
    raw: dict[str, Any] | None = None,
    evaluation: Any = None,
    live: bool = False,
    status: int = 200,
    checkin: dict[str, Any] | None = None,
) -> Any:
    """The appraisal page; for the live preview (HTMX), only the parts it updates.

    ``checkin``: a check-in that was not recorded, with what was typed and what was wrong.
    """
    rights = svc.rights_of(ctx, me)
    evaluation = evaluation or evaluate(
        ctx.form, goals.values_with_goals(ctx), rights, svc.viewer(ctx, me)
    )
    series = [] if live else checkins.series_of(ctx, me, _unseen(evaluation))
    language = lang()
    actions = svc.actions_for(ctx, me, svc.guard_values(ctx, evaluation))
    # what the steps' guards read and the person fills in now goes next to the buttons
    sections, step_groups = appraisal_view.take_step_fields(
        appraisal_view.build(evaluation, errors or [], raw, language),
        svc.step_fields(ctx, evaluation, actions),
    )
    widgets = Widgets(language, texts(), rights, series)
    widgets.focus_error = bool(errors) and not live  # the page opens at the first correction
    shown = {
        "ctx": ctx,
        "a": ctx.appraisal,
        "sections": sections,
        "step_groups": step_groups,
        "evaluation": evaluation,
        "can_edit": bool(rights),
        "w": widgets,
        "series": series,
        "checkin": checkin or {},
        "today": dt.date.today(),
        "actions": actions,
        "approvals": svc.approval_status(ctx),
        "provisional": calibration.provisional(ctx),
        "result_shown": svc.result_shown(ctx),
        "follow_ups": follow_ups.of_appraisal(defs(), ctx.appraisal.id, me),
        "earlier": (
            follow_ups.open_before(defs(), ctx.appraisal, me)
            if ctx.appraisal.state == ctx.workflow.initial
            else []
        ),
        "board_url": _board_url(ctx, me),
        # the previous appraisal beside a plan being written (PDCA)
        "previous": (
            pdca.previous_of(ctx, me)
            if not live and ctx.appraisal.state == ctx.workflow.initial
            else None
        ),
    }
    if live and getattr(request, "htmx", False):
        return render("appraisals/view.html", block="live", **shown), status
    # the comments panel, and each KPI row's count linking to its thread
    shown["w"].comments = (ctx.appraisal.id, comments.counts(ctx, me))
    panel = comment_view.shown(ctx, me, here=url_for(".view", appraisal_id=ctx.appraisal.id))
    events, more = svc.timeline(ctx.appraisal)
    steps = appraisal_view.workflow_view(ctx)
    html = render(
        "appraisals/view.html",
        **{**panel, **shown},
        **steps,
        history=_timeline(shown["w"], ctx, steps["state_names"], me, evaluation).items(
            events, more
        ),
        due=svc.due_at(ctx),
        overdue=svc.is_overdue(ctx),
    )
    return html, status


def _correct(ctx: Context, said: str, errors: list[FieldError]) -> None:
    """Flashes why a post was refused, naming the values to correct (the marks beside them
    are not seen by everyone: a screen reader, a long page)."""
    if errors:
        names = appraisal_view.error_names(ctx.form, errors)
        fields = _("To correct: %(fields)s.", fields=names)
        said = f"{said} {fields}"
    flash(said, "error")


def _board_url(ctx: Context, me: User) -> str | None:
    """The calibration board of this appraisal's department, for those who may change grades."""
    if not calibration.may_override(ctx, me):
        return None
    return url_for(
        "calibration.board", cycle_id=ctx.appraisal.cycle_id, department=ctx.appraisal.department_id
    )


def _timeline(
    w: Widgets, ctx: Context, state_names: dict[str, str], me: User, evaluation: Any = None
) -> Timeline:
    """The history as ``me`` may read it: without the fields the page does not show them."""
    fields = {f.id: f for f in ctx.form.fields()}
    names = appraisal_view.field_names(ctx.form)
    evaluation = evaluation or evaluate(
        ctx.form, goals.values_with_goals(ctx), viewer=svc.viewer(ctx, me)
    )
    private_ok = comments.reads_private(ctx, me)
    return Timeline(w, ctx, state_names, names, fields, _unseen(evaluation), private_ok)


def _unseen(evaluation: Any) -> frozenset[str]:
    """The fields the page does not show the reader now."""
    return frozenset(
        fid for fid, s in evaluation.fields.items() if s.withheld or not (s.visible or s.editable)
    )


def _context(appraisal_id: int) -> Context:
    ctx = context(get_appraisal(appraisal_id))
    svc.require_view(ctx, user())
    return ctx


@bp.get("/mine")
@login_required
def mine() -> Any:
    """The signed-in person's own appraisals, current and past, newest cycle first."""
    return render("appraisals/mine.html", page=own.of(user(), page=int_arg("page", 1)))


@bp.get("/<int:appraisal_id>")
@login_required
def view(appraisal_id: int) -> Any:
    return _page(_context(appraisal_id), user())


@bp.get("/<int:appraisal_id>/history")
@login_required
def history(appraisal_id: int) -> Any:
    """Older entries of the audit trail, a page at a time (HTMX: just the entries)."""
    ctx = _context(appraisal_id)
    before = int_arg("before", 0) or None
    events, more = svc.timeline(ctx.appraisal, before)
    w = Widgets(lang(), texts(), svc.rights_of(ctx, user()))
    names = appraisal_view.workflow_view(ctx)["state_names"]
    return render(
        "appraisals/history.html",
        block="items",
        a=ctx.appraisal,
        ctx=ctx,
        items=_timeline(w, ctx, names, user()).items(events, more),
    )


@bp.post("/<int:appraisal_id>")
@login_required
def save(appraisal_id: int) -> Any:
    me = user()
    try:
        outcome = svc.save(appraisal_id, me, request.form, form_int("version"))
    except (Conflict, PermissionDenied, ValidationFailed) as exc:
        # Show the page again with what was typed, so nothing is lost.
        ctx = _context(appraisal_id)
        evaluation, typed = svc.preview(ctx, me, request.form)
        flash(error_text(exc), "error")
        status = {Conflict: 409, PermissionDenied: 403}.get(type(exc), 422)
        return _page(ctx, me, raw=typed.raw, evaluation=evaluation, status=status)
    if outcome.errors:
        ctx = _context(appraisal_id)
        _correct(ctx, _("Not saved: please correct the marked values."), outcome.errors)
        return _page(ctx, me, errors=outcome.errors, raw=outcome.raw, status=422)
    flash(_("Saved.") if outcome.changes else _("Nothing changed."), "success")
    return redirect(url_for(".view", appraisal_id=appraisal_id))


@bp.post("/<int:appraisal_id>/preview")
@login_required
def preview(appraisal_id: int) -> Any:
    """Recompute scores, computed values and visibility from unsaved input (HTMX)."""
    me = user()
    ctx = _context(appraisal_id)
    evaluation, outcome = svc.preview(ctx, me, request.form)
    return _page(ctx, me, errors=outcome.errors, raw=outcome.raw, evaluation=evaluation, live=True)


def _chosen_action() -> tuple[str, str, str | None]:
    """Trigger, kind and comment of the step chosen (``action=trigger:kind`` from the page)."""
    chosen = request.form.get("action", "")
    if ":" in chosen:
        trigger, kind = chosen.split(":", 1)
        return trigger, kind, request.form.get(f"comment:{chosen}")
    return (
        request.form.get("trigger", ""),
        request.form.get("kind", "fire"),
        (request.form.get("comment")),
    )


@bp.post("/<int:appraisal_id>/fire")
@login_required
def fire(appraisal_id: int) -> Any:
    """Save what was typed and take the chosen step, in one transaction."""
    me = user()
    trigger, kind, comment = _chosen_action()
    try:
        svc.fire(
            appraisal_id, me, trigger, kind, comment, form_int("version"), formdata=request.form
        )
    except (ValidationFailed, Conflict, TransitionNotAllowed, PermissionDenied) as exc:
        ctx = _context(appraisal_id)
        evaluation, typed = svc.preview(ctx, me, request.form)
        problems = [p for p in getattr(exc, "problems", []) if isinstance(p, FieldError)]
        _correct(ctx, error_text(exc), problems or typed.errors)
        status = {Conflict: 409, TransitionNotAllowed: 403, PermissionDenied: 403}
        return _page(
            ctx,
            me,
            errors=problems or typed.errors,
            raw=typed.raw,
            evaluation=evaluation,
            status=status.get(type(exc), 422),
        )
    flash(_("Done."), "success")
    return redirect(url_for(".view", appraisal_id=appraisal_id))


@bp.post("/<int:appraisal_id>/checkins")
@login_required
def record_checkins(appraisal_id: int) -> Any:
    """Record one period's actuals of the checked-in KPIs (``value:<table.kpi>`` and
    ``note:<table.kpi>``), in one save."""
    me = user()
    refs = [k.removeprefix("value:") for k in request.form if k.startswith("value:")][:100]
    typed = {
        ref[:200]: (
            request.form.get(f"value:{ref}", "")[:100],
            request.form.get(f"note:{ref}", "")[:2000],
        )
        for ref in refs
    }
    period = request.form.get("period", "")[:40]
    shown = {"period": period, "typed": typed}
    try:
        outcome = checkins.record(appraisal_id, me, period, typed, form_int("version"))
    except (Conflict, PermissionDenied, ValidationFailed) as exc:
        flash(error_text(exc), "error")
        status = {Conflict: 409, PermissionDenied: 403}.get(type(exc), 422)
        return _page(_context(appraisal_id), me, status=status, checkin=shown)
    if outcome.errors:
        message = (
            _("Type a value for at least one KPI.")
            if "values" in outcome.errors
            else _("Not recorded: please correct the marked values.")
        )
        flash(message, "error")
        return _page(
            _context(appraisal_id), me, status=422, checkin={**shown, "errors": outcome.errors}
        )
    flash(_("Check-ins recorded.") if outcome.changes else _("Nothing changed."), "success")
    return redirect(url_for(".view", appraisal_id=appraisal_id, _anchor="checkins"))


@bp.post("/<int:appraisal_id>/copy-targets")
@login_required
def copy_targets(appraisal_id: int) -> Any:
    """Take the previous appraisal's targets into this plan (those both forms share)."""
    me = user()
    try:
        outcome = pdca.copy_targets(appraisal_id, me, form_int("version"))
    except (Conflict, PermissionDenied, ValidationFailed) as exc:
        flash(error_text(exc), "error")
        status = {Conflict: 409, PermissionDenied: 403}.get(type(exc), 422)
        return _page(_context(appraisal_id), me, status=status)
    if outcome.errors:
        ctx = _context(appraisal_id)
        _correct(ctx, _("Not saved: please correct the marked values."), outcome.errors)
        return _page(ctx, me, errors=outcome.errors, status=422)
    flash(
        _("Last cycle's targets copied.") if outcome.changes else _("Nothing changed."), "success"
    )
    return redirect(url_for(".view", appraisal_id=appraisal_id))

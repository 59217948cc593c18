"""JSON API mirroring the main actions, with the same permission checks as the pages.

Authenticate with the session cookie or HTTP Basic (employee number or e-mail + password).
Writes must be ``application/json``, which browsers cannot send cross-site without consent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, jsonify, make_response, request
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from opsperf.definitions.schema import KPI_COLUMNS, CheckboxField, KpiTableField, TableField
from opsperf.engine.forms import FieldError, withheld
from opsperf.errors import PermissionDenied, ValidationFailed
from opsperf.persistence.models import ApiToken, User
from opsperf.services import appraisals as svc
from opsperf.services import (
    calibration,
    checkins,
    comments,
    follow_ups,
    logins,
    payout,
    tasks,
    tokens,
)
from opsperf.services import cycles as cycles_svc
from opsperf.services.context import Context, context
from opsperf.services.context import get as get_appraisal
from opsperf.web.errors import respond
from opsperf.web.helpers import defs, error_text, int_arg, login_limits, url_with

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _user() -> User:
    if current_user.is_authenticated:
        return current_user._get_current_object()  # type: ignore[no-any-return]
    auth = request.authorization
    if auth and auth.type == "basic":
        login, limits = (auth.username or "")[:200], login_limits()
        wait = logins.retry_after(login, request.remote_addr, limits)
        if wait:
            refused = make_response(respond(429, _("Too many failed log-ins. Try again later.")))
            refused.headers["Retry-After"] = str(wait)
            abort(refused)
        found = logins.authenticate(login, auth.password or "", request.remote_addr, limits)
        if found is not None:
            return found
    abort(401)


@bp.errorhandler(401)
def _unauthorized(_exc: Exception) -> Any:
    response, status = respond(401, _("Log in, or send HTTP Basic credentials."))
    response.headers["WWW-Authenticate"] = 'Basic realm="opsperf"'
    return response, status


def _json() -> Mapping[str, Any]:
    if not request.is_json:
        raise ValidationFailed("send the body as application/json")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed("the body must be a JSON object")
    return body


def _appraisal_json(ctx: Context, me: User) -> dict[str, Any]:
    a = ctx.appraisal
    due = svc.due_at(ctx)
    roles = svc.roles_of(ctx, me)
    hidden = withheld(ctx.form, roles)
    return {
        "id": a.id,
        "cycle": {"id": a.cycle_id, "name": a.cycle.name},
        "employee": {
            "id": a.employee_id,
            "employee_no": a.employee.employee_no,
            "name": a.employee.name,
        },
        "department": a.department_id,
        "position": a.position_id,
        "form": {"id": ctx.form.id, "version": ctx.form.version},
        "workflow": {"id": ctx.workflow.definition.id, "version": ctx.workflow.definition.version},
        "state": a.state,
        "pending": a.pending_trigger,
        "due": iso(due),
        "version": a.version,
        "values": {k: v for k, v in (a.values or {}).items() if k not in hidden},
        "score": a.score,
        "grade": a.grade,
        "bonus": a.bonus,
        "result": svc.result_for(a.result, roles, defs().attributes()),
        "provisional": calibration.provisional(ctx),
        "override": _override_json(a.override),
        "your_roles": sorted(roles),
        "approvals": [
            {
                "trigger": x.trigger,
                "mode": x.mode,
                "roles": x.roles,
                "votes": [{"name": name, "roles": roles} for name, roles in x.voters],
                "requested_by": x.requested_by,
                "still_needed": x.remaining,
            }
            for x in svc.approval_status(ctx)
        ],
        "actions": [
            {
                "trigger": x.trigger,
                "kind": x.kind,
                "label": x.label.model_dump(),
                "comment": x.comment,
                "enabled": x.enabled,
                "reason": x.reason.model_dump() if x.reason else None,
            }
            for x in svc.actions_for(ctx, me)
        ],
    }


@bp.get("/tasks")
def my_tasks() -> Any:
    """One page of my tasks, most urgent first (``?page=``, ``?per_page=`` up to 200).

    The body is the list; ``X-Total-Count`` (with ``X-Total-Count-Exact``) and a ``Link``
    header (rel next/prev) page on.
    """
    me = _user()
    page = tasks.tasks_for(me, page=int_arg("page", 1), per_page=int_arg("per_page", 50, 1, 200))
    response = jsonify([_task_json(t) for t in page.items])
    # Counting stops at a cap: then the total says "at least" (X-Total-Count-Exact: false).
    response.headers["X-Total-Count"] = str(page.total)
    response.headers["X-Total-Count-Exact"] = "true" if page.exact else "false"
    links = []
    if page.has_next:
        links.append(f'<{url_with(page=page.number + 1)}>; rel="next"')
    if page.number > 1:
        links.append(f'<{url_with(page=page.number - 1)}>; rel="prev"')
    if links:
        response.headers["Link"] = ", ".join(links)
    return response


def iso(when: dt.datetime | None) -> str | None:
    """ISO 8601 with its offset: times are stored in UTC."""
    return when.replace(tzinfo=dt.UTC).isoformat() if when else None


def _task_json(task: tasks.Task) -> dict[str, Any]:
    a = task.appraisal
    return {
        "appraisal": a.id,
        "employee": a.employee.name,
        "state": a.state,
        "can_edit": task.can_edit,
        "actions": [{"trigger": s.trigger, "kind": s.kind} for s in task.actions],
        "due": iso(task.due),
        "overdue": task.overdue,
    }


@bp.get("/appraisals/<int:appraisal_id>")
def read(appraisal_id: int) -> Any:
    me = _user()
    ctx = context(get_appraisal(appraisal_id))
    svc.require_view(ctx, me)
    return jsonify(_appraisal_json(ctx, me))


def _formdata(ctx: Context, values: Mapping[str, Any]) -> MultiDict[str, str]:
    """JSON values → the names a browser would post (``kpis-revenue-actual``)."""
    data: MultiDict[str, str] = MultiDict()
    fields = {f.id: f for f in ctx.form.fields()}
    for key, value in values.items():
        f = fields.get(key)
        if f is None:
            raise ValidationFailed("the form has no field '%(field)s'", field=key)
        if isinstance(f, KpiTableField):
            _kpi_cells(f, value, data)
        elif isinstance(f, TableField):
            _table_cells(f, value, data)
        elif isinstance(f, CheckboxField):
            data.add(key if value else f"{key}__shown", "y")
        elif isinstance(value, list):
            data.add(f"{key}__shown", "1")
            for item in value:
                data.add(key, _cell(item))
        else:
            data.add(key, _cell(value))
    return data


def _version(value: Any) -> int | None:
    """The version the client read: a JSON whole number (``"11"``, ``11.0`` or ``true`` are
    not; None is refused by the service)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _cell(value: Any) -> str:
    if isinstance(value, dict | list):
        raise ValidationFailed("a value must be a number, text, true/false or null")
    return "" if value is None else str(value)


def _kpi_cells(f: KpiTableField, value: Any, data: MultiDict[str, str]) -> None:
    kpis = {k.id for k in f.kpis}
    if not isinstance(value, dict) or not all(isinstance(r, dict) for r in value.values()):
        raise ValidationFailed(
            '\'%(field)s\' takes {kpi: {target, actual, note}}, e.g. {"revenue": {"actual": 130}}',
            field=f.id,
        )
    for kpi_id, row in value.items():
        if kpi_id not in kpis:
            raise ValidationFailed("'%(field)s' has no KPI '%(kpi)s'", field=f.id, kpi=kpi_id)
        for column, cell in row.items():
            if column not in KPI_COLUMNS:
                raise ValidationFailed(
                    "a KPI has target, actual and note, not '%(column)s'", column=column
                )
            data.add(f"{f.id}-{kpi_id}-{column}", _cell(cell))


def _table_cells(f: TableField, value: Any, data: MultiDict[str, str]) -> None:
    columns = {c.id for c in f.columns}
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise ValidationFailed("'%(field)s' takes a list of rows ({column: value})", field=f.id)
    data.add(f"{f.id}__rows", "1")
    for index, row in enumerate(value):
        unknown = sorted(set(row) - columns)
        if unknown:
            raise ValidationFailed(
                "'%(field)s' has no column '%(column)s'", field=f.id, column=unknown[0]
            )
        for column, cell in row.items():
            data.add(f"{f.id}-{index}-{column}", _cell(cell))


@bp.post("/appraisals/<int:appraisal_id>/values")
def save(appraisal_id: int) -> Any:
    me = _user()
    body = _json()
    values = body.get("values")
    if not isinstance(values, dict):
        raise ValidationFailed('send {"values": {...}, "version": N}')
    ctx = context(get_appraisal(appraisal_id))
    svc.require_view(ctx, me)
    version = body.get("version")
    outcome = svc.save(appraisal_id, me, _formdata(ctx, values), _version(version))
    if outcome.errors:
        return jsonify(
            {
                "error": "invalid values",
                "status": 422,
                "problems": [_problem(e) for e in outcome.errors],
            }
        ), 422
    ctx = context(get_appraisal(appraisal_id))
    return jsonify({"saved": list(outcome.changes), "appraisal": _appraisal_json(ctx, me)})


@bp.get("/appraisals/<int:appraisal_id>/report.pdf")
def report_pdf(appraisal_id: int) -> Any:
    """The appraisal as a PDF, as the caller may see it (``web/reports.py``)."""
    from opsperf.services import reports as reports_svc
    from opsperf.web import reports

    return reports.download(reports_svc.report_of(appraisal_id, _user()))


@bp.post("/appraisals/<int:appraisal_id>/checkins")
def record_checkins(appraisal_id: int) -> Any:
    """One period's check-ins, as the appraisal page records them: ``{"period": "2026-10",
    "values": {"kpis.revenue": 42.5 | {"value": 42.5, "note": "…"}}, "version": N}``."""
    me = _user()
    svc.require_view(context(get_appraisal(appraisal_id)), me)
    body = _json()
    period, values = body.get("period"), body.get("values")
    if not isinstance(period, str) or not isinstance(values, dict) or not values:
        raise ValidationFailed(
            'send {"period": "2026-10", "values": {"kpis.revenue": 42.5}, "version": N}'
        )
    typed: dict[str, tuple[str, str]] = {}
    for ref, entry in values.items():
        cell = entry if isinstance(entry, dict) else {"value": entry}
        if set(cell) - {"value", "note"}:
            raise ValidationFailed("a check-in has a value and a note, nothing else")
        value, note = cell.get("value"), cell.get("note")
        if note is not None and not isinstance(note, str):
            raise ValidationFailed("'note' must be text")
        typed[str(ref)] = (_cell(value), note or "")
    outcome = checkins.record(
        appraisal_id, me, period, typed, _version(body.get("version")), ("api", "API")
    )
    if outcome.errors:
        problems = [{"path": path, "code": code} for path, code in outcome.errors.items()]
        return jsonify({"error": "invalid check-ins", "status": 422, "problems": problems}), 422
    ctx = context(get_appraisal(appraisal_id))
    return jsonify({"recorded": list(outcome.changes), "appraisal": _appraisal_json(ctx, me)})


def _comment_json(c: Any, names: Mapping[int, str]) -> dict[str, Any]:
    return {
        "id": c.id,
        "kpi": c.kpi,
        "reply_to": c.parent_id,
        "author": {"id": c.author_id, "name": c.author.name},
        "body": c.body,  # mentions as written: @[name](u:<id>)
        "text": comments.plain(c.body, names),  # mentions as @name
        "visibility": c.visibility,
        "mentions": [{"id": i, "name": names.get(i)} for i in c.mentions or []],
        "to": c.addressed_to,
        "step": c.trigger,
        "at": iso(c.created_at),
    }


@bp.get("/appraisals/<int:appraisal_id>/comments")
def comment_threads(appraisal_id: int) -> Any:
    """A page of the appraisal's threads the caller may read, newest first, each with its
    replies (``?kpi=table.kpi`` one KPI row's; ``?before=<id>`` older ones)."""
    me = _user()
    ctx = context(get_appraisal(appraisal_id))
    svc.require_view(ctx, me)
    kpi = (request.args.get("kpi") or "")[:130] or None
    page = comments.threads(ctx, me, kpi, int_arg("before", 0) or None)
    return jsonify(
        {
            "kpi": page.kpi,
            "threads": [
                {
                    **_comment_json(t.comment, page.names),
                    "replies": [_comment_json(r, page.names) for r in t.replies],
                }
                for t in page.threads
            ],
            "older": page.older,
        }
    )


@bp.post("/appraisals/<int:appraisal_id>/comments")
def post_comment(appraisal_id: int) -> Any:
    """Post a comment: ``{"body": "…", "kpi": "kpis.revenue", "reply_to": 12, "private":
    false}`` (all but ``body`` optional); mention people as ``@[name](u:<id>)``."""
    me = _user()
    body = _json()
    reply_to = body.get("reply_to")
    if reply_to is not None and (not isinstance(reply_to, int) or isinstance(reply_to, bool)):
        raise ValidationFailed("'reply_to' must be the id of a comment (a whole number)")
    private = body.get("private", False)
    if not isinstance(private, bool):
        raise ValidationFailed("'private' must be true or false")
    posted = comments.post(
        appraisal_id,
        me,
        _text_of(body, "body"),
        kpi=_text_of(body, "kpi")[:130] or None,
        parent_id=reply_to,
        private=private,
    )
    names = {u.id: u.name for u in posted.mentioned}
    names.update(comments.names_of([posted.comment]))
    return jsonify(_comment_json(posted.comment, names)), 201


def _problem(error: FieldError) -> dict[str, Any]:
    return {
        "path": error.path,
        "code": error.code,
        "params": dict(error.params),
        "message": error.text.model_dump() if error.text else None,
    }


@bp.post("/appraisals/<int:appraisal_id>/transitions")
def fire(appraisal_id: int) -> Any:
    me = _user()
    body = _json()
    trigger = body.get("trigger")
    if not isinstance(trigger, str):
        raise ValidationFailed('send {"trigger": ..., "kind": ..., "version": N}')
    version = body.get("version")
    comment = body.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise ValidationFailed("'comment' must be text")
    try:
        svc.fire(
            appraisal_id,
            me,
            trigger,
            str(body.get("kind", "fire")),
            comment,
            _version(version),
        )
    except ValidationFailed as exc:
        problems = [_problem(p) for p in exc.problems if isinstance(p, FieldError)]
        return jsonify({"error": error_text(exc), "status": 422, "problems": problems}), 422
    ctx = context(get_appraisal(appraisal_id))
    return jsonify(_appraisal_json(ctx, me))


def _override_json(override: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not override:
        return None
    keys = ("grade", "original", "by_name", "at", "reason")
    return {("by" if k == "by_name" else k): override.get(k) for k in keys}


def _text_of(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationFailed("'%(key)s' must be text", key=key)
    return value


@bp.post("/appraisals/<int:appraisal_id>/override")
def override(appraisal_id: int) -> Any:
    """Change a grade at calibration: {"grade": "A", "reason": "...", "version": N}."""
    me = _user()
    body = _json()
    calibration.override(
        None,
        appraisal_id,
        me,
        _text_of(body, "grade")[:16],
        _text_of(body, "reason"),
        _version(body.get("version")),
    )
    return jsonify(_appraisal_json(context(get_appraisal(appraisal_id)), me))


def _scope(cycle_id: int, department: str) -> tuple[Any, calibration.Scope]:
    cycle = cycles_svc.get(cycle_id)
    if department not in cycle.departments:
        department = ""
    return cycle, calibration.scope_for(defs(), _user(), department)


@bp.get("/cycles/<int:cycle_id>/calibration")
def calibration_board(cycle_id: int) -> Any:
    """The board's numbers: grade counts per policy, quota issues, the 9-box, the summary,
    and ``as_of`` to sign off with."""
    cycle, scope = _scope(cycle_id, (request.args.get("department") or "")[:64])
    shares = calibration.distribution(defs(), cycle, scope)
    box = calibration.nine_box(cycle, scope)
    return jsonify(
        {
            "cycle": {"id": cycle.id, "name": cycle.name},
            "department": scope.root,
            "as_of": calibration.board_token(cycle, scope),
            "summary": calibration.summary(cycle, scope),
            "not_yet_in_calibration": shares.waiting,
            "distribution": [
                {"policy": policy.id, "counts": dict(counts)} for policy, counts in shares.policies
            ],
            "quota_issues": [
                {
                    "department": group.department,
                    "policy": group.policy.id,
                    "grade": issue.grade,
                    "kind": issue.kind,
                    "count": issue.count,
                    "population": issue.population,
                    "share_percent": issue.share_percent,
                    "limit_percent": issue.limit_percent,
                    "hard": issue.hard,
                    "message": issue.message,
                }
                for group, issue in shares.issues
            ],
            "nine_box": box.cells if box else None,
        }
    )


@bp.post("/cycles/<int:cycle_id>/calibration/sign-off")
def calibration_sign_off(cycle_id: int) -> Any:
    """Sign off the scope's calibration: {"department": "...", "as_of": N, "comment": "..."}."""
    body = _json()
    cycle, scope = _scope(cycle_id, _text_of(body, "department")[:64])
    done = calibration.sign_off(
        defs(), cycle, _user(), scope, _text_of(body, "as_of")[:64], _text_of(body, "comment")
    )
    return jsonify(
        {
            "signed": done.signed,
            "completed": done.completed,
            "skipped": done.skipped,
            "departments": done.departments,
        }
    )


@bp.get("/cycles/<int:cycle_id>/payout")
def payout_rows(cycle_id: int) -> Any:
    """The payout sheet's rows as JSON, a page at a time (?department=, ?page=, ?per_page=);
    amounts as decimal strings, rounded as the policy says."""
    cycle, scope = _scope(cycle_id, (request.args.get("department") or "")[:64])
    number, per_page = int_arg("page", 1), int_arg("per_page", 100, 10, 500)
    found = payout.rows(defs(), cycle, scope, "en", (number - 1) * per_page, per_page + 1)
    items = [
        {
            k: (str(v) if isinstance(v, Decimal) else v)
            for k, v in zip(payout.KEYS, row, strict=True)
        }
        for row in found
    ]
    return jsonify({"items": items[:per_page], "page": number, "more": len(items) > per_page})


@bp.get("/follow-ups")
def follow_up_list() -> Any:
    """The follow-ups the caller may see (?status=open|done|cancelled|all, ?page=)."""
    status = (request.args.get("status") or "open")[:16]
    only = follow_ups.FollowUpFilter(
        status=status if status in (*follow_ups.STATUSES, "all") else "open"
    )
    page = follow_ups.page(
        defs(), _user(), only, int_arg("page", 1), int_arg("per_page", 50, 10, 200)
    )
    return jsonify(
        {
            "items": [follow_ups.as_json(item) for item in page.items],
            "page": page.number,
            "pages": page.pages,
            "total": page.total,
        }
    )


@bp.post("/follow-ups/<int:item_id>")
def follow_up_update(item_id: int) -> Any:
    """Update a follow-up: {"status": "done", "note": "..."}."""
    me = _user()
    body = _json()
    item = follow_ups.update(
        defs(), item_id, me, _text_of(body, "status")[:16], _text_of(body, "note")
    )
    return jsonify(follow_ups.as_json(item))


@bp.errorhandler(PermissionDenied)
def _denied(exc: PermissionDenied) -> Any:
    return respond(403, error_text(exc))


# --------------------------------------------------------------------------- integration


def _token(scope: str) -> ApiToken:
    """The API token the request is signed with (``Authorization: Bearer opk_…``), which
    must carry ``scope``."""
    auth = request.headers.get("Authorization", "")
    kind, _sep, secret = auth.partition(" ")
    token = tokens.authenticate(secret.strip()) if kind.lower() == "bearer" else None
    if token is None:
        response, status = respond(401, _("Send a valid API token: Authorization: Bearer …"))
        response.headers["WWW-Authenticate"] = 'Bearer realm="opsperf"'
        abort(make_response(response, status))
    if scope not in token.scopes:
        raise PermissionDenied("this API token lacks the scope %(scope)s", scope=scope)
    return token


@bp.post("/actuals")
def push_actuals() -> Any:
    """A batch of KPI actuals from a business system, all or nothing, idempotent by ``key``:
    ``{"cycle": 12, "key": "crm-2026-11-03", "rows": [{"employee_no", "kpi", "period",
    "value", "note"}]}``."""
    token = _token("actuals:write")
    body = _json()
    pushed = checkins.push_batch(
        defs(), token, body.get("cycle"), body.get("key"), body.get("rows")
    )
    plan = pushed.plan
    return jsonify(
        {
            "rows": plan.rows,
            "new": plan.new,
            "changed": plan.changed,
            "unchanged": plan.unchanged,
            "written": plan.written,
            "replayed": pushed.replayed,
        }
    )


@bp.get("/cycles/<int:cycle_id>/checkins")
def cycle_checkins(cycle_id: int) -> Any:
    """A cycle's check-ins, ``per_page`` (up to 500) at a time after the cursor ``after``
    (``?employee_no=`` for one person), for a system that reconciles what it sent; the
    ``Link`` header (rel next) pages on."""
    _token("actuals:read")
    items, cursor = checkins.cycle_page(
        cycle_id,
        employee_no=(request.args.get("employee_no") or "")[:64],
        after=int_arg("after", 0, 0),
        per_page=int_arg("per_page", 100, 1, 500),
    )
    response = jsonify([{**item, "recorded_at": iso(item["recorded_at"])} for item in items])
    if cursor is not None:
        response.headers["Link"] = f'<{url_with(after=cursor)}>; rel="next"'
    return response

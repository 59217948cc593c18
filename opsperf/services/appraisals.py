"""Appraisals: who may do what, saving form values, firing transitions, approvals, scores."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from opsperf.definitions import statetree
from opsperf.definitions.schema import (
    ACTION_DEFAULTS,
    DEFAULT_ACTION_DAYS,
    DEFAULT_ACTION_OWNER,
    DEPARTMENT,
    GLOBAL_ROLES,
    IncentivePolicy,
    KpiTableField,
    TableField,
    Text,
    TransitionDef,
)
from opsperf.engine.forms import (
    NOTHING,
    Editable,
    Evaluation,
    FieldError,
    FormData,
    Viewer,
    check_complete,
    evaluate,
    parse_post,
    withheld,
)
from opsperf.engine.scoring import GradeResult, bonus_for, grade_for, grade_result
from opsperf.engine.text import COMMENT_LIMIT, untypable
from opsperf.errors import (
    Conflict,
    ExpressionError,
    OpsperfError,
    PermissionDenied,
    TransitionNotAllowed,
    ValidationFailed,
)
from opsperf.persistence import cache
from opsperf.persistence.models import Appraisal, Event, User, Vote, db, utcnow
from opsperf.services import budget, follow_ups, goals, notifications, snapshots, steps
from opsperf.services.context import (
    Context,
    compute_due,
    context,
    get,
    is_dept_head,
    state_chain,
)

# --------------------------------------------------------------------------- roles and rights


def roles_of(ctx: Context, user: User) -> set[str]:
    """The roles ``user`` holds for this appraisal: relative, global, and the custom ones that
    count here (their scope, see ``definitions.org``, pinned at launch)."""
    a = ctx.appraisal
    custom = ctx.custom_roles
    roles = {r for r in (user.roles or []) if r in GLOBAL_ROLES or r in custom}
    if a.employee_id == user.id:
        roles -= set(ctx.workflow.definition.not_self)
        roles.add("employee")
    if a.manager_id == user.id:
        roles.add("manager")
    if a.position_id == ctx.department.head:
        # A department head's own appraisal is signed off one level up: by their manager.
        if a.manager_id == user.id:
            roles.add("dept_head")
    elif is_dept_head(user, a.department_id, ctx.department.head):
        roles.add("dept_head")
    return roles


def can_view(ctx: Context, user: User) -> bool:
    """Employees see their own; managers and heads their people; HR and admins everything;
    a custom role, the appraisals whose workflow gives it something to do."""
    roles = roles_of(ctx, user)
    return bool(roles & {"employee", "manager", "dept_head", *GLOBAL_ROLES, *ctx.workflow.roles})


def require_view(ctx: Context, user: User) -> None:
    if not can_view(ctx, user):
        raise PermissionDenied("you may not open this appraisal")


def editable(ctx: Context, roles: Iterable[str]) -> Editable:
    """What these roles may edit now (nothing while a request awaits approval)."""
    if ctx.final or ctx.appraisal.pending_trigger:
        return NOTHING
    held = set(roles)
    refs = [
        ref
        for state in state_chain(ctx)
        for role, role_refs in state.edit.items()
        if role in held
        for ref in role_refs
    ]
    return Editable.from_refs(ctx.form, refs).without(withheld(ctx.form, held))


def rights_of(ctx: Context, user: User) -> Editable:
    """What ``user`` may edit now, with the rows they added under ``table.own``."""
    return replace(editable(ctx, roles_of(ctx, user)), owner=user.id)


def viewer(ctx: Context, user: User) -> Viewer:
    """``user`` looking at this appraisal now: its state and their roles on it."""
    return Viewer(ctx.appraisal.state, frozenset(roles_of(ctx, user)))


# --------------------------------------------------------------------------- deadlines


def due_at(ctx: Context) -> dt.datetime | None:
    """When the current step is due (set on entering the state; none once final)."""
    return None if ctx.final else ctx.appraisal.due_at


def is_overdue(ctx: Context, now: dt.datetime | None = None) -> bool:
    due = due_at(ctx)
    return due is not None and (now or utcnow()) > due


# --------------------------------------------------------------------------- results


def result_shown(ctx: Context) -> bool:
    """Whether the appraisal's readers see its stored score and grade: once it has been
    computed (before calibration is signed off it is marked provisional). The appraisal page
    and the person's list of their own appraisals both follow this."""
    return ctx.appraisal.result is not None


# --------------------------------------------------------------------------- actions


@dataclass
class Action:
    """Something a person can do now: fire, request approval for, approve or decline a step."""

    trigger: str
    kind: str  # fire | request | approve | decline
    label: Text
    comment: str
    enabled: bool = True
    reason: Text | None = None
    help: Text | None = None


@dataclass
class ApprovalStatus:
    trigger: str
    mode: str
    needed: str
    voters: list[tuple[str, list[str]]] = field(default_factory=list)
    requested_by: str | None = None
    roles: list[str] = field(default_factory=list)  # who may sign
    remaining: int = 0  # sign-offs still needed (quorum: votes; all: roles not yet covered)


def _label(t: TransitionDef) -> Text:
    return t.label or Text(zh=t.trigger, en=t.trigger)


def votes(ctx: Context, trigger: str) -> list[Vote]:
    a = ctx.appraisal
    return list(
        db.session.scalars(
            select(Vote)
            .filter_by(appraisal_id=a.id, entry_seq=a.entry_seq, trigger=trigger)
            .order_by(Vote.id)
        )
    )


def _may_vote(ctx: Context, t: TransitionDef, user: User, roles: set[str]) -> bool:
    assert t.approval is not None
    a = ctx.appraisal
    if not roles & set(t.approval.roles):
        return False
    if not t.allow_self_approval and user.id in (a.employee_id, a.pending_by_id):
        return False
    return all(v.user_id != user.id for v in votes(ctx, t.trigger))


def approval_satisfied(t: TransitionDef, votes: list[Vote]) -> bool:
    """Whether the votes meet the approval mode; under ``all`` each role needs its own person."""
    assert t.approval is not None
    wanted = t.approval.roles
    if t.approval.mode == "any":
        return bool(votes)
    if t.approval.mode == "quorum":
        return len({v.user_id for v in votes}) >= (t.approval.quorum or 1)
    return _cover(list(wanted), [set(v.roles) for v in votes])


def _cover(roles: list[str], voters: list[set[str]]) -> bool:
    if not roles:
        return True
    role, rest = roles[0], roles[1:]
    return any(
        role in held and _cover(rest, voters[:i] + voters[i + 1 :]) for i, held in enumerate(voters)
    )


def guard_values(ctx: Context, evaluation: Evaluation | None = None) -> dict[str, Any]:
    """What a transition guard reads: the form's values, the total score, and time — whether
    the current step is ``overdue`` and its ``days_left`` (None without a deadline)."""
    ev = evaluation or evaluate(ctx.form, goals.values_with_goals(ctx))
    due, now = due_at(ctx), utcnow()
    days_left = None if due is None else math.floor((due - now).total_seconds() / 86_400)
    return {
        **ev.context,
        "score": ev.score.total,
        "overdue": due is not None and now > due,
        "days_left": days_left,
    }


def actions_for(ctx: Context, user: User, values: dict[str, Any] | None = None) -> list[Action]:
    """Exactly the steps ``user`` may take now (guards read ``values``, default: stored)."""
    if ctx.final:
        return []
    roles = roles_of(ctx, user)
    a = ctx.appraisal
    if a.pending_trigger:
        t = ctx.workflow.transition(a.state, a.pending_trigger)
        if not _may_vote(ctx, t, user, roles):
            return []
        return [
            Action(t.trigger, "approve", _label(t), "optional", help=t.help),
            Action(t.trigger, "decline", _label(t), "required"),
        ]
    actions = []
    for t in ctx.workflow.transitions_from(a.state):
        kind = _kind_for(ctx, t, user, roles)
        if kind is None:
            continue
        action = Action(t.trigger, kind, _label(t), t.comment, help=t.help)
        if kind == "approve":  # a direct sign-off (nobody requests it) may be declined too
            actions.append(Action(t.trigger, "decline", _label(t), "required"))
        if t.guard is not None and values is None:
            values = guard_values(ctx)  # only when a guard is to be read: it scores the form
        if values is not None and not ctx.workflow.guard_passes(t, values):
            action.enabled = False
            action.reason = t.guard_message or Text(zh=str(t.guard), en=str(t.guard))
        actions.append(action)
    return actions


@dataclass
class StepFields:
    """What the step card asks for beside the buttons: the fields the guards of the steps a
    person may take read and that they fill in now (``asked``), and, before them, what others
    filled in the sections those fields belong to (``shown``, read-only)."""

    asked: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)

    def __contains__(self, field_id: object) -> bool:
        return field_id in self.asked or field_id in self.shown


def step_fields(ctx: Context, evaluation: Evaluation, actions: Iterable[Action]) -> StepFields:
    """The fields to put in the step card for the person ``evaluation`` was made for.

    A guard such as ``acknowledged and agreement != 'disagree'`` reads values; those the person
    may edit now are asked for next to the button they unlock, once. Tables are left in the
    form (they need its width). The other fields of their sections that the person sees and
    may not change (the manager's side of a feedback talk) are shown above them."""
    own = {a.trigger for a in actions if a.kind in ("fire", "request")}
    read: set[str] = set()
    for t in ctx.workflow.transitions_from(ctx.appraisal.state):
        if t.trigger in own and t.guard is not None:
            read.update(chain[0] for chain in t.guard.names())
    out = StepFields()
    if not read:
        return out
    states = evaluation.fields
    for section in ctx.form.sections:
        if not evaluation.sections[section.id]:
            continue
        asked = [
            f.id
            for f in section.fields
            if f.id in read
            and not isinstance(f, KpiTableField | TableField)
            and states[f.id].editable
        ]
        if not asked:
            continue
        out.asked.extend(asked)
        out.shown.extend(
            f.id
            for f in section.fields
            if f.id not in asked
            and not isinstance(f, KpiTableField | TableField)
            and not states[f.id].editable
            and states[f.id].visible
            and not states[f.id].withheld
        )
    return out


def _why_not(ctx: Context, user: User, trigger: str, kind: str) -> TransitionNotAllowed:
    """Why ``user`` may not take ``trigger`` as ``kind`` now, in words that say what to do."""
    a = ctx.appraisal
    if a.pending_trigger and a.pending_trigger != trigger:
        return TransitionNotAllowed(
            "'%(pending)s' awaits approval: nothing else can happen until it is approved or "
            "declined",
            pending=a.pending_trigger,
        )
    t = next((x for x in ctx.workflow.transitions_from(a.state) if x.trigger == trigger), None)
    if t is None:
        return TransitionNotAllowed(
            "'%(trigger)s' is not a step from %(state)s", trigger=trigger, state=a.state
        )
    offered = {x.kind for x in actions_for(ctx, user) if x.trigger == trigger}
    if offered:
        return TransitionNotAllowed(
            "'%(trigger)s' is not taken as '%(kind)s' here: you may %(offered)s it",
            trigger=trigger,
            kind=kind,
            offered=" or ".join(sorted(offered)),
        )
    roles = roles_of(ctx, user)
    if t.approval is not None and (a.pending_trigger == trigger or not t.roles):  # votes now
        if roles & set(t.approval.roles):
            if not t.allow_self_approval and user.id == a.employee_id:
                return TransitionNotAllowed("you cannot approve a step of your own appraisal")
            if not t.allow_self_approval and user.id == a.pending_by_id:
                return TransitionNotAllowed(
                    "you requested '%(trigger)s': someone else must approve it", trigger=trigger
                )
            return TransitionNotAllowed("you have already approved '%(trigger)s'", trigger=trigger)
        return TransitionNotAllowed(
            "'%(trigger)s' awaits approval by %(roles)s",
            trigger=trigger,
            roles=", ".join(t.approval.roles),
        )
    if t.approval is not None and kind in ("fire", "approve"):
        return TransitionNotAllowed(
            "'%(trigger)s' is requested by %(requesters)s, then approved by %(approvers)s",
            trigger=trigger,
            requesters=", ".join(t.roles),
            approvers=", ".join(t.approval.roles),
        )
    return TransitionNotAllowed(
        "'%(trigger)s' is not yours to take at this step (%(state)s): it is for %(roles)s",
        trigger=trigger,
        state=a.state,
        roles=", ".join(t.roles),
    )


def _kind_for(ctx: Context, t: TransitionDef, user: User, roles: set[str]) -> str | None:
    if t.approval is None:
        return "fire" if roles & set(t.roles) else None
    if t.roles:
        return "request" if roles & set(t.roles) else None
    return "approve" if _may_vote(ctx, t, user, roles) else None


def approval_status(ctx: Context) -> list[ApprovalStatus]:
    """Sign-offs under way in the current state, for the appraisal page."""
    a = ctx.appraisal
    out = []
    for t in ctx.workflow.transitions_from(a.state):
        if t.approval is None:
            continue
        cast = votes(ctx, t.trigger)
        if not cast and a.pending_trigger != t.trigger:
            continue
        needed = (
            f"quorum {t.approval.quorum}"
            if t.approval.mode == "quorum"
            else f"{t.approval.mode}: {', '.join(t.approval.roles)}"
        )
        requester = db.session.get(User, a.pending_by_id) if a.pending_by_id else None
        covered = {role for v in cast for role in v.roles}
        remaining = {
            "quorum": max(0, (t.approval.quorum or 0) - len(cast)),
            "all": len(set(t.approval.roles) - covered),
        }.get(t.approval.mode, 0 if cast else 1)
        out.append(
            ApprovalStatus(
                t.trigger,
                t.approval.mode,
                needed,
                [(v.user.name, list(v.roles)) for v in cast],
                requester.name if requester and a.pending_trigger == t.trigger else None,
                list(t.approval.roles),
                remaining,
            )
        )
    return out


# --------------------------------------------------------------------------- use cases


def check_version(appraisal: Appraisal, expected: int | None) -> None:
    """Every write names the version it was made on (None: it did not, or not as a whole
    number): the stale-page check is never skipped."""
    if expected is None:
        raise ValidationFailed(
            "the version of the appraisal this was made on is missing or not a whole number; "
            "reload the page — nothing was changed"
        )
    if appraisal.version != expected:
        raise Conflict(
            "this appraisal changed since you opened it (someone else acted or saved); "
            "reload the page to see the current state — nothing was changed"
        )


@contextmanager
def one_writer() -> Iterator[None]:
    """All or nothing: any refusal rolls back; a lost race becomes a clean Conflict."""
    try:
        yield
    except OpsperfError:
        db.session.rollback()
        raise
    except (StaleDataError, IntegrityError) as exc:
        db.session.rollback()
        raise Conflict(
            "someone else changed this appraisal at the same moment; reload — nothing was changed"
        ) from exc


def _commit() -> None:
    with one_writer():
        db.session.commit()


@dataclass
class SaveOutcome:
    changes: dict[str, list[Any]]
    errors: list[FieldError]
    raw: dict[str, Any]


def save(
    appraisal_id: int, user: User, formdata: FormData, expected_version: int | None
) -> SaveOutcome:
    """Store the values ``user`` may edit now; refuse the whole post on any problem."""
    with one_writer():
        a = get(appraisal_id)
        ctx = context(a)
        require_view(ctx, user)
        check_version(a, expected_version)
        if not editable(ctx, roles_of(ctx, user)):
            raise PermissionDenied("you cannot edit anything in this appraisal at this step")
        outcome = _apply_values(ctx, user, formdata)
        if outcome.errors:
            db.session.rollback()
        elif outcome.changes:
            _commit()
        return outcome


def _apply_values(ctx: Context, user: User, formdata: FormData) -> SaveOutcome:
    """Apply the editable part of a post to the appraisal (not committed)."""
    a = ctx.appraisal
    rights = rights_of(ctx, user)
    result = parse_post(ctx.form, formdata, a.values or {}, rights)
    if result.refused:
        db.session.rollback()
        raise PermissionDenied(
            "you may not change these fields at this step: %(fields)s",
            fields=", ".join(sorted(result.refused)),
        )
    if not result.errors and result.changes:
        a.values = result.values
        db.session.add(event(a, user, "save", changes=result.changes))
    return SaveOutcome(result.changes, result.errors, result.raw)


def event(a: Appraisal, user: User | None, kind: str, **fields: Any) -> Event:
    return Event(
        appraisal_id=a.id,
        cycle_id=a.cycle_id,
        actor_id=user.id if user else None,
        kind=kind,
        **fields,
    )


def fire(
    appraisal_id: int,
    user: User,
    trigger: str,
    kind: str,
    comment: str | None,
    expected_version: int | None,
    formdata: FormData | None = None,
) -> Appraisal:
    """Fire, request, approve or decline ``trigger`` for ``user``; all or nothing.

    When ``formdata`` is given, the values it carries are saved first, in the same
    transaction, so that one click both stores what was typed and takes the step.
    """
    with one_writer():
        a = get(appraisal_id)
        ctx = context(a)
        require_view(ctx, user)
        check_version(a, expected_version)
        if formdata is not None and editable(ctx, roles_of(ctx, user)):
            outcome = _apply_values(ctx, user, formdata)
            if outcome.errors:
                db.session.rollback()
                raise ValidationFailed("please correct the marked values", list(outcome.errors))
        action = next(
            (x for x in actions_for(ctx, user) if (x.trigger, x.kind) == (trigger, kind)), None
        )
        if action is None:
            raise _why_not(ctx, user, trigger, kind)
        if not action.enabled:
            raise TransitionNotAllowed(
                "'%(trigger)s' is not possible yet: %(reason)s",
                trigger=trigger,
                reason=action.reason,
            )
        comment = (comment or "").strip() or None
        if action.comment == "required" and not comment:
            raise ValidationFailed("a comment is required for this step")
        if comment and untypable(comment):
            raise ValidationFailed(
                "the comment holds control characters or broken symbols; remove them"
            )
        if comment and len(comment) > COMMENT_LIMIT:
            raise ValidationFailed(
                "a comment may be at most %(max)s characters long", max=COMMENT_LIMIT
            )
        t = ctx.workflow.transition(a.state, trigger)
        if kind in ("fire", "request") and t.require_complete:
            _require_complete(ctx, user)
        handlers = {"fire": _move, "request": _request, "approve": _approve, "decline": _decline}
        source, requester, entry = a.state, a.pending_by_id, a.entry_seq
        with db.session.no_autoflush:  # one UPDATE of the appraisal: one new version per step
            handlers[kind](ctx, t, user, comment)
            steps.refresh(ctx)
        from opsperf.services import comments  # (it builds on this module)

        opened = None
        if t.opens_thread and comment and kind in ("fire", "request"):
            # the step's comment opens a thread addressed to those roles (an appeal: HR)
            opened = comments.open_thread(ctx, user, comment, t.trigger, t.opens_thread)
        _tell(ctx, t, user, kind, source, requester, moved=a.entry_seq != entry)
        _commit()
        if opened is not None:
            comments.announce(opened)
        return a


def _tell(
    ctx: Context,
    t: TransitionDef,
    user: User | None,
    kind: str,
    source: str,
    requester: int | None,
    *,
    moved: bool,
) -> None:
    """Notify whom the workflow says of the step just taken (services.notifications)."""
    if kind == "request":
        requested = user.id if user else None
        notifications.tell(ctx, "approval_requested", user, trigger=t.trigger, requester=requested)
    elif kind == "decline":
        notifications.tell(
            ctx, "declined", user, trigger=t.trigger, state=source, requester=requester
        )
    elif moved:  # a vote that completed the sign-off, or a step taken
        notifications.after_step(ctx, t, user, source)


def fire_by_rule(ctx: Context, trigger: str, rule: str) -> None:
    """Take ``trigger`` as the system, because the workflow's ``rule`` says so (an overdue
    step fired by ``opsperf tick``): the guard must hold; audited with the rule, no actor."""
    a = ctx.appraisal
    if not any(t.trigger == trigger for t in ctx.workflow.transitions_from(a.state)):
        raise TransitionNotAllowed("'%(trigger)s' is not possible in this step", trigger=trigger)
    t = ctx.workflow.transition(a.state, trigger)
    source = a.state
    with db.session.no_autoflush:
        _move(ctx, t, None, None, rule=rule)
        steps.refresh(ctx)
    _tell(ctx, t, None, "fire", source, None, moved=True)


def approve_many(
    appraisal_ids: Sequence[int],
    user: User,
    trigger: str,
    comment: str | None,
    versions: Mapping[int, int] | None = None,
) -> tuple[int, int, int]:
    """Approve ``trigger`` on each appraisal that is ``user``'s to approve now, in one
    transaction (a refusal or a lost race rolls all of them back). ``versions``: the version
    each must still be at (what the approver was shown). Returns the votes cast, the
    appraisals that moved on, and those skipped (not theirs to approve, or approved already)."""
    signed = moved = skipped = 0
    cache.forget()
    with one_writer():
        for appraisal_id in appraisal_ids:
            a = get(appraisal_id)
            if versions is not None and versions.get(a.id) != a.version:
                raise Conflict(
                    "%(name)s's appraisal changed since it was shown; nothing was changed",
                    name=a.employee.name,
                )
            ctx = context(a)
            if not can_view(ctx, user):
                skipped += 1
                continue
            action = next(
                (x for x in actions_for(ctx, user) if (x.trigger, x.kind) == (trigger, "approve")),
                None,
            )
            if action is None or not action.enabled:
                skipped += 1
                continue
            if action.comment == "required" and not comment:
                raise ValidationFailed("a comment is required for this step")
            state, entry = a.state, a.entry_seq
            t = ctx.workflow.transition(state, trigger)
            with db.session.no_autoflush:
                _approve(ctx, t, user, comment)
                steps.refresh(ctx)
            _tell(ctx, t, user, "approve", state, None, moved=a.entry_seq != entry)
            signed += 1
            moved += a.state != state
        db.session.commit()
    return signed, moved, skipped


def _require_complete(ctx: Context, user: User) -> None:
    evaluation = evaluate(ctx.form, goals.values_with_goals(ctx), viewer=viewer(ctx, user))
    missing = check_complete(evaluation, editable(ctx, roles_of(ctx, user)))
    if not missing:
        return
    rules = [e for e in missing if e.code == "rule"]
    if len(rules) == len(missing):
        raise ValidationFailed(
            "the form's rules do not hold yet: see their messages", list[object](missing)
        )
    if rules:
        raise ValidationFailed(
            "fill in the required values and meet the form's rules before this step",
            list[object](missing),
        )
    raise ValidationFailed("fill in the required values before this step", list(missing))


def _request(ctx: Context, t: TransitionDef, user: User, comment: str | None) -> None:
    a = ctx.appraisal
    a.pending_trigger = t.trigger
    a.pending_by_id = user.id
    db.session.add(
        event(a, user, "request", trigger=t.trigger, from_state=a.state, comment=comment)
    )


def _approve(ctx: Context, t: TransitionDef, user: User, comment: str | None) -> None:
    a = ctx.appraisal
    assert t.approval is not None
    held = sorted(roles_of(ctx, user) & set(t.approval.roles))
    earlier = votes(ctx, t.trigger)  # read before this vote is added: it must count once
    vote = Vote(
        appraisal_id=a.id, entry_seq=a.entry_seq, trigger=t.trigger, user_id=user.id, roles=held
    )
    db.session.add(vote)
    db.session.add(event(a, user, "vote", trigger=t.trigger, from_state=a.state, comment=comment))
    a.updated_at = utcnow()  # bumps the version: concurrent votes are serialised
    if approval_satisfied(t, [*earlier, vote]):
        _move(ctx, t, user, None)


def _decline(ctx: Context, t: TransitionDef, user: User, comment: str | None) -> None:
    """Refuse a sign-off (a comment says why): earlier votes no longer count, and the
    appraisal goes where the workflow's ``declined_to`` says, else stays where it is."""
    a = ctx.appraisal
    source = a.state
    a.pending_trigger = None
    a.pending_by_id = None
    a.entry_seq += 1  # earlier votes no longer count
    target = t.approval.declined_to if t.approval else None
    if target:
        a.state = statetree.initial_leaf(ctx.workflow.definition, target)
        a.state_entered_at = utcnow()
        a.due_at = compute_due(ctx)
    db.session.add(
        event(
            a,
            user,
            "decline",
            trigger=t.trigger,
            from_state=source,
            to_state=a.state if target else None,
            comment=comment,
        )
    )


def _move(
    ctx: Context, t: TransitionDef, user: User | None, comment: str | None, rule: str | None = None
) -> None:
    a = ctx.appraisal
    source = a.state
    new_state = ctx.workflow.fire(source, t.trigger, guard_values(ctx))
    changes = compute_scores(ctx) if "compute_scores" in t.actions else None
    if rule is not None:
        changes = {**(changes or {}), "rule": rule}
    a.state = new_state
    a.state_entered_at = utcnow()
    a.due_at = compute_due(ctx)
    a.entry_seq += 1
    a.pending_trigger = None
    a.pending_by_id = None
    if _makes_final(ctx, source, t):
        step = ctx.workflow.calibration
        if step is not None:
            budget.fit(ctx, step.state, step.population)
            if changes is not None:
                changes["bonus"] = a.bonus
        follow_ups.create_for(ctx)
    db.session.add(
        event(
            a,
            user,
            "transition",
            trigger=t.trigger,
            from_state=source,
            to_state=new_state,
            comment=comment,
            changes=changes,
        )
    )


def _makes_final(ctx: Context, source: str, t: TransitionDef) -> bool:
    """Whether this move makes the result final: the calibration is signed off, or (without
    calibration) a final state is reached with a result."""
    step = ctx.workflow.calibration
    if step is not None:
        return source == step.state and t.trigger == step.sign_off.trigger
    return ctx.appraisal.state in ctx.workflow.result_final and ctx.appraisal.result is not None


def compute_scores(ctx: Context) -> dict[str, Any]:
    """Score, grade and bonus, stored with formulas, definition versions and inputs."""
    a = ctx.appraisal
    # The same evaluation as the page: typed values, then computed fields, then the scores.
    evaluation = evaluate(ctx.form, goals.values_with_goals(ctx))
    scored = evaluation.score
    if scored.total is None:
        raise ValidationFailed(
            "the score cannot be computed yet: %(formula)s", formula=scored.formula
        )
    result: dict[str, Any] = {
        "computed_at": utcnow().isoformat(timespec="seconds"),
        "definitions": _versions(a),
        "kpis": [_table_record(t) for t in scored.tables],
        "total": {"value": scored.total, "formula": scored.formula, "inputs": scored.inputs},
    }
    if scored.adjustments:
        result["adjustments"] = list(scored.adjustments)
    a.score, a.grade, a.bonus = scored.total, None, None
    if ctx.policy is not None:
        employee = db.session.get(User, a.employee_id)
        try:
            grade = grade_for(ctx.policy, scored.total, scored.grade)
            grade = _overridden(ctx, grade)
            bonus = bonus_for(
                ctx.policy,
                grade,
                scored.total,
                employee.base_bonus if employee else None,
                ctx.department.id,
                ctx.department.bonus_coefficient,
                a.position_id,
                values=evaluation.context,
                person=(employee.attributes if employee else None) or {},
            )
        except ExpressionError as exc:
            raise ValidationFailed("the bonus formula failed: %(error)s", error=str(exc)) from exc
        a.bonus = bonus.amount
        if grade is not None:
            a.grade = grade.grade
            result["grade"] = {
                "grade": grade.grade,
                "min_score": grade.min_score,
                "bonus_multiplier": grade.bonus_multiplier,
                "actions": list(grade.actions),
                "follow_ups": _follow_ups(ctx.policy, grade.actions),
                "formula": grade.formula,
            }
            if a.override:
                result["grade"]["override"] = dict(a.override)
        result["bonus"] = {"amount": bonus.amount, "formula": bonus.formula, "inputs": bonus.inputs}
    a.result = result
    return {"score": a.score, "grade": a.grade, "bonus": a.bonus}


def _overridden(ctx: Context, computed: GradeResult | None) -> GradeResult | None:
    """The grade a calibrator gave in place of ``computed`` (which the override keeps as its
    original); the override lapses when the computed grade comes to equal it."""
    a = ctx.appraisal
    if not a.override or computed is None or ctx.policy is None:
        return computed
    given = a.override.get("grade")
    chosen = next((g for g in ctx.policy.grades if g.grade == given), None)
    if chosen is None or given == computed.grade:
        a.override = None
        return computed
    a.override = {**a.override, "original": computed.grade}
    formula = f"{given} — changed at calibration from {computed.grade}: {a.override.get('reason')}"
    return grade_result(chosen, formula)


def result_for(
    result: dict[str, Any] | None, roles: Iterable[str], attributes: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The stored result as a reader with ``roles`` may see it: the bonus inputs keep only the
    person attributes whose ``read`` names one of those roles (undeclared ones: none)."""
    bonus = (result or {}).get("bonus") or {}
    read = (bonus.get("inputs") or {}).get("read")
    if not read:
        return result
    held = set(roles)

    def allowed(name: str) -> bool:
        if not name.startswith("person."):
            return True
        attribute = attributes.get(name.split(".", 1)[1])
        return attribute is not None and bool(held & set(attribute.read))

    kept = {name: value for name, value in read.items() if allowed(name)}
    inputs = {**bonus["inputs"], "read": kept}
    assert result is not None
    return {**result, "bonus": {**bonus, "inputs": inputs}}


def _follow_ups(policy: IncentivePolicy, actions: Iterable[str]) -> list[dict[str, Any]]:
    """The follow-ups a grade calls for, as the policy declares them (built-in ones by id)."""
    declared = {a.id: a for a in policy.actions}
    out: list[dict[str, Any]] = []
    for ident in actions:
        action = declared.get(ident)
        owner, days = ACTION_DEFAULTS.get(ident, (DEFAULT_ACTION_OWNER, DEFAULT_ACTION_DAYS))
        if action is None:
            out.append({"id": ident, "owner": owner, "days": days})
        else:
            out.append(
                {"id": ident, "label": action.label.model_dump(), "owner": action.owner or owner,
                 "days": action.days or days}
            )  # fmt: skip
    return out


def _versions(a: Appraisal) -> dict[str, Any]:
    out = {}
    for name, snap_id in (
        ("form", a.form_snapshot_id),
        ("workflow", a.workflow_snapshot_id),
        ("policy", a.policy_snapshot_id),
        ("department", a.department_snapshot_id),
    ):
        if snap_id is None:
            continue
        snap = snapshots.pinned(snap_id)
        out[name] = {"id": snap.def_id, "version": snap.version, "hash": snap.content_hash}
    return out


def _table_record(table: Any) -> dict[str, Any]:
    return {
        "field": table.field_id,
        "score": table.score,
        "formula": table.formula,
        "kpis": [
            {
                "kpi": k.kpi_id,
                "weight": k.weight,
                "target": k.target,
                "actual": k.actual,
                "method": k.method,
                "score": k.score,
                "weighted": k.weighted,
                "formula": k.formula,
            }
            for k in table.kpis
        ],
    }


TIMELINE_PAGE = 20


def timeline(
    appraisal: Appraisal, before: int | None = None, limit: int = TIMELINE_PAGE
) -> tuple[list[Event], int | None]:
    """The newest ``limit`` events (older than event ``before``), oldest first, and the id
    before which older ones remain (None: these are the first)."""
    query = select(Event).where(Event.appraisal_id == appraisal.id)
    if before is not None:
        query = query.where(Event.id < before)
    newest = list(
        db.session.scalars(
            query.options(joinedload(Event.actor).load_only(User.name))
            .order_by(Event.id.desc())
            .limit(limit + 1)
        )
    )
    shown = newest[:limit][::-1]
    return shown, shown[0].id if len(newest) > limit else None


def preview(ctx: Context, user: User, formdata: FormData) -> tuple[Evaluation, SaveOutcome]:
    """Evaluate a post without saving it: live scores, computed values and visibility."""
    rights = rights_of(ctx, user)
    result = parse_post(ctx.form, formdata, ctx.appraisal.values or {}, rights)
    given = {k: v for k, v in goals.values_with_goals(ctx).items() if k == DEPARTMENT}
    evaluation = evaluate(ctx.form, {**result.values, **given}, rights, viewer(ctx, user))
    return evaluation, SaveOutcome(result.changes, result.errors, result.raw)

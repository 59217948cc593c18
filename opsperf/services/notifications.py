"""Who hears of what happens on an appraisal: the inbox and the e-mail outbox.

A notification is a message key and its parameters (``Notification``), written in the
transaction of what caused it and said in the reader's language when shown or mailed. Who is
told is the workflow's to say: its ``notifications`` rules (entering a state, a step, a sign-off
asked for or declined, a comment, a mention), the ``notify_employee`` / ``notify_manager``
actions of its transitions, and its states' deadlines (``remind`` before, ``on_overdue`` after;
``services.scheduler``). Nobody is told of their own doing.

E-mail never holds up a request: a person who wants e-mail at once gets an ``Email`` row in the
same transaction (the outbox), one who wants a daily digest has theirs gathered once a day, and
``opsperf tick`` delivers both (``services.scheduler.deliver``), retrying a refused delivery.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import String, cast, func, select, update
from sqlalchemy.orm import joinedload

from opsperf.definitions.schema import NotificationRule, Text, TransitionDef
from opsperf.errors import NotFound
from opsperf.persistence.models import Email, Notification, OpenStep, User, db, utcnow
from opsperf.services.context import Context
from opsperf.services.pages import Page
from opsperf.services.steps import actors

MAIL_CHOICES = ("immediate", "digest", "inbox")
INBOX_PAGE = 20
UNREAD_CAP = 99  # the header counts this far ("99+")


# --------------------------------------------------------------------------- who


def _role_holders(role: str) -> list[int]:
    """The active people holding a global or custom role (a JSON list of names per person)."""
    pattern = f'%"{role}"%'
    return list(
        db.session.scalars(
            select(User.id).where(User.active.is_(True), cast(User.roles, String).like(pattern))
        )
    )


def _ids_of(keys: Iterable[str]) -> set[int]:
    """The people standing for actor keys (``u:<id>``, ``p:<dept>/<position>``, ``r:<role>``)."""
    ids: set[int] = set()
    for key in keys:
        kind, _, rest = key.partition(":")
        if kind == "u":
            ids.add(int(rest))
        elif kind == "p":
            department, _, position = rest.partition("/")
            ids.update(
                db.session.scalars(
                    select(User.id).where(
                        User.department_id == department,
                        User.position_id == position,
                        User.active.is_(True),
                    )
                )
            )
        elif kind == "r":
            ids.update(_role_holders(rest))
    return ids


def holders(ctx: Context, roles: Iterable[str]) -> set[int]:
    """Who holds any of ``roles`` on the appraisal."""
    return _ids_of(key for role in roles for key in actors(ctx, role))


def _actors_now(ctx: Context) -> set[int]:
    """Whoever may act on the appraisal's current step (its open steps, escalations aside)."""
    rows = db.session.execute(
        select(OpenStep.actor, OpenStep.excluded_user_id, OpenStep.excluded_requester_id).where(
            OpenStep.appraisal_id == ctx.appraisal.id, OpenStep.kind != "escalate"
        )
    ).all()
    ids: set[int] = set()
    for actor, excluded, requester in rows:
        ids |= _ids_of([actor]) - {excluded, requester}
    return ids


# --------------------------------------------------------------------------- what


def _text(value: Text | None) -> Any:
    """A label as stored in params: the ``{zh, en}`` mapping (or plain text) as declared."""
    if value is None:
        return None
    return value if isinstance(value, str) else dict(value)


def _params(ctx: Context, **extra: Any) -> dict[str, Any]:
    a = ctx.appraisal
    state = ctx.workflow.state(a.state)
    params: dict[str, Any] = {
        "person": a.employee.name,
        "cycle": a.cycle.name,
        "step": _text(state.label) or a.state,
    }
    if a.due_at is not None:
        params["due"] = a.due_at.isoformat(timespec="minutes")
    params.update({k: v for k, v in extra.items() if v is not None})
    return params


def mail_enabled() -> bool:
    return has_app_context() and bool(current_app.config.get("SMTP_HOST"))


def send(
    user_ids: Iterable[int],
    *,
    event: str,
    message: str,
    params: Mapping[str, Any],
    appraisal_id: int | None = None,
    actor: User | None = None,
    anchor: str = "",
) -> list[Notification]:
    """Put a message in each person's inbox and, by their choice, the e-mail outbox (in the
    caller's transaction). The actor is never told of their own doing."""
    ids = sorted(set(user_ids) - ({actor.id} if actor is not None else set()))
    if not ids:
        return []
    people = db.session.scalars(select(User).where(User.id.in_(ids), User.active.is_(True)))
    mail = mail_enabled()
    made = []
    for person in people:
        choice = person.email_notifications if person.email and mail else "inbox"
        n = Notification(
            user_id=person.id,
            appraisal_id=appraisal_id,
            actor_id=actor.id if actor is not None else None,
            event=event,
            message=message,
            params=dict(params),
            anchor=anchor[:64],
            mail={"immediate": "queued", "digest": "digest"}.get(choice, "none"),
        )
        db.session.add(n)
        made.append(n)
    db.session.flush()
    for n in made:
        if n.mail == "queued":
            db.session.add(Email(user_id=n.user_id, notification_ids=[n.id]))
    return made


def _matches(rule: NotificationRule, event: str, state: str, trigger: str | None) -> bool:
    if rule.event != event:
        return False
    if rule.transitions and trigger not in rule.transitions:
        return False
    return not rule.states or any(state == s or state.startswith(s + ".") for s in rule.states)


def _chosen(
    ctx: Context,
    event: str,
    *,
    trigger: str | None,
    state: str,
    requester: int | None = None,
    mentioned: Sequence[int] = (),
    participants: Sequence[int] = (),
    into: dict[int, str] | None = None,
) -> dict[int, str]:
    """Who the workflow's rules for ``event`` name, and the message each gets (the first rule
    naming a person decides; people already ``into`` keep theirs)."""
    chosen = into if into is not None else {}
    special = {
        "actors": lambda: _actors_now(ctx),
        "requester": lambda: {requester} if requester else set(),
        "mentioned": lambda: set(mentioned),
        "participants": lambda: set(participants),
    }
    for rule in ctx.workflow.definition.notifications:
        if not _matches(rule, event, state, trigger):
            continue
        people = holders(ctx, [r for r in rule.notify if r not in special])
        for name in rule.notify:
            if name in special:
                people |= special[name]()
        for person in sorted(people):
            chosen.setdefault(person, rule.message or event)
    return chosen


def _send_chosen(
    ctx: Context,
    event: str,
    chosen: Mapping[int, str],
    actor: User | None,
    *,
    trigger: str | None = None,
    params: Mapping[str, Any] | None = None,
    anchor: str = "",
) -> int:
    extra = dict(params or {})
    if trigger is not None:
        t = _transition(ctx, trigger)
        extra.setdefault("trigger", _text(t.label) if t is not None and t.label else trigger)
    if actor is not None:
        extra.setdefault("actor", actor.name)
        if actor.id == ctx.appraisal.employee_id:
            extra.setdefault("own", True)  # "on their own appraisal", not "X on X's"
    by_message: dict[str, list[int]] = {}
    for person, message in chosen.items():
        by_message.setdefault(message, []).append(person)
    sent = 0
    for message, people in by_message.items():
        sent += len(
            send(
                people,
                event=event,
                message=message,
                params=_params(ctx, **extra),
                appraisal_id=ctx.appraisal.id,
                actor=actor,
                anchor=anchor,
            )
        )
    return sent


def tell(
    ctx: Context,
    event: str,
    actor: User | None,
    *,
    trigger: str | None = None,
    state: str | None = None,
    requester: int | None = None,
    mentioned: Sequence[int] = (),
    participants: Sequence[int] = (),
    params: Mapping[str, Any] | None = None,
    anchor: str = "",
    also: Mapping[str, Iterable[int]] | None = None,
    may_read: Callable[[int], bool] | None = None,
) -> int:
    """Send what the workflow's rules say for ``event`` on the appraisal; ``also`` adds
    messages (key → people) the event calls for whatever the rules say (a mention tells the
    person mentioned); ``may_read`` leaves out whoever may not read what it is about (a
    private note). Each person gets one message per event. Returns how many were sent."""
    chosen: dict[int, str] = {}
    for message, people in (also or {}).items():
        for person in people:
            chosen.setdefault(person, message)
    _chosen(
        ctx,
        event,
        trigger=trigger,
        state=state or ctx.appraisal.state,
        requester=requester,
        mentioned=mentioned,
        participants=participants,
        into=chosen,
    )
    if may_read is not None:
        chosen = {person: m for person, m in chosen.items() if may_read(person)}
    return _send_chosen(ctx, event, chosen, actor, trigger=trigger, params=params, anchor=anchor)


def _transition(ctx: Context, trigger: str) -> TransitionDef | None:
    return next((t for t in ctx.workflow.definition.transitions if t.trigger == trigger), None)


def after_step(ctx: Context, t: TransitionDef, actor: User | None, source: str) -> int:
    """A transition was taken (the appraisal is in its new state): one message per person for
    its ``notify_*`` actions, the ``step`` rules of the state it left and the ``entered`` rules
    of the one it entered."""
    a = ctx.appraisal
    named = {"notify_employee": "employee", "notify_manager": "manager"}
    message = "step" if actor is not None else "fired"
    chosen = dict.fromkeys(
        sorted(holders(ctx, [named[x] for x in t.actions if x in named])), message
    )
    _chosen(ctx, "step", trigger=t.trigger, state=source, into=chosen)
    if a.state != source:
        _chosen(ctx, "entered", trigger=t.trigger, state=a.state, into=chosen)
    return _send_chosen(ctx, "step", chosen, actor, trigger=t.trigger)


# --------------------------------------------------------------------------- the inbox


@dataclass
class InboxFilter:
    unread: bool = False


def inbox(user: User, only: InboxFilter, page: int = 1, per_page: int = INBOX_PAGE) -> Page[Any]:
    """A page of ``user``'s notifications, newest first (unread only, if asked)."""
    query = select(Notification).where(Notification.user_id == user.id)
    if only.unread:
        query = query.where(Notification.read_at.is_(None))
    total = db.session.scalar(select(func.count()).select_from(query.limit(10_000).subquery()))
    result: Page[Any] = Page.of(page, per_page, total or 0)
    result.items = list(
        db.session.scalars(
            query.options(joinedload(Notification.actor).load_only(User.name))
            .order_by(Notification.id.desc())
            .offset(result.offset)
            .limit(result.per_page)
        )
    )
    return result


def unread_count(user: User) -> int:
    """How many unread notifications ``user`` has, counted as far as ``UNREAD_CAP`` + 1."""
    ids = (
        select(Notification.id)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .limit(UNREAD_CAP + 1)
        .subquery()
    )
    return db.session.scalar(select(func.count()).select_from(ids)) or 0


def mine(user: User, notification_id: int) -> Notification:
    n = db.session.get(Notification, notification_id)
    if n is None or n.user_id != user.id:  # someone else's is as missing as a missing one
        raise NotFound("notification %(id)s does not exist", id=notification_id)
    return n


def mark_read(user: User, notification_id: int) -> Notification:
    n = mine(user, notification_id)
    if n.read_at is None:
        n.read_at = utcnow()
        db.session.commit()
    return n


def mark_all_read(user: User) -> int:
    done = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    db.session.commit()
    return int(getattr(done, "rowcount", 0) or 0)


def set_choice(user: User, choice: str) -> None:
    from opsperf.errors import ValidationFailed

    if choice not in MAIL_CHOICES:
        raise ValidationFailed("choose immediate, digest or inbox")
    user.email_notifications = choice
    db.session.commit()


def emails_page(status: str | None, page: int = 1, per_page: int = INBOX_PAGE) -> Page[Any]:
    """The outbox for administrators: newest first, by status."""
    query = select(Email)
    if status:
        query = query.where(Email.status == status)
    total = db.session.scalar(select(func.count()).select_from(query.limit(10_000).subquery()))
    result: Page[Any] = Page.of(page, per_page, total or 0)
    result.items = list(
        db.session.scalars(
            query.options(joinedload(Email.user).load_only(User.name, User.email))
            .order_by(Email.id.desc())
            .offset(result.offset)
            .limit(result.per_page)
        )
    )
    return result


def retry(email_id: int) -> Email:
    """Queue a failed e-mail again (an administrator, after mending the server's settings)."""
    e = db.session.get(Email, email_id)
    if e is None:
        raise NotFound("e-mail %(id)s does not exist", id=email_id)
    if e.status == "failed":
        e.status, e.attempts, e.next_try_at, e.last_error = "queued", 0, utcnow(), None
        db.session.commit()
    return e

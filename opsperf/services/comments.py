"""Comments on appraisals: threads on the appraisal or on one KPI row, one level of replies,
@mentions, private notes among the roles the workflow names, and the thread a step's comment
opens (an appeal to HR). Every comment is also a ``comment`` event of the audit trail.

Who reads what: everyone who may open the appraisal reads and writes its public comments; a
private note (``comments: {private: [...]}`` on the workflow) is for holders of those roles on
the appraisal, never for the employee. A reply has its thread's KPI and visibility.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, case, cast, func, or_, select
from sqlalchemy.orm import joinedload

from opsperf.definitions.schema import GLOBAL_ROLES, KpiTableField, Text
from opsperf.engine.forms import withheld
from opsperf.engine.text import COMMENT_LIMIT, untypable
from opsperf.errors import NotFound, PermissionDenied, ValidationFailed
from opsperf.persistence.models import Appraisal, Comment, User, db
from opsperf.services import notifications
from opsperf.services.appraisals import can_view, event, one_writer, require_view, roles_of
from opsperf.services.context import Context, context, get

PUBLIC, PRIVATE = "public", "private"
# A mention as the comment box writes it: ``@[张伟](u:12)``; shown as the person's name.
MENTION = re.compile(r"@\[([^\[\]\n]{1,100})\]\(u:(\d{1,10})\)")
MAX_MENTIONS = 20
MAX_ID = 2**31 - 1
THREADS_PAGE = 10  # threads a page shows, newest first
REPLIES_SHOWN = 200  # replies of one page of threads, oldest first (a thread rarely has 20)
OPTIONS = 8  # people the mention box offers
PARTICIPANTS_READ = 500  # comments of a thread read to find its participants
EXCERPT = 200  # characters of a comment quoted in a notification


@dataclass(frozen=True)
class Posted:
    """What was posted, for whoever tells people about it (notifications).

    ``mentioned``: the people the comment names (never its author); ``participants``: the
    thread's other people — authors of its comments and those mentioned before — who may
    still read it, without the author and the mentioned; ``addressed_to``: the roles a thread
    a step opened is for (an appeal: ``hr``), whose holders on the appraisal should hear of it.
    """

    comment: Comment
    appraisal: Appraisal
    mentioned: list[User] = field(default_factory=list)
    participants: list[User] = field(default_factory=list)
    addressed_to: tuple[str, ...] = ()


@dataclass
class Thread:
    comment: Comment
    replies: list[Comment] = field(default_factory=list)


@dataclass
class ThreadPage:
    """A page of an appraisal's threads (its general ones, or one KPI's), newest first."""

    kpi: str | None
    threads: list[Thread]
    older: int | None  # the id before which older threads remain (None: these are the first)
    names: dict[int, str]  # the people the comments mention, by id
    private_ok: bool  # the reader may read and write private notes here
    may_private: bool  # the workflow has private notes at all


# --------------------------------------------------------------------------- who reads what


def private_roles(ctx: Context) -> frozenset[str]:
    """The roles that write and read private notes on this appraisal (none: no such notes)."""
    rules = ctx.workflow.definition.comments
    return frozenset(rules.private) if rules is not None else frozenset()


def reads_private(ctx: Context, user: User, roles: Iterable[str] | None = None) -> bool:
    """Whether ``user`` reads (and writes) the private notes: a holder of one of the roles on
    the appraisal who is not the person appraised."""
    if user.id == ctx.appraisal.employee_id:
        return False
    held = set(roles_of(ctx, user) if roles is None else roles)
    return bool(held & private_roles(ctx))


def _readable(ctx: Context, user: User) -> Any:
    """The SQL condition on comments that ``user`` may read (they may open the appraisal)."""
    if reads_private(ctx, user):
        return True
    return Comment.visibility == PUBLIC


def kpis_of(ctx: Context, roles: Iterable[str]) -> dict[str, tuple[Text, Text | None]]:
    """The KPI rows a reader with ``roles`` may comment on: ``table.kpi`` → (KPI name, table
    label), in the form's order; a KPI table withheld from them has none."""
    hidden = withheld(ctx.form, set(roles))
    out: dict[str, tuple[Text, Text | None]] = {}
    for f in ctx.form.fields():
        if isinstance(f, KpiTableField) and f.id not in hidden:
            for k in f.kpis:
                out[f"{f.id}.{k.id}"] = (k.name, f.label)
    return out


# --------------------------------------------------------------------------- posting


def post(
    appraisal_id: int,
    user: User,
    body: str,
    *,
    kpi: str | None = None,
    parent_id: int | None = None,
    private: bool = False,
) -> Posted:
    """Post a comment (a new thread, or a reply to thread ``parent_id``) as ``user``; all or
    nothing. Raises NotFound, PermissionDenied or ValidationFailed (nothing is stored then)."""
    with one_writer():
        a = get(appraisal_id)
        ctx = context(a)
        require_view(ctx, user)
        roles = roles_of(ctx, user)
        parent = None
        if parent_id is not None:
            parent = _thread_of(ctx, user, roles, parent_id)
            kpi, visibility = parent.kpi, parent.visibility
        else:
            visibility = PRIVATE if private else PUBLIC
            kpi = _kpi(ctx, roles, kpi)
        if visibility == PRIVATE:
            if not private_roles(ctx):
                raise ValidationFailed("this appraisal's workflow has no private notes")
            if not reads_private(ctx, user, roles):
                raise PermissionDenied(
                    "only %(roles)s write private notes on this appraisal",
                    roles=", ".join(sorted(private_roles(ctx))),
                )
        posted = _store(ctx, user, body, kpi=kpi, parent=parent, visibility=visibility)
        db.session.commit()
    announce(posted)
    return posted


def announce(posted: Posted) -> None:
    """Called once a comment is committed — posted, or opened by a step (an appeal). The
    people it concerns were told in its transaction (``_tell``)."""


def _tell(ctx: Context, user: User, posted: Posted) -> None:
    """Tell the people mentioned (always) and the thread's others and the roles a thread is
    addressed to (as the workflow's rules say), in the comment's transaction; a private note
    reaches only those who may read it."""
    c = posted.comment
    private = c.visibility == PRIVATE

    def may_read(user_id: int) -> bool:
        person = db.session.get(User, user_id)
        if person is None or not can_view(ctx, person):
            return False
        return not private or reads_private(ctx, person)

    names = {u.id: u.name for u in posted.mentioned}
    text = plain(c.body, names)
    excerpt = text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"
    params = {"excerpt": excerpt}
    anchor = f"comment-{c.parent_id or c.id}"
    if c.kpi:
        params["kpi"] = c.kpi
    mentioned = [u.id for u in posted.mentioned]
    notifications.tell(ctx, "mentioned", user, mentioned=mentioned, also={"mentioned": mentioned},
                       params=params, anchor=anchor, may_read=may_read)  # fmt: skip
    addressed = sorted(notifications.holders(ctx, posted.addressed_to))
    others = [u.id for u in posted.participants] + addressed
    notifications.tell(ctx, "comment", user, participants=others, also={"comment": addressed},
                       params=params, anchor=anchor,
                       may_read=lambda p: p not in mentioned and may_read(p))  # fmt: skip


def open_thread(ctx: Context, user: User, body: str, trigger: str, to: Iterable[str]) -> Posted:
    """A step's comment opens a public thread addressed to the roles ``to`` (an appeal: HR);
    part of the step's transaction (not committed here)."""
    return _store(ctx, user, body, kpi=None, parent=None, visibility=PUBLIC,
                  addressed_to=tuple(to), trigger=trigger)  # fmt: skip


def _thread_of(ctx: Context, user: User, roles: set[str], comment_id: int) -> Comment:
    """The thread a reply to ``comment_id`` joins: its top-level comment (one level)."""
    found = db.session.get(Comment, comment_id) if 0 < comment_id <= MAX_ID else None
    if found is not None and found.parent_id is not None:
        found = db.session.get(Comment, found.parent_id)
    readable = found is not None and (found.visibility == PUBLIC or reads_private(ctx, user, roles))
    if found is None or found.appraisal_id != ctx.appraisal.id or not readable:
        raise NotFound("comment %(id)s does not exist on this appraisal", id=comment_id)
    return found


def visibility_of(ctx: Context, user: User, comment_id: int) -> str:
    """The visibility of the thread a reply to ``comment_id`` would join (public when there
    is no such thread ``user`` may read)."""
    try:
        return _thread_of(ctx, user, roles_of(ctx, user), comment_id).visibility
    except NotFound:
        return PUBLIC


def _kpi(ctx: Context, roles: set[str], kpi: str | None) -> str | None:
    if not kpi:
        return None
    if kpi not in kpis_of(ctx, roles):
        raise ValidationFailed("this form has no KPI row '%(kpi)s'", kpi=kpi[:130])
    return kpi


def checked_text(body: str) -> str:
    """A comment's text as stored: trimmed, typable, at most COMMENT_LIMIT characters."""
    text = (body or "").strip()
    if not text:
        raise ValidationFailed("write a comment first: it is empty")
    if untypable(text):
        raise ValidationFailed(
            "the comment holds control characters or broken symbols; remove them"
        )
    if len(text) > COMMENT_LIMIT:
        raise ValidationFailed(
            "a comment may be at most %(max)s characters long", max=COMMENT_LIMIT
        )
    return text


def _store(
    ctx: Context,
    user: User,
    body: str,
    *,
    kpi: str | None,
    parent: Comment | None,
    visibility: str,
    addressed_to: tuple[str, ...] = (),
    trigger: str | None = None,
) -> Posted:
    a = ctx.appraisal
    text = checked_text(body)
    mentioned = _mentions(ctx, text, visibility)
    comment = Comment(
        appraisal_id=a.id,
        kpi=kpi,
        parent_id=parent.id if parent is not None else None,
        author_id=user.id,
        body=text,
        visibility=visibility,
        mentions=[u.id for u in mentioned],
        addressed_to=list(addressed_to) or None,
        trigger=trigger,
    )
    comment.author = user
    db.session.add(comment)
    db.session.flush()  # its id, for the event
    names = {u.id: u.name for u in mentioned}
    said = {
        "comment": comment.id,
        "visibility": visibility,
        "kpi": kpi,
        "reply_to": comment.parent_id,
        "to": list(addressed_to) or None,
    }
    db.session.add(
        event(a, user, "comment", trigger=trigger, comment=plain(text, names), changes=said)
    )
    others = [u for u in mentioned if u.id != user.id]
    root = parent or comment
    posted = Posted(comment, a, others, _participants(ctx, root, user, others), addressed_to)
    _tell(ctx, user, posted)
    return posted


def _mentions(ctx: Context, text: str, visibility: str) -> list[User]:
    """The people ``text`` mentions, each of whom may read the comment; otherwise the whole
    comment is refused, naming the mention only as it was typed (nothing about the person)."""
    found = MENTION.findall(text)
    ids = list(dict.fromkeys(int(ident) for _name, ident in found))
    if len(ids) > MAX_MENTIONS:
        raise ValidationFailed("mention at most %(max)s people in one comment", max=MAX_MENTIONS)
    wanted = [i for i in ids if 0 < i <= MAX_ID]
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(wanted)))}
    for name, ident in found:
        person = people.get(int(ident))
        if person is None or not _may_read(ctx, person, visibility):
            raise ValidationFailed(
                "“@%(name)s” cannot be mentioned here: only people who may read this comment "
                "can be; nothing was posted",
                name=name,
            )
    return [people[i] for i in ids]


def _may_read(ctx: Context, person: User, visibility: str) -> bool:
    if not person.active or not can_view(ctx, person):
        return False
    return visibility == PUBLIC or reads_private(ctx, person)


def _participants(ctx: Context, root: Comment, author: User, mentioned: list[User]) -> list[User]:
    """The thread's other people who may still read it: authors of its comments and those
    mentioned in them, without ``author`` and ``mentioned`` (they hear of it as such)."""
    rows = db.session.execute(
        select(Comment.author_id, Comment.mentions)
        .where(or_(Comment.id == root.id, Comment.parent_id == root.id))
        .order_by(Comment.id)
        .limit(PARTICIPANTS_READ)
    )
    ids: dict[int, None] = {}
    for author_id, mentions in rows:
        ids[author_id] = None
        for ident in mentions or []:
            if isinstance(ident, int):
                ids[ident] = None
    skip = {author.id, *(u.id for u in mentioned)}
    wanted = [i for i in ids if i not in skip]
    if not wanted:
        return []
    people = db.session.scalars(select(User).where(User.id.in_(wanted)).order_by(User.id))
    return [u for u in people if _may_read(ctx, u, root.visibility)]


def plain(text: str, names: Mapping[int, str]) -> str:
    """``text`` with each mention as ``@name`` (the person's name when known)."""
    return MENTION.sub(lambda m: "@" + names.get(int(m.group(2)), m.group(1)), text)


# --------------------------------------------------------------------------- reading


def threads(
    ctx: Context,
    user: User,
    kpi: str | None = None,
    before: int | None = None,
    limit: int = THREADS_PAGE,
) -> ThreadPage:
    """A page of the appraisal's threads ``user`` may read — its general ones, or those of
    KPI row ``kpi`` — newest first, each with its replies oldest first."""
    roles = roles_of(ctx, user)
    kpi = kpi if kpi and kpi in kpis_of(ctx, roles) else None
    readable = _readable(ctx, user)
    query = (
        select(Comment)
        .options(joinedload(Comment.author).load_only(User.name))
        .where(
            Comment.appraisal_id == ctx.appraisal.id,
            Comment.kpi == kpi if kpi is not None else Comment.kpi.is_(None),
            Comment.parent_id.is_(None),
            readable,
        )
    )
    if before is not None:
        query = query.where(Comment.id < before)
    newest = list(db.session.scalars(query.order_by(Comment.id.desc()).limit(limit + 1)))
    shown = newest[:limit]
    page = [Thread(c) for c in shown]
    by_id = {t.comment.id: t for t in page}
    if by_id:
        replies = db.session.scalars(
            select(Comment)
            .options(joinedload(Comment.author).load_only(User.name))
            .where(Comment.parent_id.in_(list(by_id)), readable)
            .order_by(Comment.id)
            .limit(REPLIES_SHOWN)
        )
        for reply in replies:
            by_id[reply.parent_id or 0].replies.append(reply)
    every = [c for t in page for c in (t.comment, *t.replies)]
    return ThreadPage(
        kpi=kpi,
        threads=page,
        older=shown[-1].id if len(newest) > limit else None,
        names=names_of(every),
        private_ok=reads_private(ctx, user, roles),
        may_private=bool(private_roles(ctx)),
    )


def names_of(comments: Iterable[Comment]) -> dict[int, str]:
    """The names of the people the comments mention (one query)."""
    ids = {i for c in comments for i in (c.mentions or []) if isinstance(i, int)}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


def counts(ctx: Context, user: User) -> dict[str | None, int]:
    """How many comments ``user`` may read per KPI row (None: on the appraisal itself)."""
    rows = db.session.execute(
        select(Comment.kpi, func.count())
        .where(Comment.appraisal_id == ctx.appraisal.id, _readable(ctx, user))
        .group_by(Comment.kpi)
    )
    return {kpi: int(n) for kpi, n in rows}


# --------------------------------------------------------------------------- mentioning


def people_to_mention(
    ctx: Context, reader: User, q: str, private: bool = False, limit: int = OPTIONS
) -> list[User]:
    """Up to ``limit`` people whose name holds ``q`` or whose employee number starts with it,
    among those who may read the comment: the employee, their manager, the department's head,
    holders of HR, admin and the custom roles that count here (for a private note only those
    who read private notes). Never the reader, never anybody else — the box offers no one it
    would refuse. One query: the people on the appraisal by id and by the department's head
    position (indexed), the role holders by their roles."""
    a = ctx.appraisal
    on_it: list[Any] = [User.id.in_([i for i in (a.employee_id, a.manager_id) if i])]
    head = ctx.department.head
    if head and a.position_id != head:
        on_it.append((User.department_id == a.department_id) & (User.position_id == head))
    roles = sorted({*GLOBAL_ROLES, *(ctx.workflow.roles & ctx.custom_roles)})
    held = [
        cast(User.roles, String).like(f'%"{_escaped(r)}"%', escape="\\") for r in roles
    ]  # role ids are [a-z0-9_]: quoted, one matches one element of the JSON list
    query = select(User).where(User.active, User.id != reader.id, or_(*on_it, *held))
    term = q.strip()[:64]
    if term:
        escaped = _escaped(term)
        query = query.where(
            or_(
                User.name.ilike(f"%{escaped}%", escape="\\"),
                func.lower(User.employee_no).like(f"{escaped.lower()}%", escape="\\"),
            )
        )
    first = case((or_(*on_it), 0), else_=1)
    found = db.session.scalars(query.order_by(first, User.name, User.id).limit(limit * 3))
    visibility = PRIVATE if private else PUBLIC
    return [u for u in found if _may_read(ctx, u, visibility)][:limit]


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

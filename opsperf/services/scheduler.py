"""Scheduled work, done by ``opsperf tick`` (cron, a systemd timer, or a thread of ``serve``):
reminders before a deadline, overdue notices, escalation, overdue steps fired, the daily
digest, and the delivery of queued e-mail.

Each thing is done once. Its key (``remind:<appraisal>:<entry>:<offset>``,
``overdue:<appraisal>:<entry>``, ``digest:<person>:<day>``) is inserted into ``schedule_marks``
in the transaction that does it: a second run — later, or on another host at the same moment
— finds the key taken (the primary key refuses it) and rolls its attempt back. An e-mail is
claimed by an ``UPDATE … WHERE status = 'queued'`` that only one sender can win.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from opsperf.definitions import statetree
from opsperf.definitions.schema import State, Workflow, parse_duration
from opsperf.errors import OpsperfError
from opsperf.persistence.models import (
    Appraisal,
    Email,
    Notification,
    ScheduleMark,
    Setting,
    Snapshot,
    User,
    clock_at,
    db,
    utcnow,
)
from opsperf.services import appraisals as appraisals_svc
from opsperf.services import notifications, snapshots
from opsperf.services.context import Context, context, deadline_state

log = logging.getLogger(__name__)

BATCH = 500  # appraisals looked at, and marks looked up, per query
SINCE_KEY = "scheduler.deadlines_until"
SINCE_MARGIN = dt.timedelta(days=1)
SEND_BATCH = 200  # e-mails sent per run at most; the next run goes on
STALE_CLAIM = dt.timedelta(minutes=10)  # a sender that claimed an e-mail and vanished


class Mailer(Protocol):
    """Says an e-mail in its reader's language and hands it to the SMTP server; raises
    ``OSError`` or ``smtplib.SMTPException`` when the server refuses or cannot be reached."""

    def send(self, email: Email, user: User, items: list[Notification]) -> None: ...


@dataclass
class Report:
    reminders: int = 0
    overdue: int = 0
    escalated: int = 0
    fired: int = 0
    digests: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "problems"}


@dataclass
class Settings:
    retries: int = 5  # deliveries tried before an e-mail is given up
    retry_delay: int = 60  # seconds before the first retry; doubled each time
    digest_hour: int = 0  # the UTC hour from which the day's digest goes out


def tick(
    now: dt.datetime | None = None, mailer: Mailer | None = None, settings: Settings | None = None
) -> Report:
    """Do the scheduled work that is due at ``now`` (default: the real time), once."""
    settings = settings or Settings()
    report = Report()
    moment = now or utcnow()
    with clock_at(moment):
        deadlines(moment, report)
        digests(moment, settings, report)
        if mailer is not None:
            deliver(moment, mailer, settings, report)
    return report


# --------------------------------------------------------------------------- deadlines


@dataclass(frozen=True)
class _Rule:
    """What a state's deadline asks for: reminders (offsets) and whether overdue work exists."""

    remind: tuple[tuple[str, dt.timedelta], ...]
    on_overdue: bool


def _rules(snapshot_id: int, path: str) -> _Rule | None:
    """The deadline rule of the state ``path`` of a pinned workflow (None: no deadline)."""
    workflow: Workflow = snapshots.definition(snapshot_id)
    state = deadline_state(statetree.all_states(workflow), path)
    if state is None:
        return None
    offsets = tuple((o, parse_duration(o)) for o in state.remind)
    return _Rule(offsets, state.on_overdue is not None)


def _horizon() -> dt.timedelta:
    """The longest reminder any pinned workflow asks for."""
    longest = dt.timedelta(0)
    for snapshot_id in db.session.scalars(select(Snapshot.id).where(Snapshot.kind == "Workflow")):
        workflow: Workflow = snapshots.definition(snapshot_id)
        for state in statetree.all_states(workflow).values():
            for offset in state.remind:
                longest = max(longest, parse_duration(offset))
    return longest


def _since() -> dt.datetime | None:
    """Until when earlier runs dealt with every deadline (the watermark), less a day's margin
    (a run cut short, clocks of several hosts): overdue work is looked for after it only."""
    found = db.session.get(Setting, SINCE_KEY)
    if found is None:
        return None
    try:
        return dt.datetime.fromisoformat(found.value) - SINCE_MARGIN
    except ValueError:
        return None


def _mark_since(now: dt.datetime) -> None:
    found = db.session.get(Setting, SINCE_KEY)
    if found is None:
        db.session.add(Setting(key=SINCE_KEY, value=now.isoformat()))
    elif found.value < now.isoformat():
        found.value = now.isoformat()
    try:
        db.session.commit()
    except IntegrityError:  # another run wrote it at the same moment
        db.session.rollback()


Row = tuple[int, int, dt.datetime, str, int]  # id, entry, due, state, workflow snapshot


def _candidates(now: dt.datetime) -> Iterator[list[Row]]:
    """Appraisals whose deadline passed since the watermark or comes within the reminders'
    reach, and those that entered a step since then whose deadline was already past (a plan
    sent back after its date), a batch at a time, as plain columns (``ix_appraisals_due``,
    ``ix_appraisals_entered``): the deadlines of the last day or so and the next few, not
    the company's history."""
    until, since = now + _horizon(), _since()
    columns = (
        Appraisal.id,
        Appraisal.entry_seq,
        Appraisal.due_at,
        Appraisal.state,
        Appraisal.workflow_snapshot_id,
    )
    due = Appraisal.due_at.is_not(None) & (Appraisal.due_at <= until)
    wheres = [due if since is None else due & (Appraisal.due_at > since)]
    if since is not None:
        wheres.append((Appraisal.state_entered_at > since) & (Appraisal.due_at <= since))
    for where, key in zip(wheres, (Appraisal.due_at, Appraisal.state_entered_at), strict=False):
        # keyset pages in the order of the index that selects the rows (deadline or entry,
        # then id), so each page reads its rows straight from the index, never a walk by id
        after: tuple[Any, int] | None = None
        while True:
            query = select(*columns, key).where(where)
            if after is not None:
                query = query.where(tuple_(key, Appraisal.id) > tuple_(*after))
            rows = db.session.execute(query.order_by(key, Appraisal.id).limit(BATCH)).all()
            if not rows:
                break
            after = (rows[-1][5], rows[-1][0])
            yield [(r[0], r[1], r[2], r[3], r[4]) for r in rows if r[2] is not None]


def _keys_for(
    row: Row, now: dt.datetime, known: dict[tuple[int, str], _Rule | None] | None = None
) -> tuple[list[str], str | None]:
    """The marks an appraisal's deadline calls for now, and which work they stand for:
    ``remind`` (the nearest reminder; earlier ones missed are marked with it), ``overdue``,
    or ``none`` (overdue, and the state asks nothing then)."""
    appraisal_id, entry, due, state, snapshot_id = row
    known = {} if known is None else known  # per run: snapshot ids are per database
    if (snapshot_id, state) not in known:
        known[snapshot_id, state] = _rules(snapshot_id, state)
    rule = known[snapshot_id, state]
    if rule is None:
        return [], None
    if now >= due:
        return [f"overdue:{appraisal_id}:{entry}"], "overdue" if rule.on_overdue else "none"
    reached = [name for name, offset in rule.remind if due - offset <= now]
    if not reached:
        return [], None
    return [f"remind:{appraisal_id}:{entry}:{o}" for o in reached], "remind"


def _taken(keys: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(keys), BATCH):
        chunk = keys[i : i + BATCH]
        found.update(
            db.session.scalars(select(ScheduleMark.key).where(ScheduleMark.key.in_(chunk)))
        )
    return found


def deadlines(now: dt.datetime, report: Report) -> None:
    known: dict[tuple[int, str], _Rule | None] = {}
    for batch in _candidates(now):
        wanted: dict[int, tuple[list[str], str]] = {}
        for row in batch:
            keys, work = _keys_for(row, now, known)
            if work is not None:
                wanted[row[0]] = (keys, work)
        taken = _taken([k for keys, _ in wanted.values() for k in keys])
        db.session.rollback()  # end the read: each appraisal's work is its own transaction
        for appraisal_id, (keys, work) in wanted.items():
            if all(k in taken for k in keys):
                continue
            try:
                _do(appraisal_id, [k for k in keys if k not in taken], work, now, report)
            except IntegrityError:
                db.session.rollback()  # another run did it first
            except (OpsperfError, StaleDataError) as exc:  # it moved on: the next run sees
                db.session.rollback()
                report.problems.append(f"appraisal {appraisal_id}: {exc}")
                log.warning("scheduled work on appraisal %s: %s", appraisal_id, exc)
    _mark_since(now)


def _keys_due(ctx: Context, now: dt.datetime) -> list[str]:
    a = ctx.appraisal
    if a.due_at is None or ctx.final:
        return []
    row = (a.id, a.entry_seq, a.due_at, a.state, a.workflow_snapshot_id)
    return _keys_for(row, now)[0]


def _do(appraisal_id: int, keys: list[str], work: str, now: dt.datetime, report: Report) -> None:
    """One appraisal's due work and its marks, in one transaction."""
    for key in keys:
        db.session.add(ScheduleMark(key=key, at=now))
    db.session.flush()  # a taken key fails here (or waits for the run holding it, then fails)
    a = db.session.get(Appraisal, appraisal_id)
    assert a is not None
    ctx = context(a)
    current = _keys_due(ctx, now)  # the appraisal may have moved since it was read
    if not set(keys) <= set(current):
        db.session.rollback()
        return
    state = deadline_state(ctx.workflow.states, a.state)
    assert state is not None
    if work == "remind":
        left = a.due_at - now if a.due_at else dt.timedelta(0)
        people = notifications._actors_now(ctx)
        notifications.send(
            people,
            event="reminder",
            message="reminder",
            params=notifications._params(ctx, days_left=max(0, left.days)),
            appraisal_id=a.id,
        )
        report.reminders += 1
    elif work == "overdue":
        _overdue(ctx, state, report)
    db.session.commit()


def _overdue(ctx: Context, state: State, report: Report) -> None:
    action = state.on_overdue
    assert action is not None
    a = ctx.appraisal
    params = notifications._params(ctx)
    told = notifications.holders(ctx, action.notify)
    escalated = notifications.holders(ctx, [action.escalate_to]) if action.escalate_to else set()
    if told:
        notifications.send(
            told - escalated, event="overdue", message="overdue", params=params, appraisal_id=a.id
        )
        report.overdue += 1
    if escalated:
        notifications.send(
            escalated, event="overdue", message="escalated", params=params, appraisal_id=a.id
        )
        report.escalated += 1
    if action.fire:
        rule = f"{a.state}: on_overdue.fire {action.fire}"
        appraisals_svc.fire_by_rule(ctx, action.fire, rule)
        report.fired += 1


# --------------------------------------------------------------------------- e-mail


def digests(now: dt.datetime, settings: Settings, report: Report) -> None:
    """Once a day from ``digest_hour``: one e-mail per person of what waited for the digest."""
    if now.hour < settings.digest_hour:
        return
    day = now.date().isoformat()
    waiting = list(
        db.session.scalars(
            select(Notification.user_id).where(Notification.mail == "digest").distinct()
        )
    )
    db.session.rollback()
    for user_id in waiting:
        try:
            db.session.add(ScheduleMark(key=f"digest:{user_id}:{day}", at=now))
            db.session.flush()
            ids = list(
                db.session.scalars(
                    select(Notification.id)
                    .where(Notification.user_id == user_id, Notification.mail == "digest")
                    .order_by(Notification.id)
                    .with_for_update()
                )
            )
            if ids:
                db.session.execute(
                    update(Notification).where(Notification.id.in_(ids)).values(mail="digested")
                )
                db.session.add(Email(user_id=user_id, notification_ids=ids, digest=True))
                report.digests += 1
            db.session.commit()
        except IntegrityError:
            db.session.rollback()


def _claimable(now: dt.datetime) -> list[int]:
    queued = select(Email.id).where(Email.status == "queued", Email.next_try_at <= now)
    abandoned = select(Email.id).where(
        Email.status == "sending", Email.claimed_at < now - STALE_CLAIM
    )
    ids = list(db.session.scalars(queued.order_by(Email.id).limit(SEND_BATCH)))
    ids += list(db.session.scalars(abandoned.order_by(Email.id).limit(SEND_BATCH)))
    db.session.rollback()
    return ids[:SEND_BATCH]


def _claim(email_id: int, now: dt.datetime) -> bool:
    won = db.session.execute(
        update(Email)
        .where(
            Email.id == email_id,
            (Email.status == "queued")
            | ((Email.status == "sending") & (Email.claimed_at < now - STALE_CLAIM)),
        )
        .values(status="sending", claimed_at=now)
    )
    db.session.commit()
    return bool(getattr(won, "rowcount", 0))


def deliver(now: dt.datetime, mailer: Mailer, settings: Settings, report: Report) -> None:
    """Send what the outbox holds; a refused delivery is tried again later, with a growing
    wait, and given up (``failed``, with the server's answer) after ``retries`` tries."""
    for email_id in _claimable(now):
        if not _claim(email_id, now):
            continue  # another sender has it
        email = db.session.get(Email, email_id)
        assert email is not None
        user = email.user
        items = list(
            db.session.scalars(
                select(Notification)
                .where(Notification.id.in_(email.notification_ids or []))
                .order_by(Notification.id)
            )
        )
        email.attempts += 1
        try:
            if not user.email:
                raise _Undeliverable("the person has no e-mail address")
            mailer.send(email, user, items)
        except _Undeliverable as exc:
            email.status, email.last_error = "failed", str(exc)
            report.failed += 1
        except Exception as exc:
            email.last_error = f"{type(exc).__name__}: {exc}"[:500]
            if email.attempts >= settings.retries:
                email.status = "failed"
                report.failed += 1
            else:
                email.status = "queued"
                wait = settings.retry_delay * 2 ** (email.attempts - 1)
                email.next_try_at = now + dt.timedelta(seconds=wait)
                report.retrying += 1
        else:
            email.status, email.sent_at, email.last_error = "sent", now, None
            report.sent += 1
        email.claimed_at = None
        db.session.commit()


class _Undeliverable(Exception):
    pass


def every(seconds: float, run: Callable[[], Any]) -> Callable[[], None]:
    """A loop body for a background thread: ``run`` every ``seconds`` (``serve``/``demo``)."""
    import time

    def loop() -> None:
        while True:
            try:
                run()
            except Exception:
                log.exception("scheduled work failed")
            time.sleep(seconds)

    return loop

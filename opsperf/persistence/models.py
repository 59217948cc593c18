"""Typed SQLAlchemy models. Plain data: no Flask request state, no definitions logic."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Named constraints, so that migrations can alter them (SQLite's batch mode needs names).
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# A session lives for one request (or one job batch). Objects keep what they hold after a
# commit instead of reloading every row on next access: a save would otherwise read the
# signed-in user again just to pick the language of its "Saved" message.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})


def upsert(table: Any, values: dict[str, Any], keys: list[Any], changes: dict[str, Any]) -> Any:
    """``INSERT … ON CONFLICT (keys) DO UPDATE SET changes``, on SQLite or PostgreSQL: one
    statement, so concurrent workers never lose a count."""
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    return insert(table).values(**values).on_conflict_do_update(index_elements=keys, set_=changes)


# The time scheduled work runs at (``clock_at``): ``opsperf tick --now`` and the tests move
# it; everything stamped or compared while it is set (events, deadlines, the ``overdue``
# guard) reads the same moment.
_NOW: ContextVar[dt.datetime | None] = ContextVar("opsperf_now", default=None)


def utcnow() -> dt.datetime:
    return _NOW.get() or dt.datetime.now(dt.UTC).replace(tzinfo=None)


@contextmanager
def clock_at(moment: dt.datetime | None) -> Iterator[None]:
    """Let ``utcnow`` say ``moment`` (naive UTC) inside the block; None: the real time."""
    token = _NOW.set(moment)
    try:
        yield
    finally:
        _NOW.reset(token)


class User(db.Model):  # type: ignore[name-defined,misc]
    """A person: an employee, a manager, HR, an administrator."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    employee_no: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300), default="")
    department_id: Mapped[str | None] = mapped_column(String(64), index=True)
    position_id: Mapped[str | None] = mapped_column(String(64))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str | None] = mapped_column(String(8))  # None: the browser's
    # How notifications reach this person besides the inbox: immediate | digest | inbox
    email_notifications: Mapped[str] = mapped_column(
        String(16), default="immediate", server_default="immediate"
    )
    base_bonus: Mapped[float | None]
    # Declared person attributes (kind: PersonAttributes) by id: salary, quota, level…
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Part of every session and remember-me cookie (get_id): raising it ends them all.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")

    manager: Mapped[User | None] = relationship(remote_side=[id])

    # Flask-Login's user protocol, spelled out so persistence needs no web import.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """What sessions and remember-me cookies carry: the id and the session epoch."""
        return f"{self.id}.{self.session_epoch or 0}"

    def end_sessions(self) -> None:
        """Sign this person out everywhere: every session and cookie issued so far is refused."""
        self.session_epoch = (self.session_epoch or 0) + 1

    def has_role(self, role: str) -> bool:
        return role in (self.roles or [])


# Log-in names are compared without letter case (e-mails are stored in lower case).
Index("ix_users_employee_no_lower", func.lower(User.employee_no))


class Snapshot(db.Model):  # type: ignore[name-defined,misc]
    """A definition exactly as it was when a cycle used it; never changes once written."""

    __tablename__ = "snapshots"
    __table_args__ = (UniqueConstraint("kind", "def_id", "content_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    def_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Cycle(db.Model):  # type: ignore[name-defined,misc]
    """A review cycle (考核周期): one workflow, a period, the departments in scope."""

    __tablename__ = "cycles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    workflow_id: Mapped[str] = mapped_column(String(64))
    period_start: Mapped[dt.date]
    period_end: Mapped[dt.date]
    departments: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="active")
    # Every appraisal of a cycle runs on this one pinned workflow.
    workflow_snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshots.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    appraisals: Mapped[list[Appraisal]] = relationship(back_populates="cycle")


class Appraisal(db.Model):  # type: ignore[name-defined,misc]
    """One person's appraisal in one cycle, pinned to the definition snapshots it started with."""

    __tablename__ = "appraisals"
    __table_args__ = (
        UniqueConstraint("cycle_id", "employee_id"),
        Index("ix_appraisals_cycle_state", "cycle_id", "state"),
        Index("ix_appraisals_cycle_department", "cycle_id", "department_id"),
        Index("ix_appraisals_cycle_due", "cycle_id", "due_at"),
        # what `opsperf tick` looks at: deadlines coming up or passed, across cycles
        Index("ix_appraisals_due", "due_at"),
        Index("ix_appraisals_entered", "state_entered_at"),
        # a cycle's list in launch (employee-number) order and by score, a page at a time
        Index("ix_appraisals_cycle_order", "cycle_id", "id"),
        Index("ix_appraisals_cycle_score", "cycle_id", "score"),
        # a state's appraisals by score (the calibration board, a cycle page filtered by
        # step): a range of the state's rows in order, not a walk of the whole cycle's scores
        Index("ix_appraisals_cycle_state_score", "cycle_id", "state", "score"),
        # the calibration board's one GROUP BY over a cycle's calibrated population, from the
        # index alone (services.calibration._tally)
        Index(
            "ix_appraisals_cycle_state_tally",
            "cycle_id",
            "state",
            "department_id",
            "policy_snapshot_id",
            "grade",
            "bonus",
        ),
        # what a cycle's rows add up to (how many, the sum of their versions, the newest
        # write), read from the index alone: the alignment page's figures are kept until it
        # changes (services.alignment._figures)
        Index("ix_appraisals_cycle_fingerprint", "cycle_id", "version", "updated_at"),
        # the dashboards' one GROUP BY over a cycle (or the last few) by department, state,
        # grade and policy, with scores, deadlines and positions, from the index alone
        # (services.dashboards._tally)
        Index(
            "ix_appraisals_cycle_dashboard",
            "cycle_id",
            "department_id",
            "state",
            "grade",
            "policy_snapshot_id",
            "position_id",
            "score",
            "due_at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"))
    employee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    department_id: Mapped[str] = mapped_column(String(64), index=True)
    position_id: Mapped[str] = mapped_column(String(64))
    form_snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id"))
    workflow_snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id"))
    policy_snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshots.id"))
    department_snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id"))
    # The custom roles the workflow names that count in this department, fixed at launch
    # (definitions.org); None for appraisals launched before roles had a scope.
    custom_roles: Mapped[list[str] | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(128))
    state_entered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    due_at: Mapped[dt.datetime | None]  # the current state's deadline, set on entering it
    entry_seq: Mapped[int] = mapped_column(default=1)
    pending_trigger: Mapped[str | None] = mapped_column(String(64))
    pending_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    score: Mapped[float | None]
    grade: Mapped[str | None] = mapped_column(String(16))
    bonus: Mapped[float | None]
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # A grade changed at calibration: {grade, original, by, by_name, at, reason}; the grade
    # column holds the grade in force (services.calibration).
    override: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}

    cycle: Mapped[Cycle] = relationship(back_populates="appraisals")
    employee: Mapped[User] = relationship(foreign_keys=[employee_id])
    manager: Mapped[User | None] = relationship(foreign_keys=[manager_id])


class Vote(db.Model):  # type: ignore[name-defined,misc]
    """One approver's sign-off of a transition during one stay in a state."""

    __tablename__ = "votes"
    __table_args__ = (UniqueConstraint("appraisal_id", "entry_seq", "trigger", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    appraisal_id: Mapped[int] = mapped_column(ForeignKey("appraisals.id"), index=True)
    entry_seq: Mapped[int]
    trigger: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()


class Event(db.Model):  # type: ignore[name-defined,misc]
    """The audit trail: append-only, one row per save, request, vote and transition."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_appraisal_at", "appraisal_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    appraisal_id: Mapped[int | None] = mapped_column(ForeignKey("appraisals.id"))
    cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    trigger: Mapped[str | None] = mapped_column(String(64))
    from_state: Mapped[str | None] = mapped_column(String(128))
    to_state: Mapped[str | None] = mapped_column(String(128))
    comment: Mapped[str | None] = mapped_column(Text)
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    actor: Mapped[User | None] = relationship()


class ReportFile(db.Model):  # type: ignore[name-defined,misc]
    """One printed appraisal of a batch job (web.reports): kept with the job, so that the ZIP
    is put together from the rows as it is downloaded, as often as wanted."""

    __tablename__ = "report_files"
    __table_args__ = (UniqueConstraint("job_id", "appraisal_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"))
    appraisal_id: Mapped[int] = mapped_column(ForeignKey("appraisals.id"))
    name: Mapped[str] = mapped_column(String(300))
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FollowUp(db.Model):  # type: ignore[name-defined,misc]
    """An action a final grade calls for (coaching, a promotion nomination…), tracked to its end.

    One per appraisal and action (services.follow_ups). ``owner_id`` is the person the owning
    role names on the appraisal; None for a role such as hr, whose holders all see it.
    """

    __tablename__ = "follow_ups"
    __table_args__ = (
        UniqueConstraint("appraisal_id", "action_id"),
        Index("ix_follow_ups_owner_status_due", "owner_id", "status", "due_on"),
        Index("ix_follow_ups_status_due", "status", "due_on"),
        Index("ix_follow_ups_employee_status", "employee_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    appraisal_id: Mapped[int] = mapped_column(ForeignKey("appraisals.id"))
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"))
    employee_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    department_id: Mapped[str] = mapped_column(String(64))
    action_id: Mapped[str] = mapped_column(String(64))
    label: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    owner_role: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_on: Mapped[dt.date]
    status: Mapped[str] = mapped_column(String(16), default="open")
    notes: Mapped[str | None] = mapped_column(Text)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    appraisal: Mapped[Appraisal] = relationship()
    employee: Mapped[User] = relationship(foreign_keys=[employee_id])
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])


class OpenStep(db.Model):  # type: ignore[name-defined,misc]
    """Who may act on an open appraisal now: one row per possible step and actor.

    Rewritten whenever the appraisal changes state or a vote is cast, so that task lists are
    an indexed lookup by actor. ``actor`` is ``u:<user id>`` (a person), ``p:<department>/
    <position>`` (whoever holds that position: the department head) or ``r:<role>`` (anyone
    holding a global role, or a custom role that counts on the appraisal).
    """

    __tablename__ = "open_steps"
    __table_args__ = (Index("ix_open_steps_actor_due", "actor", "due_at", "appraisal_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    appraisal_id: Mapped[int] = mapped_column(ForeignKey("appraisals.id"), index=True)
    cycle_id: Mapped[int]
    actor: Mapped[str] = mapped_column(String(160))
    kind: Mapped[str] = mapped_column(String(16))  # edit | fire | request | approve | escalate
    trigger: Mapped[str | None] = mapped_column(String(64))
    due_at: Mapped[dt.datetime]  # the deadline; steps.NO_DEADLINE when there is none
    entry_seq: Mapped[int]
    # Who may not take this step although they match the actor: the employee and the
    # requester of an approval (unless the workflow allows self-approval).
    excluded_user_id: Mapped[int | None]
    excluded_requester_id: Mapped[int | None]


class Job(db.Model):  # type: ignore[name-defined,misc]
    """Long work done in the background (an import, a batch): its state and progress."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_created_by", "created_by_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str | None] = mapped_column(String(64), index=True)  # e.g. "cycle:12"
    status: Mapped[str] = mapped_column(String(16), default="queued")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(String(2000))
    # A file the job made for download (a sheet of links, a batch of PDFs), and its name.
    output: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    output_name: Mapped[str | None] = mapped_column(String(200))

    created_by: Mapped[User | None] = relationship()


class Setting(db.Model):  # type: ignore[name-defined,misc]
    """Small facts about the database itself, e.g. which rules built the derived tables."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class LoginFailure(db.Model):  # type: ignore[name-defined,misc]
    """Failed log-ins of one account or one client address in the current window: shared by
    every worker and host, so throttling holds however many serve the site."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)  # "account:…" | "address:…"
    failures: Mapped[int] = mapped_column(default=0)
    window_start: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ExpressionFailure(db.Model):  # type: ignore[name-defined,misc]
    """An expression of a definition that failed at run time although every value it reads was
    there (a mistake in the definition): shown to HR and administrators on *Definitions*."""

    __tablename__ = "expression_failures"
    __table_args__ = (UniqueConstraint("definition", "location", "expression"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    definition: Mapped[str] = mapped_column(String(200))
    location: Mapped[str] = mapped_column(String(200))
    expression: Mapped[str] = mapped_column(String(2000))
    error: Mapped[str] = mapped_column(String(500))
    inputs: Mapped[dict[str, str]] = mapped_column(JSON)
    count: Mapped[int] = mapped_column(default=1)
    first_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class CheckIn(db.Model):  # type: ignore[name-defined,misc]
    """One period's actual of one KPI of one appraisal (services.checkins): the series the
    KPI's scored actual is aggregated from. Saving the same value again changes nothing."""

    __tablename__ = "checkins"
    __table_args__ = (UniqueConstraint("appraisal_id", "field_id", "kpi_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    appraisal_id: Mapped[int] = mapped_column(ForeignKey("appraisals.id"))
    field_id: Mapped[str] = mapped_column(String(64))
    kpi_id: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(16))  # 2026-10 | 2026-W42 | 2026-Q4
    value: Mapped[float]
    note: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(16))  # page | import | api
    source_ref: Mapped[str | None] = mapped_column(String(200))  # the file or the token
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    recorded_by: Mapped[User | None] = relationship()


class ApiToken(db.Model):  # type: ignore[name-defined,misc]
    """A business system's key to the integration API: only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))  # the first characters, to recognise it
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])


class ActualsBatch(db.Model):  # type: ignore[name-defined,misc]
    """A batch of actuals pushed through the API under a client's key: sent again with the
    same rows it is answered from here, with different rows it is refused."""

    __tablename__ = "actuals_batches"
    __table_args__ = (UniqueConstraint("token_id", "client_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id"))
    client_key: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)


class GoalActual(db.Model):  # type: ignore[name-defined,misc]
    """A department goal's actual for one cycle, recorded once by whoever the goal names
    (``entered_by``); forms of the department read it (services.goals)."""

    __tablename__ = "goal_actuals"
    __table_args__ = (UniqueConstraint("cycle_id", "department_id", "goal_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"))
    department_id: Mapped[str] = mapped_column(String(64))
    goal_id: Mapped[str] = mapped_column(String(64))
    value: Mapped[float]
    note: Mapped[str | None] = mapped_column(String(500))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    recorded_by: Mapped[User | None] = relationship()


class Notification(db.Model):  # type: ignore[name-defined,misc]
    """One message in a person's inbox (services.notifications): a message key and its
    parameters, said in the reader's language when shown or mailed."""

    __tablename__ = "notifications"
    __table_args__ = (
        # the inbox, newest first, and the header's unread count: an indexed range per person
        Index("ix_notifications_user_read", "user_id", "read_at", "id"),
        Index("ix_notifications_user_id", "user_id", "id"),
        # the daily digest: who has notifications waiting for it
        Index("ix_notifications_mail_user", "mail", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    appraisal_id: Mapped[int | None] = mapped_column(ForeignKey("appraisals.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    event: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # where on the appraisal page it points (a comment, a KPI row): an element id, or ""
    anchor: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    read_at: Mapped[dt.datetime | None]
    # by e-mail: none | queued (an e-mail of its own) | digest (waits for the digest) | digested
    mail: Mapped[str] = mapped_column(String(16), default="none")

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])


class Email(db.Model):  # type: ignore[name-defined,misc]
    """An e-mail waiting to be sent, sent, or given up on (the outbox): written in the
    transaction that caused it, delivered by ``opsperf tick``, never by a request."""

    __tablename__ = "emails"
    __table_args__ = (Index("ix_emails_status_next", "status", "next_try_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # one notification, or (a digest) several: their ids
    notification_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    digest: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|sending|sent|failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_try_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[dt.datetime | None]
    to_addr: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(300))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship()


class ScheduleMark(db.Model):  # type: ignore[name-defined,misc]
    """Scheduled work done once (a reminder, an overdue step fired, a day's digest): the key
    is written in the transaction that does it, so a second ``tick`` — later, or on another
    host at the same moment — finds it taken and does nothing."""

    __tablename__ = "schedule_marks"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Comment(db.Model):  # type: ignore[name-defined,misc]
    """A comment on an appraisal or on one KPI row of it (services.comments): a thread is a
    top-level comment and its replies (one level). Mentions are the ids of people named in
    the body as ``@[name](u:<id>)``; ``addressed_to`` the roles a thread a step opened is
    for (an appeal to HR). Each comment is also a ``comment`` event of the audit trail."""

    __tablename__ = "comments"
    __table_args__ = (
        # an appraisal's threads (general, or of one KPI), newest first, a page at a time
        Index("ix_comments_appraisal_threads", "appraisal_id", "kpi", "parent_id", "id"),
        # the replies of a page of threads, oldest first
        Index("ix_comments_parent", "parent_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    appraisal_id: Mapped[int] = mapped_column(ForeignKey("appraisals.id"))
    kpi: Mapped[str | None] = mapped_column(String(130))  # "<kpi table>.<kpi>", None: general
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)  # at most engine.text.COMMENT_LIMIT characters
    visibility: Mapped[str] = mapped_column(String(16), default="public")  # public | private
    mentions: Mapped[list[int]] = mapped_column(JSON, default=list)
    addressed_to: Mapped[list[str] | None] = mapped_column(JSON)
    trigger: Mapped[str | None] = mapped_column(String(64))  # the step that opened the thread
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    author: Mapped[User] = relationship()

"""Typed SQLAlchemy models. Plain data: no Flask request state, no definitions logic."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


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
    base_bonus: Mapped[float | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

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
        return str(self.id)

    def has_role(self, role: str) -> bool:
        return role in (self.roles or [])


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
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    appraisals: Mapped[list[Appraisal]] = relationship(back_populates="cycle")


class Appraisal(db.Model):  # type: ignore[name-defined,misc]
    """One person's appraisal in one cycle, pinned to the definition snapshots it started with."""

    __tablename__ = "appraisals"
    __table_args__ = (UniqueConstraint("cycle_id", "employee_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"), index=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    department_id: Mapped[str] = mapped_column(String(64), index=True)
    position_id: Mapped[str] = mapped_column(String(64))
    form_snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id"))
    workflow_snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id"))
    policy_snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshots.id"))
    department_snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id"))
    state: Mapped[str] = mapped_column(String(128), index=True)
    state_entered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    entry_seq: Mapped[int] = mapped_column(default=1)
    pending_trigger: Mapped[str | None] = mapped_column(String(64))
    pending_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    score: Mapped[float | None]
    grade: Mapped[str | None] = mapped_column(String(16))
    bonus: Mapped[float | None]
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
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

"""What a printed appraisal holds: the person and cycle, the form as its reader may see it,
the result with the inputs it was computed from, the sign-off trail, the definition versions
with their content hashes, and a document id that names exactly this version of it.

The web layer lays this out as HTML and WeasyPrint prints it (``web/reports.py``); the same
report comes from the page, the API and ``opsperf report pdf``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from opsperf.definitions.loader import DefinitionSet
from opsperf.engine.forms import Evaluation, evaluate
from opsperf.errors import NotFound, PermissionDenied, ValidationFailed
from opsperf.persistence.models import (
    Appraisal,
    Cycle,
    Event,
    Job,
    ReportFile,
    User,
    Vote,
    db,
)
from opsperf.services import appraisals as appraisals_svc
from opsperf.services import comments, goals, jobs, snapshots
from opsperf.services.calibration import headed, is_company_wide
from opsperf.services.context import Context, context
from opsperf.services.context import get as get_appraisal
from opsperf.services.cycles import subtree

# The events that make the sign-off trail: a step taken, a sign-off asked for, given or
# declined, a grade changed at calibration, a comment (a private note only for its readers).
TRAIL = ("request", "vote", "decline", "transition", "override", "comment")
TRAIL_LIMIT = 200  # the newest steps of an appraisal worked on for years; none has so many


@dataclass(frozen=True)
class Step:
    """One entry of the sign-off trail."""

    kind: str
    trigger: str | None
    from_state: str | None
    to_state: str | None
    by: str | None  # a person's name; None: the system
    roles: tuple[str, ...]
    at: dt.datetime
    comment: str | None
    private: bool = False  # a private note (printed only for those who read them)
    kpi: str | None = None  # a comment's KPI row (``table.kpi``)


@dataclass(frozen=True)
class Pinned:
    """A definition the appraisal is pinned to."""

    kind: str
    id: str
    version: int
    content_hash: str


@dataclass
class Report:
    ctx: Context
    evaluation: Evaluation
    roles: frozenset[str]  # the reader's roles on the appraisal (empty: the system)
    trail: list[Step] = field(default_factory=list)
    definitions: list[Pinned] = field(default_factory=list)
    document_id: str = ""
    digest: str = ""
    printed_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def appraisal(self) -> Appraisal:
        return self.ctx.appraisal


def report_of(appraisal_id: int, reader: User | None) -> Report:
    """The report of an appraisal as ``reader`` may see it (None: the server's own copy, for
    the command line: nothing withheld). Raises NotFound or PermissionDenied."""
    a = get_appraisal(appraisal_id)
    ctx = context(a)
    if reader is not None:
        appraisals_svc.require_view(ctx, reader)
        viewer = appraisals_svc.viewer(ctx, reader)
        roles = frozenset(appraisals_svc.roles_of(ctx, reader))
    else:
        viewer, roles = None, frozenset()
    evaluation = evaluate(ctx.form, goals.values_with_goals(ctx), viewer=viewer)
    report = Report(ctx, evaluation, roles)
    private_ok = reader is None or comments.reads_private(ctx, reader)
    report.trail = _trail(ctx, private_ok)
    report.definitions = _definitions(a)
    report.digest = digest(a, report.definitions)
    report.document_id = f"OPS-{a.id:06d}-{a.version}-{report.digest[:8].upper()}"
    return report


def digest(a: Appraisal, definitions: list[Pinned]) -> str:
    """A hash of what the appraisal says now: its values, result, state and the definitions
    it is pinned to. Two prints with the same digest say the same."""
    body = {
        "appraisal": a.id,
        "version": a.version,
        "state": a.state,
        "values": a.values or {},
        "score": a.score,
        "grade": a.grade,
        "bonus": a.bonus,
        "override": a.override,
        "definitions": [(d.kind, d.id, d.version, d.content_hash) for d in definitions],
    }
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _definitions(a: Appraisal) -> list[Pinned]:
    found = []
    for snapshot_id in (
        a.form_snapshot_id,
        a.workflow_snapshot_id,
        a.policy_snapshot_id,
        a.department_snapshot_id,
    ):
        if snapshot_id is None:
            continue
        pinned = snapshots.pinned(snapshot_id)
        found.append(Pinned(pinned.kind, pinned.def_id, pinned.version, pinned.content_hash))
    return found


def _trail(ctx: Context, private_ok: bool = False) -> list[Step]:
    """The steps taken on the appraisal, oldest first, with the roles each signer held: a
    sign-off's as recorded with it, a step's as the person holds them on the appraisal; the
    comments among them (the private notes only when ``private_ok``)."""
    a = ctx.appraisal
    events = list(
        db.session.scalars(
            select(Event)
            .where(Event.appraisal_id == a.id, Event.kind.in_(TRAIL))
            .options(joinedload(Event.actor))
            .order_by(Event.id.desc())
            .limit(TRAIL_LIMIT)
        )
    )
    events.reverse()
    votes: dict[tuple[int, str | None, str | None], tuple[str, ...]] = {
        (v.user_id, v.trigger, v.comment): tuple(v.roles or [])
        for v in db.session.scalars(select(Vote).where(Vote.appraisal_id == a.id))
    }
    roles_now: dict[int, tuple[str, ...]] = {}
    steps = []
    for e in events:
        private = e.kind == "comment" and (e.changes or {}).get("visibility") != "public"
        if private and not private_ok:
            continue  # a private note is not printed, not even that there is one
        roles: tuple[str, ...] = ()
        if e.actor is not None:
            roles = votes.get((e.actor.id, e.trigger, e.comment)) or ()
            if not roles:
                if e.actor.id not in roles_now:
                    held = appraisals_svc.roles_of(ctx, e.actor)
                    roles_now[e.actor.id] = tuple(sorted(held))
                roles = roles_now[e.actor.id]
        steps.append(
            Step(
                e.kind,
                e.trigger,
                e.from_state,
                e.to_state,
                e.actor.name if e.actor is not None else None,
                roles,
                e.at,
                e.comment,
                private,
                (e.changes or {}).get("kpi") if e.kind == "comment" else None,
            )
        )
    return steps


# --------------------------------------------------------------------------- batches

BATCH_JOB = "report_batch"
MAX_BATCH = 20_000  # appraisals of one batch: a cycle of a very large company


@dataclass(frozen=True)
class BatchScope:
    """The appraisals of a batch: a cycle's, of ``departments`` (None: all of them)."""

    root: str | None
    departments: tuple[str, ...] | None


def batch_scope(defs: DefinitionSet, user: User, cycle: Cycle, department: str) -> BatchScope:
    """What ``user`` may print of ``cycle``: HR and administrators the whole cycle or any
    department with those below it, a department head their own subtree."""
    if department and department not in defs.departments:
        raise NotFound("there is no department '%(id)s'", id=department[:64])
    if is_company_wide(user):
        if not department:
            return BatchScope(None, None)
        return BatchScope(department, tuple(subtree(defs, [department])))
    own = headed(defs, user)
    if own is None:
        raise PermissionDenied("only HR and department heads print a department's appraisals")
    if department and department not in subtree(defs, [own]):
        raise PermissionDenied("you print only your own department and those below it")
    root = department or own
    return BatchScope(root, tuple(subtree(defs, [root])))


def _in_batch(cycle: Cycle, scope: BatchScope) -> Any:
    condition = Appraisal.cycle_id == cycle.id
    if scope.departments is not None:
        condition &= Appraisal.department_id.in_(scope.departments)
    return condition


def batch_ids(cycle: Cycle, scope: BatchScope) -> list[int]:
    """The appraisals of the batch, by department and employee number (one indexed query)."""
    query = (
        select(Appraisal.id)
        .join(User, Appraisal.employee_id == User.id)
        .where(_in_batch(cycle, scope))
        .order_by(Appraisal.department_id, User.employee_no)
    )
    return list(db.session.scalars(query.limit(MAX_BATCH + 1)))


def create_batch(user: User, cycle: Cycle, scope: BatchScope, language: str) -> Job:
    count = db.session.scalar(select(func.count(Appraisal.id)).where(_in_batch(cycle, scope)))
    if not count:
        raise ValidationFailed("there is no appraisal to print here")
    if count > MAX_BATCH:
        raise ValidationFailed(
            "a batch prints at most %(max)s appraisals: choose a department", max=MAX_BATCH
        )
    params = {"cycle_id": cycle.id, "root": scope.root or "", "language": language}
    return jobs.create(BATCH_JOB, user, params=params, subject=batch_subject(cycle, scope))


def batch_subject(cycle: Cycle, scope: BatchScope) -> str:
    return f"reports:{cycle.id}:{scope.root or ''}"[:64]


def file_name(a: Appraisal) -> str:
    """Where an appraisal's PDF goes in the ZIP: its department, then the person."""
    safe = "".join(
        c for c in f"{a.employee.employee_no}-{a.employee.name}" if c not in '/\\:*?"<>|'
    )
    return f"{a.department_id}/{safe[:120]}.pdf"


def keep(job_id: int, appraisal_id: int, name: str, data: bytes) -> None:
    """Store one PDF of a batch (committed by the caller)."""
    db.session.add(ReportFile(job_id=job_id, appraisal_id=appraisal_id, name=name, data=data))


def kept_ids(job_id: int) -> set[int]:
    """The appraisals a batch has printed so far (a retried job goes on from there)."""
    return set(
        db.session.scalars(select(ReportFile.appraisal_id).where(ReportFile.job_id == job_id))
    )


def kept(job_id: int) -> Any:
    """The PDFs of a batch, by name, read a few at a time."""
    return db.session.execute(
        select(ReportFile.name, ReportFile.data)
        .where(ReportFile.job_id == job_id)
        .order_by(ReportFile.name, ReportFile.id)
        .execution_options(yield_per=20)
    )

"""Background jobs: long work (imports, launches, batches) recorded with its progress.

A request creates the job and hands its id to the queue (``opsperf.worker``); a worker runs it
through :func:`run`, which dispatches on ``kind`` to a handler registered with
:func:`handler`. Handlers report progress with ``progress(done, total)``, which commits the
session: call it where committing what was done so far is right. The page reads the job row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from sqlalchemy import select

from opsperf.definitions.loader import DefinitionSet
from opsperf.errors import NotFound, OpsperfError, PermissionDenied
from opsperf.persistence.models import Job, User, db, utcnow

T = TypeVar("T")
Progress = Callable[[int, int], None]
Handler = Callable[[DefinitionSet, Job, Progress], dict[str, Any]]
HANDLERS: dict[str, Handler] = {}
FINISHED = ("done", "failed")
MAX_ERROR = 2000


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of ``kind``."""

    def register(function: Handler) -> Handler:
        HANDLERS[kind] = function
        return function

    return register


def create(
    kind: str,
    user: User | None,
    params: dict[str, Any] | None = None,
    payload: bytes | None = None,
    subject: str | None = None,
) -> Job:
    """Record a job (committed), ready to be enqueued."""
    job = Job(
        kind=kind,
        created_by_id=user.id if user else None,
        params=params or {},
        payload=payload,
        subject=subject,
    )
    db.session.add(job)
    db.session.commit()
    return job


def run(job_id: int, defs: DefinitionSet, last_attempt: bool = True) -> None:
    """Run a job once. Unexpected errors are re-raised for the queue to retry; an error a
    person caused (an :class:`OpsperfError`) fails the job at once: running again cannot help."""
    job = db.session.get(Job, job_id)
    if job is None or job.status in FINISHED:
        return
    job.status = "running"
    job.attempts += 1
    job.started_at = job.started_at or utcnow()
    job.error = None
    db.session.commit()

    def progress(done: int, total: int) -> None:
        job.done, job.total = done, total
        db.session.commit()

    try:
        result = HANDLERS[job.kind](defs, job, progress)
    except OpsperfError as exc:
        _fail(job_id, exc, final=True)
        return
    except Exception as exc:
        _fail(job_id, exc, final=last_attempt)
        raise
    job.result = result
    job.status = "done"
    job.done = job.total = max(job.total, job.done)
    job.finished_at = utcnow()
    job.payload = None  # the upload is not needed any more
    db.session.commit()


def _fail(job_id: int, exc: Exception, final: bool) -> None:
    db.session.rollback()
    job = db.session.get(Job, job_id)
    if job is None:
        return
    if isinstance(exc, OpsperfError):
        job.result = {"template": exc.template, "params": _plain(exc.params)}
        job.error = str(exc)[:MAX_ERROR]
    else:
        job.error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
    job.status = "failed" if final else "retrying"
    if final:
        job.finished_at = utcnow()
    db.session.commit()


def _plain(params: dict[str, object]) -> dict[str, Any]:
    return {k: v if isinstance(v, int | float | str) else str(v) for k, v in params.items()}


def counted(rows: Iterable[T], total: int, progress: Progress, every: int = 500) -> Iterator[T]:
    """``rows`` passed on, reporting ``progress`` every ``every`` rows (it commits)."""
    for done, row in enumerate(rows, 1):
        if done % every == 0:
            progress(done, total)
        yield row


def get(job_id: int, user: User) -> Job:
    """A job its creator, HR or an administrator may look at."""
    job = db.session.get(Job, job_id)
    if job is None:
        raise NotFound("job %(id)s does not exist", id=job_id)
    if job.created_by_id != user.id and not (user.has_role("hr") or user.has_role("admin")):
        raise PermissionDenied("you may not look at this job")
    return job


def latest(subject: str) -> Job | None:
    """The newest job about ``subject`` (e.g. ``cycle:12``)."""
    return db.session.scalar(
        select(Job).where(Job.subject == subject).order_by(Job.id.desc()).limit(1)
    )


def elapsed(job: Job, now: dt.datetime | None = None) -> dt.timedelta | None:
    if job.started_at is None:
        return None
    return (job.finished_at or now or utcnow()) - job.started_at

"""The job queue: Huey, embedded on SQLite by default, on Redis to spread over machines.

``JOBS_QUEUE`` chooses the store: ``sqlite:///path`` (default: ``instance/jobs.sqlite``),
``redis://host:port/db``, or ``immediate`` (run in the caller, for tests). Workers run the
queued jobs: ``opsperf worker`` (as many processes and machines as wanted), or a thread that
``opsperf serve`` and ``opsperf demo`` start inside the web process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey
from huey.consumer import Consumer

from opsperf.definitions.loader import DefinitionSet
from opsperf.persistence.models import Job
from opsperf.services import cycles, jobs, passwords, payout, people, results  # noqa: F401

POLL = 1.0  # seconds an idle worker waits at most before looking at the queue again


@dataclass
class Queue:
    huey: Huey
    task: Any  # the Huey task that runs one job by id

    def enqueue(self, job_id: int) -> None:
        self.task(job_id)


def _huey(app: Flask) -> Huey:
    url = app.config.get("JOBS_QUEUE") or ""
    name = app.config.get("JOBS_QUEUE_NAME", "opsperf")
    if url == "immediate":
        return MemoryHuey(name, immediate=True, results=False)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(name, url=url, results=False)
    if not url:
        os.makedirs(app.instance_path, exist_ok=True)
        url = "sqlite:///" + os.path.join(app.instance_path, "jobs.sqlite")
    if url.startswith("sqlite:///"):
        return SqliteHuey(name, filename=url.removeprefix("sqlite:///"), results=False)
    raise ValueError(f"JOBS_QUEUE must be sqlite:///…, redis://… or immediate, not {url!r}")


@jobs.handler(passwords.LINKS_JOB)
def _password_links(defs: DefinitionSet, job: Job, progress: jobs.Progress) -> dict[str, Any]:
    """Set-password links are signed with the app's secret key."""
    return passwords.links_job(defs, job, progress, str(current_app.secret_key))


def init_app(app: Flask) -> None:
    """Create the app's queue and the task that runs a job inside the app."""
    huey = _huey(app)
    retries = int(app.config["JOB_RETRIES"])
    delay = 0 if huey.immediate else int(app.config["JOB_RETRY_DELAY"])

    @huey.task(retries=retries, retry_delay=delay, context=True, name="opsperf.run_job")  # type: ignore[untyped-decorator]
    def run_job(job_id: int, task: Any = None) -> None:
        with app.app_context():
            defs = app.extensions["opsperf.registry"].current
            jobs.run(job_id, defs, last_attempt=task is None or task.retries == 0)

    app.extensions["opsperf.queue"] = Queue(huey, run_job)


def enqueue(job_id: int) -> None:
    """Hand a recorded job to the workers."""
    queue: Queue = current_app.extensions["opsperf.queue"]
    queue.enqueue(job_id)


class _InProcess(Consumer):  # type: ignore[misc]
    """A consumer living in threads of a web process: the process keeps its own signals."""

    def _set_signal_handlers(self) -> None:
        pass


def start_in_process(app: Flask, workers: int = 1) -> Consumer | None:
    """Start worker threads inside this process (``opsperf serve`` / ``demo``)."""
    queue: Queue = app.extensions["opsperf.queue"]
    if queue.huey.immediate:
        return None
    consumer = _InProcess(
        queue.huey, workers=workers, worker_type="thread", periodic=False, max_delay=POLL
    )
    consumer.start()
    return consumer


def consumer(app: Flask, workers: int) -> Consumer:
    """A stand-alone consumer (``opsperf worker``), with its own signal handling."""
    queue: Queue = app.extensions["opsperf.queue"]
    return queue.huey.create_consumer(
        workers=workers, worker_type="thread", periodic=False, max_delay=POLL
    )

"""Background jobs on a real queue: Huey on its embedded SQLite store and on a real Redis server.

Workers run as threads beside the test, as ``opsperf serve`` runs them; jobs that fail are
retried, and what the person sees is read from the job's page.
"""

from __future__ import annotations

import io
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from opsperf import worker
from opsperf.errors import ValidationFailed
from opsperf.persistence.models import Appraisal, Cycle, Job, User, db
from opsperf.services import demo, jobs

TIMEOUT = 30  # seconds a job may take here before the test gives up


@jobs.handler("test_flaky")
def _flaky(defs: Any, job: Job, progress: jobs.Progress) -> dict[str, Any]:
    progress(1, 3)
    if job.attempts < 2:
        raise RuntimeError("the line to the mail server dropped")
    progress(3, 3)
    return {"answer": 42}


@jobs.handler("test_broken")
def _broken(defs: Any, job: Job, progress: jobs.Progress) -> dict[str, Any]:
    raise RuntimeError("the disk is full")


@jobs.handler("test_refused")
def _refused(defs: Any, job: Job, progress: jobs.Progress) -> dict[str, Any]:
    raise ValidationFailed("the file is empty")


@pytest.fixture(params=["sqlite", "redis"])
def queue(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "redis":
        return str(request.getfixturevalue("redis_url"))
    return f"sqlite:///{tmp_path / 'jobs.sqlite'}"


@pytest.fixture
def app_config(queue: str) -> dict[str, Any]:
    return {
        "JOBS_QUEUE": queue,
        "JOBS_QUEUE_NAME": f"test-{uuid.uuid4().hex[:8]}",
        "JOB_RETRIES": 1,
        "JOB_RETRY_DELAY": 1,
    }


@pytest.fixture
def queued(app: Flask, staff: dict[str, int]) -> Iterator[Flask]:
    """The app with a real queue and a worker thread running its jobs."""
    consumer = worker.start_in_process(app)
    assert consumer is not None
    try:
        yield app
    finally:
        consumer.stop(graceful=True)


def _run(app: Flask, kind: str) -> int:
    with app.app_context():
        job = jobs.create(kind, None, params={"n": 1})
        worker.enqueue(job.id)
        return job.id


def _finished(app: Flask, job_id: int) -> Job:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        with app.app_context():
            job = db.session.get(Job, job_id)
            assert job is not None
            if job.status in jobs.FINISHED:
                db.session.expunge(job)
                return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish within {TIMEOUT} s")


def test_a_job_that_fails_is_retried_and_then_succeeds(queued: Flask) -> None:
    job = _finished(queued, _run(queued, "test_flaky"))
    assert (job.status, job.attempts, job.result) == ("done", 2, {"answer": 42})
    assert (job.done, job.total, job.error) == (3, 3, None)


def test_a_job_that_keeps_failing_ends_failed_with_its_error(queued: Flask) -> None:
    job = _finished(queued, _run(queued, "test_broken"))
    assert (job.status, job.attempts) == ("failed", 2)  # the first run and one retry
    assert job.error == "RuntimeError: the disk is full"
    assert job.finished_at is not None


def test_a_refusal_is_not_retried_and_reads_well(queued: Flask) -> None:
    job_id = _run(queued, "test_refused")
    job = _finished(queued, job_id)
    assert (job.status, job.attempts) == ("failed", 1)
    with queued.app_context():
        hr = db.session.scalar(select(User).filter_by(employee_no="hr01"))
        assert hr is not None
        db.session.get(Job, job_id).created_by_id = hr.id
        db.session.commit()
    client = queued.test_client()
    client.post("/login", data={"login": "hr01", "password": demo.PASSWORD})
    page = client.get(f"/jobs/{job_id}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "The file is empty" in page.get_data(as_text=True)


def _wait_page(client: Any, url: str, done: str) -> str:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        page = client.get(url, headers={"Accept-Language": "en"})
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        if done in text:
            return str(text)
        time.sleep(0.2)
    raise AssertionError(f"{url} never showed {done!r}")


def test_import_and_launch_run_in_the_background(queued: Flask) -> None:
    hr = queued.test_client()
    assert hr.post("/login", data={"login": "hr01", "password": demo.PASSWORD}).status_code == 302
    rows = "".join(
        f"n{i:03d},新人{i},n{i:03d}@demo.opsperf,sales,sales_rep,s100\n" for i in range(40)
    )
    data = ("employee_no,name,email,department,position,manager\n" + rows).encode()
    response = hr.post(
        "/admin/people",
        data={"file": (io.BytesIO(data), "people.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    page = _wait_page(hr, response.headers["Location"], "Imported: 40 new")
    assert "Finished" in page
    with queued.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == len(demo.PEOPLE) + 40

    response = hr.post(
        "/cycles/new",
        data={
            "name": "2026 Q4",
            "workflow": "quarterly_review",
            "period_start": "2026-10-01",
            "period_end": "2026-12-31",
            "departments": ["sales"],
        },
    )
    assert response.status_code == 302
    cycle_page = response.headers["Location"]
    page = _wait_page(hr, cycle_page, "Launched with 44 appraisals")
    assert re.search(r"新人3\d", page)
    with queued.app_context():
        cycle = db.session.scalar(select(Cycle).order_by(Cycle.id.desc()))
        assert cycle is not None
        assert cycle.status == "active"
        count = select(func.count()).select_from(Appraisal).filter_by(cycle_id=cycle.id)
        assert db.session.scalar(count) == 44

"""Shared fixtures: the app on a real SQLite file and a real PostgreSQL server, people, log-in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from opsperf import create_app
from opsperf.config import PROJECT_ROOT
from opsperf.persistence.models import User, db
from opsperf.services import demo, people
from tests import helpers

FAST_HASH = "pbkdf2:sha256:1000"
PACK = [str(PROJECT_ROOT / name) for name in ("org", "forms", "workflows")]
BACKENDS = ["sqlite", "postgresql"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives a real headless Chromium")


def make_app(config: dict[str, Any], instance: Path | None = None) -> Flask:
    """The app as the tests run it: jobs run in the request, tables made from the models.

    (``opsperf db upgrade`` makes them through the migrations; tests/test_migrations.py checks
    that both give the same schema.)
    """
    app = create_app({"TESTING": True, "JOBS_QUEUE": "immediate", **config})
    if instance is not None:
        app.instance_path = str(instance)
    with app.app_context():
        db.create_all()
    return app


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database for the session: OPSPERF_TEST_POSTGRES_URL, or a private server."""
    given = os.environ.get("OPSPERF_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    from tests.pgserver import TempPostgres

    server = TempPostgres()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis server for the session: OPSPERF_TEST_REDIS_URL, or a private one."""
    given = os.environ.get("OPSPERF_TEST_REDIS_URL")
    if given:
        yield given
        return
    from tests.redisserver import TempRedis

    server = TempRedis()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'opsperf.sqlite'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def definition_roots() -> list[str]:
    """Override in a test module to run on other definitions."""
    return PACK


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Override in a test module to configure the app otherwise (e.g. a real job queue)."""
    return {}


@pytest.fixture
def app(
    db_url: str, definition_roots: list[str], app_config: dict[str, Any], tmp_path: Path
) -> Iterator[Flask]:
    if db_url.startswith("postgresql"):
        _reset_postgres(db_url)
    app = make_app(
        {
            "SECRET_KEY": "test",
            "SQLALCHEMY_DATABASE_URI": db_url,
            "DEFINITION_ROOTS": definition_roots,
            "WTF_CSRF_ENABLED": False,
            **app_config,
        },
        tmp_path / "instance",
    )
    helpers.APP = app
    # No app context stays pushed: each request gets its own, as in production
    # (a shared one would leak Flask-Login's and Flask-Babel's per-request caches).
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def defs(app: Flask) -> Any:
    return app.extensions["opsperf.registry"].current


@pytest.fixture
def staff(app: Flask, defs: Any) -> dict[str, int]:
    """The demo people (no cycle): employee number → user id; password ``demo1234``."""
    with app.app_context():
        result = people.import_people(defs, demo.people_rows(), password_method=FAST_HASH)
        assert not result.problems, result.problems
        return {u.employee_no: u.id for u in db.session.query(User)}


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def login(client: FlaskClient, employee_no: str, password: str = demo.PASSWORD) -> FlaskClient:
    """Log ``client`` in as ``employee_no``."""
    response = client.post("/login", data={"login": employee_no, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


@pytest.fixture
def as_user(app: Flask) -> Any:
    """``as_user('s101')`` → a fresh test client logged in as that person."""

    def make(employee_no: str) -> FlaskClient:
        return login(app.test_client(), employee_no)

    return make

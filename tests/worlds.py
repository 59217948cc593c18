"""A shared app for a whole test module: one per backend, the demo people already imported.

Module-scoped apps keep large matrices fast. On PostgreSQL each lives in a schema of its own,
out of reach of the function-scoped ``app`` fixture of conftest (which resets ``public``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from opsperf.persistence.models import db
from opsperf.services import demo, people
from tests.conftest import FAST_HASH, make_app


def open_world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    roots: list[str],
    name: str = "world",
    *,
    backend: str | None = None,
    demo_people: bool = True,
) -> Iterator[Flask]:
    """Yield an app on ``backend`` (default ``request.param``: sqlite or postgresql), with the
    demo people unless ``demo_people`` is false."""
    tmp = tmp_path_factory.mktemp(name)
    schema = None
    backend = backend or request.param
    if backend == "sqlite":
        url = f"sqlite:///{tmp / f'{name}.sqlite'}"
    else:
        base = str(request.getfixturevalue("postgres_url"))
        schema = f"{name}_{uuid.uuid4().hex[:8]}"
        sql(base, f"CREATE SCHEMA {schema}")
        url = schema_url(base, schema)
    app = make_app(
        {
            "PROPAGATE_EXCEPTIONS": False,  # a crash must show up as a 500, as a client sees it
            "SECRET_KEY": "test",
            "SQLALCHEMY_DATABASE_URI": url,
            "DEFINITION_ROOTS": roots,
            "WTF_CSRF_ENABLED": False,
        },
        tmp / "instance",
    )
    if demo_people:
        with app.app_context():
            defs = app.extensions["opsperf.registry"].current
            result = people.import_people(defs, demo.people_rows(), password_method=FAST_HASH)
            assert not result.problems, result.problems
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if schema:
        sql(str(request.getfixturevalue("postgres_url")), f"DROP SCHEMA {schema} CASCADE")


def schema_url(base: str, schema: str) -> str:
    """``base`` with every connection's search_path set to ``schema``."""
    return (
        make_url(base)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


def sql(url: str, statement: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()

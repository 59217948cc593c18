"""The schema history: migrations build what the models describe, and carry old data forward.

Each test starts from an empty database (SQLite file and PostgreSQL) and uses what
``opsperf db upgrade`` uses; no table is made by ``create_all`` here.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import MetaData, func, inspect, select, text
from werkzeug.security import generate_password_hash

from opsperf import create_app
from opsperf.cli import main
from opsperf.persistence import MIGRATIONS
from opsperf.persistence.models import Appraisal, Cycle, OpenStep, db
from opsperf.persistence.schema import current_revision, upgrade_to_head
from opsperf.services import demo, steps
from opsperf.services.cycles import _initial_values
from tests.conftest import FAST_HASH, PACK, _reset_postgres


def _head() -> str:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


@pytest.fixture
def bare(db_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The app on an empty database: no tables at all."""
    if db_url.startswith("postgresql"):
        _reset_postgres(db_url)
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "SQLALCHEMY_DATABASE_URI": db_url,
            "DEFINITION_ROOTS": PACK,
            "WTF_CSRF_ENABLED": False,
            "JOBS_QUEUE": "immediate",
        }
    )
    app.instance_path = str(tmp_path / "instance")
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# Indexes on an expression, which SQLAlchemy cannot reflect from SQLite: compared by name.
EXPRESSION_INDEXES = {"ix_users_employee_no_lower"}


def _differences() -> list[Any]:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
            warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
            found = list(compare_metadata(context, db.metadata))
        names = set(
            connection.scalars(
                text("SELECT name FROM sqlite_master WHERE type = 'index'")
                if db.engine.dialect.name == "sqlite"
                else text("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
            )
        )
    assert names >= EXPRESSION_INDEXES, EXPRESSION_INDEXES - names
    return [d for d in found if not _expression_index(d)]


def _expression_index(difference: Any) -> bool:
    return (
        isinstance(difference, tuple)
        and difference[0] in ("add_index", "remove_index")
        and difference[1].name in EXPRESSION_INDEXES
    )


def test_upgrade_builds_exactly_the_schema_of_the_models(bare: Flask) -> None:
    with bare.app_context():
        assert current_revision() is None
        upgrade_to_head()
        assert current_revision() == _head()
        assert _differences() == []


def test_downgrade_to_the_first_revision_and_up_again(bare: Flask) -> None:
    with bare.app_context():
        upgrade_to_head()
        downgrade(revision="0001")
        assert current_revision() == "0001"
        assert "open_steps" not in inspect(db.engine).get_table_names()
        upgrade(revision="head")
        assert _differences() == []


def _fill_first_revision() -> dict[str, int]:
    """Rows as the first revision stored them: demo people, snapshots, a running cycle."""
    defs = current_defs()
    tables = MetaData()
    tables.reflect(bind=db.engine)
    now = dt.datetime(2026, 10, 20, 9, 0)
    ids: dict[str, int] = {}
    with db.engine.begin() as conn:
        users = tables.tables["users"]
        for number, (no, name, dept, position, _manager, roles) in enumerate(demo.PEOPLE, 1):
            conn.execute(
                users.insert().values(
                    id=number, employee_no=no, name=name, email=f"{no}@demo.opsperf",
                    password_hash=generate_password_hash(demo.PASSWORD, FAST_HASH),
                    department_id=dept, position_id=position or None,
                    roles=[roles] if roles else [], active=True, created_at=now,
                )
            )  # fmt: skip
            ids[no] = number
        for no, _name, _dept, _position, manager, _roles in demo.PEOPLE:
            if manager:
                conn.execute(
                    users.update().where(users.c.id == ids[no]).values(manager_id=ids[manager])
                )
        snapshots = tables.tables["snapshots"]
        pinned: dict[tuple[str, str], int] = {}
        for number, (kind, ident) in enumerate(
            [
                ("Workflow", "quarterly_review"),
                ("Form", "sales_quarterly"),
                ("IncentivePolicy", "ops_bonus"),
                ("Department", "sales"),
            ],
            1,
        ):
            located = defs.source(kind, ident)
            conn.execute(
                snapshots.insert().values(
                    id=number, kind=kind, def_id=ident, version=located.definition.version,
                    content_hash=located.content_hash, created_at=now,
                    body=located.definition.model_dump(mode="json", exclude_none=True),
                )
            )  # fmt: skip
            pinned[(kind, ident)] = number
        conn.execute(
            tables.tables["cycles"].insert().values(
                id=1, name="2026 Q4", workflow_id="quarterly_review",
                period_start=dt.date(2026, 10, 1), period_end=dt.date(2026, 12, 31),
                departments=["sales"], status="active", created_at=now,
            )
        )  # fmt: skip
        walked = {"s101": "plan", "s102": "assess.calibration", "s103": "monitor"}
        for number, (no, state) in enumerate(walked.items(), 1):
            conn.execute(
                tables.tables["appraisals"].insert().values(
                    id=number, cycle_id=1, employee_id=ids[no], manager_id=ids["s100"],
                    department_id="sales", position_id="sales_rep",
                    form_snapshot_id=pinned[("Form", "sales_quarterly")],
                    workflow_snapshot_id=pinned[("Workflow", "quarterly_review")],
                    policy_snapshot_id=pinned[("IncentivePolicy", "ops_bonus")],
                    department_snapshot_id=pinned[("Department", "sales")],
                    state=state, state_entered_at=now, entry_seq=3,
                    values=_initial_values(defs, "sales_quarterly"), version=4,
                    created_at=now, updated_at=now,
                )
            )  # fmt: skip
            ids[f"appraisal:{no}"] = number
        conn.execute(
            tables.tables["votes"].insert().values(
                appraisal_id=ids["appraisal:s102"], entry_seq=3, trigger="sign_off",
                user_id=ids["hr01"], roles=["hr"], created_at=now,
            )
        )  # fmt: skip
    return ids


def current_defs() -> Any:
    from flask import current_app

    return current_app.extensions["opsperf.registry"].current


def _tasks(app: Flask, who: str) -> dict[int, set[tuple[str, str]]]:
    """Appraisal → the steps ``who`` may take there, as the API lists them."""
    client = app.test_client()
    assert client.post("/login", data={"login": who, "password": demo.PASSWORD}).status_code == 302
    response = client.get("/api/v1/tasks")
    assert response.status_code == 200
    return {
        t["appraisal"]: {(x["trigger"], x["kind"]) for x in t["actions"]}
        for t in response.get_json()
    }


def test_a_database_at_the_first_revision_upgrades_with_its_data(bare: Flask) -> None:
    with bare.app_context():
        upgrade(revision="0001")
        ids = _fill_first_revision()
        upgrade_to_head()
        assert steps.rebuild_if_stale() == 3
        assert steps.rebuild_if_stale() is None
        assert db.session.get(Cycle, 1).workflow_snapshot_id == 1
        plan = db.session.get(Appraisal, ids["appraisal:s101"])
        # plan is due 14 days after the cycle starts (due_from: cycle_start)
        assert plan.due_at == dt.datetime(2026, 10, 15)
        assert db.session.scalar(select(func.count()).select_from(OpenStep)) > 0
        assert _differences() == []
    calibration = ids["appraisal:s102"]
    head, hr = _tasks(bare, "s100"), _tasks(bare, "hr01")
    assert ("sign_off", "approve") in head[calibration]  # the department head signs off
    assert ("sign_off", "approve") not in hr[calibration]  # HR has signed already
    assert ("start_assessment", "fire") in hr[ids["appraisal:s103"]]
    assert ids["appraisal:s101"] in _tasks(bare, "s101")
    client = bare.test_client()
    client.post("/login", data={"login": "hr01", "password": demo.PASSWORD})
    assert client.get("/cycles/1").status_code == 200
    assert client.get(f"/appraisals/{calibration}").status_code == 200


def test_a_database_made_before_migrations_is_adopted(bare: Flask) -> None:
    with bare.app_context():
        upgrade(revision="0001")
        _fill_first_revision()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE alembic_version"))
        assert current_revision() is None
        upgrade_to_head()
        assert current_revision() == _head()
        assert db.session.scalar(select(func.count()).select_from(Appraisal)) == 3


def test_the_command_line_upgrades_and_backs_up(tmp_path: Path, monkeypatch: Any) -> None:
    database = tmp_path / "cli.sqlite"
    monkeypatch.setenv("OPSPERF_SQLALCHEMY_DATABASE_URI", f"sqlite:///{database}")
    monkeypatch.setenv("OPSPERF_JOBS_QUEUE", "immediate")
    runner = CliRunner()
    result = runner.invoke(main, ["db", "current"])
    assert result.output.strip() == "none", result.output
    result = runner.invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"database at revision {_head()}" in result.output
    copy = tmp_path / "backups" / "copy.sqlite"
    result = runner.invoke(main, ["db", "backup", str(copy)])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        version = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        assert version == (_head(),)


def test_a_postgresql_backup_is_refused_with_a_hint(monkeypatch: Any, postgres_url: str) -> None:
    monkeypatch.setenv("OPSPERF_SQLALCHEMY_DATABASE_URI", postgres_url)
    monkeypatch.setenv("OPSPERF_JOBS_QUEUE", "immediate")
    result = CliRunner().invoke(main, ["db", "backup", "/tmp/never.sqlite"])
    assert result.exit_code == 1
    assert "pg_dump" in result.output

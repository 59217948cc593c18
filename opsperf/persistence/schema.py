"""The database's schema: create or upgrade it through the migrations, back it up."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from flask_migrate import stamp, upgrade
from sqlalchemy import inspect

from opsperf.persistence.models import db

FIRST_REVISION = "0001"


def upgrade_to_head() -> None:
    """Bring the configured database to the newest schema (an empty one is created).

    A database made before migrations existed (tables, but no ``alembic_version``) has the
    first revision's schema: it is stamped with it, then upgraded.
    """
    tables = set(inspect(db.engine).get_table_names())
    if "users" in tables and "alembic_version" not in tables:
        stamp(revision=FIRST_REVISION)
    upgrade(revision="head")


def current_revision() -> str | None:
    with db.engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def backup_sqlite(target: Path) -> Path:
    """Copy the SQLite database to ``target`` with SQLite's online backup (safe while it runs)."""
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database:
        raise ValueError("only a SQLite database is backed up this way; use pg_dump for PostgreSQL")
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(url.database)
    copy = sqlite3.connect(target)
    try:
        with copy:
            source.backup(copy)
    finally:
        copy.close()
        source.close()
    return target

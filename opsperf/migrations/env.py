"""Alembic environment: the configured application's database and models."""

from __future__ import annotations

from alembic import context
from flask import current_app

config = context.config
extension = current_app.extensions["migrate"]
metadata = extension.db.metadata


def run_offline() -> None:
    url = extension.db.engine.url.render_as_string(hide_password=False)
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _foreign_keys(connection: object, on: bool) -> None:
    """SQLite rebuilds a table to alter it; references must not fire while it does."""
    connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")  # type: ignore[attr-defined]
    connection.commit()  # type: ignore[attr-defined]


def run_online() -> None:
    with extension.db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _foreign_keys(connection, False)
        context.configure(
            connection=connection, target_metadata=metadata, **extension.configure_args
        )
        with context.begin_transaction():
            context.run_migrations()
        if sqlite:
            connection.commit()
            _foreign_keys(connection, True)


if context.is_offline_mode():
    run_offline()
else:
    run_online()

"""Store the run-time expression failures the engine noted, and read the latest for HR."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from opsperf.engine.failures import Failure
from opsperf.engine.text import printable
from opsperf.persistence.models import ExpressionFailure, db, upsert, utcnow


def record(found: Iterable[Failure]) -> None:
    """One row per definition, place and expression: counted, with the latest inputs."""
    unique = {(f.definition, f.location, f.expression): f for f in found}
    if not unique:
        return
    table = ExpressionFailure.__table__
    now = utcnow()
    for f in unique.values():
        inputs = {printable(k)[:100]: printable(v) for k, v in list(f.inputs.items())[:20]}
        row = {
            "definition": printable(f.definition)[:200],
            "location": printable(f.location)[:200],
            "expression": printable(f.expression)[:2000],
            "error": printable(f.error)[:500],
            "inputs": inputs,
            "count": 1,
            "first_at": now,
            "last_at": now,
        }
        statement = upsert(
            table,
            row,
            [table.c.definition, table.c.location, table.c.expression],
            {"count": table.c.count + 1, "last_at": now, "error": row["error"], "inputs": inputs},
        )
        db.session.execute(statement)
    db.session.commit()


def latest(limit: int = 20) -> list[ExpressionFailure]:
    return list(
        db.session.scalars(
            select(ExpressionFailure).order_by(ExpressionFailure.last_at.desc()).limit(limit)
        )
    )

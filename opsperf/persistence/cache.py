"""Values worked out once per database transaction (a page's several views of one GROUP BY,
a department's bonus pool during a batch sign-off), dropped when the transaction ends."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from opsperf.persistence.models import db

KEY = "per_transaction"


def per_transaction() -> dict[Any, Any]:
    """The current transaction's cache (a dict: callers choose distinct keys)."""
    found: dict[Any, Any] = db.session.info.setdefault(KEY, {})
    return found


def forget() -> None:
    db.session.info.pop(KEY, None)


def _forget(session: Session, *_args: Any) -> None:
    session.info.pop(KEY, None)


event.listen(Session, "after_commit", _forget)
event.listen(Session, "after_soft_rollback", _forget)

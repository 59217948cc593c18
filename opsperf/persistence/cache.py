"""Values worked out once per database transaction (a page's several views of one GROUP BY,
a department's bonus pool during a batch sign-off), dropped when the transaction ends; and
figures over a whole cycle kept until the cycle changes (``KeptPerCycle``)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar, cast

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from opsperf.persistence.models import Appraisal, db

T = TypeVar("T")

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


class KeptPerCycle:
    """Figures worked out over a cycle's appraisals, kept per process (the ``size`` most
    recently used) until an appraisal of the cycle changes.

    A cycle's fingerprint is the number of its appraisals, the sum of their versions and the
    newest write, read from ``ix_appraisals_cycle_fingerprint`` without touching the rows.
    Every change of an appraisal moves its version and none is ever deleted, so any committed
    change moves the sum, whatever order concurrent transactions commit in; the newest write
    tells apart two databases that happen to hold the same counts. The key names the database
    too: ids are only unique within one."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[Any, ...], tuple[tuple[Any, ...], Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, cycle_id: int, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        """What ``compute`` gives for ``key`` of the cycle, worked out again only after an
        appraisal of the cycle changed."""
        full = (db.engine.url.render_as_string(hide_password=True), id(db.engine), cycle_id, *key)
        fingerprint = tuple(
            db.session.execute(
                select(
                    func.count(), func.sum(Appraisal.version), func.max(Appraisal.updated_at)
                ).where(Appraisal.cycle_id == cycle_id)
            ).one()
        )
        with self._lock:
            found = self._kept.get(full)
            if found is not None and found[0] == fingerprint:
                self._kept.move_to_end(full)
                return cast(T, found[1])
        value = compute()
        with self._lock:
            self._kept[full] = (fingerprint, value)
            self._kept.move_to_end(full)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return value

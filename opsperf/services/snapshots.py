"""Definitions pinned in the database, so running appraisals never change under people's feet."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select

from opsperf.definitions.loader import DefinitionSet
from opsperf.definitions.schema import KINDS
from opsperf.errors import NotFound
from opsperf.persistence.models import Snapshot, db

_PARSED: dict[tuple[str, str, str], Any] = {}
_LOCK = threading.Lock()


def pin(defs: DefinitionSet, kind: str, ident: str) -> Snapshot:
    """The snapshot of the live definition ``kind``/``ident``, written once per content hash."""
    located = defs.source(kind, ident)
    found: Snapshot | None = db.session.scalar(
        select(Snapshot).filter_by(kind=kind, def_id=ident, content_hash=located.content_hash)
    )
    if found is not None:
        return found
    snapshot = Snapshot(
        kind=kind,
        def_id=ident,
        version=located.definition.version,
        content_hash=located.content_hash,
        body=located.definition.model_dump(mode="json", exclude_none=True),
    )
    db.session.add(snapshot)
    db.session.flush()
    return snapshot


def definition(snapshot_id: int) -> Any:
    """The definition stored in a snapshot, parsed once per process and content hash."""
    snapshot = db.session.get(Snapshot, snapshot_id)
    if snapshot is None:
        raise NotFound("no definition snapshot %(id)s", id=snapshot_id)
    key = (snapshot.kind, snapshot.def_id, snapshot.content_hash)
    parsed = _PARSED.get(key)
    if parsed is None:
        parsed = KINDS[snapshot.kind].model_validate(snapshot.body)
        with _LOCK:
            parsed = _PARSED.setdefault(key, parsed)
    return parsed


def content_hash(snapshot_id: int) -> str:
    snapshot = db.session.get(Snapshot, snapshot_id)
    return snapshot.content_hash if snapshot else ""

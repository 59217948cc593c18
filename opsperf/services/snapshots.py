"""Definitions pinned in the database, so running appraisals never change under people's feet."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import select
from sqlalchemy.engine import Engine

from opsperf.definitions.loader import DefinitionSet
from opsperf.definitions.schema import KINDS
from opsperf.errors import NotFound
from opsperf.persistence.models import Snapshot, db

_PARSED: dict[tuple[str, str, str], Any] = {}
_BY_ID: WeakKeyDictionary[Engine, dict[int, Pinned]] = WeakKeyDictionary()
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Pinned:
    """A snapshot's parsed definition and what identifies it."""

    id: int
    kind: str
    def_id: str
    version: int
    content_hash: str
    definition: Any


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
    # SQLite may hand out the id of a rolled-back row again: never trust a cached entry for it.
    _cache().pop(snapshot.id, None)
    return snapshot


def pinned(snapshot_id: int) -> Pinned:
    """A snapshot, read and parsed once per process and database (snapshots never change)."""
    cache = _cache()
    found = cache.get(snapshot_id)
    if found is not None:
        return found
    snapshot = db.session.get(Snapshot, snapshot_id)
    if snapshot is None:
        raise NotFound("no definition snapshot %(id)s", id=snapshot_id)
    key = (snapshot.kind, snapshot.def_id, snapshot.content_hash)
    parsed = _PARSED.get(key)
    if parsed is None:
        parsed = KINDS[snapshot.kind].model_validate(snapshot.body)
        with _LOCK:
            parsed = _PARSED.setdefault(key, parsed)
    found = Pinned(
        snapshot.id, snapshot.kind, snapshot.def_id, snapshot.version, snapshot.content_hash, parsed
    )
    with _LOCK:
        return cache.setdefault(snapshot_id, found)


def definition(snapshot_id: int) -> Any:
    """The definition stored in a snapshot."""
    return pinned(snapshot_id).definition


def _cache() -> dict[int, Pinned]:
    """Snapshot ids are only unique within one database: one cache per engine."""
    engine = db.engine
    cache = _BY_ID.get(engine)
    if cache is None:
        with _LOCK:
            cache = _BY_ID.setdefault(engine, {})
    return cache

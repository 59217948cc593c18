"""The live set of definitions: loaded from the roots, reloaded on change, never left broken."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsperf.definitions.loader import SUFFIXES, DefinitionSet, LoadResult, load
from opsperf.errors import DefinitionError, Diagnostic

Signature = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Version:
    """Which version of a definition is live, and its content hash."""

    version: int
    content_hash: str


class Registry:
    """Holds the last good :class:`DefinitionSet` and the problems of the latest load.

    A reload that finds errors keeps the previous good set live and records the errors, so
    a bad edit never takes the application down.
    """

    def __init__(self, roots: Sequence[str | Path], check_interval: float = 2.0) -> None:
        self.roots = [Path(r) for r in roots]
        self.check_interval = check_interval
        self.diagnostics: list[Diagnostic] = []
        self.failed = False
        self._current: DefinitionSet | None = None
        self._signature: Signature = ()
        self._checked_at = 0.0
        self._lock = threading.Lock()

    @property
    def current(self) -> DefinitionSet:
        """The live set; raise :class:`DefinitionError` if nothing has ever loaded."""
        if self._current is None:
            raise DefinitionError(self.diagnostics)
        return self._current

    def reload(self) -> LoadResult:
        """Load the roots again; keep the last good set when the new one has errors."""
        with self._lock:
            signature = self._scan()
            result = load(self.roots)
            self.diagnostics = result.diagnostics
            self.failed = not result.ok
            if result.ok:
                self._current = result.definitions
            self._signature = signature
            self._checked_at = time.monotonic()
            return result

    def refresh(self) -> bool:
        """Reload when a file changed since the last load (checked at most every interval)."""
        now = time.monotonic()
        if now - self._checked_at < self.check_interval:
            return False
        self._checked_at = now
        if self._scan() == self._signature:
            return False
        self.reload()
        return True

    def get(self, kind: str, ident: str) -> Any:
        return self.current.get(kind, ident)

    def version(self, kind: str, ident: str) -> Version:
        located = self.current.source(kind, ident)
        return Version(located.definition.version, located.content_hash)

    def _scan(self) -> Signature:
        entries = []
        for root in self.roots:
            paths = [root] if root.is_file() else sorted(root.rglob("*")) if root.is_dir() else []
            for path in paths:
                if path.suffix in SUFFIXES:
                    try:
                        stat = path.stat()
                    except OSError:
                        continue
                    entries.append((str(path), stat.st_mtime_ns, stat.st_size))
        return tuple(entries)

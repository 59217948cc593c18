"""Domain errors. Only the web layer maps them to HTTP responses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]


def N_(message: str) -> str:
    """Mark ``message`` for the message catalogs; it is translated where it is shown."""
    return message


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One finding about a definition file, placed at ``path:line:column``."""

    path: str
    line: int
    column: int
    severity: Severity = field(compare=False)
    message: str = field(compare=False)
    key_path: str = field(default="", compare=False)

    def format(self) -> str:
        """Render as a compiler-style line."""
        where = f" [{self.key_path}]" if self.key_path else ""
        return f"{self.path}:{self.line}:{self.column}: {self.severity}: {self.message}{where}"

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "severity": self.severity,
            "message": self.message,
            "key_path": self.key_path,
        }


class OpsperfError(Exception):
    """Base class of every error opsperf raises on purpose.

    The message is an English template with ``%(name)s`` placeholders filled from ``params``;
    the web layer translates the template (it is extracted into the message catalogs) and
    fills it in the reader's language.
    """

    def __init__(self, message: str = "", **params: object) -> None:
        self.template = message
        self.params = params
        super().__init__(message % params if params else message)


class DefinitionError(OpsperfError):
    """Definitions failed to load; carries every diagnostic found."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics)
        errors = [d for d in self.diagnostics if d.severity == "error"]
        shown = "\n".join(d.format() for d in errors[:20])
        more = f"\n… and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"{len(errors)} error(s) in definitions:\n{shown}{more}")
        self.template = N_(
            "The definitions have %(count)s error(s); an administrator must fix them."
        )
        self.params = {"count": len(errors)}


class ExpressionError(OpsperfError):
    """An expression could not be parsed, checked or evaluated."""


class NotFound(OpsperfError):
    """A definition or record with the given id does not exist."""


class TransitionNotAllowed(OpsperfError):
    """A workflow transition cannot be fired from the current state by this person."""


class PermissionDenied(OpsperfError):
    """This person may not do this here."""


class Conflict(OpsperfError):
    """The record changed since the page was loaded; nothing was changed."""


class ValidationFailed(OpsperfError):
    """Input is incomplete or wrong; ``problems`` says where."""

    def __init__(
        self, message: str, problems: list[object] | None = None, **params: object
    ) -> None:
        super().__init__(message, **params)
        self.problems = problems or []

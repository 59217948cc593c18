"""Expressions that fail although every value they read is there: a definition's mistake, not
a form still being filled in. The engine notes them here instead of failing the page; the
caller decides where they go (the app stores them and shows them on *Definitions*).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

MAX_SHOWN = 200  # characters of one input's value kept


@dataclass(frozen=True)
class Failure:
    definition: str  # "form sales_quarterly v3"
    location: str  # "fields.bonus_hint.compute"
    expression: str
    error: str
    inputs: dict[str, str]  # each name the expression reads → its value, shortened


_SINK: ContextVar[list[Failure] | None] = ContextVar("opsperf_expression_failures", default=None)


@contextmanager
def collecting() -> Iterator[list[Failure]]:
    """Collect the failures noted inside the block (nested blocks collect their own)."""
    found: list[Failure] = []
    token = _SINK.set(found)
    try:
        yield found
    finally:
        _SINK.reset(token)


def note(
    definition: str, location: str, expression: Any, error: Exception, values: Mapping[str, Any]
) -> None:
    """Keep a failure of ``expression`` over ``values`` when someone collects and every name it
    reads has a value (a missing value only means the form is not filled in yet)."""
    sink = _SINK.get()
    if sink is None:
        return
    inputs: dict[str, str] = {}
    for chain in expression.names():
        value: Any = values
        for part in chain:
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is None:
            return
        inputs[".".join(chain)] = repr(value)[:MAX_SHOWN]
    sink.append(Failure(definition, location, str(expression), str(error)[:500], inputs))


def begin() -> Any:
    """Start collecting for a unit of work (a request); pass the token to :func:`end`."""
    return _SINK.set([])


def end(token: Any) -> list[Failure]:
    """Stop collecting; what was noted since :func:`begin`."""
    found = _SINK.get() or []
    _SINK.reset(token)
    return found

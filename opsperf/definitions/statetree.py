"""Paths through a workflow's (possibly nested) states: ``plan``, ``assess.self``, …"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from opsperf.definitions.schema import State, Workflow

SEPARATOR = "."


def walk(states: dict[str, State], prefix: str = "") -> Iterator[tuple[str, State]]:
    """Every state with its dotted path, parents before their children."""
    for name, state in states.items():
        path = f"{prefix}{SEPARATOR}{name}" if prefix else name
        yield path, state
        if state.states:
            yield from walk(state.states, path)


def all_states(workflow: Workflow) -> dict[str, State]:
    return dict(walk(workflow.states))


def leaves(workflow: Workflow) -> dict[str, State]:
    """The states an appraisal can actually be in (those without children)."""
    return {path: state for path, state in walk(workflow.states) if not state.states}


def initial_leaf(workflow: Workflow, path: str | None = None) -> str:
    """The leaf entered when entering ``path`` (the whole workflow when None)."""
    if path is None:
        states = workflow.states
        first = workflow.initial or next(iter(states))
        path = first
    state = all_states(workflow)[path]
    while state.states:
        child = state.initial or next(iter(state.states))
        path = f"{path}{SEPARATOR}{child}"
        state = state.states[child]
    return path


def leaves_under(workflow: Workflow, path: str) -> list[str]:
    """``path`` itself when it is a leaf, otherwise every leaf below it."""
    return [p for p in leaves(workflow) if p == path or p.startswith(path + SEPARATOR)]


def ancestors(path: str) -> list[str]:
    """``assess.self`` → ``['assess', 'assess.self']``."""
    parts = path.split(SEPARATOR)
    return [SEPARATOR.join(parts[: i + 1]) for i in range(len(parts))]


def phase(path: str) -> str:
    """The top-level phase a state belongs to."""
    return path.split(SEPARATOR, 1)[0]


def key_path(path: str) -> tuple[str, ...]:
    """The YAML key path of a state: ``assess.self`` → ``states.assess.states.self``."""
    out: list[str] = []
    for part in path.split(SEPARATOR):
        out += ["states", part]
    return tuple(out)


def reachable(edges: Mapping[str, Iterable[str]], start: str, avoid: str | None = None) -> set[str]:
    """``start`` and every state reachable from it along ``edges``, never entering ``avoid``."""
    reached, stack = {start}, [start]
    while stack:
        for dest in edges.get(stack.pop(), ()):
            if dest not in reached and dest != avoid:
                reached.add(dest)
                stack.append(dest)
    return reached

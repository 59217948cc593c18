"""Workflow definitions compiled to ``transitions`` machines: one per (id, version), shared.

The machine knows states, triggers and guards. Who may fire a transition, approvals and
comments are decided by the services, which know people; the machine stays pure.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from transitions import EventData, Machine, MachineError

from opsperf.definitions import org, statetree
from opsperf.definitions.calibration import CalibrationStep, result_states, step_of
from opsperf.definitions.schema import State, TransitionDef, Workflow
from opsperf.engine import failures
from opsperf.errors import ExpressionError, TransitionNotAllowed


@dataclass
class Subject:
    """The stand-in a machine moves: one appraisal's state and the values guards read."""

    state: str
    values: Mapping[str, Any] = field(default_factory=dict)


class CompiledWorkflow:
    """A workflow definition with its machine and the lookups the services need."""

    def __init__(self, definition: Workflow) -> None:
        self.definition = definition
        self.states: dict[str, State] = statetree.all_states(definition)
        self.leaves: dict[str, State] = statetree.leaves(definition)
        self.initial = statetree.initial_leaf(definition)
        self.by_trigger: dict[str, list[TransitionDef]] = {}
        self.roles: frozenset[str] = frozenset(org.named_roles(definition))
        self.calibration: CalibrationStep | None = step_of(definition)
        # where a result is final: after the calibration's sign-off, else a final state reached
        # on the normal path (not a cancellation from anywhere)
        self.result_final: frozenset[str] = (
            self.calibration.after if self.calibration else result_states(definition)
        )
        self.machine = Machine(
            model=None,
            states=list(self.leaves),
            initial=self.initial,
            auto_transitions=False,
            send_event=True,
            ignore_invalid_triggers=False,
        )
        for t in definition.transitions:
            self._add(t)

    def _add(self, t: TransitionDef) -> None:
        sources: list[Any] = list(self.sources_of(t))
        conditions = [_guard(t)] if t.guard is not None else []
        self.machine.add_transition(t.trigger, sources, self.dest_of(t), conditions=conditions)
        self.by_trigger.setdefault(t.trigger, []).append(t)

    def transitions_from(self, state: str) -> list[TransitionDef]:
        """The transitions whose source includes ``state``, in definition order."""
        return [
            t
            for t in self.definition.transitions
            if self.machine.get_transitions(t.trigger, source=state)
        ]

    def transition(self, state: str, trigger: str) -> TransitionDef:
        """The definition of ``trigger`` as it leaves ``state``."""
        for t in self.by_trigger.get(trigger, []):
            if state in self.sources_of(t):
                return t
        raise TransitionNotAllowed(
            "'%(trigger)s' cannot be fired from '%(state)s'", trigger=trigger, state=state
        )

    def sources_of(self, t: TransitionDef) -> list[str]:
        leaves: list[str] = []
        for source in t.sources:
            if source == "*":
                leaves += [p for p, s in self.leaves.items() if not s.final]
            else:
                leaves += statetree.leaves_under(self.definition, source)
        return leaves

    def dest_of(self, t: TransitionDef) -> str:
        return statetree.initial_leaf(self.definition, t.dest)

    def guard_passes(self, t: TransitionDef, values: Mapping[str, Any]) -> bool:
        """Whether the guard of ``t`` holds for ``values`` (no guard: always)."""
        if t.guard is None:
            return True
        try:
            return bool(t.guard.evaluate(values))
        except ExpressionError as exc:
            failures.note(self._name(), f"transitions.{t.trigger}.guard", t.guard, exc, values)
            return False

    def _name(self) -> str:
        return f"workflow {self.definition.id} v{self.definition.version}"

    def fire(self, state: str, trigger: str, values: Mapping[str, Any] | None = None) -> str:
        """Fire ``trigger`` from ``state``; return the new state or raise TransitionNotAllowed."""
        t = self.transition(state, trigger)
        subject = Subject(state, values or {})
        try:
            moved = self.machine.events[trigger].trigger(subject)
        except MachineError as exc:
            raise TransitionNotAllowed(str(exc.value)) from exc
        if not moved:
            if t.guard_message:
                raise TransitionNotAllowed(
                    "'%(trigger)s' is not possible yet: %(reason)s",
                    trigger=trigger,
                    reason=t.guard_message,
                )
            raise TransitionNotAllowed(
                "'%(trigger)s' is not possible yet: condition `%(guard)s` fails",
                trigger=trigger,
                guard=str(t.guard),
            )
        return subject.state

    def is_final(self, state: str) -> bool:
        return self.leaves[state].final

    def state(self, path: str) -> State:
        return self.states[path]


def _guard(t: TransitionDef) -> Any:
    expression = t.guard
    assert expression is not None

    def condition(event: EventData) -> bool:
        subject = event.model
        assert isinstance(subject, Subject)
        try:
            return bool(expression.evaluate(subject.values))
        except ExpressionError:
            return False

    return condition


_CACHE: dict[tuple[str, int, str], CompiledWorkflow] = {}
_CACHE_LOCK = threading.Lock()


def compile_workflow(definition: Workflow, content_hash: str = "") -> CompiledWorkflow:
    """The shared compiled machine of a workflow (one per id, version and content hash)."""
    key = (definition.id, definition.version, content_hash)
    compiled = _CACHE.get(key)
    if compiled is None:
        with _CACHE_LOCK:
            compiled = _CACHE.setdefault(key, CompiledWorkflow(definition))
    return compiled

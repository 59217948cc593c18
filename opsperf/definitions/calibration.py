"""Where a workflow calibrates grades, how it ends, and which states come after it."""

from __future__ import annotations

from dataclasses import dataclass

from opsperf.definitions import statetree
from opsperf.definitions.schema import Calibration, TransitionDef, Workflow


@dataclass(frozen=True)
class CalibrationStep:
    """A workflow's calibration state, the transition that signs it off, and the states an
    appraisal is in once signed off (on the normal path: a transition from ``*`` such as a
    cancellation does not count)."""

    state: str
    rules: Calibration
    sign_off: TransitionDef
    after: frozenset[str]

    @property
    def population(self) -> list[str]:
        """The states of the calibrated population: this one and those after it."""
        return [self.state, *sorted(self.after)]

    def final(self, state: str) -> bool:
        """Whether a result in ``state`` has been signed off (no longer provisional)."""
        return state in self.after


def sign_off_of(workflow: Workflow, state: str, rules: Calibration) -> TransitionDef | None:
    """The transition ``rules.sign_off`` names, else the only one out of ``state`` with an
    approval (None when there is no such single transition)."""
    leaving = [t for t in workflow.transitions if state in leaf_sources(workflow, t)]
    if rules.sign_off is not None:
        return next((t for t in leaving if t.trigger == rules.sign_off), None)
    approved = [t for t in leaving if t.approval is not None]
    return approved[0] if len(approved) == 1 else None


def step_of(workflow: Workflow) -> CalibrationStep | None:
    """The workflow's calibration step (the first state declaring ``calibration``), or None."""
    for path, state in statetree.leaves(workflow).items():
        if state.calibration is None:
            continue
        sign_off = sign_off_of(workflow, path, state.calibration)
        if sign_off is None:
            return None  # the checker reports it
        return CalibrationStep(path, state.calibration, sign_off, _after(workflow, path, sign_off))
    return None


def leaf_sources(workflow: Workflow, t: TransitionDef) -> set[str]:
    """The leaves ``t`` leaves from, a ``*`` source aside."""
    out: set[str] = set()
    for source in t.sources:
        if source != "*":
            out.update(statetree.leaves_under(workflow, source))
    return out


def _after(workflow: Workflow, state: str, sign_off: TransitionDef) -> frozenset[str]:
    """Leaves reachable from the sign-off's destination without passing through ``state``
    or a transition from ``*``."""
    start = statetree.initial_leaf(workflow, sign_off.dest)
    return frozenset(statetree.reachable(_normal_edges(workflow), start, avoid=state) - {state})


def _normal_edges(workflow: Workflow) -> dict[str, set[str]]:
    """Leaf → leaves one transition away, transitions from ``*`` aside."""
    edges: dict[str, set[str]] = {}
    for t in workflow.transitions:
        dest = statetree.initial_leaf(workflow, t.dest)
        for source in leaf_sources(workflow, t):
            edges.setdefault(source, set()).add(dest)
    return edges


def result_states(workflow: Workflow) -> frozenset[str]:
    """Where a result is final in a workflow without calibration: the final states reached on
    the normal path from the start (a transition from ``*``, such as a cancellation, does not
    count)."""
    reached = statetree.reachable(_normal_edges(workflow), statetree.initial_leaf(workflow))
    leaves = statetree.leaves(workflow)
    return frozenset(p for p in reached if leaves[p].final)

"""The shipped workflows compiled to ``transitions`` machines, walked without the app.

Every transition of quarterly_review is fired from every state it leaves (a '*' source from
every non-final state), guards are evaluated over values both ways, wrong states raise
TransitionNotAllowed, and compiled machines are shared per (id, version, content hash).
"""

from __future__ import annotations

from typing import Any

import pytest
from transitions import Machine

from opsperf.config import PROJECT_ROOT
from opsperf.definitions.loader import DefinitionSet, load
from opsperf.definitions.schema import Workflow
from opsperf.engine.workflow import CompiledWorkflow, compile_workflow
from opsperf.errors import TransitionNotAllowed

PACK = [PROJECT_ROOT / name for name in ("org", "forms", "workflows")]
LEAVES = ["plan", "monitor", "assess.self", "assess.manager", "assess.calibration", "feedback"]
FINAL = ["closed", "cancelled"]

# (trigger, source leaf, destination leaf), written out by hand from workflows/quarterly_review.yaml
EXPECTED = {
    ("submit_plan", "plan", "monitor"),
    ("revise_plan", "monitor", "plan"),
    ("start_assessment", "monitor", "assess.self"),  # dest 'assess' enters its initial child
    ("submit_self", "assess.self", "assess.manager"),
    ("reject", "assess.manager", "assess.self"),
    ("submit_review", "assess.manager", "assess.calibration"),
    ("return_to_manager", "assess.calibration", "assess.manager"),
    ("sign_off", "assess.calibration", "feedback"),
    ("acknowledge", "feedback", "closed"),
    ("appeal", "feedback", "assess.calibration"),
    ("deem_acknowledged", "feedback", "closed"),
    *(("cancel", leaf, "cancelled") for leaf in LEAVES),  # source '*': every non-final leaf
}

# values that make each guard hold, and values that make it fail
GUARDS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "submit_self": ({"self_rating": 4}, {"self_rating": None}),
    "submit_review": ({"manager_rating": 3}, {"manager_rating": None}),
    "acknowledge": (
        {"acknowledged": True, "agreement": "agree"},
        {"acknowledged": True, "agreement": "disagree"},
    ),
    "appeal": ({"acknowledged": False}, {"acknowledged": True}),
    "deem_acknowledged": ({"overdue": True}, {"overdue": False}),
}


@pytest.fixture(scope="module")
def defs() -> DefinitionSet:
    result = load(PACK)
    assert result.ok, [d.format() for d in result.errors]
    return result.definitions


@pytest.fixture(scope="module")
def quarterly(defs: DefinitionSet) -> CompiledWorkflow:
    return compile_workflow(
        defs.workflows["quarterly_review"], defs.source("Workflow", "quarterly_review").content_hash
    )


def passing(trigger: str) -> dict[str, Any]:
    return GUARDS[trigger][0] if trigger in GUARDS else {}


def test_every_shipped_workflow_compiles_to_a_working_machine(defs: DefinitionSet) -> None:
    assert defs.workflows, "the shipped pack has workflows"
    for wid, workflow in defs.workflows.items():
        compiled = compile_workflow(workflow, defs.source("Workflow", wid).content_hash)
        assert isinstance(compiled.machine, Machine)
        assert set(compiled.machine.states) == set(compiled.leaves)
        assert compiled.initial in compiled.leaves
        assert not compiled.is_final(compiled.initial)
        # every trigger of the definition became an event of the machine
        assert {t.trigger for t in workflow.transitions} <= set(compiled.machine.events)


def test_quarterly_states_and_initial(quarterly: CompiledWorkflow) -> None:
    assert quarterly.initial == "plan"
    assert sorted(quarterly.leaves) == sorted(LEAVES + FINAL)
    assert [p for p in quarterly.leaves if quarterly.is_final(p)] == FINAL
    assert "assess" in quarterly.states
    assert "assess" not in quarterly.leaves


def test_the_expected_table_covers_every_transition_of_the_definition(
    quarterly: CompiledWorkflow,
) -> None:
    derived = {
        (t.trigger, leaf, quarterly.dest_of(t))
        for t in quarterly.definition.transitions
        for leaf in quarterly.sources_of(t)
    }
    assert derived == EXPECTED
    for leaf in LEAVES:
        from_here = {t.trigger for t in quarterly.transitions_from(leaf)}
        assert from_here == {trig for trig, src, _ in EXPECTED if src == leaf}
    for leaf in FINAL:
        assert quarterly.transitions_from(leaf) == []


@pytest.mark.parametrize(("trigger", "source", "dest"), sorted(EXPECTED))
def test_fire_every_transition_from_every_source(
    quarterly: CompiledWorkflow, trigger: str, source: str, dest: str
) -> None:
    assert quarterly.fire(source, trigger, passing(trigger)) == dest


@pytest.mark.parametrize("trigger", sorted(GUARDS))
def test_guards_over_values(quarterly: CompiledWorkflow, trigger: str) -> None:
    source = next(src for trig, src, _ in EXPECTED if trig == trigger)
    t = quarterly.transition(source, trigger)
    good, bad = GUARDS[trigger]
    assert quarterly.guard_passes(t, good) is True
    assert quarterly.guard_passes(t, bad) is False
    assert quarterly.fire(source, trigger, good) != source
    with pytest.raises(TransitionNotAllowed, match="not possible yet"):
        quarterly.fire(source, trigger, bad)


def test_a_guard_that_cannot_be_evaluated_is_false(quarterly: CompiledWorkflow) -> None:
    t = quarterly.transition("feedback", "acknowledge")
    assert quarterly.guard_passes(t, {}) is False  # names missing: an ExpressionError
    with pytest.raises(TransitionNotAllowed):
        quarterly.fire("feedback", "acknowledge", {})
    # unguarded transitions pass on no values at all
    assert quarterly.guard_passes(quarterly.transition("plan", "submit_plan"), {}) is True


def test_the_guard_message_is_the_reason(quarterly: CompiledWorkflow) -> None:
    with pytest.raises(TransitionNotAllowed) as caught:
        quarterly.fire("assess.self", "submit_self", {"self_rating": None})
    assert "请先给出自评等级" in str(caught.value)


@pytest.mark.parametrize("source", LEAVES + FINAL)
def test_firing_from_a_wrong_state_raises(quarterly: CompiledWorkflow, source: str) -> None:
    allowed = {trig for trig, src, _ in EXPECTED if src == source}
    for trigger in sorted({trig for trig, _, _ in EXPECTED} - allowed):
        with pytest.raises(TransitionNotAllowed):
            quarterly.fire(source, trigger, passing(trigger))


def test_unknown_triggers_and_parent_states_raise(quarterly: CompiledWorkflow) -> None:
    with pytest.raises(TransitionNotAllowed):
        quarterly.fire("plan", "no_such_trigger")
    with pytest.raises(TransitionNotAllowed):
        quarterly.fire("assess", "submit_self", {"self_rating": 4})  # a parent, not a leaf
    with pytest.raises(TransitionNotAllowed):
        quarterly.transition("closed", "cancel")  # '*' does not cover final states


def test_firing_does_not_move_the_shared_machine(quarterly: CompiledWorkflow) -> None:
    before = quarterly.fire("plan", "submit_plan")
    assert before == "monitor"
    assert quarterly.fire("plan", "submit_plan") == "monitor"  # stateless: 'plan' again
    assert quarterly.fire("monitor", "revise_plan") == "plan"


def test_a_full_run_through_the_machine(quarterly: CompiledWorkflow) -> None:
    state = quarterly.initial
    values: dict[str, Any] = {"self_rating": 4, "manager_rating": 4, "acknowledged": False}
    path = [
        "submit_plan",
        "revise_plan",
        "submit_plan",
        "start_assessment",
        "submit_self",
        "reject",
        "submit_self",
        "submit_review",
        "return_to_manager",
        "submit_review",
        "sign_off",
        "appeal",
        "sign_off",
    ]
    for trigger in path:
        state = quarterly.fire(state, trigger, values)
    assert state == "feedback"
    state = quarterly.fire(state, "acknowledge", {"acknowledged": True, "agreement": "partly"})
    assert state == "closed"
    assert quarterly.is_final(state)


def test_one_machine_per_id_version_and_hash(defs: DefinitionSet) -> None:
    workflow = defs.workflows["quarterly_review"]
    digest = defs.source("Workflow", "quarterly_review").content_hash
    first = compile_workflow(workflow, digest)
    assert compile_workflow(workflow, digest) is first
    # the same definition loaded again (a new object, same content) shares the machine
    again = load(PACK).definitions.workflows["quarterly_review"]
    assert again is not workflow
    assert compile_workflow(again, digest) is first
    # another content hash or another version is another machine
    assert compile_workflow(workflow, digest + "x") is not first
    bumped = Workflow.model_validate({**workflow.model_dump(), "version": workflow.version + 1})
    other = compile_workflow(bumped, digest)
    assert other is not first
    assert compile_workflow(bumped, digest) is other

"""A step refused says why and what to do instead, in the reader's language."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from opsperf.definitions.loader import load
from opsperf.services import demo
from tests import helpers
from tests.helpers import appraisal, launch_quarter, write_pack
from tests.test_adjustments import PACK


@pytest.fixture
def plan(as_user: Any, staff: dict[str, int]) -> int:
    return launch_quarter(["sales"])["s101"]


def _step(client: Any, appraisal_id: int, trigger: str, kind: str) -> tuple[int, str]:
    body = {"trigger": trigger, "kind": kind, "version": appraisal(appraisal_id).version}
    response = client.post(f"/api/v1/appraisals/{appraisal_id}/transitions", json=body)
    return response.status_code, response.get_json().get("message", "")


def test_each_refusal_names_its_reason(as_user: Any, plan: int) -> None:
    employee, manager, hr = as_user("s101"), as_user("s100"), as_user("hr01")
    for client in (employee, manager, hr):
        client.post("/language/en")
    # the plan is requested by the employee, then approved by the manager
    assert _step(employee, plan, "submit_plan", "fire") == (
        403, "'submit_plan' is not taken as 'fire' here: you may request it"
    )  # fmt: skip
    assert _step(manager, plan, "submit_plan", "approve") == (
        403, "'submit_plan' is requested by employee, then approved by manager"
    )  # fmt: skip
    assert _step(hr, plan, "start_assessment", "fire") == (
        403, "'start_assessment' is not a step from plan"
    )  # fmt: skip
    with helpers.APP.app_context():  # the employee fills the plan and asks for approval
        demo._walk(plan, ["@request_plan"], random.Random(1))
    assert appraisal(plan).pending_trigger == "submit_plan"
    assert _step(employee, plan, "submit_plan", "approve") == (
        403, "'submit_plan' awaits approval by manager"
    )  # fmt: skip
    assert _step(hr, plan, "cancel", "fire") == (
        403, "'submit_plan' awaits approval: nothing else can happen until it is approved or "
        "declined"
    )  # fmt: skip
    assert _step(manager, plan, "submit_plan", "approve")[0] == 200
    assert appraisal(plan).state == "monitor"


def test_refusals_read_in_chinese(as_user: Any, plan: int) -> None:
    status, message = _step(as_user("s100"), plan, "submit_plan", "approve")
    assert status == 403
    assert message == "“submit_plan”需先由 employee 提交申请，再由 manager 审批"


@pytest.mark.parametrize(
    ("submit", "message"),
    [
        (
            "roles: [employee], approval: {roles: [employee], mode: any}",
            "nobody can approve 'submit': the employee may not approve",
        ),
        (
            "roles: [employee], approval: {roles: [manager, employee], mode: all}",
            "nobody can approve 'submit': the employee may not approve",
        ),
        (
            "roles: [manager], approval: {roles: [manager], mode: any}",
            "only the manager may approve, and the manager is the one who requests it",
        ),
    ],
    ids=["employee approves", "all with employee", "requester approves"],
)
def test_a_sign_off_nobody_can_give_is_a_checker_error(
    tmp_path: Path, submit: str, message: str
) -> None:
    old = "{trigger: submit, source: plan, dest: monitor, roles: [employee]}"
    workflow = PACK["workflows/monthly.yaml"]
    assert old in workflow
    changed = workflow.replace(old, f"{{trigger: submit, source: plan, dest: monitor, {submit}}}")
    roots = write_pack(tmp_path, {**PACK, "workflows/monthly.yaml": changed})
    errors = [d.message for d in load([Path(r) for r in roots]).diagnostics]
    assert any(message in e for e in errors), errors
    allowed = changed.replace("dest: monitor,", "dest: monitor, allow_self_approval: true,")
    roots = write_pack(tmp_path / "allowed", {**PACK, "workflows/monthly.yaml": allowed})
    errors = [d.message for d in load([Path(r) for r in roots]).diagnostics]
    assert not any("nobody can approve" in e for e in errors)

"""A sign-off that nobody requests (the approvers vote directly) can be declined, with a reason;
the workflow says where a declined sign-off goes."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from opsperf.config import PROJECT_ROOT
from opsperf.definitions.loader import load
from tests.helpers import appraisal_of, events, fire, problems, to_calibration

DECLINED_TO = "assess.manager"


@pytest.fixture(params=["stays", "declined_to"])
def definition_roots(request: pytest.FixtureRequest, tmp_path: Path) -> list[str]:
    """The shipped pack; with ``declined_to`` on the calibration sign-off for one run."""
    roots = []
    for name in ("org", "forms", "workflows"):
        shutil.copytree(PROJECT_ROOT / name, tmp_path / name)
        roots.append(str(tmp_path / name))
    if request.param == "declined_to":
        path = tmp_path / "workflows" / "quarterly_review.yaml"
        text = path.read_text(encoding="utf-8")
        old = "approval: {roles: [dept_head, hr], mode: all}"
        assert text.count(old) == 1
        path.write_text(
            text.replace(old, old[:-1] + f", declined_to: {DECLINED_TO}}}"), encoding="utf-8"
        )
        assert load(roots).ok
    return roots


def test_a_direct_sign_off_can_be_declined_with_a_reason(
    app: Flask, staff: Any, as_user: Any, definition_roots: list[str]
) -> None:
    appraisal_id = to_calibration(app)
    head, hr = as_user("s100"), as_user("hr01")
    page = hr.get(f"/appraisals/{appraisal_id}").get_data(as_text=True)
    assert "sign_off:decline" in page  # offered beside the sign-off itself
    assert fire(head, appraisal_id, "sign_off", "approve").status_code == 302
    refused = fire(hr, appraisal_id, "sign_off", "decline")
    assert refused.status_code == 422  # a decline says why
    assert problems(refused)
    declined = fire(hr, appraisal_id, "sign_off", "decline", "等级分布与部门不一致，请复核。")
    assert declined.status_code == 302
    a = appraisal_of("s101")
    last = events(appraisal_id)[-1]
    assert last.kind == "decline"
    assert last.comment == "等级分布与部门不一致，请复核。"
    workflow = Path(definition_roots[2]) / "quarterly_review.yaml"
    if "declined_to" in workflow.read_text(encoding="utf-8"):
        assert a.state == DECLINED_TO  # back to the manager's review
        assert last.to_state == DECLINED_TO
        return
    assert a.state == "assess.calibration"  # it stays, and the votes start again
    assert last.to_state is None
    assert fire(hr, appraisal_id, "sign_off", "approve").status_code == 302
    assert appraisal_of("s101").state == "assess.calibration"  # the head's vote was cleared
    assert fire(head, appraisal_id, "sign_off", "approve").status_code == 302
    assert appraisal_of("s101").state == "feedback"

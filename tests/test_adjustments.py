"""Rules on the result: a call center's monthly review with absence deductions, a cap, and a
one-vote veto (一票否决: any major complaint → grade D), walked over HTTP on both databases and
compared with numbers worked out by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from opsperf.definitions.loader import load
from tests.helpers import (
    appraisal,
    appraisal_of,
    crew,
    example,
    fire,
    launch,
    save,
    write_pack,
)

PASSWORD = "calls-test-123"
PACK = example("call_center")
FORM = PACK["forms/agent_monthly.yaml"]


@pytest.fixture
def definition_roots(tmp_path: Path) -> list[str]:
    return write_pack(tmp_path / "defs", PACK)


@pytest.fixture
def login(app: Flask) -> Any:
    rows = [
        {"employee_no": "c100", "name": "坐席主管林娜", "department": "calls",
         "position": "lead", "manager": "", "roles": "hr"},
        {"employee_no": "c101", "name": "坐席小唐", "department": "calls",
         "position": "agent", "manager": "c100"},
    ]  # fmt: skip
    make = crew(app, rows, PASSWORD)
    assert launch(make("c100"), ["calls"], workflow="monthly").status_code == 302
    return make


def _walk(login: Any, absences: str, complaints: str) -> Any:
    agent, lead = login("c101"), login("c100")
    a = appraisal_of("c101").id
    month = {
        "absences": absences,
        "major_complaints": complaints,
        "kpis-calls-actual": "1100",  # 110 % of target → 110 × 50 % = 55
        "kpis-csat-actual": "94.5",  # 105 % → 52.5; KPI score 107.5
    }
    assert save(agent, a, month).status_code == 302
    assert fire(agent, a, "submit").status_code == 302
    assert fire(lead, a, "review").status_code == 302
    return fire(lead, a, "rate"), a


@pytest.mark.parametrize(
    ("absences", "complaints", "score", "grade", "bonus", "applied"),
    [
        # 107.5, capped at 100 → S, 1000 × 1.5
        ("0", "0", 100.0, "S", 1500.0, ["cap"]),
        # 107.5 − 8 × 2 = 91.5, under the cap → A, 1000 × 1.2
        ("8", "0", 91.5, "A", 1200.0, ["deduct"]),
        # 107.5 − 2 = 105.5 → 100, but one major complaint: D whatever the score, no bonus
        ("1", "1", 100.0, "D", 0.0, ["deduct", "cap", "grade"]),
    ],
    ids=["capped", "deducted", "veto"],
)
def test_adjustments_decide_the_result(
    login: Any,
    absences: str,
    complaints: str,
    score: float,
    grade: str,
    bonus: float,
    applied: list[str],
) -> None:
    response, a = _walk(login, absences, complaints)
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    stored = appraisal(a)
    assert (stored.score, stored.grade, stored.bonus) == (score, grade, bonus)
    assert [adj["kind"] for adj in stored.result["adjustments"]] == applied
    page = login("c101").get(f"/appraisals/{a}").get_data(as_text=True)
    if "grade" in applied:
        assert "重大投诉一票否决" in page
        assert "由调整规则直接评定" in page
        follow_ups = stored.result["grade"]["follow_ups"]
        assert [f["id"] for f in follow_ups] == ["retraining", "improvement_plan"]
        assert "回炉培训 (上级, 30 天内)" in page
    if "cap" in applied:
        assert "总分封顶 100" in page


def test_a_veto_that_cannot_be_judged_leaves_the_score_open(login: Any) -> None:
    response, a = _walk(login, "0", "")  # major_complaints left empty: the veto cannot be judged
    assert response.status_code == 422
    assert "major_complaints" in response.get_data(as_text=True)
    assert appraisal(a).state == "assess"
    assert appraisal(a).score is None


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("grade: D}", "grade: 否决}", "'否决' is not a valid grade: use up to 8 Latin letters"),
        ("absences * 2", "absense * 2", "unknown name 'absense'; did you mean 'absences'?"),
        ("grade: D}", "grade: E}", "gives grade 'E', which policy 'agent_bonus' does not have"),
        ("cap: 100}", "cap: 100, floor: 0}", "an adjustment does one thing"),
        ("actions: [retraining", "actions: [retrain", "unknown action 'retrain'"),
    ],
    ids=["grade id", "unknown name", "grade not in policy", "two effects", "unknown action"],
)
def test_the_checker_knows_adjustments(tmp_path: Path, old: str, new: str, message: str) -> None:
    changed = {name: text.replace(old, new) for name, text in PACK.items()}
    assert changed != PACK
    roots = write_pack(tmp_path, changed)
    result = load([Path(r) for r in roots])
    errors = " | ".join(d.message for d in result.diagnostics if d.severity == "error")
    assert message in errors


def test_a_broken_rule_is_named_as_a_rule_not_as_missing_values(login: Any) -> None:
    agent = login("c101")
    a = appraisal_of("c101").id
    month = {"absences": "25", "major_complaints": "0", "kpis-calls-actual": "900",
             "kpis-csat-actual": "91"}  # fmt: skip
    assert save(agent, a, month).status_code == 302
    response = fire(agent, a, "submit")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "表单规则尚未满足" in page
    assert "请填写必填项" not in page
    assert "缺勤超过 20 天的月份请先与 HR 沟通" in page


def test_a_cycle_without_calibration_has_an_empty_board_and_pays_final_results(
    login: Any,
) -> None:
    lead = login("c100")
    _walk(login, absences="0", complaints="0")
    a = appraisal_of("c101")
    cycle = a.cycle_id
    page = lead.get(f"/cycles/{cycle}/calibration")
    assert page.status_code == 200
    assert "本考核周期的流程没有校准环节" in page.get_data(as_text=True)
    assert lead.get(f"/api/v1/cycles/{cycle}/calibration").status_code == 200
    # the result is final once the review is closed, and only then on the payout sheet
    assert "c101" not in lead.get(f"/cycles/{cycle}/payout.csv").get_data(as_text=True)
    assert fire(login("c101"), a.id, "close").status_code == 302
    assert "c101" in lead.get(f"/cycles/{cycle}/payout.csv").get_data(as_text=True)


def test_only_the_normal_path_makes_a_result_final() -> None:
    from opsperf.definitions.calibration import result_states
    from opsperf.definitions.schema import Workflow

    flow = Workflow.model_validate(
        {
            "kind": "Workflow",
            "id": "w",
            "name": "W",
            "states": {
                "plan": {}, "monitor": {}, "assess": {}, "feedback": {},
                "done": {"final": True}, "cancelled": {"final": True},
            },
            "transitions": [
                {"trigger": "a", "source": "plan", "dest": "monitor", "roles": ["employee"]},
                {"trigger": "b", "source": "monitor", "dest": "assess", "roles": ["manager"]},
                {"trigger": "c", "source": "assess", "dest": "feedback", "roles": ["manager"]},
                {"trigger": "d", "source": "feedback", "dest": "done", "roles": ["employee"]},
                {"trigger": "x", "source": "*", "dest": "cancelled", "roles": ["hr"]},
            ],
        }
    )  # fmt: skip
    assert result_states(flow) == {"done"}

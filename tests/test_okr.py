"""Half-yearly OKRs from examples/rd_okr: objectives grouped from one table with two to four key
results each, averaged per objective, graded for development only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from opsperf.definitions.expressions import parse
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

PASSWORD = "okr-test-123"
PACK = example("rd_okr")
PLAN = {
    "key_results__rows": "1",
    "key_results-0-objective": "提升系统稳定性", "key_results-0-kr": "P1 故障降到 2 次以内",
    "key_results-1-objective": "提升系统稳定性", "key_results-1-kr": "核心接口可用性 99.95%",
    "key_results-2-objective": "缩短交付周期", "key_results-2-kr": "发布频率提到每周两次",
    "key_results-3-objective": "缩短交付周期", "key_results-3-kr": "需求交付周期缩短 30%",
}  # fmt: skip


@pytest.fixture
def definition_roots(tmp_path: Path) -> list[str]:
    return write_pack(tmp_path / "defs", PACK)


@pytest.fixture
def login(app: Flask) -> Any:
    rows = [
        {"employee_no": "d1", "name": "研发经理欧阳", "department": "rd", "position": "rd_lead",
         "manager": "", "roles": "hr"},
        {"employee_no": "e1", "name": "工程师林峰", "department": "rd", "position": "engineer",
         "manager": "d1"},
    ]  # fmt: skip
    make = crew(app, rows, PASSWORD)
    assert launch(make("d1"), ["rd"], workflow="half_year").status_code == 302
    return make


def test_okrs_are_scored_per_objective(login: Any) -> None:
    engineer, lead = login("e1"), login("d1")
    a = appraisal_of("e1").id
    assert save(engineer, a, PLAN).status_code == 302
    assert fire(engineer, a, "submit", kind="request").status_code == 302
    assert fire(lead, a, "submit", kind="approve").status_code == 302
    assert fire(lead, a, "review").status_code == 302
    scores = {"key_results__rows": "1", "key_results-0-score": "0.8",
              "key_results-1-score": "0.6", "key_results-2-score": "1",
              "key_results-3-score": "0.5", "manager_comment": "稳定性目标基本达成。"}  # fmt: skip
    assert save(lead, a, scores).status_code == 302
    assert fire(lead, a, "rate").status_code == 302
    stored = appraisal(a)
    # 提升系统稳定性 (0.8 + 0.6) / 2 = 0.7; 缩短交付周期 (1 + 0.5) / 2 = 0.75; mean 72.5 → A
    assert (stored.score, stored.grade, stored.bonus) == (72.5, "A", 0.0)
    assert stored.result["grade"]["actions"] == ["promotion_nomination"]


def test_each_objective_needs_two_to_four_key_results(login: Any) -> None:
    engineer = login("e1")
    a = appraisal_of("e1").id
    lonely = {**PLAN, "key_results-3-objective": "招聘两名工程师"}
    assert save(engineer, a, lonely).status_code == 302
    response = fire(engineer, a, "submit", kind="request")
    assert response.status_code == 422
    assert "“招聘两名工程师”至少需要 2 行" in response.get_data(as_text=True)
    assert appraisal(a).pending_trigger is None


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("sum_by(rows, 'o', 'w')", [50, 50]),
        ("avg_by(rows, 'o', 's')", [0.7, None]),
        ("count_by(rows, 'o')", [2, 1]),
    ],
)
def test_grouping_helpers(source: str, value: list[Any]) -> None:
    rows = [{"o": "O1", "w": 20, "s": 0.8}, {"o": "O1", "w": 30, "s": 0.6}, {"o": "O2", "w": 50}]
    assert parse(source).evaluate({"rows": rows}) == pytest.approx(value)

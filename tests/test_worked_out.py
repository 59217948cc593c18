"""Values worked out from others: computed fields read by the score, and KPI actuals taken from
the form (``actual_from``) — one evaluation order on the page, in the stored result and in the
checker.

A workshop's OEE (设备综合效率) = availability × performance × quality, computed on the form; the
OEE KPI takes its actual from it, and the total reads a computed field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from opsperf.definitions.loader import load
from opsperf.persistence.models import User, db
from opsperf.services import people
from tests.conftest import FAST_HASH
from tests.helpers import appraisal, appraisal_of, fire, launch, save

PASSWORD = "oee-test-123"
PACK = {
    "org/plant.yaml": """\
kind: Department
id: plant
version: 1
name: {zh: 生产车间, en: Workshop}
head: plant_manager
positions:
  - {id: plant_manager, name: 车间主任, form: oee_monthly, workflow: monthly}
  - {id: operator, name: 设备操作员, form: oee_monthly, workflow: monthly}
""",
    "forms/oee_monthly.yaml": """\
kind: Form
id: oee_monthly
version: 1
title: {zh: 设备综合效率月度考核, en: Monthly OEE review}
period: month
sections:
  - id: losses
    title: 三大损失
    fields:
      - {id: availability, type: number, label: 时间开动率 (%), min: 0, max: 100}
      - {id: performance, type: number, label: 性能开动率 (%), min: 0, max: 100}
      - {id: quality, type: number, label: 合格品率 (%), min: 0, max: 100}
      - id: oee
        type: number
        label: 设备综合效率 OEE (%)
        compute: >-
          round(availability * performance * quality / 10000, 2)
          if None not in [availability, performance, quality] else None
  - id: goals
    title: 指标
    fields:
      - id: kpis
        type: kpi_table
        label: KPI
        kpis:
          - {id: oee, name: OEE, unit: "%", weight: 60, target: 85, actual_from: "oee"}
          - {id: output, name: 产量, unit: 件, weight: 40, target: 1000}
      - id: kpi_points
        type: number
        label: KPI 得分
        compute: "kpis.score"
score: "kpi_points"
""",
    "workflows/monthly.yaml": """\
kind: Workflow
id: monthly
version: 1
name: 月度考核
states:
  plan: {edit: {employee: [losses, kpis.actual]}}
  monitor: {}
  assess: {}
  feedback: {}
  done: {final: true}
transitions:
  - {trigger: submit, source: plan, dest: monitor, roles: [employee]}
  - {trigger: review, source: monitor, dest: assess, roles: [manager]}
  - {trigger: rate, source: assess, dest: feedback, roles: [manager], actions: [compute_scores]}
  - {trigger: close, source: feedback, dest: done, roles: [employee]}
""",
}


def write(root: Path, pack: dict[str, str]) -> list[str]:
    for name, content in pack.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return [str(root / folder) for folder in ("org", "forms", "workflows")]


@pytest.fixture
def definition_roots(tmp_path: Path) -> list[str]:
    return write(tmp_path / "defs", PACK)


@pytest.fixture
def login(app: Flask) -> Any:
    rows = [
        {"employee_no": "w100", "name": "车间主任老周", "department": "plant",
         "position": "plant_manager", "manager": "", "roles": "hr", "password": PASSWORD},
        {"employee_no": "w101", "name": "操作员小马", "department": "plant",
         "position": "operator", "manager": "w100", "password": PASSWORD},
    ]  # fmt: skip
    with app.app_context():
        defs = app.extensions["opsperf.registry"].current
        result = people.import_people(defs, rows, password_method=FAST_HASH)
        assert not result.problems, result.problems
        assert db.session.query(User).count() == 2

    def make(employee_no: str) -> Any:
        client = app.test_client()
        response = client.post("/login", data={"login": employee_no, "password": PASSWORD})
        assert response.status_code == 302
        return client

    assert launch(make("w100"), ["plant"], workflow="monthly").status_code == 302
    return make


FILLED = {
    "availability": "90",
    "performance": "95",
    "quality": "98",
    "kpis-output-actual": "1100",
}


def test_the_oee_kpi_takes_its_actual_from_the_computed_field(login: Any) -> None:
    worker = login("w101")
    a = appraisal_of("w101").id
    assert save(worker, a, FILLED).status_code == 302
    page = worker.get(f"/appraisals/{a}").get_data(as_text=True)
    # OEE = 90 × 95 × 98 / 10000 = 83.79, shown as the KPI's actual and never as an input
    assert 'id="kpi-actual-kpis-oee"' in page
    assert "83.79" in page
    assert 'name="kpis-oee-actual"' not in page
    assert 'name="kpis-output-actual"' in page
    assert save(worker, a, {"kpis-oee-actual": "99"}).status_code == 403
    assert appraisal(a).values["kpis"]["oee"].get("actual") is None  # never stored as typed


def test_the_stored_score_reads_the_computed_fields_and_the_worked_out_actual(
    login: Any,
) -> None:
    worker, boss = login("w101"), login("w100")
    a = appraisal_of("w101").id
    assert save(worker, a, FILLED).status_code == 302
    assert fire(worker, a, "submit").status_code == 302
    assert fire(boss, a, "review").status_code == 302
    assert fire(boss, a, "rate").status_code == 302
    stored = appraisal(a)
    # OEE 83.79 / 85 = 98.58 % of target → 98.58 × 0.6 = 59.15; output 1100 / 1000 = 110 →
    # 110 × 0.4 = 44; KPI score 103.15; the total reads the computed kpi_points.
    assert stored.state == "feedback"
    assert stored.score == pytest.approx(103.15, abs=0.01)
    kpis = {k["kpi"]: k for k in stored.result["kpis"][0]["kpis"]}
    assert kpis["oee"]["actual"] == pytest.approx(83.79)
    assert kpis["oee"]["score"] == pytest.approx(98.58, abs=0.01)


def test_a_score_waits_while_the_inputs_of_a_worked_out_actual_are_missing(login: Any) -> None:
    worker, boss = login("w101"), login("w100")
    a = appraisal_of("w101").id
    partial = {k: v for k, v in FILLED.items() if k != "quality"}
    assert save(worker, a, partial).status_code == 302
    assert fire(worker, a, "submit").status_code == 302  # nobody is asked to type the OEE
    assert fire(boss, a, "review").status_code == 302
    refused = fire(boss, a, "rate")
    assert refused.status_code == 422
    assert appraisal(a).state == "assess"


CYCLE = PACK["forms/oee_monthly.yaml"].replace('actual_from: "oee"', 'actual_from: "kpi_points"')
UNKNOWN = PACK["forms/oee_monthly.yaml"].replace('actual_from: "oee"', 'actual_from: "oe + qq"')


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        (CYCLE, ["KPI actual 'kpis.oee' depends on itself: kpis.oee → kpi_points → kpis.oee"]),
        (UNKNOWN, ["unknown name 'oe'", "unknown name 'qq'"]),
    ],
    ids=["cycle", "unknown names"],
)
def test_the_checker_knows_the_order(tmp_path: Path, form: str, expected: list[str]) -> None:
    roots = write(tmp_path, {**PACK, "forms/oee_monthly.yaml": form})
    result = load([Path(r) for r in roots])
    errors = " | ".join(d.message for d in result.diagnostics if d.severity == "error")
    for text in expected:
        assert text in errors

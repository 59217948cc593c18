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

PASSWORD = "oee-test-123"
PACK = example("workshop_oee")


@pytest.fixture
def definition_roots(tmp_path: Path) -> list[str]:
    return write_pack(tmp_path / "defs", PACK)


@pytest.fixture
def login(app: Flask) -> Any:
    rows = [
        {"employee_no": "w100", "name": "车间主任老周", "department": "plant",
         "position": "plant_manager", "manager": "", "roles": "hr"},
        {"employee_no": "w101", "name": "操作员小马", "department": "plant",
         "position": "operator", "manager": "w100"},
    ]  # fmt: skip
    make = crew(app, rows, PASSWORD)
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
    assert (stored.grade, stored.bonus) == ("A", 2600.0)  # ≥ 100: 2000 × 1.3


def test_a_safety_incident_caps_the_month(login: Any) -> None:
    worker, boss = login("w101"), login("w100")
    a = appraisal_of("w101").id
    assert save(worker, a, {**FILLED, "safety_incidents": "1"}).status_code == 302
    for who, step in ((worker, "submit"), (boss, "review"), (boss, "rate")):
        assert fire(who, a, step).status_code == 302
    stored = appraisal(a)
    # 103.15 capped at 60 → C, 2000 × 0.5, and coaching to follow
    assert (stored.score, stored.grade, stored.bonus) == (60.0, "C", 1000.0)
    assert stored.result["grade"]["actions"] == ["coaching"]


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
    roots = write_pack(tmp_path, {**PACK, "forms/oee_monthly.yaml": form})
    result = load([Path(r) for r in roots])
    errors = " | ".join(d.message for d in result.diagnostics if d.severity == "error")
    for text in expected:
        assert text in errors

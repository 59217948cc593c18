"""Edit rights down to one KPI's cell, a table's column and adding rows, and roles that never
act on their holder's own appraisal — the checker and the run time agree.

A service team: agents record their own call volume and key results; a quality inspector (a
role, held by an agent) fills only the QA score of the others, never their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.helpers import appraisal, appraisal_of, crew, diagnostics_after, launch, save, write_pack

PASSWORD = "rights-test-1"
PACK = {
    "org/service.yaml": """\
kind: Department
id: service
version: 1
name: {zh: 客服组, en: Service team}
head: lead
roles:
  - {id: qa_inspector, name: {zh: 质检员, en: Quality inspector}, scope: department}
positions:
  - {id: lead, name: 组长, form: agent_review, workflow: review}
  - {id: agent, name: 客服, form: agent_review, workflow: review}
""",
    "forms/agent_review.yaml": """\
kind: Form
id: agent_review
version: 1
title: 客服月度考核
sections:
  - id: results
    title: 结果
    fields:
      - id: kpis
        type: kpi_table
        label: KPI
        kpis:
          - {id: calls, name: 接听量, weight: 50, target: 1000}
          - {id: qa_score, name: 质检得分, weight: 50, target: 95}
      - id: key_results
        type: table
        label: 关键结果
        columns:
          - {id: kr, type: text, label: 关键结果}
          - {id: reviewed, type: text, label: 组长意见}
""",
    "workflows/review.yaml": """\
kind: Workflow
id: review
version: 1
name: 月度考核
not_self: [qa_inspector]
states:
  plan: {}
  monitor:
    edit:
      employee: [kpis.calls.actual, key_results.kr, key_results.rows]
      qa_inspector: [kpis.qa_score.actual]
      manager: [key_results.reviewed]
  assess: {}
  feedback: {}
  done: {final: true}
transitions:
  - {trigger: start, source: plan, dest: monitor, roles: [manager]}
  - {trigger: review, source: monitor, dest: assess, roles: [manager]}
  - {trigger: rate, source: assess, dest: feedback, roles: [manager]}
  - {trigger: close, source: feedback, dest: done, roles: [employee]}
""",
}


@pytest.fixture
def definition_roots(tmp_path: Path) -> list[str]:
    return write_pack(tmp_path / "defs", PACK)


@pytest.fixture
def login(app: Flask) -> Any:
    rows = [
        {"employee_no": "l1", "name": "组长老韩", "department": "service", "position": "lead",
         "manager": "", "roles": "hr"},
        {"employee_no": "q1", "name": "客服兼质检小宋", "department": "service",
         "position": "agent", "manager": "l1", "roles": "qa_inspector"},
        {"employee_no": "a2", "name": "客服小魏", "department": "service", "position": "agent",
         "manager": "l1"},
    ]  # fmt: skip
    make = crew(app, rows, PASSWORD)
    lead = make("l1")
    assert launch(lead, ["service"], workflow="review").status_code == 302
    for no in ("q1", "a2"):
        a = appraisal_of(no)
        body = {"trigger": "start", "kind": "fire", "version": a.version}
        assert lead.post(f"/api/v1/appraisals/{a.id}/transitions", json=body).status_code == 200
    return make


def test_the_inspector_fills_only_the_qa_score_of_others(login: Any) -> None:
    inspector = login("q1")
    other, own = appraisal_of("a2").id, appraisal_of("q1").id
    page = inspector.get(f"/appraisals/{other}").get_data(as_text=True)
    assert 'name="kpis-qa_score-actual"' in page
    assert 'name="kpis-calls-actual"' not in page
    assert save(inspector, other, {"kpis-qa_score-actual": "97"}).status_code == 302
    assert save(inspector, other, {"kpis-calls-actual": "1200"}).status_code == 403
    assert appraisal(other).values["kpis"]["qa_score"]["actual"] == 97
    # on their own appraisal the inspector is only the employee: calls yes, QA no
    page = inspector.get(f"/appraisals/{own}").get_data(as_text=True)
    assert 'name="kpis-calls-actual"' in page
    assert 'name="kpis-qa_score-actual"' not in page
    assert save(inspector, own, {"kpis-qa_score-actual": "100"}).status_code == 403
    assert save(inspector, own, {"kpis-calls-actual": "1100"}).status_code == 302
    tasks = {t["appraisal"] for t in inspector.get("/api/v1/tasks").get_json()}
    assert other in tasks  # the QA score to fill
    roles = inspector.get(f"/api/v1/appraisals/{own}").get_json()["your_roles"]
    assert roles == ["employee"]


def test_an_employee_adds_key_results_but_cannot_remove_or_review_them(login: Any) -> None:
    agent, lead = login("a2"), login("l1")
    a = appraisal_of("a2").id
    two = {
        "key_results__rows": "1",
        "key_results-0-kr": "首解率 85%",
        "key_results-1-kr": "培训新人 2 名",
    }
    assert save(agent, a, two).status_code == 302
    assert appraisal(a).values["key_results"] == [
        {"kr": "首解率 85%", "reviewed": None},
        {"kr": "培训新人 2 名", "reviewed": None},
    ]
    assert save(agent, a, {**two, "key_results-1-reviewed": "很好"}).status_code == 403
    one = {"key_results__rows": "1", "key_results-0-kr": "首解率 85%"}
    assert save(agent, a, one).status_code == 403  # removing a row needs the whole table
    review = {
        "key_results__rows": "1",
        "key_results-0-reviewed": "达成",
        "key_results-1-reviewed": "超额",
    }
    assert save(lead, a, review).status_code == 302
    assert [r["reviewed"] for r in appraisal(a).values["key_results"]] == ["达成", "超额"]
    assert save(lead, a, {**review, "key_results-2-reviewed": "新增"}).status_code == 403


@pytest.mark.parametrize(
    ("path", "old", "new", "message"),
    [
        (
            "workflows/review.yaml",
            "kpis.qa_score.actual]",
            "kpis.qa.actual]",
            "form 'agent_review' has no section or field 'kpis.qa.actual'",
        ),
        (
            "workflows/review.yaml",
            "not_self: [qa_inspector]",
            "not_self: [employee]",
            "'employee' is who someone is on an appraisal",
        ),
        (
            "forms/agent_review.yaml",
            "{id: reviewed,",
            "{id: rows,",
            "a column cannot be called 'rows'",
        ),
        (
            "forms/agent_review.yaml",
            "{id: calls,",
            "{id: actual,",
            "a KPI cannot be called 'actual'",
        ),
    ],
    ids=["unknown KPI", "not_self employee", "rows column", "actual KPI"],
)
def test_the_checker_knows_fine_rights(
    tmp_path: Path, path: str, old: str, new: str, message: str
) -> None:
    assert message in diagnostics_after(tmp_path, PACK, path, old, new)

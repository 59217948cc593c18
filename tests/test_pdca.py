"""PDCA over HTTP on both databases: the previous cycle's targets, actuals, score and
improvement plan beside the next plan, and its targets copied forward by whoever may set them
— checked, permitted and audited as a save."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.helpers import appraisal_of, crew, fire, save, write_pack

PASSWORD = "pdca-1234"

PACK = {
    "org/team.yaml": """
kind: Department
id: team
name: {zh: 销售组, en: Sales team}
head: lead
positions:
  - {id: lead, name: {zh: 组长, en: Lead}, form: plan, workflow: plan}
  - {id: rep, name: {zh: 代表, en: Rep}, form: plan, workflow: plan}
""",
    "forms/plan.yaml": """
kind: Form
id: plan
title: {zh: 季度计划, en: Quarterly plan}
review_previous: [improvement_plan]
sections:
  - id: goals
    title: {zh: 指标, en: KPIs}
    fields:
      - id: kpis
        type: kpi_table
        label: {zh: 指标, en: KPIs}
        kpis:
          - {id: revenue, name: {zh: 销售额, en: Revenue}, unit: 万元, weight: 70, target: 100}
          - {id: visits, name: {zh: 拜访数, en: Visits}, unit: 次, weight: 30}
  - id: improvement
    title: {zh: 改进, en: Improvement}
    fields:
      - id: improvement_plan
        type: table
        label: {zh: 改进措施, en: Improvement actions}
        columns:
          - {id: action, type: text, label: {zh: 措施, en: Action}}
          - {id: due_date, type: date, label: {zh: 完成时间, en: Due date}}
      - {id: private_note, type: textarea, label: {zh: 上级备注, en: Manager's note},
         visible_to: [manager]}
""",
    "workflows/plan.yaml": """
kind: Workflow
id: plan
name: {zh: 季度评审, en: Quarterly review}
states:
  plan: {edit: {employee: [kpis.target], manager: [kpis.target]}}
  monitor: {edit: {employee: [kpis.actual]}}
  assess: {edit: {manager: [improvement_plan, private_note]}}
  feedback: {}
  done: {final: true}
transitions:
  - {trigger: agree, source: plan, dest: monitor, roles: [manager]}
  - {trigger: assess, source: monitor, dest: assess, roles: [manager]}
  - {trigger: score, source: assess, dest: feedback, roles: [manager], actions: [compute_scores]}
  - {trigger: close, source: feedback, dest: done, roles: [employee]}
""",
}

PEOPLE = [
    {"employee_no": "h01", "name": "人事王芳", "department": "team", "roles": "hr"},
    {"employee_no": "L01", "name": "组长林立", "department": "team", "position": "lead"},
    {"employee_no": "r01", "name": "代表甲", "department": "team", "position": "rep",
     "manager": "L01", "language": "en"},
    {"employee_no": "r02", "name": "代表乙", "department": "team", "position": "rep",
     "manager": "L01"},
]  # fmt: skip


@pytest.fixture
def definition_roots(tmp_path: Path) -> list[str]:
    return write_pack(tmp_path / "defs", PACK)


def launch(client: Any, name: str, start: str, end: str) -> None:
    response = client.post(
        "/cycles/new",
        data={"name": name, "workflow": "plan", "period_start": start, "period_end": end,
              "departments": ["team"]},
    )  # fmt: skip
    assert response.status_code == 302


@pytest.fixture
def login(app: Flask) -> Any:
    make = crew(app, PEOPLE, PASSWORD)
    launch(make("h01"), "2026 Q3", "2026-07-01", "2026-09-30")
    boss, me = make("L01"), make("r01")
    a = appraisal_of("r01").id
    assert (
        save(me, a, {"kpis-revenue-target": "1234567.25", "kpis-visits-target": "40"}).status_code
        == 302
    )
    assert fire(boss, a, "agree").status_code == 302
    assert (
        save(me, a, {"kpis-revenue-actual": "1111110.525", "kpis-visits-actual": "46"}).status_code
        == 302
    )
    assert fire(boss, a, "assess").status_code == 302
    plan = {
        "improvement_plan__rows": "1",
        "improvement_plan-0-action": "每周复盘重点客户商机",
        "improvement_plan-0-due_date": "2026-10-31",
        "private_note": "只给上级看的备注",
    }
    assert save(boss, a, plan).status_code == 302
    assert fire(boss, a, "score").status_code == 302
    launch(make("h01"), "2026 Q4", "2026-10-01", "2026-12-31")
    return make


def test_the_new_plan_shows_the_last_cycle(login: Any) -> None:
    a = appraisal_of("r01")
    page = login("r01").get(f"/appraisals/{a.id}").get_data(as_text=True)
    assert 'id="previous"' in page
    assert "Last cycle: 2026 Q3" in page
    assert "每周复盘重点客户商机" in page  # the improvement plan agreed at the end of it
    assert "只给上级看的备注" not in page  # not a field the new form reviews, and not theirs
    section = page[page.index('id="previous-kpis"') :]
    for figure in (">1,234,567.25<", ">1,111,110.52<", ">40<", ">46<", ">90<"):  # 90 %
        assert figure in section, re.findall(r"<td[^>]*>[^<]*<", section)[:12]
    # HR sees it too; another rep cannot open the appraisal at all
    assert 'id="previous"' in login("h01").get(f"/appraisals/{a.id}").get_data(as_text=True)
    assert login("r02").get(f"/appraisals/{a.id}").status_code == 403
    # once the plan is agreed, the card is gone: it belongs to planning
    assert save(login("r01"), a.id, {"kpis-visits-target": "45"}).status_code == 302
    assert fire(login("L01"), a.id, "agree").status_code == 302
    assert 'id="previous"' not in login("r01").get(f"/appraisals/{a.id}").get_data(as_text=True)


def test_targets_are_copied_forward_through_a_save(login: Any) -> None:
    a = appraisal_of("r01")
    assert a.values["kpis"]["revenue"].get("target") == 100  # the form's, until agreed
    me = login("r01")
    response = me.post(f"/appraisals/{a.id}/copy-targets", data={"version": a.version})
    assert response.status_code == 302
    copied = appraisal_of("r01").values["kpis"]
    assert copied["revenue"]["target"] == 1234567.25  # every digit
    assert copied["visits"]["target"] == 40
    from tests.helpers import events

    assert events(a.id)[-1].kind == "save"
    # a stale page is refused; nothing to copy for someone without a previous appraisal
    stale = me.post(f"/appraisals/{a.id}/copy-targets", data={"version": a.version})
    assert stale.status_code == 409
    # the first cycle has nothing before it
    with login("r01").application.app_context():
        from opsperf.persistence.models import Appraisal, db

        first = (
            db.session.query(Appraisal)
            .filter_by(employee_id=a.employee_id)
            .order_by(Appraisal.id)
            .first()
        )
        assert first is not None
        first_id, first_version = first.id, first.version
    refused = me.post(f"/appraisals/{first_id}/copy-targets", data={"version": first_version})
    assert refused.status_code == 422
    # once targets cannot be set any more, neither can they be copied
    assert fire(login("L01"), a.id, "agree").status_code == 302
    late = appraisal_of("r01")
    again = me.post(f"/appraisals/{a.id}/copy-targets", data={"version": late.version})
    assert again.status_code == 422


def test_the_checker_refuses_an_unknown_review_field(tmp_path: Path) -> None:
    from tests.helpers import diagnostics_after

    found = diagnostics_after(
        tmp_path, PACK, "forms/plan.yaml", "[improvement_plan]", "[improvment_plan]"
    )
    assert "review_previous names 'improvment_plan', which is not a field of this form" in found
    assert "did you mean 'improvement_plan'" in found

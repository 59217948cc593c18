"""A brand-new department, form, workflow and incentive policy written in YAML only, then run.

Nothing here comes from the shipped pack: 仓储部 (warehouse) with its own positions and a custom
role, a monthly picking form scored by bands, linear, inverse_ratio and expression KPIs, a
workflow with other state names (plan.draft / plan.countersign, assess.self_check,
assess.review.lead / assess.review.panel, done, withdrawn) and other triggers, an ``all`` and a
``quorum`` approval, and a policy with its own grades (one named ``A+``) and bonus formula. The
app is pointed at it with ``definition_roots``; people are imported, a cycle is launched over
HTTP by HR and every step is walked over HTTP by the person whose turn it is.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from opsperf.definitions.loader import load
from opsperf.persistence.models import Appraisal, User, db
from opsperf.services import people
from tests.helpers import appraisal_of, events, fire, kpi_data, launch, problems, save

FAST_HASH = "pbkdf2:sha256:1000"
PASSWORD = "pw-123456"

PACK: dict[str, str] = {
    "org/hq.yaml": """\
kind: Department
id: hq
version: 1
name: {zh: 总部, en: Head office}
goals:
  - {id: fulfilment, name: {zh: 订单履约率, en: Order fulfilment}, unit: "%", target: 99,
     period: year}
""",
    "org/warehouse.yaml": """\
# 仓储部: a department the shipped pack does not have
kind: Department
id: warehouse
version: 1
name: {zh: 仓储部, en: Warehouse}
parent: hq
head: warehouse_manager
bonus_coefficient: 0.8
roles:
  - {id: safety_officer, name: {zh: 安全员, en: Safety officer}}
goals:
  - {id: accuracy, name: {zh: 拣货准确率, en: Picking accuracy}, unit: "%", target: 99.5,
     period: month}
positions:
  - {id: picker, name: {zh: 拣货员, en: Picker}, form: picking_monthly, workflow: shift_cycle,
     policy: floor_bonus}
  - {id: shift_lead, name: {zh: 班组长, en: Shift lead}, form: picking_monthly,
     workflow: shift_cycle}
  - {id: warehouse_manager, name: {zh: 仓储经理, en: Warehouse manager}, form: picking_monthly,
     workflow: shift_cycle}
""",
    "forms/picking.yaml": """\
kind: Form
id: picking_monthly
version: 1
title: {zh: 拣货岗月度考核表, en: Picking monthly appraisal}
period: month
sections:
  - id: targets
    title: 月度计划
    fields:
      - id: shift
        type: select
        label: {zh: 班次, en: Shift}
        required: true
        choices: [{value: day, label: 白班}, {value: night, label: 夜班}]
      - {id: plan_note, type: textarea, label: 计划说明, required: true, min_length: 4,
         max_length: 500}
  - id: floor
    title: 现场指标
    fields:
      - id: kpis
        type: kpi_table
        label: {zh: 关键指标, en: KPIs}
        kpis:
          - {id: pick_accuracy, name: 拣货准确率, unit: "%", weight: 40, target: 99.5,
             aligns_to: warehouse.accuracy,
             scoring: {method: bands, bands: [[99.8, 120], [99.5, 100], [99, 80], [0, 40]]}}
          - {id: lines_per_hour, name: 每小时拣货行数, unit: 行, weight: 30, target: 60,
             scoring: {method: linear, threshold: 40, stretch: 80}}
          - {id: damage_rate, name: 货损率, unit: "‰", direction: lower, weight: 20, target: 2}
          - {id: safety_incidents, name: 安全事件, unit: 起, direction: lower, weight: 10,
             target: 0, scoring: {method: expression, expr: "clamp(100 - actual * 50, 0, 100)"}}
      - id: accuracy_gap
        type: number
        label: 准确率差距
        decimals: 2
        compute: >-
          round(kpis.pick_accuracy.actual - kpis.pick_accuracy.target, 2)
          if kpis.pick_accuracy.actual is not None else None
      - {id: overtime_hours, type: number, label: 加班小时, min: 0, max: 80}
  - id: self_part
    title: 自评
    fields:
      - {id: self_score, type: rating, scale: 5, required: true, label: 自评分}
      - id: had_incident
        type: radio
        label: 本月是否发生异常
        default: "no"
        choices: [{value: "yes", label: 是}, {value: "no", label: 否}]
      - {id: incident_report, type: textarea, label: 异常说明,
         visible_if: "had_incident == 'yes'", required_if: "had_incident == 'yes'"}
  - id: lead_part
    title: 班组长评价
    fields:
      - {id: kpi_points, type: number, label: KPI 得分, compute: "kpis.score"}
      - {id: lead_rating, type: rating, scale: 5, required: true, label: 班组长评分}
      - {id: lead_comment, type: textarea, label: 评语,
         required_if: "lead_rating is not None and lead_rating <= 2"}
  - id: wrap_up
    title: 反馈
    fields:
      - {id: coaching_plan, type: textarea, label: 辅导计划}
      - {id: accepted, type: checkbox, label: 我确认本月结果}
rules:
  - check: "overtime_hours is None or overtime_hours <= 60 or len(plan_note or '') > 20"
    field: overtime_hours
    message: {zh: 加班超过 60 小时需在计划说明中写明原因, en: Explain overtime above 60 hours}
score: >-
  round(kpis.score * 0.9 + coalesce(lead_rating, 3) * 2, 2) if kpis.score is not None else None
""",
    "workflows/shift_cycle.yaml": """\
kind: Workflow
id: shift_cycle
version: 1
name: {zh: 班组月度考核, en: Shift monthly cycle}
states:
  plan:
    initial: draft
    states:
      draft: {edit: {employee: [targets, kpis.target]}, due: P5D, on_overdue: {notify: [employee]}}
      countersign: {}
  monitor: {edit: {employee: [kpis.actual, overtime_hours], manager: [kpis.note]}}
  assess:
    initial: self_check
    states:
      self_check: {edit: {employee: [self_part]}}
      review:
        initial: lead
        states:
          lead: {edit: {manager: [lead_part]}}
          panel: {}
  feedback: {edit: {manager: [coaching_plan], employee: [accepted]}}
  done: {final: true}
  withdrawn: {final: true}
transitions:
  - {trigger: propose_targets, source: plan.draft, dest: plan.countersign, roles: [employee]}
  - {trigger: send_back, source: plan.countersign, dest: plan.draft, roles: [manager],
     comment: required}
  - {trigger: countersign, source: plan.countersign, dest: monitor,
     approval: {roles: [manager, dept_head], mode: all}}
  - {trigger: close_month, source: monitor, dest: assess, roles: [hr], actions: [compute_scores]}
  - {trigger: hand_in, source: assess.self_check, dest: assess.review, roles: [employee],
     guard: "self_score is not None"}
  - {trigger: redo, source: assess.review, dest: assess.self_check, roles: [manager, hr],
     comment: required, require_complete: false}
  - {trigger: lead_done, source: assess.review.lead, dest: assess.review.panel, roles: [manager],
     guard: "lead_rating is not None"}
  - {trigger: panel_pass, source: assess.review.panel, dest: feedback, actions: [compute_scores],
     approval: {roles: [dept_head, hr, safety_officer], mode: quorum, quorum: 2}}
  - {trigger: sign, source: feedback, dest: done, roles: [employee], guard: "accepted",
     guard_message: {zh: 请先勾选确认, en: Tick the confirmation first}}
  - {trigger: withdraw, source: "*", dest: withdrawn, roles: [hr], comment: required}
""",
    "workflows/floor_bonus.yaml": """\
kind: IncentivePolicy
id: floor_bonus
version: 1
name: {zh: 现场绩效奖金, en: Floor bonus}
workflow: shift_cycle
base_bonus: 2000
grades:
  - {grade: A+, min_score: 105, bonus_multiplier: 1.8, actions: [promotion_nomination]}
  - {grade: A, min_score: 92, bonus_multiplier: 1.3}
  - {grade: B, min_score: 75, bonus_multiplier: 1.0}
  - {grade: C, min_score: 0, bonus_multiplier: 0.2, actions: [coaching]}
bonus: >-
  round(base_bonus * bonus_multiplier * department.bonus_coefficient
  + (300 if score >= 100 else 0), 2)
""",
}

# employee_no, name, department, position, manager, roles, base_bonus
PEOPLE = [
    ("boss", "周总", "hq", "", "", "", ""),
    ("hr9", "人事小林", "hq", "", "boss", "hr", ""),
    ("wm01", "仓储经理老王", "warehouse", "warehouse_manager", "boss", "", ""),
    ("wl01", "班组长小陈", "warehouse", "shift_lead", "wm01", "", ""),
    ("wp01", "拣货员阿强", "warehouse", "picker", "wl01", "", ""),
    ("wp02", "拣货员阿梅", "warehouse", "picker", "wl01", "safety_officer", "2500"),
]


def write_pack(root: Path) -> list[str]:
    for name, text in PACK.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return [str(root / folder) for folder in ("org", "forms", "workflows")]


@pytest.fixture
def definition_roots(tmp_path: Path) -> list[str]:
    return write_pack(tmp_path / "defs")


@pytest.fixture
def crew(app: Flask) -> dict[str, int]:
    rows = [
        {
            "employee_no": no,
            "name": name,
            "email": f"{no}@warehouse.example",
            "department": dept,
            "position": position,
            "manager": manager,
            "roles": roles,
            "base_bonus": bonus,
            "password": PASSWORD,
        }
        for no, name, dept, position, manager, roles, bonus in PEOPLE
    ]
    with app.app_context():
        defs = app.extensions["opsperf.registry"].current
        result = people.import_people(defs, rows, password_method=FAST_HASH)
        assert not result.problems, result.problems
        assert result.created == len(PEOPLE)
        return {u.employee_no: u.id for u in db.session.query(User)}


@pytest.fixture
def login(app: Flask) -> Any:
    def make(employee_no: str) -> FlaskClient:
        client = app.test_client()
        response = client.post("/login", data={"login": employee_no, "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    return make


@pytest.fixture
def cycle(app: Flask, crew: dict[str, int], login: Any) -> int:
    response = launch(login("hr9"), ["warehouse"], workflow="shift_cycle", name="2026-10 月度")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    with app.app_context():
        rows = db.session.query(Appraisal).order_by(Appraisal.id).all()
        assert {r.position_id for r in rows} == {"picker", "shift_lead", "warehouse_manager"}
        assert len(rows) == 4  # everyone in the warehouse with a position; nobody from hq
        return rows[0].cycle_id


def ok(response: Any) -> None:
    assert response.status_code == 302, problems(response) or response.get_data(as_text=True)[:800]


def test_the_new_set_loads_without_a_single_diagnostic(tmp_path: Path) -> None:
    result = load(write_pack(tmp_path))
    assert [d.format() for d in result.diagnostics] == []
    defs = result.definitions
    assert set(defs.departments) == {"hq", "warehouse"}
    assert set(defs.forms) == {"picking_monthly"}
    assert set(defs.workflows) == {"shift_cycle"}
    assert set(defs.policies) == {"floor_bonus"}
    methods = {k.effective_scoring.method for k in defs.forms["picking_monthly"].fields()[2].kpis}
    assert methods == {"bands", "linear", "inverse_ratio", "expression"}


def _plan_and_monitor(login: Any, employee: str, actuals: dict[str, float]) -> int:
    """Plan (propose, countersign by manager and dept head under `all`) and record actuals."""
    me, lead, head, hr = login(employee), login("wl01"), login("wm01"), login("hr9")
    a = appraisal_of(employee)
    assert (a.state, a.values["had_incident"]) == ("plan.draft", "no")  # default from YAML
    ok(save(me, a.id, {"shift": "night", "plan_note": "夜班拣货，重点盯准确率与货损。"}))
    ok(fire(me, a.id, "propose_targets"))
    assert appraisal_of(employee).state == "plan.countersign"
    ok(fire(lead, a.id, "countersign", "approve"))
    assert appraisal_of(employee).state == "plan.countersign"  # `all`: dept head still to sign
    ok(fire(head, a.id, "countersign", "approve"))
    assert appraisal_of(employee).state == "monitor"
    ok(save(me, a.id, {**kpi_data("kpis", "actual", actuals), "overtime_hours": "12"}))
    ok(fire(hr, a.id, "close_month"))
    assert appraisal_of(employee).state == "assess.self_check"
    return a.id


def _assess_and_close(
    login: Any, employee: str, appraisal_id: int, lead_rating: int, panel: tuple[str, str]
) -> None:
    me, lead = login(employee), login("wl01")
    ok(save(me, appraisal_id, {"self_score": "4", "had_incident": "no"}))
    ok(fire(me, appraisal_id, "hand_in"))
    assert appraisal_of(employee).state == "assess.review.lead"
    ok(save(lead, appraisal_id, {"lead_rating": str(lead_rating), "lead_comment": "稳定。"}))
    ok(fire(lead, appraisal_id, "lead_done"))
    assert appraisal_of(employee).state == "assess.review.panel"
    first, second = (login(no) for no in panel)
    ok(fire(first, appraisal_id, "panel_pass", "approve"))
    assert appraisal_of(employee).state == "assess.review.panel"  # quorum 2: one vote so far
    ok(fire(second, appraisal_id, "panel_pass", "approve"))
    assert appraisal_of(employee).state == "feedback"
    ok(save(lead, appraisal_id, {"coaching_plan": "继续保持。"}))
    ok(save(me, appraisal_id, {"accepted": "y", "accepted__shown": "1"}))
    ok(fire(me, appraisal_id, "sign"))


@pytest.mark.usefixtures("cycle")
def test_every_step_walked_by_the_right_people_with_detours(login: Any) -> None:
    me, lead, head, hr = login("wp01"), login("wl01"), login("wm01"), login("hr9")
    a = appraisal_of("wp01")
    assert a.state == "plan.draft"
    # the lead cannot fill the employee's plan, nor the employee the lead's part
    assert save(lead, a.id, {"plan_note": "不是我的"}).status_code == 403
    assert save(me, a.id, {"lead_rating": "5"}).status_code == 403

    # plan: propose → send back (a comment is required) → propose again → countersign (all)
    assert fire(me, a.id, "propose_targets").status_code == 422  # shift, plan_note required
    ok(save(me, a.id, {"shift": "night", "plan_note": "夜班拣货，重点盯准确率与货损。"}))
    ok(fire(me, a.id, "propose_targets"))
    assert fire(lead, a.id, "send_back").status_code == 422
    ok(fire(lead, a.id, "send_back", comment="准确率目标再确认一下"))
    assert appraisal_of("wp01").state == "plan.draft"
    ok(fire(me, a.id, "propose_targets"))
    assert fire(me, a.id, "countersign", "approve").status_code == 403  # not an approver
    ok(fire(lead, a.id, "countersign", "approve"))
    assert appraisal_of("wp01").state == "plan.countersign"
    assert fire(lead, a.id, "countersign", "approve").status_code == 403  # no second vote
    ok(fire(head, a.id, "countersign", "approve"))
    assert appraisal_of("wp01").state == "monitor"

    # monitor: actuals; only HR closes the month (which computes an interim score)
    actuals = {"pick_accuracy": 99.6, "lines_per_hour": 70, "damage_rate": 1.6,
               "safety_incidents": 1}  # fmt: skip
    ok(save(me, a.id, {**kpi_data("kpis", "actual", actuals), "overtime_hours": "12"}))
    page = me.get(f"/appraisals/{a.id}").get_data(as_text=True)
    assert "拣货准确率" in page
    gap = re.search(r'id="computed-accuracy_gap">([^<]*)<', page)
    assert gap is not None
    assert gap.group(1).strip() == "0.1"  # accuracy_gap computed: round(99.6 − 99.5, 2)
    points = re.search(r'id="computed-kpi_points">([^<]*)<', page)
    assert points is not None
    assert points.group(1).strip() == "102"  # kpi_points: compute "kpis.score"
    assert fire(me, a.id, "close_month").status_code == 403
    ok(fire(hr, a.id, "close_month"))
    a = appraisal_of("wp01")
    assert a.state == "assess.self_check"
    # interim, lead_rating not given yet: 102 × 0.9 + coalesce(None, 3) × 2 = 97.8 → A
    assert (a.score, a.grade) == (pytest.approx(97.8), "A")

    # assess: required_if bites once an incident is declared; hand_in, redo, hand_in again
    ok(save(me, a.id, {"self_score": "4", "had_incident": "yes"}))
    response = fire(me, a.id, "hand_in")
    assert response.status_code == 422
    assert appraisal_of("wp01").state == "assess.self_check"
    ok(save(me, a.id, {"incident_report": "10 月 12 日叉车轻微剐蹭货架，无人员受伤。"}))
    ok(fire(me, a.id, "hand_in"))
    assert appraisal_of("wp01").state == "assess.review.lead"
    ok(fire(hr, a.id, "redo", comment="请补充整改措施"))  # HR may send it back too
    assert appraisal_of("wp01").state == "assess.self_check"
    ok(fire(me, a.id, "hand_in"))
    assert fire(lead, a.id, "lead_done").status_code == 403  # guard: no lead_rating yet
    ok(save(lead, a.id, {"lead_rating": "2"}))
    assert fire(lead, a.id, "lead_done").status_code == 422  # required_if: rating ≤ 2
    ok(save(lead, a.id, {"lead_rating": "4", "lead_comment": "准确率稳定，效率提升明显。"}))
    ok(fire(lead, a.id, "lead_done"))
    assert appraisal_of("wp01").state == "assess.review.panel"

    # panel: quorum of 2 among dept_head, hr, safety_officer
    assert fire(lead, a.id, "panel_pass", "approve").status_code == 403
    ok(fire(head, a.id, "panel_pass", "approve"))
    assert appraisal_of("wp01").state == "assess.review.panel"
    ok(fire(hr, a.id, "panel_pass", "approve"))
    assert appraisal_of("wp01").state == "feedback"

    # feedback: the guard wants the box ticked
    ok(save(lead, a.id, {"coaching_plan": "下月带教新人，分享防错经验。"}))
    assert fire(me, a.id, "sign").status_code == 403
    ok(save(me, a.id, {"accepted": "y", "accepted__shown": "1"}))
    ok(fire(me, a.id, "sign"))

    a = appraisal_of("wp01")
    assert a.state == "done"
    # pick_accuracy   bands 99.6 ≥ 99.5            → 100 × 40% = 40
    # lines_per_hour  linear 100 + (70−60)/(80−60)×20 → 110 × 30% = 33
    # damage_rate     inverse_ratio min(2/1.6, 1.2)   → 120 × 20% = 24
    # safety          clamp(100 − 1×50, 0, 100)       →  50 × 10% =  5   KPI total 102
    # score = round(102 × 0.9 + 4 × 2, 2) = 91.8 + 8 = 99.8 → A (92 ≤ 99.8 < 105)
    # bonus = 2000 (policy base) × 1.3 × 0.8 + 0 (score < 100) = 2080
    assert a.score == pytest.approx(99.8)
    assert a.grade == "A"
    assert a.bonus == pytest.approx(2080.0)
    kpis = {k["kpi"]: k for k in a.result["kpis"][0]["kpis"]}
    assert {k: v["score"] for k, v in kpis.items()} == {
        "pick_accuracy": 100.0,
        "lines_per_hour": 110.0,
        "damage_rate": 120.0,
        "safety_incidents": 50.0,
    }
    assert {k: v["method"] for k, v in kpis.items()} == {
        "pick_accuracy": "bands",
        "lines_per_hour": "linear",
        "damage_rate": "inverse_ratio",
        "safety_incidents": "expression",
    }
    assert a.result["definitions"]["workflow"]["id"] == "shift_cycle"
    assert a.result["grade"]["grade"] == "A"
    moves = [(e.trigger, e.to_state) for e in events(a.id) if e.kind == "transition"]
    assert moves == [
        ("propose_targets", "plan.countersign"),
        ("send_back", "plan.draft"),
        ("propose_targets", "plan.countersign"),
        ("countersign", "monitor"),
        ("close_month", "assess.self_check"),
        ("hand_in", "assess.review.lead"),
        ("redo", "assess.self_check"),
        ("hand_in", "assess.review.lead"),
        ("lead_done", "assess.review.panel"),
        ("panel_pass", "feedback"),
        ("sign", "done"),
    ]
    page = me.get(f"/appraisals/{a.id}").get_data(as_text=True)
    assert "99.8" in page
    assert "2,080" in page
    assert "分档：99.6 ≥ 99.5 → 100" in page  # the engine's words, in the reader's language


@pytest.mark.usefixtures("cycle")
def test_top_performer_gets_a_plus_own_base_bonus_and_the_formula_extra(login: Any) -> None:
    actuals = {"pick_accuracy": 99.9, "lines_per_hour": 85, "damage_rate": 1.0,
               "safety_incidents": 0}  # fmt: skip
    appraisal_id = _plan_and_monitor(login, "wp02", actuals)
    _assess_and_close(login, "wp02", appraisal_id, lead_rating=5, panel=("hr9", "wm01"))
    a = appraisal_of("wp02")
    assert a.state == "done"
    # pick_accuracy 99.9 ≥ 99.8 → 120 × 40% = 48; lines 85 > stretch 80 → 120 × 30% = 36;
    # damage min(2/1, 1.2) → 120 × 20% = 24; safety clamp(100 − 0) → 100 × 10% = 10 → 118
    # score = 118 × 0.9 + 5 × 2 = 106.2 + 10 = 116.2 → A+ (≥ 105)
    # bonus = 2500 (own base_bonus) × 1.8 × 0.8 + 300 (score ≥ 100) = 3600 + 300 = 3900
    assert (a.score, a.grade, a.bonus) == (pytest.approx(116.2), "A+", pytest.approx(3900.0))
    assert a.result["grade"]["actions"] == ["promotion_nomination"]
    assert "300 if score >= 100 else 0" in a.result["bonus"]["inputs"]["expression"]


@pytest.mark.usefixtures("cycle")
def test_withdraw_leaves_from_any_state_with_a_comment(login: Any) -> None:
    hr = login("hr9")
    a = appraisal_of("wl01")
    assert fire(login("wm01"), a.id, "withdraw", comment="调岗").status_code == 403  # HR only
    assert fire(hr, a.id, "withdraw").status_code == 422  # a comment is required
    ok(fire(hr, a.id, "withdraw", comment="调往运输部"))
    a = appraisal_of("wl01")
    assert (a.state, a.score, a.grade) == ("withdrawn", None, None)
    assert fire(hr, a.id, "withdraw", comment="again").status_code == 403  # final


def _to_review(login: Any, employee: str) -> int:
    actuals = {"pick_accuracy": 99.6, "lines_per_hour": 70, "damage_rate": 1.6,
               "safety_incidents": 1}  # fmt: skip
    appraisal_id = _plan_and_monitor(login, employee, actuals)
    me = login(employee)
    ok(save(me, appraisal_id, {"self_score": "4"}))
    ok(fire(me, appraisal_id, "hand_in"))
    assert appraisal_of(employee).state == "assess.review.lead"
    return appraisal_id


@pytest.mark.usefixtures("cycle")
def test_custom_role_named_in_the_quorum_can_vote(login: Any) -> None:
    appraisal_id = _to_review(login, "wp01")
    lead = login("wl01")
    ok(save(lead, appraisal_id, {"lead_rating": "4"}))
    ok(fire(lead, appraisal_id, "lead_done"))
    ok(fire(login("wm01"), appraisal_id, "panel_pass", "approve"))  # dept_head: 1 of 2
    officer = login("wp02")  # safety_officer of the warehouse: the second of the quorum
    assert officer.get(f"/appraisals/{appraisal_id}").status_code == 200
    ok(fire(officer, appraisal_id, "panel_pass", "approve"))
    assert appraisal_of("wp01").state == "feedback"


@pytest.mark.usefixtures("cycle")
def test_manager_can_send_back_without_rating_first(login: Any) -> None:
    appraisal_id = _to_review(login, "wp01")
    response = fire(login("wl01"), appraisal_id, "redo", comment="请补充整改措施")
    assert response.status_code == 302, problems(response)
    assert appraisal_of("wp01").state == "assess.self_check"


def test_the_pages_use_the_yaml_names(login: Any, cycle: int) -> None:
    hr = login("hr9")
    html = hr.get(f"/cycles/{cycle}").get_data(as_text=True)
    assert "班组月度考核" in html  # the workflow's name
    assert "仓储部" in html  # the department's name
    assert html.count("plan · draft") >= 4  # every appraisal in the nested initial state
    page = hr.get(f"/appraisals/{appraisal_of('wp01').id}").get_data(as_text=True)
    for text in ("拣货岗月度考核表", "每小时拣货行数", "安全事件", "班组长评价"):
        assert text in page

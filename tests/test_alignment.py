"""The goal cascade: goals that align to goals, checked at load and rolled up on the alignment
page over HTTP on both databases.

A pack of its own (YAML only): 总部 with two departments below it, 华东 and 华西, each with
its own form whose KPIs align to the department's goals (and one straight to 总部's). Every
roll-up rule is used once, and the figures below are worked out by hand from the actuals each
person records.
"""

from __future__ import annotations

from pathlib import Path

from opsperf.definitions.loader import load
from tests.helpers import write_pack

PASSWORD = "cascade-123"

PACK = {
    "org/hq.yaml": """
kind: Department
id: hq
name: {zh: 总部, en: Headquarters}
goals:
  - {id: revenue, name: {zh: 年度销售额, en: Revenue}, unit: 万元, target: 1000, rollup: sum}
  - {id: quality, name: {zh: 服务质量, en: Service quality}, unit: "%",
     rollup: weighted_average}
""",
    "org/east.yaml": """
kind: Department
id: east
parent: hq
name: {zh: 华东区, en: East}
head: lead
positions:
  - {id: lead, name: {zh: 区域经理, en: Area lead}, form: east_form, workflow: review}
  - {id: agent, name: {zh: 专员, en: Agent}, form: east_form, workflow: review}
goals:
  - {id: revenue, name: {zh: 区域销售额, en: Area revenue}, unit: 万元, target: 600,
     aligns_to: hq.revenue, rollup: sum}
  - {id: quality, name: {zh: 区域服务质量, en: Area service quality}, unit: "%",
     aligns_to: hq.quality, weight: 3, rollup: average}
  - {id: wait, name: {zh: 最长等待时长, en: Longest wait}, unit: 秒, direction: lower,
     target: 30, rollup: max}
""",
    "org/west.yaml": """
kind: Department
id: west
parent: hq
name: {zh: 华西区, en: West}
head: lead
positions:
  - {id: lead, name: {zh: 区域经理, en: Area lead}, form: west_form, workflow: review}
  - {id: agent, name: {zh: 专员, en: Agent}, form: west_form, workflow: review}
goals:
  - {id: revenue, name: {zh: 区域销售额, en: Area revenue}, unit: 万元, aligns_to: hq.revenue,
     rollup: latest}
  - {id: quality, name: {zh: 区域服务质量, en: Area service quality}, unit: "%",
     aligns_to: hq.quality, rollup: min}
  - {id: contacts, name: {zh: 客户触达, en: Customer contacts}, unit: 次, target: 50,
     rollup: weighted_average}
""",
    "forms/east_form.yaml": """
kind: Form
id: east_form
title: {zh: 华东季度考核, en: East quarterly review}
period: quarter
sections:
  - id: goals
    title: {zh: 指标, en: KPIs}
    fields:
      - id: kpis
        type: kpi_table
        label: {zh: KPI, en: KPIs}
        kpis:
          - {id: sales, name: {zh: 销售额, en: Sales}, unit: 万元, weight: 40, target: 100,
             aligns_to: east.revenue}
          - {id: quality, name: {zh: 服务质量, en: Quality}, unit: "%", weight: 30, target: 90,
             aligns_to: east.quality}
          - {id: referrals, name: {zh: 转介绍销售额, en: Referrals}, unit: 万元, weight: 10,
             target: 10, aligns_to: hq.revenue}
          - {id: wait, name: {zh: 等待时长, en: Wait}, unit: 秒, direction: lower, weight: 20,
             target: 30, aligns_to: east.wait}
""",
    "forms/west_form.yaml": """
kind: Form
id: west_form
title: {zh: 华西季度考核, en: West quarterly review}
period: quarter
sections:
  - id: goals
    title: {zh: 指标, en: KPIs}
    fields:
      - id: kpis
        type: kpi_table
        label: {zh: KPI, en: KPIs}
        kpis:
          - {id: sales, name: {zh: 销售额, en: Sales}, unit: 万元, weight: 40, target: 150,
             aligns_to: west.revenue}
          - {id: quality, name: {zh: 服务质量, en: Quality}, unit: "%", weight: 30, target: 80,
             aligns_to: west.quality}
          - {id: calls, name: {zh: 电话拜访, en: Calls}, unit: 次, weight: 20, target: 60,
             aligns_to: west.contacts}
          - {id: chats, name: {zh: 在线沟通, en: Chats}, unit: 次, weight: 10, target: 30,
             aligns_to: west.contacts}
""",
    "workflows/review.yaml": """
kind: Workflow
id: review
name: {zh: 季度评审, en: Quarterly review}
initial: monitor
states:
  plan: {}
  monitor: {edit: {employee: [kpis], manager: [kpis]}}
  assess: {}
  feedback: {}
  done: {final: true}
transitions:
  - {trigger: replan, source: monitor, dest: plan, roles: [manager]}
  - {trigger: start, source: plan, dest: monitor, roles: [manager]}
  - {trigger: assess, source: monitor, dest: assess, roles: [manager]}
  - {trigger: review, source: assess, dest: feedback, roles: [manager]}
  - {trigger: close, source: feedback, dest: done, roles: [employee]}
""",
    "workflows/bonus.yaml": """
kind: IncentivePolicy
id: bonus
name: {zh: 季度奖金, en: Quarterly bonus}
workflow: review
bonus: "0"
""",
}

PEOPLE = [
    {"employee_no": "h01", "name": "人事王芳", "department": "hq", "roles": "hr"},
    {"employee_no": "e00", "name": "华东经理陈晨", "department": "east", "position": "lead",
     "manager": ""},
    *[{"employee_no": f"e0{i}", "name": f"华东专员{i}", "department": "east",
       "position": "agent", "manager": "e00"} for i in range(1, 4)],
    {"employee_no": "w00", "name": "华西经理林立", "department": "west", "position": "lead",
     "manager": ""},
    *[{"employee_no": f"w0{i}", "name": f"华西专员{i}", "department": "west",
       "position": "agent", "manager": "w00"} for i in range(1, 3)],
]  # fmt: skip


# --------------------------------------------------------------------------- the checker


def diagnostics(tmp_path: Path, *edits: tuple[str, str, str]) -> list[str]:
    """Every diagnostic of the pack with ``(file, old, new)`` edits, as check prints them."""
    pack = dict(PACK)
    for name, old, new in edits:
        assert pack[name].count(old) == 1, f"{old!r} is not once in {name}"
        pack[name] = pack[name].replace(old, new)
    roots = write_pack(tmp_path, pack)
    found = load([Path(r) for r in roots]).diagnostics
    return [d.format().replace(str(tmp_path) + "/", "") for d in found]


def test_the_pack_checks_clean(tmp_path: Path) -> None:
    assert diagnostics(tmp_path) == []


def test_a_goal_aligned_to_an_unknown_goal_or_department(tmp_path: Path) -> None:
    assert diagnostics(
        tmp_path,
        ("org/east.yaml", "aligns_to: hq.revenue", "aligns_to: hq.revenu"),
        ("org/west.yaml", "aligns_to: hq.quality", "aligns_to: head.quality"),
    ) == [
        "org/east.yaml:12:17: error: department 'hq' has no goal 'revenu'; did you mean "
        "'revenue'? [goals[0].aligns_to]",
        "org/west.yaml:14:17: error: unknown department 'head'; use one of: east, hq, west "
        "[goals[1].aligns_to]",
    ]


def test_goals_aligned_in_a_circle(tmp_path: Path) -> None:
    found = diagnostics(
        tmp_path,
        ("org/hq.yaml", "target: 1000, rollup: sum", "aligns_to: east.revenue, rollup: sum"),
        ("org/west.yaml", "aligns_to: hq.quality", "aligns_to: west.quality"),
    )
    assert found == [
        "org/east.yaml:12:17: error: goals align in a circle: east.revenue → hq.revenue → "
        "east.revenue [goals[0].aligns_to]",
        "org/hq.yaml:6:72: error: goals align in a circle: hq.revenue → east.revenue → "
        "hq.revenue [goals[0].aligns_to]",
        "org/west.yaml:14:17: error: goal 'west.quality' aligns to itself [goals[1].aligns_to]",
    ]


def test_units_that_do_not_match(tmp_path: Path) -> None:
    found = diagnostics(
        tmp_path,
        ("forms/east_form.yaml", "unit: 万元, weight: 40", "unit: 元, weight: 40"),
        (
            "org/west.yaml",
            'unit: "%",\n     aligns_to: hq.quality',
            "unit: 分,\n     aligns_to: hq.quality",
        ),
    )
    assert found == [
        "forms/east_form.yaml:15:25: error: KPI 'sales' is measured in 元 but goal "
        "'east.revenue' in 万元: their figures cannot roll up into it; use one unit "
        "[sections[0].fields[0].kpis[0].aligns_to]",
        "forms/west_form.yaml:17:25: error: KPI 'quality' is measured in % but goal "
        "'west.quality' in 分: their figures cannot roll up into it; use one unit "
        "[sections[0].fields[0].kpis[1].aligns_to]",
        "org/west.yaml:14:17: error: goal 'quality' is measured in 分 but goal 'hq.quality' in "
        "%: their figures cannot roll up into it; use one unit [goals[1].aligns_to]",
    ]


def test_a_goal_aligned_across_the_tree_is_a_warning(tmp_path: Path) -> None:
    found = diagnostics(
        tmp_path, ("org/west.yaml", "aligns_to: hq.quality", "aligns_to: east.quality")
    )
    assert found == [
        "org/west.yaml:14:17: warning: goal 'quality' aligns to a goal of department 'east', "
        "which is not 'west' or a department above it: goals cascade down the tree (a KPI may "
        "serve a goal anywhere) [goals[1].aligns_to]"
    ]

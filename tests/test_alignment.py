"""The goal cascade: goals that align to goals, checked at load and rolled up on the alignment
page over HTTP on both databases.

A pack of its own (YAML only): 总部 with two departments below it, 华东 and 华西, each with
its own form whose KPIs align to the department's goals (and one straight to 总部's). Every
roll-up rule is used once, and the figures below are worked out by hand from the actuals each
person records.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from opsperf.definitions.loader import load
from tests.helpers import appraisal_of, crew, launch, save, write_pack

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


# --------------------------------------------------------------------------- the page

# What each person records, in this order (the latest rule reads the order): actuals, and
# targets where one was agreed other than the form's.
RECORDED = [
    ("e00", {"sales-actual": 120, "quality-actual": 95, "referrals-actual": 5, "wait-actual": 20}),
    ("e01", {"sales-actual": 80, "quality-actual": 85, "quality-target": 88, "wait-actual": 40}),
    ("e02", {"sales-actual": 100, "quality-target": 92, "referrals-actual": 15,
             "wait-actual": 25}),
    ("w00", {"sales-actual": 150, "quality-actual": 70, "calls-actual": 50, "chats-actual": 20}),
    ("w01", {"sales-actual": 90, "sales-target": 120, "quality-actual": 82,
             "quality-target": 75, "calls-actual": 70}),
    ("w02", {"sales-actual": 200, "sales-target": 180, "chats-actual": 40}),
]  # fmt: skip


@pytest.fixture
def definition_roots(tmp_path: Path) -> list[str]:
    return write_pack(tmp_path / "defs", PACK)


@pytest.fixture
def login(app: Flask) -> Any:
    make = crew(app, PEOPLE, PASSWORD)
    assert launch(make("h01"), ["hq"], workflow="review").status_code == 302
    for who, cells in RECORDED:
        data = {f"kpis-{cell}": str(value) for cell, value in cells.items()}
        assert save(make(who), appraisal_of(who).id, data).status_code == 302, who
    return make


def cycle_id() -> int:
    return appraisal_of("e01").cycle_id


def page(client: FlaskClient, query: str = "", language: str = "en") -> TestResponse:
    url = f"/cycles/{cycle_id()}/alignment{query}"
    return client.get(url, headers={"Accept-Language": language})


def cells(html: str) -> dict[str, list[str]]:
    """Each goal and KPI row of the tree by its id, as the text of its cells."""
    found = {}
    for ident, row in re.findall(
        r'<tr class="[^"]*" id="((?:goal|kpi)-[^"]+)">(.*?)</tr>', html, re.S
    ):
        texts = [re.sub(r"<[^>]+>", " ", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        found[ident] = [" ".join(t.split()) for t in texts]
    return found


def figures(html: str) -> dict[str, tuple[str, str, str]]:
    """Each row's target, actual and attainment as shown."""
    return {ident: (row[2], row[3], row[4]) for ident, row in cells(html).items()}


def test_every_rule_rolls_up_as_worked_out_by_hand(login: Any) -> None:
    response = page(login("h01"))
    assert response.status_code == 200
    shown = figures(response.get_data(as_text=True))
    assert shown == {
        # 300 (east) + 200 (west, its latest) + 5 + 15 (referrals straight to the goal)
        "goal-hq.revenue": ("1,000 万元", "520 万元", "52%"),
        "kpi-hq.revenue-east_form.kpis.referrals": ("40 万元", "20 万元", "50%"),
        # (3 × 90 + 1 × 70) ÷ 4 = 85 against (3 × 90 + 1 × 75) ÷ 4 = 86.25
        "goal-hq.quality": ("86.25 % rolled up", "85 %", "98.6%"),
        # east: the sum of three actuals against the declared 600; the KPI's own target is
        # the sum of the four people's (nobody agreed another than the form's 100)
        "goal-east.revenue": ("600 万元", "300 万元", "50%"),
        "kpi-east.revenue-east_form.kpis.sales": ("400 万元", "300 万元", "75%"),
        # the average of 95 and 85; the target the average of 90, 88, 92 and 90
        "goal-east.quality": ("90 % rolled up", "90 %", "100%"),
        "kpi-east.quality-east_form.kpis.quality": ("90 %", "90 %", "100%"),
        # lower is better: the longest wait, 40 s, against 30 s is 30 ÷ 40
        "goal-east.wait": ("30 秒", "40 秒", "75%"),
        "kpi-east.wait-east_form.kpis.wait": ("30 秒", "40 秒", "75%"),
        # west: the latest recorded (w02's 200 against the 180 agreed)
        "goal-west.revenue": ("180 万元 rolled up", "200 万元", "111.1%"),
        "kpi-west.revenue-west_form.kpis.sales": ("180 万元", "200 万元", "111.1%"),
        # the lowest actual (70) against the lowest target (75)
        "goal-west.quality": ("75 % rolled up", "70 %", "93.3%"),
        "kpi-west.quality-west_form.kpis.quality": ("75 %", "70 %", "93.3%"),
        # (20 × 50 + 20 × 70 + 10 × 20 + 10 × 40) ÷ (20 + 20 + 10 + 10) = 50: KPI weights
        "goal-west.contacts": ("50 次", "50 次", "100%"),
        "kpi-west.contacts-west_form.kpis.calls": ("60 次", "60 次", "100%"),
        "kpi-west.contacts-west_form.kpis.chats": ("30 次", "30 次", "100%"),
    }
    rows = cells(response.get_data(as_text=True))
    assert "3 of 4 people have an actual" in rows["kpi-east.revenue-east_form.kpis.sales"][0]
    assert rows["goal-west.revenue"][1] == "Latest"
    assert rows["goal-west.contacts"][1] == "Weighted average"
    assert rows["kpi-west.contacts-west_form.kpis.calls"][1] == "weight 20"


def test_a_department_head_sees_their_subtree_and_the_goals_above_it(login: Any) -> None:
    html = page(login("e00")).get_data(as_text=True)
    shown = figures(html)
    # above east, the company's goals count only what east carries
    assert shown["goal-hq.revenue"] == ("1,000 万元", "320 万元", "32%")
    assert shown["goal-hq.quality"] == ("90 % rolled up", "90 %", "100%")
    assert not [ident for ident in shown if "west" in ident]
    assert cells(html)["goal-hq.revenue"][0].endswith("Above")
    # HR's view of west alone: east's referrals have nobody there and are not listed
    shown = figures(page(login("h01"), "?department=west").get_data(as_text=True))
    assert shown["goal-hq.revenue"] == ("1,000 万元", "200 万元", "20%")
    assert shown["goal-hq.quality"] == ("75 % rolled up", "70 %", "93.3%")
    assert "kpi-hq.revenue-east_form.kpis.referrals" not in shown
    assert "goal-east.revenue" not in shown


def test_who_may_open_the_page(login: Any) -> None:
    hr, east, west, agent = login("h01"), login("e00"), login("w00"), login("e01")
    assert page(hr).status_code == 200
    assert page(hr, "?department=east").status_code == 200
    assert page(east).status_code == 200
    assert page(east, "?department=east").status_code == 200
    refused = page(east, "?department=west")
    assert refused.status_code == 403
    assert "only your own department" in refused.get_data(as_text=True)
    assert page(west, "?department=east").status_code == 403
    assert page(agent).status_code == 403
    assert page(agent, "?department=east").status_code == 403
    assert login("e01").get(f"/cycles/{cycle_id()}/alignment/people").status_code == 403
    missing = page(hr, "?department=nowhere")
    assert missing.status_code == 404
    assert "There is no department &#39;nowhere&#39;" in missing.get_data(as_text=True)
    assert hr.get("/cycles/999999/alignment").status_code == 404
    assert hr.get("/cycles/99999999999/alignment").status_code == 404


def people_of(client: FlaskClient, goal: str, kpi: str, query: str = "") -> TestResponse:
    url = f"/cycles/{cycle_id()}/alignment/people?goal={goal}&kpi={kpi}{query}"
    return client.get(url, headers={"Accept-Language": "en"})


def listed(response: TestResponse) -> list[list[str]]:
    html = response.get_data(as_text=True)
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    out = []
    for row in rows:
        texts = [re.sub(r"<[^>]+>", " ", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        out.append([" ".join(t.split()) for t in texts])
    return out


def test_the_people_whose_kpi_feeds_a_goal(login: Any) -> None:
    hr = login("h01")
    response = people_of(hr, "east.revenue", "east_form.kpis.sales", "&sort=-actual")
    assert response.status_code == 200
    rows = listed(response)
    # highest actual first; e03 has none yet and comes last
    assert [(r[0], r[4], r[5], r[6]) for r in rows] == [
        ("e00", "100 万元", "120 万元", "120%"),
        ("e02", "100 万元", "100 万元", "100%"),
        ("e01", "100 万元", "80 万元", "80%"),
        ("e03", "100 万元", "—", "—"),
    ]
    by_number = listed(people_of(hr, "east.revenue", "east_form.kpis.sales"))
    assert [r[0] for r in by_number] == ["e00", "e01", "e02", "e03"]
    # a head sees their own people; the goal of another department is not on their page
    east = login("e00")
    assert len(listed(people_of(east, "east.quality", "east_form.kpis.quality"))) == 4
    assert people_of(east, "west.revenue", "west_form.kpis.sales").status_code == 404
    assert people_of(east, "east.revenue", "west_form.kpis.sales").status_code == 404
    assert people_of(login("w00"), "east.revenue", "east_form.kpis.sales",
                     "&department=east").status_code == 403  # fmt: skip
    # the tree links each KPI to its people
    html = page(hr).get_data(as_text=True)
    assert "alignment/people?goal=east.revenue&amp;kpi=east_form.kpis.sales" in html


def test_the_cycle_page_and_the_heads_home_link_to_it(login: Any) -> None:
    link = f"/cycles/{cycle_id()}/alignment"
    assert f'href="{link}"' in login("h01").get(f"/cycles/{cycle_id()}").get_data(as_text=True)
    assert f"{link}?department=east" in login("e00").get("/").get_data(as_text=True)
    assert link not in login("e01").get("/").get_data(as_text=True)


def test_the_page_speaks_chinese(login: Any) -> None:
    html = page(login("h01"), language="zh").get_data(as_text=True)
    assert "目标对齐" in html
    assert "加权平均" in html
    assert "最新值" in html


def test_a_head_whose_department_the_cycle_leaves_out(login: Any) -> None:
    hr = login("h01")
    assert launch(hr, ["west"], workflow="review", name="华西专项").status_code == 302
    west_only = appraisal_of("w01").cycle_id
    assert west_only != cycle_id()
    response = login("e00").get(f"/cycles/{west_only}/alignment", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert "Not in this cycle" in response.get_data(as_text=True)
    # nor is the cycle among the head's links, while it is HR's
    assert f"/cycles/{west_only}/alignment" not in login("e00").get("/").get_data(as_text=True)
    assert f"/cycles/{west_only}/alignment" in hr.get("/").get_data(as_text=True)
    refused = hr.get(f"/cycles/{west_only}/alignment?department=east")
    assert refused.status_code == 404


def test_a_change_shows_on_the_next_page_however_often_it_was_read(login: Any) -> None:
    hr, head = login("h01"), login("e00")
    before = figures(page(hr).get_data(as_text=True))
    assert figures(page(hr).get_data(as_text=True)) == before  # read again: the same
    assert before["goal-east.wait"] == ("30 秒", "40 秒", "75%")
    assert figures(page(head).get_data(as_text=True))["goal-east.wait"] == before["goal-east.wait"]
    # e01's wait, the longest, falls to 24 s: the longest in east is now e02's 25 s
    e01 = appraisal_of("e01").id
    assert save(login("e01"), e01, {"kpis-wait-actual": "24"}).status_code == 302
    assert figures(page(hr).get_data(as_text=True))["goal-east.wait"] == ("30 秒", "25 秒", "120%")
    assert figures(page(head).get_data(as_text=True))["goal-east.wait"] == (
        "30 秒",
        "25 秒",
        "120%",
    )

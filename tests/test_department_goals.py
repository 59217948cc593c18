"""Department KPIs over HTTP on both databases: a goal recorded once per cycle for the
department (by the roles it names), read by every member's form as a shared team KPI, live on
the page and kept in the stored result; recorded with an audit entry, refused to others; the
checker's messages for goals a form cannot read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from opsperf.persistence.models import Event, GoalActual, db
from tests import helpers
from tests.helpers import appraisal_of, crew, fire, launch, save, write_pack

PASSWORD = "goals-1234"

PACK = {
    "org/plant.yaml": """
kind: Department
id: plant
name: {zh: 工厂, en: Plant}
head: director
positions:
  - {id: director, name: {zh: 厂长, en: Director}, form: plain, workflow: shift}
""",
    "forms/plain.yaml": """
kind: Form
id: plain
title: {zh: 厂长考核, en: Director review}
sections:
  - id: goals
    title: {zh: 指标, en: KPIs}
    fields:
      - id: kpis
        type: kpi_table
        label: {zh: 指标, en: KPIs}
        kpis:
          - {id: quality, name: {zh: 合格率, en: Quality}, unit: "%", weight: 100, target: 98}
""",
    "org/workshop.yaml": """
kind: Department
id: workshop
parent: plant
name: {zh: 一车间, en: Workshop 1}
head: lead
positions:
  - {id: lead, name: {zh: 车间主任, en: Lead}, form: shift, workflow: shift}
  - {id: operator, name: {zh: 操作员, en: Operator}, form: shift, workflow: shift}
roles:
  - {id: recorder, name: {zh: 产量录入人, en: Output recorder}, scope: department}
goals:
  - {id: output, name: {zh: 车间产量, en: Output}, unit: 件, target: 1000,
     entered_by: [recorder, dept_head]}
  - {id: scrap, name: {zh: 报废率, en: Scrap rate}, unit: "%", target: 2}
  - {id: quality, name: {zh: 车间合格率, en: Workshop quality}, unit: "%", target: 98,
     rollup: average, entered_by: [dept_head]}
""",
    "forms/shift.yaml": """
kind: Form
id: shift
title: {zh: 车间考核, en: Workshop review}
sections:
  - id: goals
    title: {zh: 指标, en: KPIs}
    fields:
      - id: kpis
        type: kpi_table
        label: {zh: 指标, en: KPIs}
        kpis:
          - {id: team, name: {zh: 车间产量达成率, en: Team output}, unit: "%", weight: 40,
             target: 100, actual_from: "department.output.attainment"}
          - {id: quality, name: {zh: 个人合格率, en: Quality}, unit: "%", weight: 60, target: 98,
             aligns_to: workshop.quality}
      - {id: team_actual, type: number, label: {zh: 车间产量, en: Workshop output},
         compute: "department.output.actual"}
  - id: hidden
    title: {zh: 机密, en: Confidential}
    visible_to: [hr]
    fields:
      - id: private
        type: kpi_table
        label: {zh: 机密指标, en: Confidential KPIs}
        kpis:
          - {id: audit_q, name: {zh: 飞检合格率, en: Spot checks}, unit: "%", weight: 100,
             target: 99, aligns_to: workshop.quality}
score: "kpis.score"
""",
    "workflows/shift.yaml": """
kind: Workflow
id: shift
name: {zh: 车间评审, en: Workshop review}
states:
  plan: {}
  monitor: {edit: {employee: [kpis.quality.actual]}}
  assess: {}
  feedback: {}
  done: {final: true}
transitions:
  - {trigger: start, source: plan, dest: monitor, roles: [manager]}
  - {trigger: assess, source: monitor, dest: assess, roles: [manager], actions: [compute_scores]}
  - {trigger: talk, source: assess, dest: feedback, roles: [manager]}
  - {trigger: close, source: feedback, dest: done, roles: [employee]}
""",
}

PEOPLE = [
    {"employee_no": "h01", "name": "人事王芳", "department": "plant", "roles": "hr",
     "language": "en"},
    {"employee_no": "d01", "name": "厂长高远", "department": "plant", "position": "director"},
    {"employee_no": "L01", "name": "主任林立", "department": "workshop", "position": "lead",
     "manager": "d01"},
    {"employee_no": "o01", "name": "操作员甲", "department": "workshop", "position": "operator",
     "manager": "L01", "roles": "recorder", "language": "en"},
    {"employee_no": "o02", "name": "操作员乙", "department": "workshop", "position": "operator",
     "manager": "L01"},
]  # fmt: skip


@pytest.fixture
def definition_roots(tmp_path: Path) -> list[str]:
    return write_pack(tmp_path / "defs", PACK)


@pytest.fixture
def login(app: Flask) -> Any:
    make = crew(app, PEOPLE, PASSWORD)
    assert launch(make("h01"), ["plant"], workflow="shift").status_code == 302
    return make


def goal_url(goal: str = "output") -> str:
    return f"/cycles/{appraisal_of('o02').cycle_id}/goals/workshop/{goal}"


def record(client: Any, value: str, note: str = "", goal: str = "output") -> Any:
    return client.post(goal_url(goal), data={"value": value, "note": note})


def test_recorded_once_read_by_every_member(login: Any) -> None:
    page = login("o01").get(f"/cycles/{appraisal_of('o02').cycle_id}/goals/workshop")
    assert page.status_code == 200
    assert "not yet" in page.get_data(as_text=True)
    assert record(login("o01"), "850", "MES 十月报表").status_code == 302
    for who in ("o01", "o02", "L01"):
        a = appraisal_of(who)
        html = login(who).get(f"/appraisals/{a.id}").get_data(as_text=True)
        # 850 ÷ 1000 = 85 % for everyone in the workshop, typed by nobody
        assert 'id="kpi-actual-kpis-team"' in html
        cell = html[html.index('id="kpi-actual-kpis-team"') :][:400]
        assert ">85<" in cell, cell
        assert 'name="kpis-team-actual"' not in html
        assert 'id="computed-team_actual"' in html
        assert ">850" in html[html.index('id="computed-team_actual"') :][:200]
    # the stored result keeps the figure it was computed from
    a = appraisal_of("o02").id
    boss = login("L01")
    assert fire(boss, a, "start").status_code == 302
    assert save(login("o02"), a, {"kpis-quality-actual": "98"}).status_code == 302
    assert fire(boss, a, "assess").status_code == 302
    result = appraisal_of("o02").result
    kpis = {k["kpi"]: k for t in result["kpis"] for k in t["kpis"]}
    assert kpis["team"]["actual"] == 85
    assert kpis["team"]["score"] == 85
    assert result["total"]["value"] == pytest.approx(94)  # 85 × 40% + 100 × 60%


def test_recording_is_audited_and_refused_to_others(login: Any, app: Flask) -> None:
    assert record(login("L01"), "600").status_code == 302  # the head may, too
    assert record(login("o01"), "650", "补录").status_code == 302
    assert record(login("o01"), "650", "补录").status_code == 302  # the same: nothing changes
    with app.app_context():
        events = db.session.query(Event).filter(Event.kind == "goal").order_by(Event.id).all()
        assert [e.changes for e in events] == [
            {"workshop.output": [None, 600]},
            {"workshop.output": [600, 650]},
        ]
        assert db.session.query(GoalActual).one().note == "补录"
    # an operator without the role, HR (not named by the goal), the plant's director: refused
    for who in ("o02", "h01", "d01"):
        assert record(login(who), "1").status_code == 403, who
    # HR and the heads above may look; an operator without the role may not
    cycle = appraisal_of("o02").cycle_id
    assert login("h01").get(f"/cycles/{cycle}/goals/workshop").status_code == 200
    assert login("d01").get(f"/cycles/{cycle}/goals/workshop").status_code == 200
    assert login("o02").get(f"/cycles/{cycle}/goals/workshop").status_code == 403
    # a goal not recorded by hand, one that does not exist, a department that does not
    assert record(login("o01"), "1", goal="scrap").status_code == 404
    assert record(login("o01"), "1", goal="nosuch").status_code == 404
    assert login("h01").get(f"/cycles/{cycle}/goals/nowhere").status_code == 404
    assert login("h01").get("/cycles/999999/goals/workshop").status_code == 404
    # a bad value keeps what was typed and stores nothing
    bad = record(login("o01"), "lots", "typed")
    assert bad.status_code == 422
    assert 'value="lots"' in bad.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(GoalActual).one().value == 650


def test_the_recorder_finds_the_page_from_home(login: Any) -> None:
    home = login("o01").get("/").get_data(as_text=True)
    assert f"/cycles/{appraisal_of('o02').cycle_id}/goals/workshop" in home
    assert "/goals/" not in login("o02").get("/").get_data(as_text=True)


def test_the_checker_on_goals_a_form_reads(tmp_path: Path) -> None:
    found = helpers.diagnostics_after(
        tmp_path / "a", PACK, "forms/shift.yaml", "department.output.attainment",
        "department.scrap.attainment",
    )  # fmt: skip
    assert "department.scrap" in found
    found = helpers.diagnostics_after(
        tmp_path / "d", PACK, "org/plant.yaml", "form: plain", "form: shift"
    )
    assert "department.output is a goal recorded by hand only in some departments" in found
    assert "plant has no such goal" in found
    found = helpers.diagnostics_after(
        tmp_path / "b", PACK, "org/workshop.yaml", "entered_by: [recorder, dept_head]",
        "entered_by: [recorder, nobody]",
    )  # fmt: skip
    assert "unknown role 'nobody'" in found
    found = helpers.diagnostics_after(
        tmp_path / "c", PACK, "forms/shift.yaml", "- {id: team_actual,", "- {id: department,"
    )
    assert "'department' is where a form reads its department's goals" in found


def test_a_recorded_goal_in_the_cascade_and_its_roll_up_offered(login: Any) -> None:
    boss = login("L01")
    for who, value in (("o01", "97"), ("o02", "99")):
        a = appraisal_of(who).id
        assert fire(boss, a, "start").status_code == 302
        assert save(login(who), a, {"kpis-quality-actual": value}).status_code == 302
    cycle = appraisal_of("o02").cycle_id
    page = boss.get(f"/cycles/{cycle}/goals/workshop").get_data(as_text=True)
    assert "98" in page[page.index('id="goal-quality"') :][:3000]  # (97 + 99) ÷ 2
    offered = page[page.index('id="goal-quality"') :]
    assert 'name="value" value="98.0"' in offered
    assert (
        boss.post(
            f"/cycles/{cycle}/goals/workshop/quality", data={"value": "97.5", "note": "质检复核"}
        ).status_code
        == 302
    )
    tree = login("h01").get(f"/cycles/{cycle}/alignment").get_data(as_text=True)
    row = tree[tree.index('id="goal-workshop.quality"') :][:3000]
    assert "97.5" in row  # the recorded figure is the goal's actual
    assert "recorded for the department" in row
    assert "rolled up: 98" in row


def test_a_department_figure_comes_in_by_file_and_by_the_api(login: Any, app: Flask) -> None:
    import io
    import re

    hr = login("h01")
    cycle = appraisal_of("o02").cycle_id
    rows = (
        "部门,工号,指标,期间,实际值,备注\n"
        "workshop,,output,,900,MES 报表\nworkshop,,scrap,,1,\nnowhere,,output,,1,\n"
    )
    response = hr.post(
        f"/cycles/{cycle}/actuals",
        data={"file": (io.BytesIO(rows.encode()), "dept.csv")},
        content_type="multipart/form-data",
    )
    job = int(response.headers["Location"].rstrip("/").split("/")[-1])
    preview = hr.get(f"/jobs/{job}").get_data(as_text=True)
    shown = [p.lower() for p in re.findall(r"<li>Row[^<]*", preview.replace("&#39;", "'"))]
    assert any("row 3: department workshop has no goal scrap" in p for p in shown), shown
    assert any("row 4: there is no department nowhere" in p for p in shown), shown
    done = hr.post(f"/cycles/{cycle}/actuals/{job}/import", data={"rows": "valid"})
    assert done.status_code == 302
    with app.app_context():
        row = db.session.query(GoalActual).one()
        assert (row.goal_id, row.value, row.note) == ("output", 900, "MES 报表")
        event = db.session.query(Event).filter(Event.kind == "goal").one()
        assert event.comment == "import: dept.csv"
    html = login("o02").get(f"/appraisals/{appraisal_of('o02').id}").get_data(as_text=True)
    assert ">90<" in html[html.index('id="kpi-actual-kpis-team"') :][:400]
    # the same figure again changes nothing; the API brings in another, all or nothing
    admin_token = _token(login, app)
    push = app.test_client().post(
        "/api/v1/actuals",
        json={"cycle": cycle, "key": "mes-1", "rows": [
            {"department": "workshop", "kpi": "output", "value": 950},
        ]},
        headers={"Authorization": f"Bearer {admin_token}"},
    )  # fmt: skip
    assert push.status_code == 200, push.get_data(as_text=True)
    assert push.get_json()["changed"] == 1
    with app.app_context():
        assert db.session.query(GoalActual).one().value == 950


def _token(login: Any, app: Flask) -> str:
    import re

    with app.app_context():
        from opsperf.persistence.models import User

        admin = User(employee_no="a09", name="管理员", department_id="plant", roles=["admin"],
                     password_hash="")  # fmt: skip
        db.session.add(admin)
        db.session.commit()
        from opsperf.services import tokens

        _, secret = tokens.create("MES", ["actuals:write"], admin)
    assert re.match(r"^opk_", secret)
    return secret


def test_a_table_withheld_from_the_reader_feeds_nothing_they_see(login: Any, app: Flask) -> None:
    from opsperf.persistence.models import Appraisal

    boss = login("L01")
    for who, value in (("o01", "97"), ("o02", "99")):
        a = appraisal_of(who).id
        assert fire(boss, a, "start").status_code == 302
        assert save(login(who), a, {"kpis-quality-actual": value}).status_code == 302
    with app.app_context():  # a spot check only HR may see, stored as a form would store it
        a = db.session.get(Appraisal, appraisal_of("o02").id)
        a.values = {**a.values, "private": {"audit_q": {"actual": 50.0}}}
        db.session.commit()
    cycle = appraisal_of("o02").cycle_id

    from tests.test_alignment import figures

    def quality(client: Any) -> str:
        html = client.get(f"/cycles/{cycle}/alignment").get_data(as_text=True)
        return figures(html)["goal-workshop.quality"][1].split()[0]  # its actual

    assert quality(boss) == "98"  # (97 + 99) ÷ 2: the head is not shown the spot check
    assert "Spot checks" not in boss.get(f"/cycles/{cycle}/alignment").get_data(as_text=True)
    assert quality(login("h01")) == "82"  # HR sees it: (97 + 99 + 50) ÷ 3

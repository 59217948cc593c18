"""The demo reads like a company in the middle of a quarter, whatever day it is seeded."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from typing import Any

import pytest
from flask import Flask

from opsperf.definitions.schema import KpiTableField, TableField, TextField
from opsperf.persistence.models import Appraisal, CheckIn, Cycle, User, db, utcnow
from opsperf.services import demo
from opsperf.services.context import context
from tests.conftest import FAST_HASH


def test_the_demo_cycle_is_this_quarter_with_only_plans_late(app: Flask) -> None:
    with app.app_context():
        defs = app.extensions["opsperf.registry"].current
        demo.seed(defs, password_method=FAST_HASH)
        earlier, cycle = db.session.query(Cycle).order_by(Cycle.id).all()
        today = dt.date.today()
        # last quarter's 生产部, closed: shown beside this quarter's plans (PDCA)
        assert earlier.period_end == cycle.period_start - dt.timedelta(days=1)
        assert {a.state for a in earlier.appraisals} == {"closed"}
        assert cycle.period_start <= today <= cycle.period_end
        assert cycle.period_start.day == 1
        assert cycle.period_start.month in (1, 4, 7, 10)
        appraisals = db.session.query(Appraisal).filter_by(cycle_id=cycle.id).all()
        states = Counter(a.state.split(".")[0] for a in appraisals)
        assert set(states) >= {"plan", "monitor", "assess", "feedback", "closed"}
        late = {
            db.session.get(User, a.employee_id).employee_no: a.state
            for a in appraisals
            if a.due_at is not None and a.due_at < utcnow()
        }
        # Only the two plans that are not agreed yet can be late (after the plan deadline).
        assert set(late) <= {"m101", "p102"}, late
        assert set(late.values()) <= {"plan"}
        demo.seed(defs, password_method=FAST_HASH)  # idempotent
        assert db.session.query(Appraisal).filter_by(cycle_id=cycle.id).count() == len(appraisals)


def test_the_demo_calibrates_a_department_that_breaks_a_quota(app: Flask) -> None:
    with app.app_context():
        defs = app.extensions["opsperf.registry"].current
        demo.seed(defs, password_method=FAST_HASH)
        cycle_id = db.session.query(Cycle).order_by(Cycle.id.desc()).first().id
        overridden = [a for a in db.session.query(Appraisal) if a.override]
        assert len(overridden) == 1
        assert overridden[0].override["reason"] == demo.OVERRIDE_REASON
    head = app.test_client()
    head.post("/login", data={"login": "c100", "password": demo.PASSWORD})
    board = head.get(f"/cycles/{cycle_id}/calibration").get_data(as_text=True)
    assert "客服部" in board
    assert "超过上限" in board  # the quota warning
    assert "原为 " in board  # the override, with its reason as the badge's title
    assert demo.OVERRIDE_REASON in board
    hr = app.test_client()
    hr.post("/login", data={"login": "hr01", "password": demo.PASSWORD})
    items = hr.get("/api/v1/follow-ups").get_json()["items"]
    assert {"promotion_nomination", "salary_review"} <= {i["action"] for i in items}


def test_the_demo_checks_actuals_in_and_shows_last_quarter_beside_the_plan(app: Flask) -> None:
    from opsperf.persistence.models import CheckIn, GoalActual

    with app.app_context():
        defs = app.extensions["opsperf.registry"].current
        demo.seed(defs, password_method=FAST_HASH)
        cycle = db.session.query(Cycle).order_by(Cycle.id.desc()).first()
        head = (
            db.session.query(Appraisal)
            .join(User, Appraisal.employee_id == User.id)
            .filter(User.employee_no == "p100", Appraisal.cycle_id == cycle.id)
            .one()
        )
        assert head.state == "monitor"
        # every month of the quarter begun by today, recorded by 吴刚 while monitoring
        months = {c.period for c in db.session.query(CheckIn).filter_by(appraisal_id=head.id)}
        begun = {
            f"{cycle.period_start.year}-{m:02d}"
            for m in range(cycle.period_start.month, cycle.period_start.month + 3)
            if dt.date(cycle.period_start.year, m, 1) <= dt.date.today()
        }
        assert months == begun
        efficiency = head.values["kpis"]["efficiency"]["actual"]
        assert efficiency is not None
        output = db.session.query(GoalActual).filter_by(cycle_id=cycle.id).one()
        assert output.goal_id == "workshop_output"
        plan = (
            db.session.query(Appraisal)
            .join(User, Appraisal.employee_id == User.id)
            .filter(User.employee_no == "p102", Appraisal.cycle_id == cycle.id)
            .one()
        )
        assert plan.state == "plan"
        plan_id = plan.id
    client = app.test_client()
    client.post("/login", data={"login": "p102", "password": demo.PASSWORD})
    page = client.get(f"/appraisals/{plan_id}").get_data(as_text=True)
    assert 'id="previous"' in page  # last quarter, beside the plan
    assert "上期回顾" in page
    assert 'id="kpi-actual-kpis-team_output"' in page  # the workshop's shared KPI


def test_the_demo_cascades_company_revenue_to_each_reps_revenue_kpi(app: Flask) -> None:
    from opsperf.web.helpers import fmt_number
    from tests.test_alignment import cells, figures

    with app.app_context():
        defs = app.extensions["opsperf.registry"].current
        demo.seed(defs, password_method=FAST_HASH)
        cycle_id = db.session.query(Cycle).order_by(Cycle.id.desc()).first().id
        sales = (
            db.session.query(Appraisal).filter_by(department_id="sales", cycle_id=cycle_id).all()
        )
        actuals = [a.values["kpis"]["revenue"]["actual"] for a in sales]
    recorded = [x for x in actuals if x is not None]
    assert len(actuals) == 4
    assert len(recorded) == 4  # every rep and the director check theirs in by month
    head = app.test_client()
    head.post("/login", data={"login": "s100", "password": demo.PASSWORD})
    response = head.get(f"/cycles/{cycle_id}/alignment", headers={"Accept-Language": "en"})
    html = response.get_data(as_text=True)
    shown = figures(html)
    total = f"{fmt_number(sum(recorded))} 万元"
    assert shown["goal-company.annual_revenue"][:2] == ("20,000 万元", total)
    assert shown["goal-sales.quarterly_revenue"][:2] == ("5,000 万元", total)
    assert shown["kpi-sales.quarterly_revenue-sales_quarterly.kpis.revenue"][1] == total
    row = cells(html)["kpi-sales.quarterly_revenue-sales_quarterly.kpis.revenue"]
    assert "4 people" in row[0]
    # in the tree, company → department → the reps' KPI, in that order
    assert (
        html.index('id="goal-company.annual_revenue"')
        < html.index('id="goal-sales.quarterly_revenue"')
        < html.index('id="kpi-sales.quarterly_revenue-sales_quarterly.kpis.revenue"')
    )


# The quarter's first day, a day past the plan deadline, and the last day of a 92-day quarter
# (13 weeks of monitoring end the day before).
SEEDING_DAYS = [dt.date(2026, 10, 1), dt.date(2026, 11, 17), dt.date(2026, 12, 31)]
PLACEHOLDERS = ("TODO", "todo", "lorem", "xxx", "示例", "测试", "占位", "待填写", "请输入")


@pytest.mark.parametrize("today", SEEDING_DAYS, ids=str)
def test_the_demo_makes_sense_on_any_day(app: Flask, today: dt.date) -> None:
    """Seeded on any day: only the deliberately late plans can be past their deadline, counts
    are whole, and every text is one the demo's people wrote for that field."""
    with app.app_context():
        defs = app.extensions["opsperf.registry"].current
        demo.seed(defs, today=today, password_method=FAST_HASH)
        cycle = db.session.query(Cycle).order_by(Cycle.id.desc()).first()
        assert cycle.period_start <= today <= cycle.period_end
        end_of_day = dt.datetime.combine(today, dt.time.max)
        late = {}
        for a in db.session.query(Appraisal).filter_by(cycle_id=cycle.id):
            if a.due_at is not None and a.due_at <= end_of_day:
                late[a.employee.employee_no] = a.state
        plan_deadline = dt.datetime.combine(cycle.period_start, dt.time()) + dt.timedelta(days=14)
        if end_of_day < plan_deadline:
            assert late == {}
        else:
            assert late == dict.fromkeys(demo.LATE, "plan")  # and they say so in the README
        assert len(demo.LATE) <= 2
        for a in db.session.query(Appraisal).order_by(Appraisal.id):
            _whole_counts(a)
            _written_texts(a)
        for c in db.session.query(CheckIn):
            kpi = _kpi(db.session.get(Appraisal, c.appraisal_id), c.field_id, c.kpi_id)
            if kpi.unit in demo.COUNT_UNITS:
                assert c.value == int(c.value), (c.kpi_id, c.period, c.value)


def _kpi(a: Appraisal, field_id: str, kpi_id: str) -> Any:
    form = context(a).form
    table = next(f for f in form.fields() if f.id == field_id)
    return next(k for k in table.kpis if k.id == kpi_id)


def _whole_counts(a: Appraisal) -> None:
    """Customers, incidents, leads: whole numbers wherever they stand."""
    for f in context(a).form.fields():
        value = (a.values or {}).get(f.id)
        if isinstance(f, KpiTableField):
            for kpi in f.kpis:
                if kpi.unit in demo.COUNT_UNITS:
                    row = (value or {}).get(kpi.id) or {}
                    for column in ("target", "actual"):
                        figure = row.get(column)
                        assert figure is None or figure == int(figure), (a.id, kpi.id, row)
        elif isinstance(f, TableField):
            for row in value or []:
                for column in f.columns:
                    if column.type == "integer" and row.get(column.id) is not None:
                        assert row[column.id] == int(row[column.id]), (a.id, f.id, row)
        elif f.type == "integer" and value is not None:
            assert value == int(value), (a.id, f.id, value)


def _written_texts(a: Appraisal) -> None:
    """Every text typed is what the demo's people wrote for that field: plans read as plans
    (numbered actions), deals name real-looking companies, nothing is a placeholder."""
    form = context(a).form
    written = {**demo.WRITTEN["*"], **demo.WRITTEN.get(form.id, {})}
    tables = {**demo.TABLES["*"], **demo.TABLES.get(form.id, {})}
    for f in form.fields():
        value = (a.values or {}).get(f.id)
        if isinstance(f, TextField) and value:
            assert value == written[f.id][: f.max_length or None], (a.id, f.id, value)
        elif isinstance(f, TableField) and value:
            for row in value:
                for column in f.columns:
                    if column.type in ("text", "textarea") and row.get(column.id):
                        offered = [r.get(column.id) for r in tables[f.id]]
                        assert row[column.id] in offered, (a.id, f.id, row)
        texts = [value] if isinstance(value, str) else []
        rows = value if isinstance(value, list) else []
        for row in rows:  # a table's rows, or a multi-choice's values
            texts += [str(c) for c in row.values()] if isinstance(row, dict) else [str(row)]
        for text in texts:
            assert not any(p in text for p in PLACEHOLDERS), (a.id, f.id, text)
    plan = (a.values or {}).get("key_actions")
    if plan:
        assert len(re.findall(r"^\d\. ", plan, re.M)) >= 3, plan
    for deal in (a.values or {}).get("key_deals") or []:
        assert deal["customer"].endswith("有限公司"), deal

"""Everyone reaches their own appraisals, current and past, from the header."""

from __future__ import annotations

import datetime as dt
import random
import re
from typing import Any

import pytest
from flask import Flask

from opsperf.persistence.models import User, db
from opsperf.services import cycles, demo, mine
from tests.helpers import launch_quarter


def _launch(app: Flask, name: str, start: dt.date, end: dt.date) -> dict[str, int]:
    with app.app_context():
        launched = cycles.launch(
            app.extensions["opsperf.registry"].current,
            name=name,
            workflow_id="quarterly_review",
            period_start=start,
            period_end=end,
            department_ids=["sales"],
            actor=None,
        )
        return {a.employee.employee_no: a.id for a in launched.cycle.appraisals}


@pytest.fixture
def two_quarters(app: Flask, staff: dict[str, int]) -> tuple[int, int]:
    """李娜's Q3 appraisal, closed with a final result, and her Q4 one, still a plan; launched
    in the other order, so that the list's order comes from the periods."""
    current = launch_quarter(["sales"])["s101"]
    past = _launch(app, "2026 Q3", dt.date(2026, 7, 1), dt.date(2026, 9, 30))["s101"]
    with app.app_context():
        steps = ["submit_plan", "start_assessment", "submit_self", "submit_review", "sign_off"]
        demo._walk(past, [*steps, "acknowledge"], random.Random(3))
    return past, current


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr id="my-appraisal-(\d+)">(.*?)</tr>', html, re.S)


def test_my_appraisals_newest_first_with_the_result_shown_as_on_the_page(
    as_user: Any, two_quarters: tuple[int, int]
) -> None:
    past, current = two_quarters
    html = as_user("s101").get("/appraisals/mine").get_data(as_text=True)
    rows = _rows(html)
    assert [int(i) for i, _ in rows] == [current, past]
    (_, now), (_, before) = rows
    assert f'href="/appraisals/{current}"' in now
    assert "2026 Q4" in now
    assert "绩效计划制定" in now  # the step
    assert "2026-10-01 – 2026-12-31" in now
    assert "grade-" not in now  # a plan has no result yet
    assert "已归档" in before
    assert re.search(r'class="grade grade-[SABCD]"', before)
    assert re.search(r'<td class="num">\d+(\.\d)?</td>', before)
    page = as_user("s101").get(f"/appraisals/{past}").get_data(as_text=True)
    assert 'id="result"' in page  # the page shows it too
    assert "暂定" not in before  # signed off: final


def test_each_person_sees_only_their_own(as_user: Any, two_quarters: tuple[int, int]) -> None:
    html = as_user("s102").get("/appraisals/mine").get_data(as_text=True)
    ids = {int(i) for i, _ in _rows(html)}
    assert len(ids) == 2
    assert not ids & set(two_quarters)
    assert "李娜" not in html
    # the manager's list holds the manager's own appraisals, not the team's
    manager = as_user("s100").get("/appraisals/mine").get_data(as_text=True)
    assert not {int(i) for i, _ in _rows(manager)} & set(two_quarters)


def test_nothing_yet_and_the_header_link_for_everyone(as_user: Any, staff: dict[str, int]) -> None:
    hr = as_user("hr01")
    home = hr.get("/").get_data(as_text=True)
    assert '<a href="/appraisals/mine"' in home
    assert "我的考核" in home
    html = hr.get("/appraisals/mine").get_data(as_text=True)
    assert _rows(html) == []
    assert "还没有考核" in html
    hr.post("/language/en")
    assert "My appraisals" in hr.get("/").get_data(as_text=True)


def test_pages_come_from_the_database(app: Flask, two_quarters: tuple[int, int]) -> None:
    past, current = two_quarters
    with app.app_context():
        me = db.session.query(User).filter_by(employee_no="s101").one()
        first, second = mine.of(me, 1, per_page=1), mine.of(me, 2, per_page=1)
        assert first.total == second.total == 2
        assert [r.appraisal.id for r in first.items] == [current]
        assert [r.appraisal.id for r in second.items] == [past]
        assert first.has_next
        assert not second.has_next

"""Stored text: no control characters or lone surrogates, a bounded length, at every entry point;
and pages that still open when old rows hold such text."""

from __future__ import annotations

import io
import random
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from opsperf.engine.text import COMMENT_LIMIT, KPI_NOTE_LIMIT, printable, untypable
from opsperf.persistence.models import Appraisal, Cycle, Event, User, db
from opsperf.services import demo
from tests.helpers import appraisal_of, launch_quarter, problems

BAD = ["x\ud800", "a\x00b", "bell\x07", "esc\x1b[31m", "del\x7f", "c1\x85c1"]
GOOD = ["第一行\n第二行", "tab\there", "windows\r\nline", "emoji 🙂", "ｆｕｌｌ　width"]


def test_untypable_characters() -> None:
    for text in BAD:
        assert untypable(text), repr(text)
        assert not untypable(printable(text))
        printable(text).encode("utf-8")
    for text in GOOD:
        assert not untypable(text), repr(text)
        assert printable(text) == text


@pytest.fixture
def launched(app: Flask, staff: dict[str, int]) -> dict[str, int]:
    return launch_quarter(["sales"])


@pytest.fixture
def plan(launched: dict[str, int]) -> int:
    """李娜's appraisal in plan: she may edit plan_summary (text) and key_actions (textarea)."""
    return launched["s101"]


@pytest.fixture
def monitor(app: Flask, launched: dict[str, int]) -> int:
    """王强's appraisal in monitor: he may write KPI actuals and notes."""
    with app.app_context():
        demo._walk(launched["s102"], ["submit_plan"], random.Random(3))
        assert db.session.get(Appraisal, launched["s102"]).state == "monitor"
    return launched["s102"]


def _cases(plan: int, monitor: int) -> list[tuple[str, int, str]]:
    """(who, appraisal, field) for a text field, a textarea and a KPI note."""
    return [
        ("s101", plan, "plan_summary"),
        ("s101", plan, "key_actions"),
        ("s102", monitor, "kpis-revenue-note"),
    ]


def _fingerprint(app: Flask, appraisal_id: int) -> Any:
    with app.app_context():
        a = db.session.get(Appraisal, appraisal_id)
        assert a is not None
        count = len(db.session.scalars(select(Event).filter_by(appraisal_id=appraisal_id)).all())
        return a.version, a.values, count


def test_page_posts_refuse_untypable_text_beside_the_field(
    app: Flask, as_user: Any, plan: int, monitor: int
) -> None:
    for who, appraisal_id, field in _cases(plan, monitor):
        client = as_user(who)
        before = _fingerprint(app, appraisal_id)
        for text in BAD[1:]:  # a form post is UTF-8: it cannot carry a lone surrogate
            data = {field: text, "version": before[0]}
            response = client.post(f"/appraisals/{appraisal_id}", data=data)
            assert response.status_code == 422, (field, text)
            assert problems(response), (field, text)
        assert _fingerprint(app, appraisal_id) == before
        data = {field: GOOD[0], "version": before[0]}
        ok = client.post(f"/appraisals/{appraisal_id}", data=data)
        assert ok.status_code == 302, field  # the same field takes ordinary text


def test_api_refuses_lone_surrogates_and_the_page_stays_open(
    app: Flask, as_user: Any, plan: int, monitor: int
) -> None:
    for who, appraisal_id, values in (
        ("s101", plan, {"plan_summary": "x\ud800"}),
        ("s101", plan, {"key_actions": "\udfff"}),
        ("s101", plan, {"plan_summary": "nul\x00"}),
        ("s102", monitor, {"kpis": {"revenue": {"note": "note\ud83d"}}}),
    ):
        client = as_user(who)
        before = _fingerprint(app, appraisal_id)
        url = f"/api/v1/appraisals/{appraisal_id}/values"
        response = client.post(url, json={"values": values, "version": before[0]})
        assert response.status_code == 422, values
        assert response.get_json()["problems"], values
        assert _fingerprint(app, appraisal_id) == before
        for reader in (client, as_user("hr01")):
            assert reader.get(f"/appraisals/{appraisal_id}").status_code == 200


def test_length_limits(app: Flask, as_user: Any, plan: int, monitor: int) -> None:
    """The form's max_length (120 and 3,000 in the shipped form), else the default (KPI notes)."""
    limits = [120, 3_000, KPI_NOTE_LIMIT]
    for (who, appraisal_id, field), limit in zip(_cases(plan, monitor), limits, strict=True):
        client = as_user(who)
        version = _fingerprint(app, appraisal_id)[0]
        data = {field: "长" * (limit + 1), "version": version}
        response = client.post(f"/appraisals/{appraisal_id}", data=data)
        assert response.status_code == 422, field
        assert str(limit) in " ".join(problems(response)).replace(",", ""), field
        data = {field: "长" * limit, "version": version}
        assert client.post(f"/appraisals/{appraisal_id}", data=data).status_code == 302, field


def test_comments_are_checked(app: Flask, as_user: Any, plan: int) -> None:
    me = as_user("s101")
    version = appraisal_of("s101").version
    for comment in ("a\x00b", "x" * (COMMENT_LIMIT + 1)):
        response = me.post(
            f"/appraisals/{plan}/fire",
            data={"trigger": "submit_plan", "kind": "request", "comment": comment,
                  "version": version},
        )  # fmt: skip
        assert response.status_code == 422
        assert problems(response)
        api = me.post(
            f"/api/v1/appraisals/{plan}/transitions",
            json={"trigger": "submit_plan", "kind": "request", "comment": comment + "\ud800",
                  "version": version},
        )  # fmt: skip
        assert api.status_code == 422
    assert appraisal_of("s101").version == version
    assert appraisal_of("s101").pending_trigger is None


def test_cycle_names_are_checked(app: Flask, as_user: Any, staff: dict[str, int]) -> None:
    hr = as_user("hr01")
    for name in ("Q4\x00", "Q4\x1b", "长" * 201):
        response = hr.post(
            "/cycles/new",
            data={"name": name, "workflow": "quarterly_review", "period_start": "2027-01-01",
                  "period_end": "2027-03-31", "departments": "sales"},
        )  # fmt: skip
        assert response.status_code == 422, name
    with app.app_context():
        assert db.session.scalar(select(Cycle)) is None


def test_imports_refuse_untypable_and_overlong_values(
    app: Flask, as_user: Any, staff: dict[str, int]
) -> None:
    head = "employee_no,name,email,department,position,manager\n"
    rows = [
        "x901,名字\x07,,sales,,\n",
        "x902," + "长" * 201 + ",,sales,,\n",
        "x" * 65 + ",超长工号,,sales,,\n",
        "x904,正常,,sales,,\n",
    ]
    hr = as_user("hr01")
    upload = (io.BytesIO((head + "".join(rows)).encode()), "people.csv")
    response = hr.post("/admin/people", data={"file": upload}, follow_redirects=True)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for row in (2, 3, 4):
        assert f">{row}<" in page or f"第 {row} 行" in page or f"row {row}" in page.lower(), row
    with app.app_context():
        assert db.session.scalar(select(User).filter_by(employee_no="x904")) is None


@pytest.mark.parametrize("login", ["a\x00b", "s101\x00", "x" * 5_000, "\x1b[2J"])
def test_odd_log_in_names_are_a_plain_refusal(
    app: Flask, staff: dict[str, int], login: str
) -> None:
    response = app.test_client().post("/login", data={"login": login, "password": "demo1234"})
    assert response.status_code == 401


def test_old_rows_with_bad_text_still_render(app: Flask, as_user: Any, plan: int) -> None:
    """Values stored before text was checked: the page, the history and the API still open."""
    with app.app_context():
        a = db.session.get(Appraisal, plan)
        assert a is not None
        a.values = {**(a.values or {}), "plan_summary": "旧数据\ud800", "key_actions": "a\x01b"}
        db.session.add(
            Event(
                appraisal_id=a.id,
                cycle_id=a.cycle_id,
                actor_id=a.employee_id,
                kind="save",
                changes={"plan_summary": [None, "旧数据\ud800"]},
            )
        )
        db.session.commit()
    for who in ("s101", "s100", "hr01"):
        client = as_user(who)
        page = client.get(f"/appraisals/{plan}")
        assert page.status_code == 200, who
        assert "旧数据\ufffd" in page.get_data(as_text=True)
        assert client.get(f"/appraisals/{plan}/history?before=999999").status_code == 200
        assert client.get(f"/api/v1/appraisals/{plan}").status_code == 200
    cleared = as_user("s101").post(
        f"/appraisals/{plan}",
        data={"plan_summary": "新内容", "key_actions": "", "version": appraisal_of("s101").version},
    )
    assert cleared.status_code == 302
    assert as_user("s101").get(f"/appraisals/{plan}").status_code == 200

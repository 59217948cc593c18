"""Dashboards over HTTP on both databases: the demo (two cycles, appraisals in every phase, KPI
actuals, grades, one override) is seeded through the services, and every figure a dashboard
shows is checked against SQL written here, independently of the service's queries."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import text

from opsperf.persistence.models import db
from opsperf.services import demo
from tests.conftest import FAST_HASH, login

NAMES = {
    "sales": "销售部",
    "marketing": "市场部",
    "production": "生产部",
    "customer_service": "客服部",
}
FINAL = ("closed", "cancelled")
CALIBRATED = ("assess.calibration", "feedback", "closed")


@pytest.fixture
def seeded(app: Flask) -> dict[str, int]:
    """The demo; the ids of its two cycles (``last``: the closed last quarter)."""
    with app.app_context():
        demo.seed(app.extensions["opsperf.registry"].current, password_method=FAST_HASH)
        ids = [r[0] for r in db.session.execute(text("SELECT id FROM cycles ORDER BY id"))]
    return {"last": ids[0], "current": ids[1]}


def _sql(app: Flask, query: str, **params: Any) -> list[Any]:
    with app.app_context():
        return list(db.session.execute(text(query), params))


def _csv(client: FlaskClient, url: str) -> list[list[str]]:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def _num(cell: str) -> float | None:
    return float(cell) if cell else None


def _attainment(doc: Any, defs: Any, form_id: str) -> list[float]:
    """Each KPI's attainment of one appraisal, from its stored values and the form's KPIs."""
    import json

    values = json.loads(doc) if isinstance(doc, str) else doc
    out = []
    for f in defs.forms[form_id].fields():
        if getattr(f, "type", "") != "kpi_table":
            continue
        for k in f.kpis:
            cells = ((values or {}).get(f.id) or {}).get(k.id) or {}
            actual, target = cells.get("actual"), cells.get("target")
            if target is None:
                target = k.target
            if not isinstance(actual, int | float) or not isinstance(target, int | float):
                continue
            if k.direction == "lower":
                if actual > 0:
                    out.append(target / actual * 100)
            elif target > 0:
                out.append(actual / target * 100)
    return out


def test_company_dashboard_counts_what_sql_counts(
    app: Flask, seeded: dict[str, int], defs: Any
) -> None:
    hr = login(app.test_client(), "hr01")
    cycle = seeded["current"]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    expected = {
        d: (n, closed, overdue, avg)
        for d, n, closed, overdue, avg in _sql(
            app,
            "SELECT department_id, COUNT(*), "
            "SUM(CASE WHEN state IN ('closed', 'cancelled') THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN due_at < :now THEN 1 ELSE 0 END), AVG(score) "
            "FROM appraisals WHERE cycle_id = :c GROUP BY department_id",
            c=cycle,
            now=now,
        )
    }
    # every KPI figure of every appraisal, worked out here from the stored JSON
    attained: dict[str, list[float]] = {}
    for dept, doc, form in _sql(
        app,
        'SELECT a.department_id, a."values", s.def_id FROM appraisals a '
        "JOIN snapshots s ON s.id = a.form_snapshot_id WHERE a.cycle_id = :c",
        c=cycle,
    ):
        attained.setdefault(dept, []).extend(_attainment(doc, defs, form))
    rows = _csv(hr, f"/dashboards/company.csv?cycle={cycle}&table=departments")
    assert rows[0][0] == "部门"
    shown = {r[0]: r[1:] for r in rows[1:]}
    assert len(shown) == len(expected) + 1  # and the total
    for dept, (n, closed, overdue, avg) in expected.items():
        line = shown[NAMES[dept]]
        assert int(line[0]) == n
        assert int(line[1]) == closed
        assert int(line[3]) == overdue
        assert _num(line[2]) == pytest.approx(closed / n * 100, abs=0.006)
        assert _num(line[4]) == pytest.approx(float(avg) if avg is not None else None, abs=0.006)
        figures = attained.get(dept, [])
        mean = sum(figures) / len(figures) if figures else None
        assert _num(line[5]) == pytest.approx(mean, abs=0.006)
    total = shown["合计"]
    assert int(total[0]) == sum(n for n, *_ in expected.values())

    states = dict(
        _sql(
            app,
            "SELECT state, COUNT(*) FROM appraisals WHERE cycle_id = :c GROUP BY state",
            c=cycle,
        )
    )
    by_step = _csv(hr, f"/dashboards/company.csv?cycle={cycle}&table=states")
    assert sorted(int(r[1]) for r in by_step[1:]) == sorted(states.values())

    grades = dict(
        _sql(
            app,
            "SELECT grade, COUNT(*) FROM appraisals WHERE cycle_id = :c AND grade IS NOT NULL "
            "AND state IN ('assess.calibration', 'feedback', 'closed') GROUP BY grade",
            c=cycle,
        )
    )
    assert grades, "the demo calibrates 客服部"
    shown_grades = {r[0].split(" ")[0]: int(r[1]) for r in _csv(
        hr, f"/dashboards/company.csv?cycle={cycle}&table=grades")[1:]}  # fmt: skip
    assert {g: n for g, n in shown_grades.items() if n} == grades

    trend = _csv(hr, f"/dashboards/company.csv?cycle={cycle}&table=trend")
    averages = dict(
        _sql(
            app,
            "SELECT cycle_id, AVG(score) FROM appraisals WHERE cycle_id IN (:a, :b) "
            "GROUP BY cycle_id",
            a=seeded["last"],
            b=cycle,
        )
    )
    assert [_num(r[3]) for r in trend[1:]] == [
        pytest.approx(float(averages[seeded["last"]]), abs=0.006),
        pytest.approx(float(averages[cycle]), abs=0.006),
    ]


def test_department_head_sees_their_subtree_and_the_movers(
    app: Flask, seeded: dict[str, int]
) -> None:
    head = login(app.test_client(), "p100")
    cycle = seeded["current"]
    page = head.get("/dashboards/company")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "生产部" in html
    for other in ("sales", "marketing", "customer_service"):
        assert head.get(f"/dashboards/company?department={other}").status_code == 403
        assert (
            head.get(f"/dashboards/company.csv?department={other}&table=states").status_code == 403
        )
    people = {
        no
        for (no,) in _sql(
            app,
            "SELECT u.employee_no FROM appraisals a JOIN users u ON u.id = a.employee_id "
            "WHERE a.cycle_id = :c AND a.department_id = 'production'",
            c=cycle,
        )
    }
    heat = _csv(head, "/dashboards/company.csv?table=heat")
    assert {r[1] for r in heat[1:]} == people
    changes = _sql(
        app,
        "SELECT u.employee_no, b.score, a.score FROM appraisals a "
        "JOIN appraisals b ON b.employee_id = a.employee_id AND b.cycle_id = :last "
        "JOIN users u ON u.id = a.employee_id "
        "WHERE a.cycle_id = :c AND a.department_id = 'production' "
        "AND a.score IS NOT NULL AND b.score IS NOT NULL",
        c=cycle,
        last=seeded["last"],
    )
    assert changes, "生产部 has scores in both quarters"
    falling = sorted((a - b, no) for no, b, a in changes if a < b)
    rising = sorted(((a - b, no) for no, b, a in changes if a > b), reverse=True)
    shown_up = _csv(head, "/dashboards/company.csv?table=rising")[1:]
    shown_down = _csv(head, "/dashboards/company.csv?table=falling")[1:]
    assert [r[1] for r in shown_up] == [no for _c, no in rising]
    assert [r[1] for r in shown_down] == [no for _c, no in falling]
    for row, (change, _no) in zip(shown_down, falling, strict=True):
        assert float(row[5]) == pytest.approx(change, abs=0.006)


def test_who_may_open_which_dashboard(app: Flask, seeded: dict[str, int]) -> None:
    anon = app.test_client()
    for url in ("/dashboards/", "/dashboards/company", "/dashboards/me", "/dashboards/me.csv"):
        response = anon.get(url)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]
    employee = login(app.test_client(), "s101")
    assert employee.get("/dashboards/company").status_code == 403
    assert employee.get("/dashboards/company.xlsx?table=states").status_code == 403
    assert employee.get("/dashboards/").headers["Location"].endswith("/dashboards/me")
    mine = employee.get("/dashboards/me").get_data(as_text=True)
    scores = _csv(employee, "/dashboards/me.csv?table=scores")
    own = _sql(
        app,
        "SELECT a.score, a.grade FROM appraisals a JOIN users u ON u.id = a.employee_id "
        "WHERE u.employee_no = 's101' ORDER BY a.cycle_id",
    )
    assert len(own) == 2  # last quarter's and this one's
    assert len(scores) == 1 + len(own)
    for row, (score, grade) in zip(scores[1:], own, strict=True):
        assert _num(row[2]) == pytest.approx(score, abs=0.006)
        assert row[3] == grade
    assert "刘洋" not in mine  # another rep of the same department
    hr = login(app.test_client(), "hr01")
    assert hr.get("/dashboards/").headers["Location"].endswith("/dashboards/company")
    for bad in ("cycle=999999", "department=nowhere", "position=nowhere", "cycle=x"):
        assert hr.get(f"/dashboards/company?{bad}").status_code in (200, 404), bad
    assert hr.get("/dashboards/company?cycle=999999").status_code == 404
    assert hr.get("/dashboards/company?department=nowhere").status_code == 404
    assert hr.get("/dashboards/company.csv?table=nothing").status_code == 404
    # last quarter's cycle, chosen by its id: its own figures
    last = seeded["last"]
    earlier = hr.get(f"/dashboards/company?cycle={last}&department=sales")
    assert earlier.status_code == 200
    with app.app_context():
        name = db.session.execute(text(f"SELECT name FROM cycles WHERE id = {last}")).scalar()
    assert name in earlier.get_data(as_text=True)


def test_exports_never_hand_a_spreadsheet_a_formula(app: Flask, seeded: dict[str, int]) -> None:
    with app.app_context():
        db.session.execute(
            text("UPDATE users SET name = '=HYPERLINK(\"x\")' WHERE employee_no = 'c101'")
        )
        db.session.execute(text("UPDATE users SET name = '@SUM(A1)' WHERE employee_no = 'c102'"))
        db.session.commit()
    hr = login(app.test_client(), "hr01")
    rows = _csv(hr, "/dashboards/company.csv?table=heat")
    names = {r[1]: r[0] for r in rows[1:]}
    assert names["c101"] == '\'=HYPERLINK("x")'
    assert names["c102"] == "'@SUM(A1)"
    response = hr.get("/dashboards/company.xlsx?table=heat")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    cells = {row[1]: row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert cells["c101"] == '\'=HYPERLINK("x")'
    assert cells["c102"] == "'@SUM(A1)"
    assert all(
        not str(v).startswith(("=", "+", "-", "@"))
        for r in sheet.iter_rows(values_only=True)
        for v in r
        if isinstance(v, str)
    )


def _charts(html: str) -> list[str]:
    return re.findall(r"<svg\b[^>]*class=\"pygal-chart\".*?</svg>", html, re.S)


def test_charts_are_plain_svg_in_the_readers_language(app: Flask, seeded: dict[str, int]) -> None:
    hr = login(app.test_client(), "hr01")
    zh = hr.get("/dashboards/company").get_data(as_text=True)
    charts = _charts(zh)
    assert len(charts) >= 5
    for svg in charts:
        assert "<script" not in svg
        assert "<?xml" not in svg
        assert "xlink:href" not in svg
        assert "href=" not in svg
    assert "各部门完成情况" in zh
    assert "各部门平均得分与 KPI 达成率" in zh
    assert hr.post("/language/en", data={"next": "/dashboards/company"}).status_code == 302
    en = hr.get("/dashboards/company").get_data(as_text=True)
    assert "Completion by department" in en
    assert "各部门完成情况" not in en
    assert any("Completion by department" in svg for svg in _charts(en))
    me = login(app.test_client(), "p101").get("/dashboards/me").get_data(as_text=True)
    assert len(_charts(me)) == 2
    assert all("<script" not in svg for svg in _charts(me))


def _pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "dashboard.pdf"
    path.write_bytes(data)
    done = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True)
    return done.stdout


def test_a_dashboard_prints_with_its_charts_and_tables(
    app: Flask, seeded: dict[str, int], tmp_path: Path
) -> None:
    """The PDF carries the same SVG charts as the page (WeasyPrint draws them) and the same
    figures in its tables."""
    hr = login(app.test_client(), "hr01")
    response = hr.get("/dashboards/company.pdf?department=sales")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    text = _pdf_text(response.data, tmp_path)
    page = hr.get("/dashboards/company?department=sales").get_data(as_text=True)
    for caption in ("各环节考核数", "每人 KPI 达成率", "近几个周期趋势"):
        assert caption in page
        assert caption in text
    names = _sql(
        app,
        "SELECT u.name FROM appraisals a JOIN users u ON u.id = a.employee_id "
        "WHERE a.cycle_id = :cycle AND a.department_id = 'sales'",
        cycle=seeded["current"],
    )
    for (name,) in names:
        assert name in text, name
    assert "客服部" not in text  # the page's department only
    # page one is mostly drawn, not blank: the charts are there
    subprocess.run(
        ["pdftoppm", "-r", "30", "-gray", "-png", "-f", "1", "-l", "1", "-singlefile",
         str(tmp_path / "dashboard.pdf"), str(tmp_path / "one")],
        check=True,
    )  # fmt: skip
    ink = Image.open(tmp_path / "one.png").convert("L").point(lambda v: 255 if v < 200 else 0)
    assert ink.histogram()[255] > 2000
    # the reader's own, and the doors closed as on the page
    mine = login(app.test_client(), "s101").get(
        "/dashboards/me.pdf", headers={"Accept-Language": "en"}
    )
    assert mine.status_code == 200
    assert "My score and grade by cycle" in _pdf_text(mine.data, tmp_path)
    assert login(app.test_client(), "s101").get("/dashboards/company.pdf").status_code == 403
    head = login(app.test_client(), "s100")
    assert head.get("/dashboards/company.pdf?department=marketing").status_code == 403


def test_a_heads_numbers_open_the_appraisals_behind_them(
    app: Flask, seeded: dict[str, int]
) -> None:
    """A department head cannot open the cycle page: their numbers open the dashboard's own
    list, of their subtree only."""
    head = login(app.test_client(), "s100")
    page = head.get("/dashboards/company").get_data(as_text=True)
    links = sorted(set(re.findall(r'href="(/dashboards/appraisals\?[^"]*)"', page)))
    assert links
    assert "/cycles/" not in page
    sales = {
        name
        for (name,) in _sql(
            app,
            "SELECT u.name FROM appraisals a JOIN users u ON u.id = a.employee_id "
            "WHERE a.cycle_id = :cycle AND a.department_id = 'sales'",
            cycle=seeded["current"],
        )
    }
    for link in links:
        response = head.get(link.replace("&amp;", "&"))
        assert response.status_code == 200, link
        listed = set(re.findall(r'/appraisals/\d+">([^<]+)</a>', response.get_data(as_text=True)))
        assert listed <= sales, link
    # the department row of 销售部: every appraisal of it
    everyone = head.get(
        f"/dashboards/appraisals?cycle={seeded['current']}&department=sales&exact=1"
    )
    assert (
        set(re.findall(r'/appraisals/\d+">([^<]+)</a>', everyone.get_data(as_text=True))) == sales
    )
    # monitor only: as SQL counts it
    monitor = _sql(
        app,
        "SELECT count(*) FROM appraisals WHERE cycle_id = :cycle AND department_id = 'sales' "
        "AND state = 'monitor'",
        cycle=seeded["current"],
    )[0][0]
    shown = head.get(f"/dashboards/appraisals?cycle={seeded['current']}&state=monitor")
    assert len(re.findall(r'/appraisals/\d+">', shown.get_data(as_text=True))) == monitor
    assert head.get("/dashboards/appraisals?department=marketing").status_code == 403
    assert login(app.test_client(), "s101").get("/dashboards/appraisals").status_code == 403


def test_query_arguments_named_like_url_options_never_break_a_page(
    app: Flask, seeded: dict[str, int]
) -> None:
    """The download links keep the page's query; names url_for reads itself are not passed on."""
    hr = login(app.test_client(), "hr01")
    for query in ("kind=x", "endpoint=x", "_external=1", "table=x&kind=csv", "_anchor=x"):
        for url in ("/dashboards/company", "/dashboards/me"):
            response = hr.get(f"{url}?{query}")
            assert response.status_code == 200, (url, query)
            assert "dashboards/" in response.get_data(as_text=True)


def test_a_pager_keeps_the_query_but_not_url_fors_own_names(
    app: Flask, seeded: dict[str, int]
) -> None:
    hr = login(app.test_client(), "hr01")
    response = hr.get(f"/cycles/{seeded['current']}?endpoint=x&per_page=10")
    assert response.status_code == 200
    assert "page=2" in response.get_data(as_text=True)  # the pager's link, made from the query

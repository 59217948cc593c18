"""The printed appraisal: a PDF from the page, the API and the command line, read back with
poppler (pdftotext, pdffonts, pdftoppm) on both databases.

The demo's 李娜 (s101) is in feedback: scored, graded, signed off by 张伟 and 王芳.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from flask import Flask
from PIL import Image, ImageChops
from sqlalchemy import func

from opsperf.config import PROJECT_ROOT
from opsperf.engine.readable import Words, readable
from opsperf.persistence.models import Appraisal, User, db
from opsperf.services import demo
from tests.conftest import FAST_HASH, login
from tests.worlds import open_world

PACK = [str(PROJECT_ROOT / name) for name in ("org", "forms", "workflows")]
GOLDEN = Path(__file__).parent / "golden" / "report-s101-zh-page1.png"
SALES_KPIS = ["销售额", "销售增长率", "新客户数", "回款率", "客户满意度"]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    worlds = open_world(request, tmp_path_factory, PACK, "reports")
    app = next(worlds)
    with app.app_context():
        demo.seed(app.extensions["opsperf.registry"].current, password_method=FAST_HASH)
    yield app
    next(worlds, None)


def appraisal_id(app: Flask, employee_no: str) -> int:
    with app.app_context():
        found = (
            db.session.query(Appraisal.id)
            .join(User, Appraisal.employee_id == User.id)
            .filter(User.employee_no == employee_no)
            .order_by(Appraisal.id.desc())
            .first()
        )
        assert found is not None
        return int(found[0])


def get_pdf(app: Flask, who: str, employee_no: str, language: str = "zh") -> Any:
    client = login(app.test_client(), who)
    url = f"/appraisals/{appraisal_id(app, employee_no)}/report.pdf"
    return client.get(url, headers={"Accept-Language": language})


def text_of(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    return done.stdout


def fonts_of(pdf: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "fonts.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True)
    return [line.split()[0] for line in done.stdout.splitlines()[2:] if line.strip()]


def test_the_pdf_holds_the_person_every_kpi_the_total_and_who_signed(
    world: Flask, tmp_path: Path
) -> None:
    response = get_pdf(world, "hr01", "s101")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"%PDF-")
    text = text_of(response.data, tmp_path)
    with world.app_context():
        a = db.session.get(Appraisal, appraisal_id(world, "s101"))
        assert a is not None
        score, grade, bonus = a.score, a.grade, a.bonus
    assert "李娜" in text
    assert "s101" in text
    assert "销售部" in text
    assert "销售代表" in text
    for kpi in SALES_KPIS:
        assert kpi in text, kpi
    assert f"{score:g}" in text
    assert grade in text
    assert f"{bonus:,.0f}" in text
    # the total in words and with the values it was computed from, not the raw expression
    assert "保留 1 位小数" in text
    assert "上级评价等级（未填按 3）" in text
    assert "coalesce" not in text
    assert "kpis.score" not in text
    # the sign-off trail names those who signed, with their roles
    for name in ("张伟", "王芳"):
        assert name in text, name
    assert "审批记录" in text
    assert "已审批" in text
    # definitions with their versions and content hashes, and the document id
    assert "sales_quarterly v4" in text
    assert "quarterly_review" in text
    assert "OPS-" in text
    fonts = fonts_of(response.data, tmp_path)
    assert fonts
    assert all("Opsperf-Sans-SC" in f for f in fonts), fonts


def test_the_pdf_speaks_the_readers_language(world: Flask, tmp_path: Path) -> None:
    text = text_of(get_pdf(world, "hr01", "s101", "en").data, tmp_path)
    assert "Performance appraisal" in text
    assert "Sign-off trail" in text
    assert "Revenue" in text
    assert "rounded to 1 decimal places" in text
    assert "李娜" in text  # a name stays as written


def test_the_appraisal_page_offers_the_pdf(world: Flask) -> None:
    aid = appraisal_id(world, "s101")
    page = login(world.test_client(), "s101").get(f"/appraisals/{aid}").get_data(as_text=True)
    assert f'href="/appraisals/{aid}/report.pdf"' in page


def test_who_may_print_an_appraisal(world: Flask) -> None:
    assert get_pdf(world, "s101", "s101").status_code == 200  # her own
    assert get_pdf(world, "s100", "s101").status_code == 200  # her manager
    assert get_pdf(world, "s102", "s101").status_code == 403  # a colleague
    assert get_pdf(world, "m100", "s101").status_code == 403  # another department's head
    anonymous = world.test_client().get(f"/appraisals/{appraisal_id(world, 's101')}/report.pdf")
    assert anonymous.status_code == 302
    assert "/login" in anonymous.headers["Location"]
    missing = login(world.test_client(), "hr01").get("/appraisals/999999/report.pdf")
    assert missing.status_code == 404
    # the API: HTTP Basic, the same rules
    api = world.test_client()
    url = f"/api/v1/appraisals/{appraisal_id(world, 's101')}/report.pdf"
    ok = api.get(url, auth=("s101", demo.PASSWORD))
    assert ok.status_code == 200
    assert ok.data.startswith(b"%PDF-")
    assert api.get(url, auth=("s102", demo.PASSWORD)).status_code == 403
    assert api.get(url).status_code == 401


def test_a_field_the_page_hides_is_not_printed(world: Flask, tmp_path: Path) -> None:
    """A value kept for a field shown only under a condition that does not hold (刘洋 had no
    difficulties) is not on the page, so not in the PDF either."""
    with world.app_context():
        a = db.session.get(Appraisal, appraisal_id(world, "s102"))
        assert a is not None
        a.values = {**a.values, "has_difficulties": "no", "difficulties": "不应打印的困难描述"}
        db.session.commit()
    text = text_of(get_pdf(world, "hr01", "s102").data, tmp_path)
    assert "刘洋" in text
    assert "不应打印的困难描述" not in text
    assert "遇到的困难与想法" not in text


def test_the_command_line_prints_without_any_cjk_font_on_the_machine(
    world: Flask, tmp_path: Path
) -> None:
    """fontconfig sees no fonts at all: the Chinese comes from the font that ships with the
    package, embedded in the PDF."""
    conf = tmp_path / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd">'
        f"<fontconfig><cachedir>{tmp_path / 'fc-cache'}</cachedir></fontconfig>"
    )
    out = tmp_path / "cli.pdf"
    env = {
        **os.environ,
        "FONTCONFIG_FILE": str(conf),
        "OPSPERF_SQLALCHEMY_DATABASE_URI": world.config["SQLALCHEMY_DATABASE_URI"],
        "OPSPERF_DEFINITION_ROOTS": json.dumps(PACK),
        "OPSPERF_SECRET_KEY": "test",
    }
    done = subprocess.run(
        [sys.executable, "-m", "opsperf", "report", "pdf", str(appraisal_id(world, "s101")),
         "-o", str(out)],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    data = out.read_bytes()
    text = text_of(data, tmp_path)
    assert "李娜" in text
    assert "销售额" in text
    assert "审批记录" in text
    assert fonts_of(data, tmp_path)
    assert all("Opsperf-Sans-SC" in f for f in fonts_of(data, tmp_path))
    missing = subprocess.run(
        [sys.executable, "-m", "opsperf", "report", "pdf", "999999", "-o", str(out)],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert missing.returncode == 1
    assert "999999" in missing.stderr


def test_page_one_looks_as_it_did(world: Flask, tmp_path: Path) -> None:
    """Page one against a stored rendering, within a tolerance for what changes from day to day
    (the dates, the document id and its code). ``OPSPERF_UPDATE_GOLDEN=1`` writes it anew."""
    pdf = tmp_path / "page.pdf"
    pdf.write_bytes(get_pdf(world, "hr01", "s101").data)
    subprocess.run(
        ["pdftoppm", "-r", "50", "-gray", "-png", "-f", "1", "-l", "1", "-singlefile", str(pdf),
         str(tmp_path / "page")],
        check=True,
    )  # fmt: skip
    page = Image.open(tmp_path / "page.png").convert("L")
    if os.environ.get("OPSPERF_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        page.save(GOLDEN)
    golden = Image.open(GOLDEN).convert("L")
    assert page.size == golden.size
    diff = ImageChops.difference(page, golden).point(lambda v: 255 if v > 64 else 0)
    changed = diff.histogram()[255] / (page.width * page.height)
    assert changed < 0.02, f"{changed:.2%} of page one differs from {GOLDEN.name}"


WORDS = Words(
    if_empty="%(value)s（未填按 %(default)s）",
    rounded="%(value)s，保留 %(places)s 位小数",
    between="%(value)s，限定在 %(low)s 至 %(high)s 之间",
    when="若 %(test)s 则 %(then)s，否则 %(other)s",
    and_="且",
    or_="或",
    not_="非 %(value)s",
    empty="空",
)
NAMES = {"kpis.score": "KPI 得分", "manager_rating": "上级评分", "actual": "实际值",
         "target": "目标值"}  # fmt: skip


@pytest.mark.parametrize(
    ("expression", "values", "shown"),
    [
        ("round(kpis.score * 0.8 + coalesce(manager_rating, 3) * 4, 1) if kpis.score is not None "
         "else None", None, "KPI 得分 × 0.8 + 上级评分（未填按 3） × 4，保留 1 位小数"),
        ("round(kpis.score * 0.8 + coalesce(manager_rating, 3) * 4, 1) if kpis.score is not None "
         "else None", {"kpis.score": 99.21, "manager_rating": 4}, "99.21 × 0.8 + 4 × 4"),
        ("coalesce(manager_rating, 3) * 4", {"manager_rating": None}, "3 × 4"),
        ("clamp(100 + (actual - target) * 5, 0, 110)", None,
         "100 + (实际值 − 目标值) × 5，限定在 0 至 110 之间"),
        ("a - (b - c)", None, "a − (b − c)"),
        ("(a + b) * c / 2", None, "(a + b) × c ÷ 2"),
        ("-x ** 2", None, "−x ^ 2"),
        ("x if y >= 1 and not z else w", None, "若 y ≥ 1 且 非 z 则 x，否则 w"),
        ("x if y is None else w", {"y": None, "x": 1, "w": 2}, "1"),
        ("min(130, actual / target * 100)", {"actual": 3.2333, "target": 3},
         "min(130, 3.2333 ÷ 3 × 100)"),
        ("0.1 + 2.50", None, "0.1 + 2.5"),
        ("a[0]", None, None),
        ("import os", None, None),
        ("1 +", None, None),
    ],
)  # fmt: skip
def test_a_formula_reads_as_words(expression: str, values: Any, shown: str | None) -> None:
    assert readable(expression, lambda path: NAMES.get(path, path), WORDS, values) == shown


# --------------------------------------------------------------------------- batches


def cycle_id(app: Flask) -> int:
    with app.app_context():
        a = db.session.get(Appraisal, appraisal_id(app, "s101"))
        assert a is not None
        return int(a.cycle_id)


def in_cycle(app: Flask, departments: set[str] | None = None) -> dict[str, str]:
    """employee_no → name of every appraisal of the demo's current cycle (of ``departments``)."""
    with app.app_context():
        rows = (
            db.session.query(User.employee_no, User.name, Appraisal.department_id)
            .join(Appraisal, Appraisal.employee_id == User.id)
            .filter(Appraisal.cycle_id == cycle_id(app))
            .all()
        )
    return {no: name for no, name, dept in rows if departments is None or dept in departments}


def print_batch(app: Flask, who: str, department: str = "") -> Any:
    client = login(app.test_client(), who)
    response = client.post(f"/cycles/{cycle_id(app)}/reports", data={"department": department})
    return client, response


def zipped(client: Any, job_page: Any, tmp_path: Path) -> dict[str, str]:
    """The ZIP a finished batch offers: each file's name → the text of its PDF."""
    assert job_page.status_code == 302, job_page.get_data(as_text=True)[:1000]
    page = client.get(job_page.headers["Location"]).get_data(as_text=True)
    job = int(job_page.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert f"/jobs/{job}/appraisals.zip" in page
    response = client.get(f"/jobs/{job}/appraisals.zip")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    path = tmp_path / "batch.zip"
    path.write_bytes(response.data)
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        return {name: text_of(archive.read(name), tmp_path) for name in archive.namelist()}


def test_hr_prints_a_department_into_one_zip(world: Flask, tmp_path: Path) -> None:
    client, response = print_batch(world, "hr01", "sales")
    files = zipped(client, response, tmp_path)
    people = in_cycle(world, {"sales"})
    assert sorted(files) == sorted(f"sales/{no}-{name}.pdf" for no, name in people.items())
    for no, name in people.items():
        assert name in files[f"sales/{no}-{name}.pdf"], name
    # downloaded again later: the same files
    job = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    again = client.get(f"/jobs/{job}/appraisals.zip")
    assert again.status_code == 200
    assert len(again.data) == len(client.get(f"/jobs/{job}/appraisals.zip").data)


def test_a_head_prints_only_their_own_department(world: Flask, tmp_path: Path) -> None:
    client, response = print_batch(world, "m100")
    files = zipped(client, response, tmp_path)
    assert {name.split("/")[0] for name in files} == {"marketing"}
    assert len(files) == len(in_cycle(world, {"marketing"}))
    assert print_batch(world, "m100", "sales")[1].status_code == 403
    assert print_batch(world, "s101")[1].status_code == 403  # not a head
    assert print_batch(world, "hr01", "nowhere")[1].status_code == 404
    anonymous = world.test_client().post(f"/cycles/{cycle_id(world)}/reports")
    assert anonymous.status_code == 302
    assert "/login" in anonymous.headers["Location"]
    # someone else's batch: not theirs to download
    job = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    other = login(world.test_client(), "s100").get(f"/jobs/{job}/appraisals.zip")
    assert other.status_code == 403
    hr = login(world.test_client(), "hr01")
    assert hr.get("/jobs/999999/appraisals.zip").status_code == 404


def test_a_large_batch_is_printed_by_several_processes(
    world: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsperf.web import reports

    monkeypatch.setattr(reports, "PARALLEL_FROM", 2)
    monkeypatch.setattr(reports, "CHUNK", 5)
    world.config["REPORT_PROCESSES"] = 2
    try:
        client, response = print_batch(world, "hr01")
        files = zipped(client, response, tmp_path)
    finally:
        world.config.pop("REPORT_PROCESSES")
    people = in_cycle(world)
    assert len(files) == len(people) > 10
    assert {name.split("/", 1)[1].split("-", 1)[0] for name in files} == set(people)


# --------------------------------------------------------------------------- results sheets


def test_the_cycle_results_as_csv_and_xlsx_with_the_pages_filters(
    world: Flask, tmp_path: Path
) -> None:
    with world.app_context():  # a name a spreadsheet would run as a formula
        m101 = db.session.query(User).filter_by(employee_no="m101").one()
        m101.name = '=HYPERLINK("http://x","孙强")'
        db.session.commit()
    hr = login(world.test_client(), "hr01")
    base = f"/cycles/{cycle_id(world)}/results"
    response = hr.get(f"{base}.csv?department=sales")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["工号", "姓名", "部门"]
    assert sorted(r[0] for r in rows[1:]) == sorted(in_cycle(world, {"sales"}))
    lina = next(r for r in rows if r[0] == "s101")
    with world.app_context():
        a = db.session.get(Appraisal, appraisal_id(world, "s101"))
        assert a is not None
        assert (float(lina[7]), lina[8]) == (a.score, a.grade)
    assert "销售额" in lina[10]
    # XLSX of the marketing department: the formula is text
    book = openpyxl.load_workbook(io.BytesIO(hr.get(f"{base}.xlsx?department=marketing").data))
    names = [row[1] for row in book.active.iter_rows(min_row=2, values_only=True)]
    assert '\'=HYPERLINK("http://x","孙强")' in names
    assert all(not str(n).startswith("=") for n in names)
    # the grade filter of the page
    graded = hr.get(f"{base}.csv?grade=S").get_data(as_text=True)
    with world.app_context():
        s_grades = (
            db.session.query(func.count(Appraisal.id))
            .filter(Appraisal.cycle_id == cycle_id(world), Appraisal.grade == "S")
            .scalar()
        )
    assert len(graded.strip().splitlines()) == 1 + s_grades


def test_a_long_results_sheet_is_made_in_the_background(world: Flask) -> None:
    world.config["PAYOUT_INLINE_ROWS"] = 1
    try:
        hr = login(world.test_client(), "hr01")
        response = hr.get(f"/cycles/{cycle_id(world)}/results.xlsx")
    finally:
        world.config["PAYOUT_INLINE_ROWS"] = 2000
    assert response.status_code == 302
    job = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert "/jobs/" in response.headers["Location"]
    sheet = hr.get(f"/jobs/{job}/file")
    assert sheet.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(sheet.data))
    assert book.active.max_row == 1 + len(in_cycle(world))


def test_only_hr_exports_a_cycles_results(world: Flask) -> None:
    url = f"/cycles/{cycle_id(world)}/results.csv"
    for who in ("s101", "s100", "ceo"):
        assert login(world.test_client(), who).get(url).status_code == 403, who
    assert world.test_client().get(url).status_code == 302
    assert login(world.test_client(), "hr01").get("/cycles/999999/results.csv").status_code == 404

"""Importing people from CSV and XLSX: the CLI, the admin page, and the service underneath.

All rows or none: a file with any bad row writes nothing and names every bad row by its number
(the header is row 1). Chinese headers are accepted; importing a known employee_no updates.
"""

from __future__ import annotations

import csv
import html as htmllib
import io
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import Workbook

from opsperf import cli
from opsperf.persistence.models import User, db
from opsperf.services import people

HEADER = ["employee_no", "name", "email", "department", "position", "manager", "roles"]
CHINESE = ["工号", "姓名", "邮箱", "部门", "岗位", "上级", "角色", "奖金基数"]

GOOD = [
    ["n201", "新人甲", "n201@demo.opsperf", "sales", "sales_rep", "n203", ""],
    ["n202", "新人乙", "N202@Demo.Opsperf", "sales", "key_account_manager", "s100", ""],
    # the manager of n201 comes after n201 in the file
    ["n203", "新主管", "n203@demo.opsperf", "sales", "sales_director", "s100", ""],
]
# header is row 1: row 2 is fine, every other row has exactly one problem
BAD = [
    ["n301", "好人", "n301@demo.opsperf", "sales", "sales_rep", "s100", ""],
    ["n302", "甲", "n302@demo.opsperf", "nowhere", "sales_rep", "s100", ""],
    ["n303", "乙", "n303@demo.opsperf", "sales", "astronaut", "s100", ""],
    ["n304", "丙", "n304@demo.opsperf", "sales", "sales_rep", "ghost", ""],
    ["n301", "丁", "n305@demo.opsperf", "sales", "sales_rep", "s100", ""],
    ["n306", "戊", "not-an-email", "sales", "sales_rep", "s100", ""],
    ["n307", "己", "n307@demo.opsperf", "sales", "sales_rep", "s100", "wizard"],
]
BAD_ROWS = {
    3: "nowhere",  # unknown department
    4: "astronaut",  # unknown position
    5: "ghost",  # unknown manager
    6: "n301",  # duplicate employee_no (repeats row 2)
    7: "not-an-email",  # bad e-mail
    8: "wizard",  # unknown role
}


def csv_bytes(
    header: Sequence[str], rows: Sequence[Sequence[Any]], encoding: str = "utf-8"
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "员工"
    sheet.append(list(header))
    for row in rows:
        sheet.append([None if cell == "" else cell for cell in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def everyone(app: Flask) -> dict[str, dict[str, Any]]:
    with app.app_context():
        found = {}
        for u in db.session.query(User):
            found[u.employee_no] = {
                "name": u.name,
                "email": u.email,
                "department": u.department_id,
                "position": u.position_id,
                "manager": u.manager.employee_no if u.manager else None,
                "roles": list(u.roles or []),
                "base_bonus": u.base_bonus,
            }
        return found


def count(app: Flask) -> int:
    with app.app_context():
        return db.session.query(User).count()


def row_problems(html: str) -> dict[int, str]:
    """Row number → problem text, as listed on the people page."""
    found: dict[int, str] = {}
    for item in re.findall(r"<li>(.*?)</li>", html, re.S):
        text = htmllib.unescape(re.sub(r"<[^>]+>", "", item)).strip()
        match = re.match(r"(?:Row|第)\s*(\d+)\D", text)
        if match:
            found[int(match.group(1))] = found.get(int(match.group(1)), "") + text
    return found


def flashes(html: str, kind: str) -> list[str]:
    found = re.findall(rf'class="flash flash-{kind}"[^>]*>(.*?)</div>', html, re.S)
    return [htmllib.unescape(re.sub(r"<[^>]+>", " ", f)).strip() for f in found]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def hr(as_user: Any, staff: dict[str, int]) -> FlaskClient:
    client: FlaskClient = as_user("hr01")
    client.post("/language/en")  # messages in English; row numbers and values are checked
    return client


def upload(client: FlaskClient, name: str, data: bytes) -> Any:
    return client.post(
        "/admin/people",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def imported(client: FlaskClient, name: str, data: bytes) -> str:
    """Upload a file and read the page of its import job (the job ran in the request)."""
    response = upload(client, name, data)
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    assert response.headers["Location"].startswith("/jobs/"), response.headers["Location"]
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    return page.get_data(as_text=True)


@pytest.fixture
def run_cli(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``run_cli(path)``: ``opsperf people import PATH`` on the test database."""
    made: list[Flask] = []
    original = cli._app

    def recording_app(database: str | None = None) -> Any:
        created = original(database)
        made.append(created)
        return created

    monkeypatch.setattr(cli, "_app", recording_app)
    env = {"OPSPERF_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]}

    def run(path: Path) -> Result:
        return CliRunner().invoke(cli.main, ["people", "import", str(path)], env=env)

    yield run
    for created in made:
        with created.app_context():
            db.session.remove()
            db.engine.dispose()


# --------------------------------------------------------------------------- CLI


def test_cli_imports_a_csv_and_a_reimport_updates(
    app: Flask, staff: dict[str, int], run_cli: Any, tmp_path: Path
) -> None:
    before = count(app)
    path = tmp_path / "people.csv"
    path.write_bytes(csv_bytes(HEADER, GOOD))
    result = run_cli(path)
    assert result.exit_code == 0, result.output
    assert "imported 3 new and 0 updated" in result.output
    assert count(app) == before + 3
    got = everyone(app)
    assert got["n201"] == {
        "name": "新人甲",
        "email": "n201@demo.opsperf",
        "department": "sales",
        "position": "sales_rep",
        "manager": "n203",  # a manager further down the same file
        "roles": [],
        "base_bonus": None,
    }
    assert got["n202"]["email"] == "n202@demo.opsperf"  # stored lower-case
    assert got["n203"]["manager"] == "s100"  # a manager already known

    changed = [list(row) for row in GOOD]
    changed[0][1:] = ["新人甲（转正）", "jia@demo.opsperf", "sales", "key_account_manager",
                      "s100", "hr"]  # fmt: skip
    path.write_bytes(csv_bytes(HEADER, changed))
    result = run_cli(path)
    assert result.exit_code == 0, result.output
    assert "imported 0 new and 3 updated" in result.output
    assert count(app) == before + 3
    assert everyone(app)["n201"] == {
        "name": "新人甲（转正）",
        "email": "jia@demo.opsperf",
        "department": "sales",
        "position": "key_account_manager",
        "manager": "s100",
        "roles": ["hr"],
        "base_bonus": None,
    }


def test_cli_imports_an_xlsx_with_chinese_headers(
    app: Flask, staff: dict[str, int], run_cli: Any, tmp_path: Path
) -> None:
    rows = [
        ["n401", "仓库新人", "n401@demo.opsperf", "production", "production_operator", "p100",
         "", 5200],
        ["n402", "质检新人", "n402@demo.opsperf", "customer_service", "service_agent", "c100",
         "quality_inspector", ""],
    ]  # fmt: skip
    path = tmp_path / "员工名单.xlsx"
    path.write_bytes(xlsx_bytes(CHINESE, rows))
    before = count(app)
    result = run_cli(path)
    assert result.exit_code == 0, result.output
    assert count(app) == before + 2
    got = everyone(app)
    assert got["n401"]["position"] == "production_operator"
    assert got["n401"]["manager"] == "p100"
    assert got["n401"]["base_bonus"] == 5200
    assert got["n402"]["roles"] == ["quality_inspector"]  # a department's custom role


def test_cli_refuses_the_whole_file_on_bad_rows(
    app: Flask, staff: dict[str, int], run_cli: Any, tmp_path: Path
) -> None:
    before = everyone(app)
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes(HEADER, BAD))
    result = run_cli(path)
    assert result.exit_code == 1
    reported = {
        int(match.group(1)): line
        for line in result.output.splitlines()
        if (match := re.match(rf"{re.escape(str(path))}: row (\d+):", line))
    }
    assert sorted(reported) == sorted(BAD_ROWS)
    for row, token in BAD_ROWS.items():
        assert token in reported[row], reported[row]
    assert "repeats row 2" in reported[6]
    assert "nothing was imported" in result.output
    assert everyone(app) == before  # not even the good row 2


def test_cli_reports_a_missing_column(
    app: Flask, staff: dict[str, int], run_cli: Any, tmp_path: Path
) -> None:
    before = count(app)
    path = tmp_path / "short.csv"
    path.write_bytes(csv_bytes(HEADER[:4], [row[:4] for row in GOOD]))
    result = run_cli(path)
    assert result.exit_code == 1
    assert "position" in result.output
    assert "manager" in result.output
    assert "Traceback" not in result.output
    assert count(app) == before


# --------------------------------------------------------------------------- admin page


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_admin_upload_creates_people(app: Flask, hr: FlaskClient, kind: str) -> None:
    before = count(app)
    data = csv_bytes(HEADER, GOOD) if kind == "csv" else xlsx_bytes(HEADER, GOOD)
    outcome = imported(hr, f"people.{kind}", data)
    assert any("3" in f for f in flashes(outcome, "success")), flashes(outcome, "success")
    page = hr.get("/admin/people").get_data(as_text=True)
    assert "新人甲" in page
    assert "新主管" in page
    assert count(app) == before + 3
    assert everyone(app)["n201"]["manager"] == "n203"


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_admin_upload_reports_bad_rows_and_writes_nothing(
    app: Flask, hr: FlaskClient, kind: str
) -> None:
    before = everyone(app)
    data = csv_bytes(HEADER, BAD) if kind == "csv" else xlsx_bytes(HEADER, BAD)
    outcome = imported(hr, f"bad.{kind}", data)
    listed = row_problems(outcome)
    assert sorted(listed) == sorted(BAD_ROWS)
    for row, token in BAD_ROWS.items():
        assert token in listed[row], listed[row]
    assert flashes(outcome, "error")
    assert everyone(app) == before


def test_admin_upload_with_chinese_headers_and_reimport_updates(
    app: Flask, hr: FlaskClient, as_user: Any
) -> None:
    header = ["工号", "姓名", "部门", "岗位", "上级", "邮箱"]  # the order does not matter
    first = [["n501", "王新", "marketing", "marketing_specialist", "m100", "n501@demo.opsperf"]]
    assert upload(hr, "新员工.csv", csv_bytes(header, first)).status_code == 302
    total = count(app)
    assert everyone(app)["n501"]["position"] == "marketing_specialist"

    # one file updates two known people and creates nobody
    again = [
        ["n501", "王新新", "marketing", "brand_manager", "m100", "wangxin@demo.opsperf"],
        ["s101", "李娜", "sales", "key_account_manager", "s100", "s101@demo.opsperf"],
    ]
    response = upload(hr, "更新.xlsx", xlsx_bytes(header, again))
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    assert count(app) == total
    got = everyone(app)
    assert (got["n501"]["name"], got["n501"]["position"], got["n501"]["email"]) == (
        "王新新",
        "brand_manager",
        "wangxin@demo.opsperf",
    )
    assert got["s101"]["position"] == "key_account_manager"
    assert as_user("s101")  # a re-import without a password column keeps the password


def test_admin_upload_refuses_other_files(app: Flask, hr: FlaskClient) -> None:
    before = count(app)
    response = upload(hr, "people.txt", b"employee_no,name\n")
    assert response.status_code == 302
    assert flashes(hr.get("/admin/people").get_data(as_text=True), "error")
    for name, data in (
        ("people.csv", b""),
        ("people.xlsx", b"this is not a spreadsheet"),
        ("people.csv", csv_bytes(["employee_no", "name"], [["n601", "甲"]])),
    ):
        outcome = imported(hr, name, data)
        assert flashes(outcome, "error"), name
    response = hr.post("/admin/people", data={}, content_type="multipart/form-data")
    assert response.status_code == 302
    assert count(app) == before


def test_only_hr_and_admins_import(app: Flask, as_user: Any, staff: dict[str, int]) -> None:
    before = count(app)
    response = upload(as_user("s101"), "people.csv", csv_bytes(HEADER, GOOD))
    assert response.status_code == 403
    assert as_user("s101").get("/admin/people").status_code == 403
    assert count(app) == before


# --------------------------------------------------------------------------- the service


def test_read_rows_maps_chinese_headers(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    # Excel writes a BOM in front of UTF-8 CSV files
    path.write_bytes(
        b"\xef\xbb\xbf"
        + csv_bytes([*CHINESE[:6], "Roles"], [["a1", "甲", "", "sales", "", "", "hr"]])
    )
    assert people.read_rows(path) == [
        {
            "_row": "2",
            "employee_no": "a1",
            "name": "甲",
            "email": "",
            "department": "sales",
            "position": "",
            "manager": "",
            "roles": "hr",
        }
    ]


def test_service_reports_every_bad_row(app: Flask, staff: dict[str, int]) -> None:
    rows = [dict(zip(HEADER, row, strict=True)) for row in BAD]
    with app.app_context():
        defs = app.extensions["opsperf.registry"].current
        result = people.import_people(defs, rows, password_method="pbkdf2:sha256:1000")
        assert (result.created, result.updated) == (0, 0)
        by_row = {p.row: str(p) for p in result.problems}
        assert sorted(by_row) == sorted(BAD_ROWS)
        assert all(token in by_row[row] for row, token in BAD_ROWS.items()), by_row
        assert "own manager" in str(
            people.import_people(
                defs,
                [{**rows[0], "manager": "n301"}],
                password_method="pbkdf2:sha256:1000",
            ).problems[0]
        )
    assert "n301" not in everyone(app)


# --------------------------------------------------------------------------- known bugs


def test_a_repeated_email_in_the_file_is_a_row_problem(app: Flask, hr: FlaskClient) -> None:
    before = count(app)
    rows = [GOOD[0], [*GOOD[1][:2], "N201@demo.opsperf", *GOOD[1][3:]], GOOD[2]]
    assert 3 in row_problems(imported(hr, "people.csv", csv_bytes(HEADER, rows)))
    assert count(app) == before


def test_an_email_of_another_person_is_a_row_problem(app: Flask, hr: FlaskClient) -> None:
    before = count(app)
    rows = [["n701", "撞邮箱", "S101@demo.opsperf", "sales", "sales_rep", "s100", ""]]
    assert 2 in row_problems(imported(hr, "people.csv", csv_bytes(HEADER, rows)))
    assert count(app) == before


def test_a_csv_that_is_not_utf8_gets_a_clear_answer(app: Flask, hr: FlaskClient) -> None:
    before = count(app)
    data = csv_bytes(CHINESE[:6], [["n801", "王小二", "n801@demo.opsperf", "sales", "sales_rep",
                                    "s100"]], encoding="gbk")  # fmt: skip
    response = upload(hr, "people.csv", data)
    assert response.status_code in (302, 422)
    if response.status_code == 302:
        page = hr.get("/admin/people").get_data(as_text=True)
        assert flashes(page, "error") or "王小二" in page
    assert count(app) in (before, before + 1)


def test_xlsx_row_numbers_are_the_sheet_row_numbers(app: Flask, hr: FlaskClient) -> None:
    rows = [GOOD[2], ["", "", "", "", "", "", ""], BAD[1]]  # sheet rows 2, 3 (blank), 4
    listed = row_problems(imported(hr, "people.xlsx", xlsx_bytes(HEADER, rows)))
    assert list(listed) == [4], listed
    assert "nowhere" in listed[4]


def test_reimport_without_a_roles_column_keeps_roles(
    app: Flask, hr: FlaskClient, as_user: Any
) -> None:
    header = ["employee_no", "name", "email", "department", "position", "manager"]
    rows = [["hr01", "王芳", "hr01@demo.opsperf", "company", "", "ceo"]]
    assert upload(hr, "people.csv", csv_bytes(header, rows)).status_code == 302
    assert everyone(app)["hr01"]["roles"] == ["hr"]
    assert as_user("hr01").get("/admin/people").status_code == 200


# --------------------------------------------------------------------------- identity and org


def _import(app: Flask, rows: list[dict[str, str]]) -> list[str]:
    with app.app_context():
        defs = app.extensions["opsperf.registry"].current
        result = people.import_people(defs, rows, password_method="pbkdf2:sha256:1000")
        return [str(p) for p in result.problems]


def _person(no: str, manager: str = "", email: str = "", password: str = "") -> dict[str, str]:
    return {
        "employee_no": no,
        "name": f"员工{no}",
        "email": email,
        "department": "sales",
        "position": "sales_rep",
        "manager": manager,
        "password": password,
    }


def test_a_log_in_name_leads_to_one_person(app: Flask, staff: dict[str, int]) -> None:
    """Employee numbers and e-mails are one namespace, whatever the letter case."""
    before = everyone(app)
    admin_email = "admin@demo.opsperf"
    for rows, row in (
        ([_person(admin_email)], 2),  # an employee number that is someone's e-mail
        ([_person("S101")], 2),  # an employee number in another letter case
        ([_person("n801"), _person("N801")], 3),  # two numbers that differ only in case
        ([_person("n802", email="n803@example.com"), _person("n803@example.com")], 2),
    ):
        found = _import(app, rows)
        assert found, rows
        assert found[0].startswith(f"row {row}: log-in name"), found
    assert everyone(app) == before
    assert not _import(app, [_person("n804", email="n804@example.com")])  # one's own is fine


def test_log_in_names_match_whatever_the_case(app: Flask, staff: dict[str, int]) -> None:
    assert not _import(app, [_person("Ab901", email="Ab901.Mail@Example.com", password="pw-1234")])
    for name in ("Ab901", "ab901", "AB901", "ab901.mail@example.com", "AB901.MAIL@EXAMPLE.COM"):
        client = app.test_client()
        response = client.post("/login", data={"login": name, "password": "pw-1234"})
        assert response.status_code == 302, name


def test_managers_may_not_go_round_in_a_circle(app: Flask, staff: dict[str, int]) -> None:
    before = everyone(app)
    two = [_person("c1", manager="c2"), _person("c2", manager="c1")]
    found = _import(app, two)
    assert len(found) == 1
    assert "circle" in found[0]
    assert "c1 → c2 → c1" in found[0] or "c2 → c1 → c2" in found[0]
    three = [_person("d1", manager="d2"), _person("d2", manager="d3"), _person("d3", manager="d1")]
    assert "circle" in _import(app, three)[0]
    # through people already there: s100 manages s101; make s100 report to a new s101 report
    closing = [_person("e1", manager="s101"), {**_person("s100", manager="e1"), "position": ""}]
    found = _import(app, closing)
    assert found
    assert "s100" in found[0]
    assert "circle" in found[0]
    assert everyone(app) == before
    chain = [_person("f1", manager="s100"), _person("f2", manager="f1")]
    assert not _import(app, chain)  # a chain is fine


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_files_over_the_row_limit_are_refused_before_they_are_read_through(
    app: Flask, hr: FlaskClient, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(people, "MAX_ROWS", 20)
    before = count(app)
    rows = [[f"r{n}", f"员工{n}", "", "sales", "sales_rep", "s100", ""] for n in range(21)]
    make = csv_bytes if kind == "csv" else xlsx_bytes
    page = imported(hr, f"people.{kind}", make(HEADER, rows))
    assert "20" in page
    assert count(app) == before
    # a sheet of mostly empty rows costs a bounded read (5 × the limit), then is refused
    blank = [["", "", "", "", "", "", ""]] * 200
    page = imported(hr, f"people.{kind}", make(HEADER, [*rows[:3], *blank]))
    assert "20" in page
    assert count(app) == before
    exact = imported(hr, f"people.{kind}", make(HEADER, rows[:20]))
    assert not row_problems(exact)
    assert count(app) == before + 20


def test_a_file_over_the_size_limit_is_refused(
    app: Flask, hr: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(people, "MAX_BYTES", 1_000)
    rows = [[f"q{n}", f"员工{n}", "", "sales", "sales_rep", "s100", ""] for n in range(50)]
    page = imported(hr, "people.csv", csv_bytes(HEADER, rows))
    assert "MB" in page
    assert "q1" not in everyone(app)

"""Passwords people choose: set-password links (one person, or a sheet for everyone without a
password), changing one's own password, and what each does to existing sessions."""

from __future__ import annotations

import io
import re
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from openpyxl import load_workbook

from opsperf.persistence.models import User, db
from opsperf.services import exports, passwords, people
from tests.conftest import FAST_HASH, login

NEWCOMERS = [
    {
        "employee_no": f"n{i:03d}",
        "name": name,
        "email": f"n{i:03d}@demo.opsperf",
        "department": "sales",
        "position": "sales_rep",
        "manager": "s100",
    }
    for i, name in enumerate(["新人甲", "新人乙", '=HYPERLINK("http://x")'], start=1)
]
NEW_PASSWORD = "Spring-2027-ok"


@pytest.fixture
def newcomers(app: Flask, staff: dict[str, int]) -> dict[str, int]:
    with app.app_context():
        defs = app.extensions["opsperf.registry"].current
        result = people.import_people(defs, NEWCOMERS, password_method=FAST_HASH)
        assert not result.problems, result.problems
        return {u.employee_no: u.id for u in db.session.query(User)}


def _link(client: FlaskClient, person_id: int) -> str:
    response = client.post(f"/admin/people/{person_id}/password-link")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    match = re.search(r'value="(http://localhost/password/set/[^"]+)"', response.get_data(True))
    assert match, response.get_data(as_text=True)
    return match.group(1).removeprefix("http://localhost")


def _can_log_in(app: Flask, who: str, password: str) -> bool:
    response = app.test_client().post("/login", data={"login": who, "password": password})
    return response.status_code == 302


def test_a_new_person_sets_their_password_through_a_link_once(
    app: Flask, as_user: Any, newcomers: dict[str, int]
) -> None:
    assert not _can_log_in(app, "n001", "")
    link = _link(as_user("hr01"), newcomers["n001"])
    visitor = app.test_client()
    page = visitor.get(link)
    assert page.status_code == 200
    assert "新人甲" in page.get_data(as_text=True)
    refused = {
        "short": {"new": "abc", "again": "abc"},
        "differ": {"new": NEW_PASSWORD, "again": NEW_PASSWORD + "x"},
        "login": {"new": "N001@demo.opsperf", "again": "N001@demo.opsperf"},
        "control": {"new": "abcdefgh\x00", "again": "abcdefgh\x00"},
    }
    for data in refused.values():
        response = visitor.post(link, data=data)
        assert response.status_code == 422
        assert 'class="flash flash-error"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, newcomers["n001"]).password_hash == ""
    done = visitor.post(link, data={"new": NEW_PASSWORD, "again": NEW_PASSWORD})
    assert done.status_code == 302
    assert done.headers["Location"].startswith("/login")
    assert _can_log_in(app, "n001", NEW_PASSWORD)
    assert visitor.get(link).status_code == 404  # used: the fingerprint changed
    again = visitor.post(link, data={"new": "Another-pass-9", "again": "Another-pass-9"})
    assert again.status_code == 404
    assert _can_log_in(app, "n001", NEW_PASSWORD)


def test_links_end_when_the_person_is_signed_out_everywhere_or_after_their_days(
    app: Flask, as_user: Any, newcomers: dict[str, int]
) -> None:
    admin = as_user("admin")
    link = _link(admin, newcomers["n002"])
    assert admin.post(f"/admin/people/{newcomers['n002']}/sign-out").status_code == 302
    assert app.test_client().get(link).status_code == 404
    link = _link(admin, newcomers["n002"])
    assert app.test_client().get(link).status_code == 200
    with app.app_context():
        person = db.session.get(User, newcomers["n002"])
        old = _token_made_at(person, app.secret_key, time.time() - 15 * 86400)
    assert app.test_client().get(f"/password/set/{old}").status_code == 404
    assert app.test_client().get("/password/set/not-a-token").status_code == 404
    forged = URLSafeTimedSerializer("a-guessed-key", salt=passwords.SALT).dumps([1, "x"])
    assert app.test_client().get(f"/password/set/{forged}").status_code == 404


def _token_made_at(person: User, secret: Any, when: float) -> str:
    class Then(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(when)

    serializer = URLSafeTimedSerializer(secret, salt=passwords.SALT, signer=Then)
    return serializer.dumps([person.id, passwords._fingerprint(person)])


def test_resetting_a_set_password_is_for_administrators(
    app: Flask, as_user: Any, staff: dict[str, int]
) -> None:
    hr = as_user("hr01")
    assert hr.post(f"/admin/people/{staff['s101']}/password-link").status_code == 403
    assert as_user("s100").post(f"/admin/people/{staff['s102']}/password-link").status_code == 403
    s101 = as_user("s101")
    link = _link(as_user("admin"), staff["s101"])
    assert s101.get("/").status_code == 200  # the old password and session go on until used
    response = app.test_client().post(link, data={"new": NEW_PASSWORD, "again": NEW_PASSWORD})
    assert response.status_code == 302
    assert s101.get("/").status_code == 302  # a new password ends every session
    assert _can_log_in(app, "s101", NEW_PASSWORD)
    assert not _can_log_in(app, "s101", "demo1234")


def test_changing_ones_password_keeps_this_session_and_ends_the_others(
    app: Flask, as_user: Any, staff: dict[str, int]
) -> None:
    here, elsewhere = as_user("s102"), as_user("s102")
    assert here.get("/password").status_code == 200
    wrong = {"current": "not-it", "new": NEW_PASSWORD, "again": NEW_PASSWORD}
    assert here.post("/password", data=wrong).status_code == 422
    short = {"current": "demo1234", "new": "short", "again": "short"}
    assert here.post("/password", data=short).status_code == 422
    assert _can_log_in(app, "s102", "demo1234")
    good = {"current": "demo1234", "new": NEW_PASSWORD, "again": NEW_PASSWORD}
    response = here.post("/password", data=good)
    assert response.status_code == 302
    assert here.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 302
    assert _can_log_in(app, "s102", NEW_PASSWORD)
    assert not _can_log_in(app, "s102", "demo1234")


def test_guessing_the_current_password_is_throttled_like_a_log_in(
    app: Flask, as_user: Any, staff: dict[str, int]
) -> None:
    client = as_user("s103")
    wrong = {"current": "guess", "new": NEW_PASSWORD, "again": NEW_PASSWORD}
    codes = [client.post("/password", data=wrong).status_code for _ in range(6)]
    assert codes == [422] * 5 + [429]
    right = {"current": "demo1234", "new": NEW_PASSWORD, "again": NEW_PASSWORD}
    response = client.post("/password", data=right)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0


def test_a_sheet_of_links_for_everyone_without_a_password(
    app: Flask, as_user: Any, newcomers: dict[str, int]
) -> None:
    hr = as_user("hr01")
    page = hr.get("/admin/people").get_data(as_text=True)
    assert "3 名在职人员尚未设置密码" in page or "3 active people have no password yet" in page
    response = hr.post("/admin/people/password-links", data={"department": "sales"})
    assert response.status_code == 302
    job = response.headers["Location"]
    assert "下载表格" in hr.get(job).get_data(as_text=True)
    sheet = hr.get(f"{job}/file")
    assert sheet.status_code == 200
    assert sheet.headers["Content-Disposition"].startswith("attachment")
    rows = list(load_workbook(io.BytesIO(sheet.data)).active.iter_rows(values_only=True))
    assert rows[0] == ("工号", "姓名", "部门", "邮箱", "设置密码链接")
    by_number = {r[0]: r for r in rows[1:]}
    assert sorted(by_number) == ["n001", "n002", "n003"]  # the staff all have passwords
    assert by_number["n001"][2] == "销售部"
    assert by_number["n003"][1] == '\'=HYPERLINK("http://x")'  # shown as text, never run
    link = str(by_number["n003"][4]).removeprefix("http://localhost")
    done = app.test_client().post(link, data={"new": NEW_PASSWORD, "again": NEW_PASSWORD})
    assert done.status_code == 302
    assert _can_log_in(app, "n003", NEW_PASSWORD)
    assert as_user("s101").get(f"{job}/file").status_code == 403
    assert hr.get("/jobs/999999/file").status_code == 404


def test_a_job_without_a_file_has_nothing_to_download(
    app: Flask, as_user: Any, staff: dict[str, int]
) -> None:
    hr = as_user("hr01")
    bad = b"employee_no,name,email,department,position,manager\nx1,X,x1@a.b,nowhere,,\n"
    response = hr.post("/admin/people", data={"file": (io.BytesIO(bad), "people.csv")})
    assert response.status_code == 302
    assert hr.get(response.headers["Location"] + "/file").status_code == 404


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+86 138", "'+86 138"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("张三", "张三"),
        (12.5, 12.5),
    ],
)
def test_spreadsheet_cells_never_run_as_formulas(value: Any, shown: Any) -> None:
    assert exports.safe_cell(value) == shown


def test_login_is_still_possible_for_imported_passwords(app: Flask, staff: dict[str, int]) -> None:
    assert login(app.test_client(), "s101").get("/").status_code == 200

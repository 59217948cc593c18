"""Sales commission with accelerators: an incentive policy without grades whose bonus reads KPI
values and person attributes (quota, monthly salary) through progressive tiers, capped at three
months' salary. Person attributes come from the people import and are never shown to readers
their declaration leaves out."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from opsperf.persistence.models import User, db
from tests.helpers import (
    appraisal,
    appraisal_of,
    diagnostics_after,
    example,
    fire,
    launch,
    save,
    write_pack,
)

PASSWORD = "commission-1"
PACK = example("sales_commission")
PEOPLE = (
    "工号,姓名,邮箱,部门,岗位,上级,roles,password,月薪,销售指标\n"
    f"d100,销售总监周敏,d100@s.example,sales,director,,hr,{PASSWORD},50000,3000000\n"
    f"r101,销售代表何军,r101@s.example,sales,rep,d100,,{PASSWORD},20000,1000000\n"
    f'r102,销售代表许晴,r102@s.example,sales,rep,d100,,{PASSWORD},"18,000",1000000\n'
).encode()


@pytest.fixture
def definition_roots(tmp_path: Path) -> list[str]:
    return write_pack(tmp_path / "defs", PACK)


@pytest.fixture
def login(app: Flask) -> Any:
    admin = {"employee_no": "root", "name": "管理员", "department": "sales", "roles": "admin,hr"}
    with app.app_context():
        from opsperf.services import people

        defs = app.extensions["opsperf.registry"].current
        result = people.import_people(defs, [{**admin, "password": PASSWORD}])
        assert not result.problems, result.problems

    def make(employee_no: str) -> Any:
        client = app.test_client()
        response = client.post("/login", data={"login": employee_no, "password": PASSWORD})
        assert response.status_code == 302
        return client

    upload = make("root").post("/admin/people", data={"file": (io.BytesIO(PEOPLE), "p.csv")})
    assert upload.status_code == 302
    with app.app_context():
        salaries = {u.employee_no: u.attributes for u in db.session.query(User)}
    assert salaries["r102"] == {"monthly_salary": 18000.0, "quota": 1000000.0}
    assert launch(make("d100"), ["sales"], workflow="monthly").status_code == 302
    return make


def _commission(login: Any, employee_no: str, revenue: str) -> Any:
    rep, director = login(employee_no), login("d100")
    a = appraisal_of(employee_no).id
    assert save(rep, a, {"kpis-revenue-actual": revenue}).status_code == 302
    assert fire(rep, a, "submit").status_code == 302
    assert fire(director, a, "review").status_code == 302
    assert fire(director, a, "rate").status_code == 302
    return appraisal(a)


@pytest.mark.parametrize(
    ("who", "revenue", "bonus"),
    [
        # attainment 1.2: 1.0 × 3 % + 0.2 × 5 % = 4 % of the 1,000,000 quota
        ("r101", "1200000", 40000.0),
        # attainment 1.8: 3 % + 0.5 × 5 % + 0.3 × 8 % = 7.9 % → 79,000, capped at 3 × 18,000
        ("r102", "1800000", 54000.0),
        # attainment 0.5: 0.5 × 3 % = 1.5 % → 15,000
        ("r101", "500000", 15000.0),
    ],
    ids=["accelerated", "capped", "below quota"],
)
def test_commission_from_quota_and_tiers(login: Any, who: str, revenue: str, bonus: float) -> None:
    stored = _commission(login, who, revenue)
    assert stored.state == "feedback"
    assert stored.bonus == bonus
    assert stored.grade is None  # the policy has no grades
    assert "grade" not in stored.result


def test_the_salary_is_shown_only_to_those_who_may_read_it(login: Any) -> None:
    stored = _commission(login, "r102", "1800000")
    for who, sees_salary in (("r102", False), ("d100", True)):
        data = login(who).get(f"/api/v1/appraisals/{stored.id}").get_json()
        read = data["result"]["bonus"]["inputs"]["read"]
        assert read["person.quota"] == 1000000.0  # employee and manager may read the quota
        assert ("person.monthly_salary" in read) is sees_salary
        # the formula names person attributes, never shows them
        assert not re.search(r"(?<![\d,])18,?000(?![\d,])", data["result"]["bonus"]["formula"])
    page = login("r102").get(f"/appraisals/{stored.id}").get_data(as_text=True)
    assert not re.search(r"(?<![\d,])18,?000(?![\d,.])", page)
    assert "54,000" in page


def test_a_bad_attribute_value_is_a_row_problem(login: Any, app: Flask) -> None:
    bad = PEOPLE.replace(b'"18,000"', b"lots")
    response = login("root").post("/admin/people", data={"file": (io.BytesIO(bad), "p.csv")})
    page = login("root").get(response.headers["Location"]).get_data(as_text=True)
    assert "第 4 行" in page
    assert "月薪 (monthly_salary) 必须是数字，而不是“lots”" in page


def test_hr_edits_attributes_on_the_admin_page(login: Any, app: Flask) -> None:
    with app.app_context():
        r102 = db.session.query(User).filter_by(employee_no="r102").one().id
    url = f"/admin/people/{r102}/attributes"
    assert login("r101").get(url).status_code == 403
    assert login("r101").post(url, data={"attr-monthly_salary": "1"}).status_code == 403
    hr = login("root")
    form = hr.get(url).get_data(as_text=True)
    assert 'value="18000"' in form
    assert 'value="1000000"' in form
    assert "月薪" in form
    people = hr.get("/admin/people").get_data(as_text=True)
    assert url in people
    assert "月薪" in people
    # a wrong value is refused beside its field and nothing is stored, not even the good one
    bad = hr.post(url, data={"attr-monthly_salary": "很多", "attr-quota": "2000000"})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "月薪 (monthly_salary) 必须是数字，而不是“很多”" in text
    assert 'value="很多"' in text
    assert 'value="2000000"' in text
    with app.app_context():
        assert db.session.get(User, r102).attributes == {"monthly_salary": 18000.0, "quota": 1e6}
    too_long = hr.post(url, data={"attr-monthly_salary": "1" * 300, "attr-quota": "1"})
    assert too_long.status_code == 422
    assert "最多 200 个字符" in too_long.get_data(as_text=True)
    # the right values are stored (an empty field clears one)
    saved = hr.post(url, data={"attr-monthly_salary": "20,000", "attr-quota": ""})
    assert saved.status_code == 302
    assert "/admin/people" in saved.headers["Location"]
    with app.app_context():
        assert db.session.get(User, r102).attributes == {"monthly_salary": 20000.0, "quota": None}
    assert hr.post("/admin/people/999999/attributes", data={}).status_code == 404


@pytest.mark.parametrize(
    ("path", "old", "new", "message"),
    [
        (
            "workflows/commission.yaml",
            "person.monthly_salary * 3",
            "person.salary * 3",
            "'person' has no 'salary'; did you mean 'monthly_salary'?",
        ),
        (
            "workflows/commission.yaml",
            "bonus_cap:",
            "grades: []\nbonus_multiplier_cap:",
            "unknown key 'bonus_multiplier_cap'",
        ),
        (
            "workflows/commission.yaml",
            'bonus_cap: "person.monthly_salary * 3"',
            'bonus_cap: "grade"',
            "reads grade, but the policy has no grades",
        ),
        ("org/person.yaml", "read: [hr]}", "read: [hr, auditor]}", "unknown role 'auditor'"),
        ("org/person.yaml", "id: quota", "id: email", "'email' is a column of the people import"),
    ],
    ids=["unknown attribute", "unknown key", "grade without grades", "unknown role", "reserved"],
)
def test_the_checker_knows_policies_and_attributes(
    tmp_path: Path, path: str, old: str, new: str, message: str
) -> None:
    assert message in diagnostics_after(tmp_path, PACK, path, old, new)

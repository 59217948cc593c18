"""Where a custom role counts: the whole company unless its declaration narrows the scope.

采购部 declares ``finance`` (company-wide), 客户支持中心 declares ``qa`` (its subtree) and
``coach`` (the department only); 华东客服组 sits below 客户支持中心. One workflow offers a
sign-off to each role. Holders act where the role counts, wherever they themselves work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from opsperf.definitions.loader import load
from opsperf.persistence.models import User, db
from opsperf.services import people
from tests.conftest import FAST_HASH
from tests.helpers import appraisal_of, fire, launch

ROOT = Path(__file__).parent / "fixtures" / "role_scopes"
ROOTS = [str(ROOT / name) for name in ("org", "forms", "workflows")]
PASSWORD = "scope-test-1"

# employee_no, name, department, position, manager, roles
PEOPLE = [
    ("boss", "周总", "company", "", "", "hr"),
    ("p1", "采购主管老李", "purchasing", "buyer_lead", "boss", ""),
    ("fin", "财务小赵", "purchasing", "buyer", "p1", "finance"),
    ("qa1", "质检小吴", "purchasing", "buyer", "p1", "qa"),
    ("s1", "客服经理王芳", "support", "support_head", "boss", ""),
    ("s2", "客服专员刘洋", "support", "agent", "s1", ""),
    ("e1", "华东组长陈静", "support_east", "east_lead", "s1", "coach"),
    ("e2", "华东专员孙磊", "support_east", "agent", "e1", ""),
]
NUMBER = {name: no for no, name, *_rest in PEOPLE}


@pytest.fixture
def definition_roots() -> list[str]:
    return ROOTS


@pytest.fixture
def crew(app: Flask) -> None:
    rows = [
        {
            "employee_no": no,
            "name": name,
            "email": f"{no}@scope.example",
            "department": dept,
            "position": position,
            "manager": manager,
            "roles": roles,
            "password": PASSWORD,
        }
        for no, name, dept, position, manager, roles in PEOPLE
    ]
    with app.app_context():
        defs = app.extensions["opsperf.registry"].current
        result = people.import_people(defs, rows, password_method=FAST_HASH)
        assert not result.problems, result.problems
        assert db.session.query(User).count() == len(PEOPLE)


@pytest.fixture
def login(app: Flask, crew: None) -> Any:
    def make(employee_no: str) -> Any:
        client = app.test_client()
        response = client.post("/login", data={"login": employee_no, "password": PASSWORD})
        assert response.status_code == 302
        return client

    return make


@pytest.fixture
def at_sign_off(login: Any) -> Any:
    """Everyone's appraisal waiting for the sign-offs."""
    assert launch(login("boss"), ["company"], workflow="w").status_code == 302
    for no, *_rest, manager, _roles in PEOPLE:
        if not manager:
            continue
        a = appraisal_of(no).id
        assert fire(login(no), a, "submit").status_code == 302
        assert fire(login(manager), a, "review").status_code == 302
        assert appraisal_of(no).state == "assess"
    return login


def _sign_offs(client: Any) -> dict[str, set[str]]:
    """The person's sign-off tasks: appraised employee number → triggers."""
    tasks = client.get("/api/v1/tasks").get_json()
    out: dict[str, set[str]] = {}
    for t in tasks:
        employee = NUMBER[t["employee"]]
        out[employee] = {a["trigger"] for a in t["actions"] if a["kind"] == "approve"}
    return {k: v for k, v in out.items() if v}


def test_each_scope_reaches_exactly_its_departments(at_sign_off: Any) -> None:
    login = at_sign_off
    appraised = {"p1", "fin", "qa1", "s1", "s2", "e1", "e2"}
    # finance: company-wide; its holder in 采购部 signs off everyone but herself
    assert _sign_offs(login("fin")) == {no: {"finance_ok"} for no in appraised - {"fin"}}
    # qa: 客户支持中心 and below, held by someone in 采购部
    assert _sign_offs(login("qa1")) == {no: {"qa_ok"} for no in ("s1", "s2", "e1", "e2")}
    # coach: 客户支持中心 only, held by someone below it (not her own group)
    assert _sign_offs(login("e1")) == {no: {"coach_ok"} for no in ("s1", "s2")}


def test_a_company_role_signs_off_another_department(at_sign_off: Any) -> None:
    login = at_sign_off
    a = appraisal_of("e2")
    assert fire(login("fin"), a.id, "finance_ok", kind="approve").status_code == 302
    assert appraisal_of("e2").state == "feedback"


def test_a_role_outside_its_scope_can_neither_open_nor_sign(at_sign_off: Any) -> None:
    login = at_sign_off
    own_group = appraisal_of("e2")  # coach counts in 客户支持中心 only, not in 华东客服组
    coach = login("e1")  # e2's manager and group lead: may open the page, not as a coach
    roles = coach.get(f"/api/v1/appraisals/{own_group.id}").get_json()["your_roles"]
    assert roles == ["dept_head", "manager"]
    assert fire(coach, own_group.id, "coach_ok", kind="approve").status_code == 403
    buyer = appraisal_of("p1")  # qa does not count in 采购部
    qa = login("qa1")
    assert qa.get(f"/appraisals/{buyer.id}").status_code == 403
    assert fire(qa, buyer.id, "qa_ok", kind="approve").status_code == 403
    assert appraisal_of("p1").state == appraisal_of("e2").state == "assess"


def test_the_checker_warns_where_a_workflow_names_a_role_that_cannot_count() -> None:
    result = load([Path(r) for r in ROOTS])
    assert result.ok
    warned = {
        d.message.split("department '")[1].split("'")[0]: d.message
        for d in result.diagnostics
        if "do not count" in d.message
    }
    assert set(warned) == {"purchasing", "support_east"}
    assert "'coach' (declared by 'support' with scope: department)" in warned["purchasing"]
    assert "'qa' (declared by 'support' with scope: subtree)" in warned["purchasing"]
    assert "'qa'" not in warned["support_east"]  # qa counts below 客户支持中心


def test_a_role_is_declared_once(tmp_path: Path) -> None:
    for name in ("org", "forms", "workflows"):
        (tmp_path / name).mkdir()
        for f in (ROOT / name).iterdir():
            (tmp_path / name / f.name).write_text(f.read_text("utf-8"), "utf-8")
    company = tmp_path / "org" / "company.yaml"
    text = company.read_text("utf-8").replace(
        "  - {id: coach,", "  - {id: finance, name: 财务}\n  - {id: coach,"
    )
    company.write_text(text, "utf-8")
    result = load([tmp_path / n for n in ("org", "forms", "workflows")])
    errors = [d.message for d in result.diagnostics if d.severity == "error"]
    assert errors == ["role 'finance' is already declared by department 'purchasing'"]

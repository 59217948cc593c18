"""Definition versions: running appraisals keep the definitions they started with.

A small support-desk set (客服部) is written to a temp folder. The tests edit it while the app
runs: (a) a new form version reaches new cycles only; (b) a broken edit keeps the last good set
live and is shown on the definitions page at file:line, and a fix recovers; (c) an appraisal
whose workflow file is renamed away or deleted still opens and can be walked to the end.
"""

from __future__ import annotations

import html as htmllib
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from opsperf.config import PROJECT_ROOT
from opsperf.definitions.registry import Registry
from opsperf.persistence.models import Appraisal, Snapshot, User, db
from opsperf.services import demo, people
from tests.conftest import make_app
from tests.helpers import appraisal, fire, kpi_data, launch, problems, save

FAST_HASH = "pbkdf2:sha256:1000"
PASSWORD = "pw-123456"

COMPANY = """\
kind: Department
id: corp
version: 1
name: {zh: 集团, en: Group}
"""
SUPPORT = """\
kind: Department
id: support
version: 1
name: {zh: 客服部, en: Support}
parent: corp
head: support_lead
bonus_coefficient: 1.0
positions:
  - {id: agent, name: {zh: 客服专员, en: Agent}, form: ticket_form, workflow: ticket_review}
  - {id: support_lead, name: {zh: 客服主管, en: Support lead}, form: ticket_form,
     workflow: ticket_review}
"""
FORM_V1 = """\
kind: Form
id: ticket_form
version: 1
title: {zh: 客服考核表, en: Support appraisal}
period: quarter
sections:
  - id: goals
    title: 指标
    fields:
      - id: kpis
        type: kpi_table
        label: KPI
        kpis:
          - {id: resolved, name: 工单解决率, unit: "%", weight: 60, target: 100}
          - {id: csat, name: 客户满意度, unit: "%", weight: 40, target: 90}
  - id: review
    title: 评价
    fields:
      - {id: rating, type: rating, scale: 5, label: 主管评分}
"""
# v2: weights 60/40 → 70/30 and the csat target 90 → 80
FORM_V2 = "# v2: weights 70/30, csat target 80\n" + (
    FORM_V1.replace("version: 1", "version: 2")
    .replace("weight: 60, target: 100", "weight: 70, target: 100")
    .replace("weight: 40, target: 90", "weight: 30, target: 80")
)
WORKFLOW = """\
kind: Workflow
id: ticket_review
version: 1
name: {zh: 客服季度考核, en: Support quarterly review}
states:
  plan: {edit: {employee: [kpis.target]}}
  monitor: {edit: {employee: [kpis.actual]}}
  assess: {edit: {manager: [review]}}
  feedback: {}
  closed: {final: true}
transitions:
  - {trigger: agree, source: plan, dest: monitor, roles: [employee]}
  - {trigger: close_period, source: monitor, dest: assess, roles: [hr], actions: [compute_scores]}
  - {trigger: rate, source: assess, dest: feedback, roles: [manager], actions: [compute_scores]}
  - {trigger: confirm, source: feedback, dest: closed, roles: [employee]}
"""
POLICY = """\
kind: IncentivePolicy
id: support_bonus
version: 1
name: 客服奖金
workflow: ticket_review
base_bonus: 1000
grades:
  - {grade: S, min_score: 105, bonus_multiplier: 2}
  - {grade: A, min_score: 90, bonus_multiplier: 1.5}
  - {grade: B, min_score: 0, bonus_multiplier: 1}
"""
FILES = {
    "org/corp.yaml": COMPANY,
    "org/support.yaml": SUPPORT,
    "forms/ticket_form.yaml": FORM_V1,
    "workflows/ticket_review.yaml": WORKFLOW,
    "workflows/support_bonus.yaml": POLICY,
}
PEOPLE = [
    ("hr7", "人事", "corp", "", "", "hr"),
    ("sl01", "客服主管", "support", "support_lead", "", ""),
    ("sp01", "客服一号", "support", "agent", "sl01", ""),
]
ACTUALS = {"resolved": 110, "csat": 81}


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    root = tmp_path / "defs"
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def definition_roots(pack: Path) -> list[str]:
    return [str(pack / folder) for folder in ("org", "forms", "workflows")]


def _import(app: Flask, rows: list[tuple[str, ...]]) -> None:
    with app.app_context():
        defs = app.extensions["opsperf.registry"].current
        result = people.import_people(
            defs,
            [
                dict(
                    zip(
                        ("employee_no", "name", "department", "position", "manager", "roles"),
                        row,
                        strict=True,
                    ),
                    email=f"{row[0]}@support.example",
                    password=PASSWORD,
                )
                for row in rows
            ],
            password_method=FAST_HASH,
        )
        assert not result.problems, result.problems


@pytest.fixture
def login(app: Flask) -> Any:
    _import(app, PEOPLE)

    def make(employee_no: str) -> FlaskClient:
        client = app.test_client()
        response = client.post("/login", data={"login": employee_no, "password": PASSWORD})
        assert response.status_code == 302
        return client

    return make


def registry(app: Flask) -> Registry:
    return app.extensions["opsperf.registry"]  # type: ignore[no-any-return]


def ok(response: Any) -> None:
    assert response.status_code == 302, problems(response) or response.get_data(as_text=True)[:800]


def start_cycle(hr: FlaskClient, name: str, workflow: str = "ticket_review") -> int:
    """Launch a cycle over HTTP; the id of sp01's appraisal in it."""
    ok(launch(hr, ["support"], workflow=workflow, name=name))
    with hr.application.app_context():
        found = (
            db.session.query(Appraisal)
            .join(User, Appraisal.employee_id == User.id)
            .filter(User.employee_no == "sp01")
            .order_by(Appraisal.id.desc())
            .first()
        )
        assert found is not None
        return found.id


def form_version(app: Flask, appraisal_id: int) -> int:
    with app.app_context():
        a = db.session.get(Appraisal, appraisal_id)
        snap = db.session.get(Snapshot, a.form_snapshot_id)
        return snap.version


def reload_as(client: FlaskClient) -> str:
    """Press the reload button as ``client``; the definitions page shown afterwards."""
    response = client.post("/admin/definitions/reload")
    assert response.status_code == 302
    page = client.get("/admin/definitions")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def kpi_row(html: str, name: str) -> list[str]:
    """The cells of a KPI's row in the KPI table, as text: name, weight, target, actual, …"""
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        if f'<td class="kpi-name">{name}' in row:
            return [_cell_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    raise AssertionError(f"no KPI row {name}")


def _cell_text(cell: str) -> str:
    """An input's value, else the first word of the cell's text ('' when empty)."""
    given = re.search(r'<input[^>]*\svalue="([^"]*)"', cell)
    if given:
        return htmllib.unescape(given.group(1))
    words = htmllib.unescape(re.sub(r"<[^>]+>", " ", cell)).split()
    return words[0] if words else ""


def walk(login: Any, appraisal_id: int, rating: int = 4) -> None:
    """plan → monitor → assess → feedback → closed, by the people whose turn it is."""
    me, lead, hr = login("sp01"), login("sl01"), login("hr7")
    ok(fire(me, appraisal_id, "agree"))
    ok(save(me, appraisal_id, kpi_data("kpis", "actual", ACTUALS)))
    ok(fire(hr, appraisal_id, "close_period"))
    ok(save(lead, appraisal_id, {"rating": str(rating)}))
    ok(fire(lead, appraisal_id, "rate"))
    ok(fire(me, appraisal_id, "confirm"))
    assert appraisal(appraisal_id).state == "closed"


# --------------------------------------------------------------------------- (a) new version


def test_a_new_form_version_reaches_new_cycles_only(app: Flask, pack: Path, login: Any) -> None:
    hr = login("hr7")
    first = start_cycle(hr, "2026 Q3")
    assert registry(app).current.forms["ticket_form"].version == 1

    (pack / "forms/ticket_form.yaml").write_text(FORM_V2, encoding="utf-8")
    html = reload_as(hr)
    assert "flash-error" not in html
    assert registry(app).current.forms["ticket_form"].version == 2
    second = start_cycle(hr, "2026 Q4")

    assert (form_version(app, first), form_version(app, second)) == (1, 2)
    a1, a2 = appraisal(first), appraisal(second)
    assert a1.values["kpis"]["csat"]["target"] == 90
    assert a2.values["kpis"]["csat"]["target"] == 80
    with app.app_context():
        # unchanged definitions are pinned once and shared; the edited form got a new snapshot
        d1, d2 = (db.session.get(Appraisal, i) for i in (first, second))
        assert d1.department_snapshot_id == d2.department_snapshot_id
        assert d1.workflow_snapshot_id == d2.workflow_snapshot_id
        assert d1.form_snapshot_id != d2.form_snapshot_id

    me = login("sp01")
    old_page = me.get(f"/appraisals/{first}").get_data(as_text=True)
    new_page = me.get(f"/appraisals/{second}").get_data(as_text=True)
    assert kpi_row(old_page, "工单解决率")[1] == "60%"
    assert kpi_row(old_page, "客户满意度")[1] == "40%"
    assert kpi_row(new_page, "工单解决率")[1] == "70%"
    assert kpi_row(new_page, "客户满意度")[1] == "30%"

    # both walked after the edit, with the same actuals
    walk(login, first)
    walk(login, second)
    a1, a2 = appraisal(first), appraisal(second)
    old_page = me.get(f"/appraisals/{first}").get_data(as_text=True)
    assert kpi_row(old_page, "客户满意度")[1:4] == ["40%", "90", "81"]
    # v1: resolved min(110/100, 1.2) = 110 × 60% = 66; csat 81/90 = 90 × 40% = 36 → 102 → A
    #     bonus 1000 × 1.5 × 1.0 = 1500;  v2 below: S, 1000 × 2 × 1.0 = 2000
    assert (a1.score, a1.grade, a1.bonus) == (pytest.approx(102.0), "A", pytest.approx(1500))
    # v2: resolved 110 × 70% = 77; csat 81/80 = 101.25 × 30% = 30.375 → 30.38 → 107.38 → S
    assert (a2.score, a2.grade, a2.bonus) == (pytest.approx(107.38), "S", pytest.approx(2000))
    assert a1.result["definitions"]["form"]["version"] == 1
    assert a2.result["definitions"]["form"]["version"] == 2


def test_an_edit_is_picked_up_on_the_next_request(app: Flask, pack: Path, login: Any) -> None:
    registry(app).check_interval = 0  # DEFINITION_CHECK_INTERVAL = 0: look on every request
    hr = login("hr7")
    (pack / "forms/ticket_form.yaml").write_text(FORM_V2, encoding="utf-8")
    assert hr.get("/cycles/new").status_code == 200  # no reload button pressed
    assert registry(app).current.forms["ticket_form"].version == 2
    assert form_version(app, start_cycle(hr, "2026 Q4")) == 2


def test_the_check_interval_comes_from_the_configuration(definition_roots: list[str]) -> None:
    app = make_app(
        {
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "DEFINITION_ROOTS": definition_roots,
            "DEFINITION_CHECK_INTERVAL": 0,
        }
    )
    try:
        assert registry(app).check_interval == 0
        assert registry(app).current.forms["ticket_form"].version == 1
    finally:
        with app.app_context():
            db.engine.dispose()


# --------------------------------------------------------------------------- (b) broken edit


def _line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if needle in line)


BROKEN = {
    # an unknown key (a misspelt 'weight') in a KPI
    "unknown_key": (
        FORM_V2.replace("version: 2", "version: 3").replace("weight: 30", "wieght: 30"),
        "wieght",
        "unknown key 'wieght'",
    ),
    # a YAML syntax error: a flow mapping that is never closed
    "invalid_yaml": (
        FORM_V2.replace("version: 2", "version: 3").replace(
            "weight: 30, target: 80}", "weight: 30, target: 80"
        ),
        "id: csat",
        "is never closed",
    ),
}


@pytest.mark.parametrize("breakage", sorted(BROKEN))
def test_a_broken_edit_keeps_the_last_good_set_live(
    app: Flask, pack: Path, login: Any, breakage: str
) -> None:
    hr, me = login("hr7"), login("sp01")
    running = start_cycle(hr, "2026 Q3")
    form_file = pack / "forms/ticket_form.yaml"
    form_file.write_text(FORM_V2, encoding="utf-8")
    reload_as(hr)
    assert registry(app).current.forms["ticket_form"].version == 2

    text, needle, message = BROKEN[breakage]  # both on the csat KPI's line
    form_file.write_text(text, encoding="utf-8")
    html = reload_as(hr)
    reg = registry(app)
    assert reg.failed
    errors = [d for d in reg.diagnostics if d.severity == "error"]
    # the broken file is reported at the broken line (a form that cannot be read also makes
    # the positions naming it point at an unknown form: reported in their own file)
    in_form = [d for d in errors if d.path == str(form_file)]
    assert [d.line for d in in_form] == [_line_of(text, needle)]
    assert message in in_form[0].message
    for d in errors:
        assert f"{d.path}:{d.line}:{d.column}" in html
        assert d.message in htmllib.unescape(html)
    assert "flash-error" in html
    assert reg.current.forms["ticket_form"].version == 2  # the last good one, still live

    # the app still serves pages, and a new cycle runs on the last good version
    for page in ("/", "/cycles/new", f"/appraisals/{running}", "/admin/people"):
        assert hr.get(page).status_code == 200, page
    assert me.get(f"/appraisals/{running}").status_code == 200
    during = start_cycle(hr, "2026 Q4")
    assert form_version(app, during) == 2
    walk(login, running)  # the running appraisal (v1) is unaffected
    assert appraisal(running).score == pytest.approx(102.0)

    # fixing the file and reloading recovers
    form_file.write_text(FORM_V2.replace("version: 2", "version: 3"), encoding="utf-8")
    html = reload_as(hr)
    assert not reg.failed
    assert reg.diagnostics == []
    assert str(form_file) not in html
    assert reg.current.forms["ticket_form"].version == 3
    assert form_version(app, start_cycle(hr, "2027 Q1")) == 3


def test_reload_is_for_hr_and_admins_only(login: Any) -> None:
    me = login("sp01")
    assert me.post("/admin/definitions/reload").status_code == 403
    assert me.get("/admin/definitions").status_code == 403


# --------------------------------------------------------------------------- (c) workflow gone

RENAMED = (
    WORKFLOW.replace("id: ticket_review", "id: ticket_flow")
    .replace("closed: {final: true}", "archived: {final: true}")
    .replace("dest: closed", "dest: archived")
)


@pytest.mark.parametrize("how", ["renamed", "deleted"])
def test_a_running_appraisal_survives_its_workflow_file_going_away(
    app: Flask, pack: Path, login: Any, how: str
) -> None:
    hr = login("hr7")
    running = start_cycle(hr, "2026 Q3")
    ok(fire(login("sp01"), running, "agree"))
    (pack / "workflows/ticket_review.yaml").unlink()
    if how == "renamed":
        # a consistent set without 'ticket_review': it is gone from the live definitions
        (pack / "workflows/ticket_flow.yaml").write_text(RENAMED, encoding="utf-8")
        for name in ("org/support.yaml", "workflows/support_bonus.yaml"):
            path = pack / name
            text = path.read_text(encoding="utf-8")
            path.write_text(text.replace("ticket_review", "ticket_flow"), encoding="utf-8")
    html = reload_as(hr)
    reg = registry(app)
    if how == "renamed":
        assert not reg.failed, reg.diagnostics
        assert "ticket_review" not in reg.current.workflows
        assert "ticket_flow" in reg.current.workflows
        assert launch(hr, ["support"], workflow="ticket_review").status_code == 422
    else:
        assert reg.failed
        assert "unknown workflow 'ticket_review'" in htmllib.unescape(html)

    # the running appraisal opens and walks on its pinned workflow to its own final state
    assert appraisal(running).state == "monitor"
    for client in (hr, login("sp01"), login("sl01")):
        assert client.get(f"/appraisals/{running}").status_code == 200
    me, lead = login("sp01"), login("sl01")
    ok(save(me, running, kpi_data("kpis", "actual", ACTUALS)))
    ok(fire(hr, running, "close_period"))
    ok(save(lead, running, {"rating": "3"}))
    ok(fire(lead, running, "rate"))
    ok(fire(me, running, "confirm"))
    a = appraisal(running)
    assert (a.state, a.score, a.grade) == ("closed", pytest.approx(102.0), "A")
    with app.app_context():
        cycle_id = db.session.get(Appraisal, running).cycle_id
    assert hr.get(f"/cycles/{cycle_id}").status_code == 200
    assert hr.get("/").status_code == 200

    if how == "renamed":
        # and new cycles run on the new workflow with its own final state
        second = start_cycle(hr, "2026 Q4", workflow="ticket_flow")
        ok(fire(me, second, "agree"))
        assert appraisal(second).state == "monitor"


# --------------------------------------------------------------------------- snapshot cache


def test_snapshot_cache_is_not_shared_between_databases(
    tmp_path: Path, definition_roots: list[str]
) -> None:
    shipped = [str(PROJECT_ROOT / name) for name in ("org", "forms", "workflows")]
    apps = []
    try:
        # database 1: the shipped pack; its snapshot 1 is the quarterly_review workflow
        one = make_app(_config(tmp_path / "one.sqlite", shipped))
        apps.append(one)
        with one.app_context():
            defs = one.extensions["opsperf.registry"].current
            people.import_people(defs, demo.people_rows(), password_method=FAST_HASH)
        hr = one.test_client()
        hr.post("/login", data={"login": "hr01", "password": demo.PASSWORD})
        ok(launch(hr, ["sales"]))
        with one.app_context():
            first = db.session.query(Appraisal).order_by(Appraisal.id).first().id
        assert hr.get(f"/appraisals/{first}").status_code == 200

        # database 2: this module's set; its snapshot 1 is the ticket_review workflow
        two = make_app(_config(tmp_path / "two.sqlite", definition_roots))
        apps.append(two)
        _import(two, PEOPLE)
        hr = two.test_client()
        hr.post("/login", data={"login": "hr7", "password": PASSWORD})
        ok(launch(hr, ["support"], workflow="ticket_review"))
        with two.app_context():
            other = db.session.query(Appraisal).order_by(Appraisal.id).first().id
        page = hr.get(f"/appraisals/{other}")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "销售岗季度绩效考核表" not in html
        assert "客服考核表" in html
    finally:
        for made in apps:
            with made.app_context():
                db.session.remove()
                db.engine.dispose()


def _config(database: Path, roots: list[str]) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
        "DEFINITION_ROOTS": roots,
        "WTF_CSRF_ENABLED": False,
    }

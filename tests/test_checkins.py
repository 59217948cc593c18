"""Check-ins over HTTP on both databases: KPI actuals recorded per period on the page, from a
file (checked in full first, row by row, then written, the same file twice changing nothing)
and through the API with scoped, hashed, revocable tokens; each series aggregated into the
actual the KPI is scored on, by hand-computed figures; audited like any value."""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import Workbook

from opsperf import cli
from opsperf.persistence.models import ApiToken, CheckIn, Event, db
from tests.helpers import appraisal_of, crew, fire, launch, save, write_pack

PASSWORD = "checkin-123"

# A YAML-only pack: monthly revenue summed, a rate averaged, a headcount that is its latest
# month, a peak and a low, and one KPI typed once in the form.
PACK = {
    "org/shop.yaml": """
kind: Department
id: shop
name: {zh: 门店, en: Shop}
head: lead
positions:
  - {id: lead, name: {zh: 店长, en: Lead}, form: shop, workflow: shop}
  - {id: clerk, name: {zh: 店员, en: Clerk}, form: shop, workflow: shop}
""",
    "forms/shop.yaml": """
kind: Form
id: shop
title: {zh: 门店考核, en: Shop review}
period: quarter
sections:
  - id: goals
    title: {zh: 指标, en: KPIs}
    fields:
      - id: kpis
        type: kpi_table
        label: {zh: 指标, en: KPIs}
        checkins: {period: month, aggregate: average}
        kpis:
          - {id: sales, name: {zh: 销售额, en: Sales}, unit: 万元, weight: 40, target: 300,
             checkins: {period: month, aggregate: sum}}
          - {id: conversion, name: {zh: 转化率, en: Conversion}, unit: "%", weight: 20,
             target: 20}
          - {id: staff, name: {zh: 在岗人数, en: Staff}, unit: 人, weight: 10, target: 8,
             checkins: {period: month, aggregate: last}}
          - {id: peak, name: {zh: 单日峰值, en: Peak day}, unit: 单, weight: 10, target: 50,
             checkins: {period: week, aggregate: max}}
          - {id: wait, name: {zh: 最长等待, en: Longest wait}, unit: 分钟, weight: 10,
             target: 10, direction: lower, checkins: {period: month, aggregate: min}}
          - {id: audit, name: {zh: 巡店得分, en: Audit}, unit: 分, weight: 10, target: 90,
             checkins: false}
  - id: private
    title: {zh: 经营数据, en: Margins}
    visible_to: [manager, hr]
    fields:
      - id: secret
        type: kpi_table
        label: {zh: 毛利, en: Margin}
        checkins: {period: month, aggregate: sum}
        kpis:
          - {id: margin, name: {zh: 毛利额, en: Margin}, unit: 万元, weight: 100, target: 50}
score: "kpis.score"
""",
    "workflows/shop.yaml": """
kind: Workflow
id: shop
name: {zh: 门店评审, en: Shop review}
states:
  plan: {edit: {employee: [kpis.target]}}
  monitor: {edit: {employee: [kpis.actual], manager: [secret.actual]}}
  assess: {edit: {manager: [kpis.note]}}
  feedback: {}
  done: {final: true}
transitions:
  - {trigger: submit, source: plan, dest: monitor, roles: [employee]}
  - {trigger: assess, source: monitor, dest: assess, roles: [manager], actions: [compute_scores]}
  - {trigger: discuss, source: assess, dest: feedback, roles: [manager]}
  - {trigger: close, source: feedback, dest: done, roles: [manager]}
""",
}

PEOPLE = [
    {"employee_no": "h01", "name": "人事王芳", "department": "shop", "roles": "hr",
     "language": "en"},
    {"employee_no": "a01", "name": "管理员", "department": "shop", "roles": "admin",
     "language": "en"},
    {"employee_no": "d01", "name": "数据专员", "department": "shop", "position": "clerk",
     "manager": "L01", "roles": "data_steward"},
    {"employee_no": "L01", "name": "店长林立", "department": "shop", "position": "lead"},
    {"employee_no": "k01", "name": "店员甲", "department": "shop", "position": "clerk",
     "manager": "L01", "language": "en"},
    {"employee_no": "k02", "name": "店员乙", "department": "shop", "position": "clerk",
     "manager": "L01"},
]  # fmt: skip


@pytest.fixture
def definition_roots(tmp_path: Path) -> list[str]:
    return write_pack(tmp_path / "defs", PACK)


@pytest.fixture
def login(app: Flask) -> Any:
    make = crew(app, PEOPLE, PASSWORD)
    assert launch(make("h01"), ["shop"], workflow="shop").status_code == 302  # 2026 Q4
    return make


def to_monitor(login: Any, *who: str) -> None:
    for person in who:
        assert fire(login(person), appraisal_of(person).id, "submit").status_code == 302
        assert appraisal_of(person).state == "monitor"


def checkin(
    client: FlaskClient, who: str, kpi: str, period: str, value: str, note: str = ""
) -> Any:
    """Record one KPI's value for one period from the appraisal page."""
    return record(client, who, period, {kpi: (value, note)})


def record(client: FlaskClient, who: str, period: str, typed: dict[str, tuple[str, str]]) -> Any:
    a = appraisal_of(who)
    data = {"period": period, "version": a.version}
    for kpi, (value, note) in typed.items():
        data[f"value:kpis.{kpi}" if "." not in kpi else f"value:{kpi}"] = value
        data[f"note:kpis.{kpi}" if "." not in kpi else f"note:{kpi}"] = note
    return client.post(f"/appraisals/{a.id}/checkins", data=data)


def kpi_row(who: str, kpi: str) -> dict[str, Any]:
    return dict((appraisal_of(who).values.get("kpis") or {}).get(kpi) or {})


def count_checkins() -> int:
    from tests import helpers

    with helpers.APP.app_context():
        return db.session.query(CheckIn).count()


def count_events(kind: str) -> int:
    from tests import helpers

    with helpers.APP.app_context():
        return db.session.query(Event).filter(Event.kind == kind).count()


# --------------------------------------------------------------------------- on the page


def test_each_rule_aggregates_the_series_into_the_scored_actual(login: Any) -> None:
    to_monitor(login, "k01")
    me = login("k01")
    entries = [
        ("sales", "2026-10", "80"), ("sales", "2026-11", "95.5"), ("sales", "2026-12", "110"),
        ("conversion", "2026-10", "18"), ("conversion", "2026-11", "21"),
        ("conversion", "2026-12", "24"),
        ("staff", "2026-12", "9"), ("staff", "2026-10", "7"),  # out of order: the latest wins
        ("peak", "2026-W41", "38"), ("peak", "2026-10-28", "61"), ("peak", "2026-W50", "47"),
        ("wait", "2026年10月", "12"), ("wait", "2026/11", "8"), ("wait", "202612", "9"),
    ]  # fmt: skip
    for kpi, period, value in entries:
        response = checkin(me, "k01", kpi, period, value)
        assert response.status_code == 302, (kpi, period, response.get_data(as_text=True)[:300])
    assert kpi_row("k01", "sales")["actual"] == 285.5  # 80 + 95.5 + 110
    assert kpi_row("k01", "conversion")["actual"] == 21  # (18 + 21 + 24) ÷ 3
    assert kpi_row("k01", "staff")["actual"] == 9  # December's, recorded first
    assert kpi_row("k01", "peak")["actual"] == 61  # the week of 28 October (2026-W44)
    assert kpi_row("k01", "wait")["actual"] == 8  # the lowest month
    # the typed KPI is typed; the scores read the aggregated actuals as any other
    typed = save(me, appraisal_of("k01").id, {"kpis-audit-actual": "90"})
    assert typed.status_code == 302
    boss = login("L01")
    assert record(boss, "k01", "2026-10", {"secret.margin": ("40", "")}).status_code == 302
    assert fire(boss, appraisal_of("k01").id, "assess").status_code == 302
    result = appraisal_of("k01").result
    scores = {k["kpi"]: k["score"] for t in result["kpis"] for k in t["kpis"]}
    assert scores["sales"] == pytest.approx(95.17, abs=0.01)  # 285.5 ÷ 300 × 100
    assert scores["conversion"] == pytest.approx(105)  # 21 ÷ 20 × 100
    assert scores["wait"] == pytest.approx(120)  # 10 ÷ 8 capped at 1.2


def test_a_checked_in_actual_cannot_be_typed(login: Any) -> None:
    to_monitor(login, "k01")
    me = login("k01")
    a = appraisal_of("k01").id
    assert save(me, a, {"kpis-sales-actual": "999"}).status_code == 403
    assert kpi_row("k01", "sales").get("actual") is None
    page = me.get(f"/appraisals/{a}").get_data(as_text=True)
    assert 'name="kpis-sales-actual"' not in page
    assert 'name="kpis-audit-actual"' in page


def test_the_page_shows_the_series_and_only_those_who_may_record_get_the_form(
    login: Any,
) -> None:
    to_monitor(login, "k01")
    me = login("k01")
    assert checkin(me, "k01", "sales", "2026-10", "80", "国庆促销").status_code == 302
    assert checkin(me, "k01", "sales", "2026-11", "100").status_code == 302
    a = appraisal_of("k01").id
    page = me.get(f"/appraisals/{a}").get_data(as_text=True)
    # a line for the one KPI with values, in the KPI table and beside its series
    assert page.count('class="sparkline"') == 2
    assert "国庆促销" in page
    assert 'id="checkins-kpis-sales"' in page
    # one table and one form per kind of period: the months, and the weeks of the peak KPI
    assert page.count('class="checkin-form') == 2
    assert 'name="value:kpis.sales"' in page
    assert 'name="value:kpis.audit"' not in page
    for period in ("2026-10", "2026-11", "2026-12", "2026-W40", "2026-W53"):
        assert f">{period}<" in page
    manager = login("L01").get(f"/appraisals/{a}").get_data(as_text=True)
    assert "国庆促销" in manager
    assert 'name="value:kpis.sales"' not in manager  # theirs to read, not to record
    assert 'name="value:secret.margin"' in manager  # the manager's own table
    # the manager may not record them (no edit right on the actual in monitor)
    assert checkin(login("L01"), "k01", "sales", "2026-12", "5").status_code == 403
    assert login("k02").get(f"/appraisals/{a}").status_code == 403


def test_bad_check_ins_are_refused_with_what_was_typed_and_nothing_written(login: Any) -> None:
    to_monitor(login, "k01")
    me = login("k01")
    before = appraisal_of("k01").version
    for period, value, note in [
        ("2026-09", "10", ""),  # before the cycle
        ("2027-01", "10", ""),  # after it
        ("not a month", "10", ""),
        ("2026-10", "abc", ""),
        ("2026-10", "nan", ""),
        ("2026-10", "10", "x" * 501),
        ("2026-10", "10", "bell\x07"),
    ]:
        response = checkin(me, "k01", "sales", period, value, note)
        assert response.status_code == 422, (period, value)
        page = response.get_data(as_text=True)
        assert 'aria-invalid="true"' in page
    assert checkin(me, "k01", "nosuch", "2026-10", "1").status_code == 422
    assert record(me, "k01", "2026-10", {"sales": ("", ""), "wait": ("", "")}).status_code == 422
    assert checkin(me, "k01", "audit", "2026-10", "1").status_code == 422  # typed, not checked in
    stale = me.post(
        f"/appraisals/{appraisal_of('k01').id}/checkins",
        data={"kpi": "sales", "period": "2026-10", "value": "1", "version": before - 1},
    )
    assert stale.status_code == 409
    assert appraisal_of("k01").version == before
    assert count_checkins() == 0


def test_check_ins_are_audited_and_the_same_value_again_changes_nothing(login: Any) -> None:
    to_monitor(login, "k01")
    me = login("k01")
    assert checkin(me, "k01", "sales", "2026-10", "80").status_code == 302
    assert checkin(me, "k01", "sales", "2026-10", "90").status_code == 302
    version = appraisal_of("k01").version
    again = checkin(me, "k01", "sales", "2026-10", "90")
    assert again.status_code == 302
    assert appraisal_of("k01").version == version
    assert count_events("checkin") == 2
    from tests import helpers

    with helpers.APP.app_context():
        last = db.session.query(Event).filter(Event.kind == "checkin").order_by(Event.id).all()[-1]
        assert last.changes == {"kpis.sales@2026-10": [80, 90], "kpis.sales.actual": [80, 90]}
        assert last.trigger == "page"
    page = me.get(f"/appraisals/{appraisal_of('k01').id}").get_data(as_text=True)
    assert "recorded 1 check-in" in page


# --------------------------------------------------------------------------- files


def csv_file(
    rows: list[list[str]], encoding: str = "utf-8", header: list[str] | None = None
) -> bytes:
    out = io.StringIO()
    lines = [header or ["employee_no", "kpi", "period", "value", "note"], *rows]
    out.write("\n".join(",".join(cells) for cells in lines) + "\n")
    return out.getvalue().encode(encoding)


def upload(client: FlaskClient, data: bytes, name: str = "actuals.csv") -> Any:
    cycle = appraisal_of("k01").cycle_id
    return client.post(
        f"/cycles/{cycle}/actuals",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def job_page(client: FlaskClient, response: Any) -> tuple[int, str]:
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    job_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    return job_id, client.get(f"/jobs/{job_id}").get_data(as_text=True)


def import_checked(client: FlaskClient, job_id: int, valid_only: bool = False) -> str:
    cycle = appraisal_of("k01").cycle_id
    data = {"rows": "valid"} if valid_only else {}
    return job_page(client, client.post(f"/cycles/{cycle}/actuals/{job_id}/import", data=data))[1]


GOOD = [
    ["k01", "sales", "2026-10", "80", "十月"],
    ["k01", "sales", "2026-11", "95.5", ""],
    ["k02", "sales", "2026-10", "60", ""],
    ["k02", "conversion", "2026-10", "18%", ""],
]


def test_a_file_is_previewed_then_imported_and_the_same_file_again_changes_nothing(
    login: Any,
) -> None:
    to_monitor(login, "k01", "k02")
    hr = login("h01")
    job_id, preview = job_page(hr, upload(hr, csv_file(GOOD)))
    assert "Every row passed" in preview
    assert count_checkins() == 0  # a check writes nothing
    assert re.search(r"<dt>[^<]+</dt><dd>4</dd>", preview)  # four new
    done = import_checked(hr, job_id)
    assert count_checkins() == 4
    assert kpi_row("k01", "sales")["actual"] == 175.5
    assert kpi_row("k02", "conversion")["actual"] == 18
    assert "4" in done
    versions = (appraisal_of("k01").version, appraisal_of("k02").version)
    events = count_events("checkin")
    again_id, again = job_page(hr, upload(hr, csv_file(GOOD)))
    assert "nothing would change" in again
    assert "actuals/" + str(again_id) + "/import" not in again  # nothing to import
    assert (appraisal_of("k01").version, appraisal_of("k02").version) == versions
    assert count_events("checkin") == events
    # the timeline says where the values came from
    page = login("k01").get(f"/appraisals/{appraisal_of('k01').id}").get_data(as_text=True)
    assert "actuals.csv" in page


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (["nobody", "sales", "2026-10", "1"], "nobody has the employee number nobody"),
        (["h01", "sales", "2026-10", "1"], "there is no appraisal of h01 in this cycle"),
        (["k01", "revenue", "2026-10", "1"], "KPI revenue is not on k01's form"),
        (["k01", "audit", "2026-10", "1"], "KPI audit takes one actual typed in the form"),
        (["k01", "sales", "2026-09", "1"], "the period 2026-09 is outside the cycle"),
        (["k01", "sales", "Oct", "1"], "the period Oct is not a month"),
        (["k01", "sales", "2026-10", "lots"], "the value lots is not a number"),
        (["k01", "sales", "2026-11", "5"], "a second value for k01, sales, 2026-11"),
        (["k02", "sales", "2026-10", "5"], "the appraisal of k02 is at a step that takes no"),
    ],
)
def test_each_kind_of_bad_row_is_named_with_its_row_number_and_nothing_is_written(
    login: Any, row: list[str], expected: str
) -> None:
    to_monitor(login, "k01")  # k02 is still planning
    hr = login("h01")
    rows = [["k01", "sales", "2026-11", "3"], row if len(row) == 5 else [*row, ""]]
    job_id, preview = job_page(hr, upload(hr, csv_file(rows)))
    shown = re.findall(r"<li>Row[^<]*", preview.replace("&#39;", "'"))
    assert any(p.lower().startswith(f"<li>row 3: {expected}".lower()) for p in shown), shown
    assert "Import the 1 valid row" in preview
    assert import_checked(hr, job_id)  # importing everything still refuses
    assert count_checkins() == 0
    # "import the valid rows" writes the good one and leaves the bad one out
    done = import_checked(hr, job_id, valid_only=True)
    assert count_checkins() == 1
    assert "1 row with a problem was left out" in done


def test_chinese_headers_gbk_and_xlsx_files(login: Any) -> None:
    to_monitor(login, "k01")
    hr = login("h01")
    header = ["工号", "指标", "期间", "实际值", "备注"]
    gbk = csv_file([["k01", "sales", "2026年10月", "80", "国庆促销"]], "gbk", header)
    job_id, _ = job_page(hr, upload(hr, gbk))
    import_checked(hr, job_id)
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    sheet.append(["K01", "kpis.sales", "2026-11", 95.5, None])  # any case; table.kpi
    out = io.BytesIO()
    book.save(out)
    job_id, _ = job_page(hr, upload(hr, out.getvalue(), "actuals.xlsx"))
    import_checked(hr, job_id)
    assert kpi_row("k01", "sales")["actual"] == 175.5
    from tests import helpers

    with helpers.APP.app_context():
        notes = {c.period: (c.note, c.source, c.source_ref) for c in db.session.query(CheckIn)}
    assert notes["2026-10"] == ("国庆促销", "import", "actuals.csv")
    assert notes["2026-11"] == (None, "import", "actuals.xlsx")


def test_who_may_import(login: Any) -> None:
    cycle = appraisal_of("k01").cycle_id
    for who in ("h01", "a01", "d01"):
        assert login(who).get(f"/cycles/{cycle}/actuals").status_code == 200
    for who in ("L01", "k01"):
        assert login(who).get(f"/cycles/{cycle}/actuals").status_code == 403
        assert upload(login(who), csv_file(GOOD)).status_code == 403
    assert login("h01").get("/cycles/999999/actuals").status_code == 404
    bad = upload(login("h01"), b"not a sheet", "actuals.pdf")
    assert bad.status_code == 422
    # the data steward finds the imports from the home page
    assert f"/cycles/{cycle}/actuals" in login("d01").get("/").get_data(as_text=True)


def test_the_command_line_import(
    login: Any, app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    to_monitor(login, "k01", "k02")
    made: list[Flask] = []
    original = cli._app

    def recording_app(database: str | None = None) -> Any:
        made.append(original(database))
        return made[-1]

    monkeypatch.setattr(cli, "_app", recording_app)
    env = {
        "OPSPERF_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "OPSPERF_DEFINITION_ROOTS": json.dumps(app.config["DEFINITION_ROOTS"]),
        "OPSPERF_SECRET_KEY": "test",
    }
    path = tmp_path / "actuals.csv"
    cycle = str(appraisal_of("k01").cycle_id)

    def run(*extra: str) -> Any:
        command = ["actuals", "import", str(path), "--cycle", cycle, *extra]
        return CliRunner().invoke(cli.main, command, env=env)

    try:
        path.write_bytes(csv_file(GOOD))
        dry = run("--dry-run")
        assert dry.exit_code == 0, dry.output
        assert "4 new" in dry.output
        assert count_checkins() == 0
        done = run()
        assert done.exit_code == 0, done.output
        assert "4 check-ins written" in done.output
        assert count_checkins() == 4
        path.write_bytes(csv_file([*GOOD, ["k01", "sales", "2030-01", "1", ""]]))
        refused = run()
        assert refused.exit_code != 0
        assert "row 6: the period 2030-01 is outside the cycle" in refused.output
        assert "nothing was imported" in refused.output
    finally:
        for created in made:
            with created.app_context():
                db.session.remove()
                db.engine.dispose()


# --------------------------------------------------------------------------- the API


def make_token(login: Any, scopes: list[str], name: str = "CRM nightly") -> str:
    response = login("a01").post("/admin/tokens", data={"name": name, "scopes": scopes})
    assert response.status_code == 200
    found = re.search(r'id="secret"[^>]*value="(opk_[^"]+)"', response.get_data(as_text=True))
    assert found
    return found.group(1)


def push(app: Flask, token: str, body: dict[str, Any]) -> Any:
    return app.test_client().post(
        "/api/v1/actuals", json=body, headers={"Authorization": f"Bearer {token}"}
    )


def test_tokens_are_stored_hashed_scoped_and_revocable(login: Any, app: Flask) -> None:
    to_monitor(login, "k01")
    token = make_token(login, ["actuals:write"])
    with app.app_context():
        stored = db.session.query(ApiToken).one()
        assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in (stored.prefix, stored.token_hash)
        assert stored.last_used_at is None
    cycle = appraisal_of("k01").cycle_id
    body = {"cycle": cycle, "key": "b1", "rows": [GOOD_API[0]]}
    assert push(app, token, body).status_code == 200
    with app.app_context():
        assert db.session.query(ApiToken).one().last_used_at is not None
    # the token is shown once: the list shows its prefix only
    listing = login("a01").get("/admin/tokens").get_data(as_text=True)
    assert token not in listing
    assert token[:10] in listing
    # a read-only token may not write; a wrong one is not a token
    reader = make_token(login, ["actuals:read"], "BI")
    assert push(app, reader, {**body, "key": "b2"}).status_code == 403
    assert push(app, "opk_" + "x" * 43, body).status_code == 401
    assert app.test_client().post("/api/v1/actuals", json=body).status_code == 401
    listed = app.test_client().get(
        f"/api/v1/cycles/{cycle}/checkins", headers={"Authorization": f"Bearer {reader}"}
    )
    assert listed.status_code == 200
    assert [c["period"] for c in listed.get_json()] == ["2026-10"]
    # revoked: refused at once
    with app.app_context():
        token_id = db.session.query(ApiToken).filter_by(name="CRM nightly").one().id
    assert login("a01").post(f"/admin/tokens/{token_id}/revoke").status_code == 302
    assert push(app, token, {**body, "key": "b3"}).status_code == 401
    # only administrators manage tokens
    assert login("h01").get("/admin/tokens").status_code == 403
    refused = login("a01").post("/admin/tokens", data={"name": "", "scopes": ["actuals:write"]})
    assert refused.status_code == 422


GOOD_API = [
    {"employee_no": "k01", "kpi": "sales", "period": "2026-10", "value": 80},
    {"employee_no": "k01", "kpi": "sales", "period": "2026-11", "value": 95.5, "note": "CRM"},
    {"employee_no": "k01", "kpi": "conversion", "period": "2026-10", "value": "18"},
]


def test_an_api_batch_is_all_or_nothing_and_idempotent_by_its_key(login: Any, app: Flask) -> None:
    to_monitor(login, "k01")
    token = make_token(login, ["actuals:write"])
    cycle = appraisal_of("k01").cycle_id
    bad = [*GOOD_API, {"employee_no": "k01", "kpi": "sales", "period": "2031-01", "value": 1}]
    refused = push(app, token, {"cycle": cycle, "key": "crm-1", "rows": bad})
    assert refused.status_code == 422
    assert "row 4" in " ".join(refused.get_json()["problems"])
    assert count_checkins() == 0
    ok = push(app, token, {"cycle": cycle, "key": "crm-2", "rows": GOOD_API})
    assert ok.status_code == 200
    assert ok.get_json() == {"rows": 3, "new": 3, "changed": 0, "unchanged": 0, "written": 3,
                             "replayed": False}  # fmt: skip
    assert kpi_row("k01", "sales")["actual"] == 175.5
    version = appraisal_of("k01").version
    again = push(app, token, {"cycle": cycle, "key": "crm-2", "rows": GOOD_API})
    assert again.status_code == 200
    assert again.get_json()["replayed"] is True
    assert appraisal_of("k01").version == version
    other = push(app, token, {"cycle": cycle, "key": "crm-2", "rows": GOOD_API[:1]})
    assert other.status_code == 409
    for body in (
        {"cycle": cycle, "rows": GOOD_API},
        {"cycle": "x", "key": "k", "rows": GOOD_API},
        {"cycle": cycle, "key": "k", "rows": []},
        {"cycle": cycle, "key": "k", "rows": [1, 2]},
        {"cycle": cycle, "key": "k", "rows": GOOD_API * 400},
        {"cycle": 999999, "key": "k", "rows": GOOD_API},
    ):
        assert push(app, token, body).status_code == 422, body
    with app.app_context():
        api_events = db.session.query(Event).filter(Event.kind == "checkin").all()
        assert {e.trigger for e in api_events} == {"api"}
        assert {e.comment for e in api_events} == {"CRM nightly"}


# --------------------------------------------------------------------------- the checker


def test_the_checker_refuses_an_actual_both_worked_out_and_checked_in(tmp_path: Path) -> None:
    from tests.helpers import diagnostics_after

    found = diagnostics_after(
        tmp_path,
        PACK,
        "forms/shop.yaml",
        "checkins: {period: month, aggregate: last}}",
        "checkins: {period: month, aggregate: last}, actual_from: '1'}",
    )
    assert "KPI 'staff' has both actual_from and checkins" in found
    shape = diagnostics_after(
        tmp_path / "b", PACK, "forms/shop.yaml", "aggregate: sum}", "aggregate: total}"
    )
    assert "aggregate" in shape
    assert "sum" in shape


# --------------------------------------------------------------------------- what the review found


def test_a_withheld_table_keeps_its_series_from_those_it_is_withheld_from(login: Any) -> None:
    to_monitor(login, "k01")
    boss = login("L01")
    assert (
        record(boss, "k01", "2026-10", {"secret.margin": ("4321", "绝密备注")}).status_code == 302
    )
    a = appraisal_of("k01").id
    mine = login("k01").get(f"/appraisals/{a}").get_data(as_text=True)
    assert "4321" not in mine
    assert "绝密备注" not in mine
    assert "4,321" not in mine
    theirs = boss.get(f"/appraisals/{a}").get_data(as_text=True)
    assert "绝密备注" in theirs
    # and the employee cannot record into it either
    assert record(login("k01"), "k01", "2026-11", {"secret.margin": ("1", "")}).status_code == 403


def test_nobody_imports_the_actuals_of_their_own_appraisal(login: Any) -> None:
    to_monitor(login, "k01", "d01")
    steward = login("d01")
    _, preview = job_page(steward, upload(steward, csv_file([
        ["d01", "sales", "2026-10", "5", ""], ["k01", "sales", "2026-10", "6", ""],
    ])))  # fmt: skip
    assert "第 2 行：工号 d01 是你本人的" in preview, re.findall(r"<li>[^<]*", preview)
    assert count_checkins() == 0


@pytest.mark.parametrize("value", ["-", "+", "-%", "1e5", "1;2", "9" * 50])
def test_values_that_are_not_numbers_are_refused_everywhere(
    login: Any, app: Flask, value: str
) -> None:
    to_monitor(login, "k01")
    assert checkin(login("k01"), "k01", "sales", "2026-10", value).status_code == 422
    hr = login("h01")
    _, preview = job_page(hr, upload(hr, csv_file([["k01", "sales", "2026-10", value, ""]])))
    assert "is not a number" in preview
    token = make_token(login, ["actuals:write"])
    cycle = appraisal_of("k01").cycle_id
    row = {"employee_no": "k01", "kpi": "sales", "period": "2026-10", "value": value}
    assert push(app, token, {"cycle": cycle, "key": "v", "rows": [row]}).status_code == 422
    assert count_checkins() == 0


def test_odd_api_numbers_are_refused_not_crashed_on(login: Any, app: Flask) -> None:
    to_monitor(login, "k01")
    token = make_token(login, ["actuals:write"])
    cycle = appraisal_of("k01").cycle_id
    row = {"employee_no": "k01", "kpi": "sales", "period": "2026-10", "value": 1}
    for body in (
        {"cycle": 10**30, "key": "a", "rows": [row]},
        {"cycle": cycle, "key": "b", "rows": [{**row, "value": 10**400}]},
        {"cycle": cycle, "key": "c", "rows": [{**row, "period": "9999-12-31"}]},
        {"cycle": cycle, "key": "d", "rows": [{**row, "period": 202610}]},  # fine: a month
    ):
        response = push(app, token, body)
        assert response.status_code in (200, 422), (body, response.status_code)
    assert count_checkins() == 1


def test_a_check_in_moves_the_version_even_when_the_actual_stays(login: Any) -> None:
    to_monitor(login, "k01")
    me = login("k01")
    assert checkin(me, "k01", "peak", "2026-W41", "60").status_code == 302
    version = appraisal_of("k01").version
    assert checkin(me, "k01", "peak", "2026-W42", "30").status_code == 302  # the max stays 60
    assert kpi_row("k01", "peak")["actual"] == 60
    assert appraisal_of("k01").version == version + 1
    stale = me.post(
        f"/appraisals/{appraisal_of('k01').id}/checkins",
        data={"period": "2026-W43", "value:kpis.peak": "10", "version": version},
    )
    assert stale.status_code == 409


def test_an_import_stops_where_an_appraisal_moved_on_after_the_check(
    login: Any, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsperf.persistence.models import Appraisal
    from opsperf.services import checkins

    to_monitor(login, "k01", "k02")
    monkeypatch.setattr(checkins, "CHUNK", 1)
    rows = [checkins.Row(2, "k01", "sales", "2026-10", "5", None),
            checkins.Row(3, "k02", "sales", "2026-10", "6", None)]  # fmt: skip
    passes = []

    def read() -> list[Any]:
        passes.append(1)
        if len(passes) == 2:  # between the check and the write, k02 moves on
            db.session.query(Appraisal).filter_by(id=appraisal_of("k02").id).update(
                {"state": "assess"}
            )
            db.session.commit()
        return rows

    with app.app_context():
        cycle = db.session.get(checkins.Cycle, appraisal_of("k01").cycle_id)
        plan = checkins.import_rows(cycle, read, None, "import", "moved.csv")
        assert plan.written == 1
        assert plan.stopped_at == 3
        assert plan.problems_total == 1
    assert count_checkins() == 1


def test_a_percentage_cell_of_a_spreadsheet_reads_as_it_is_shown(login: Any) -> None:
    to_monitor(login, "k01")
    book = Workbook()
    sheet = book.active
    sheet.append(["employee_no", "kpi", "period", "value"])
    sheet.append(["k01", "conversion", "2026-10", 0.18])
    sheet["D2"].number_format = "0%"
    sheet.append(["k01", "conversion", "2026-11", 22])
    out = io.BytesIO()
    book.save(out)
    hr = login("h01")
    job_id, _ = job_page(hr, upload(hr, out.getvalue(), "rates.xlsx"))
    import_checked(hr, job_id)
    assert kpi_row("k01", "conversion")["actual"] == 20  # (18 + 22) ÷ 2


def test_weeks_belong_to_the_cycle_that_holds_their_thursday() -> None:
    import datetime as dt

    from opsperf.engine import checkins as rules

    q3 = rules.periods("week", dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    q4 = rules.periods("week", dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    assert {p.key for p in q3} & {p.key for p in q4} == set()
    assert q4[0].key == "2026-W40"  # Monday 28 September, Thursday 1 October
    assert q3[-1].key == "2026-W39"
    assert rules.period_key("month", "2026.1") is None  # 2026.10 as a spreadsheet shows it
    assert rules.period_key("month", "2026-10-15 08:30:00").key == "2026-10"

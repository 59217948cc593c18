"""Never a 5xx: every route, as every demo role, with random and hostile input (hypothesis).

Each example picks a route of the app's URL map, a person (or nobody), ids that exist or not,
random query arguments, a form, a JSON body or raw bytes, and headers. Whatever comes back must
not be a server error, and a refusal (4xx) must leave the stored data exactly as it was.
"""

from __future__ import annotations

import io
import json
import os
import random
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from opsperf.config import PROJECT_ROOT
from opsperf.persistence.models import Appraisal, Comment, Cycle, Event, Job, User, Vote, db
from opsperf.services import demo
from tests.conftest import login
from tests.helpers import launch
from tests.worlds import open_world

PACK = [str(PROJECT_ROOT / name) for name in ("org", "forms", "workflows")]
WHO = ["anon", "s101", "s102", "s100", "m100", "hr01", "admin", "ceo"]
KEYS = ["page", "per_page", "q", "sort", "state", "department", "grade", "overdue", "before",
        "version", "action", "trigger", "kind", "comment", "login", "password", "name",
        "workflow", "period_start", "period_end", "departments", "plan_summary",
        "kpis-revenue-actual", "kpis-revenue-note", "checkins__rows", "values", "next",
        "goal", "kpi", "period", "value:kpis.revenue", "note:kpis.revenue", "cycle",
        "position", "table", "body", "parent", "private", "reply_to", "box"]  # fmt: skip
HOSTILE = ["", "0", "-1", "1.5", "99999999999999999999", "1" * 400, "²", "a\x00b", "\x1b[2J",
           "<script>alert(1)</script>", "' OR 1=1 --", "李" * 300, "%", "%ED%A0%80", "../../etc",
           "NaN", "inf", "1e999", "true", "null", "[]", "{}", "submit_plan:request", ":",
           "2026-02-30", "sales", "hr", "assess.calibration", "-score",
           "//evil.example", "sales.quarterly_revenue", "sales_quarterly.kpis.revenue",
           "company.annual_revenue", "-actual", "sales_quarterly.kpis", "sales_rep", "heat",
           "departments"]  # fmt: skip
# Text a form or URL can carry (UTF-8 cannot carry a lone surrogate; JSON can).
TEXT = st.one_of(
    st.sampled_from(HOSTILE), st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
)
ODD_TEXT = st.text(st.characters(categories=("Cs", "Cc", "Lo", "Nd")), max_size=8)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | ODD_TEXT,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)  # fmt: skip


# Values shaped like the shipped forms', so that saves get past the first checks.
REVENUE = st.fixed_dictionaries({}, optional={"target": JSON, "actual": JSON, "note": JSON})
VALUES = st.fixed_dictionaries(
    {},
    optional={
        "plan_summary": JSON,
        "key_actions": JSON,
        "development_focus": JSON,
        "kpis": st.fixed_dictionaries({}, optional={"revenue": REVENUE}),
        "checkins": st.lists(st.dictionaries(st.sampled_from(["checkin_date", "status"]), JSON)),
    },
)


# One period's check-ins as the API takes them.
CHECKINS = st.dictionaries(
    st.sampled_from(["kpis.revenue", "kpis.customer_satisfaction", "revenue", ""]),
    JSON | st.fixed_dictionaries({}, optional={"value": JSON, "note": JSON}),
    max_size=3,
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Flask, dict[str, list[int]]]]:
    worlds = open_world(request, tmp_path_factory, PACK, "fuzz")
    app = next(worlds)
    # the fuzzer fails log-ins (and password changes) by the dozen, for the people it signs in
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 10**6
    app.config["LOGIN_MAX_FAILURES"] = 10**6
    hr = login(app.test_client(), "hr01")
    assert launch(hr, ["sales", "marketing"], name="2026 Q4 fuzz").status_code == 302
    upload = (io.BytesIO(b"employee_no,name,email,department,position,manager\n"), "p.csv")
    assert hr.post("/admin/people", data={"file": upload}).status_code == 302
    with app.app_context():
        appraisals = list(db.session.scalars(select(Appraisal.id).order_by(Appraisal.id)))
        for appraisal_id, steps in zip(
            appraisals,
            [
                ["submit_plan"],
                ["submit_plan", "start_assessment", "submit_self"],
                [],
                ["submit_plan", "start_assessment", "submit_self", "submit_review"],  # calibration
            ],
            strict=False,
        ):
            demo._walk(appraisal_id, steps, random.Random(9))
        ids = {
            "appraisal_id": appraisals,
            "cycle_id": list(db.session.scalars(select(Cycle.id))),
            "job_id": list(db.session.scalars(select(Job.id))),
            "person_id": list(db.session.scalars(select(User.id))),
            "code": [],
        }
    yield app, ids
    next(worlds, None)


def _stored(app: Flask) -> Any:
    """What a refused request must leave alone (log-in failures and session epochs aside)."""
    with app.app_context():
        appraisals = db.session.execute(
            select(func.count(), func.sum(Appraisal.version)).select_from(Appraisal)
        ).one()
        counts = [
            db.session.scalar(select(func.count()).select_from(model))
            for model in (Cycle, Event, Vote, Job, User, Comment)
        ]
        users = [
            (u.employee_no, u.name, u.email, u.roles, u.active, u.password_hash)
            for u in db.session.scalars(select(User).order_by(User.id))
        ]
        return tuple(appraisals), counts, users


@st.composite
def requests(draw: st.DrawFn, rules: list[Any], ids: dict[str, list[int]]) -> dict[str, Any]:
    rule = draw(st.sampled_from(rules))
    method = draw(st.sampled_from(sorted(rule.methods - {"HEAD", "OPTIONS"})))
    values = {}
    for name in rule.arguments:
        if name == "code":
            values[name] = draw(st.sampled_from(["zh", "en", "xx", "ZH", "李"]))
        elif name == "filename":
            values[name] = draw(st.sampled_from(["css/opsperf.css", "nope.js", "../x"]))
        else:
            known = ids.get(name) or [1]
            values[name] = draw(
                st.sampled_from(known) | st.integers(0, 2**31 - 1) | st.just(2**31 - 1)
            )
    path = rule.rule
    for name, value in values.items():
        path = path.replace(f"<int:{name}>", str(value)).replace(f"<{name}>", str(value))
        path = path.replace(f"<path:{name}>", str(value))
    query = draw(st.dictionaries(st.sampled_from(KEYS), TEXT, max_size=4))
    body_kind = draw(st.sampled_from(["none", "form", "json", "bytes"]))
    body: dict[str, Any] = {}
    if body_kind == "form":
        body["data"] = draw(st.dictionaries(st.sampled_from(KEYS), TEXT, max_size=6))
    elif body_kind == "json":
        shape = st.fixed_dictionaries(
            {},
            optional={
                "values": JSON | VALUES | CHECKINS,
                "period": TEXT,
                "version": JSON,
                "trigger": TEXT,
                "kind": TEXT,
                "comment": JSON,
                "body": JSON,
                "reply_to": JSON,
                "private": JSON,
            },
        )
        body["data"] = json.dumps(draw(shape | JSON))
        body["content_type"] = "application/json"
    elif body_kind == "bytes":
        body["data"] = draw(st.binary(max_size=64))
        body["content_type"] = draw(
            st.sampled_from(["application/json", "text/plain", "multipart/form-data"])
        )
    headers = {}
    if draw(st.booleans()):
        headers["HX-Request"] = "true"
    return {
        "who": draw(st.sampled_from(WHO)),
        "method": method,
        "path": path,
        "query": query,
        "body": body,
        "headers": headers,
    }


def test_no_request_gets_a_server_error(world: tuple[Flask, dict[str, list[int]]]) -> None:
    app, ids = world
    rules = list(app.url_map.iter_rules())
    clients: dict[str, Any] = {}

    @settings(
        max_examples=int(os.environ.get("FUZZ_EXAMPLES", "250")),
        deadline=None,
        derandomize="FUZZ_EXAMPLES" not in os.environ,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(requests(rules, ids))
    def one(case: dict[str, Any]) -> None:
        who = case["who"]
        if who not in clients or who == "anon":
            clients[who] = app.test_client() if who == "anon" else login(app.test_client(), who)
        before = _stored(app)
        response = clients[who].open(
            case["path"],
            method=case["method"],
            query_string=case["query"],
            headers=case["headers"],
            **case["body"],
        )
        response.close()
        assert response.status_code < 500, (case, response.get_data(as_text=True)[:800])
        if response.status_code >= 400:
            assert _stored(app) == before, ("a refusal changed data", case)
        if case["path"] in ("/logout",) or "/sign-out" in case["path"]:
            clients.clear()  # those end sessions: sign in afresh

    one()


ALIGNMENT = ["/cycles/{cycle}/alignment", "/cycles/{cycle}/alignment/people"]
GOALS = ["sales.quarterly_revenue", "company.annual_revenue", "marketing.market_share", "sales."]
KPIS = ["sales_quarterly.kpis.revenue", "marketing_quarterly.kpis.market_share", "kpis.revenue"]


def test_the_alignment_pages_never_fail(world: tuple[Flask, dict[str, list[int]]]) -> None:
    """The goal tree and its lists of people, with goals, KPIs and departments that exist or
    not, for everyone: never a server error."""
    app, ids = world
    clients: dict[str, Any] = {}
    cycles = [*ids["cycle_id"], 2**31 - 1]
    arguments = st.fixed_dictionaries(
        {},
        optional={
            "goal": st.sampled_from(GOALS) | TEXT,
            "kpi": st.sampled_from(KPIS) | TEXT,
            "department": st.sampled_from(["sales", "marketing", "company", "production"]) | TEXT,
            "sort": st.sampled_from(["-actual", "actual", "employee_no"]) | TEXT,
            "page": TEXT,
            "per_page": TEXT,
        },
    )

    @settings(
        max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
        deadline=None,
        derandomize="FUZZ_EXAMPLES" not in os.environ,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(st.sampled_from(WHO), st.sampled_from(ALIGNMENT), st.sampled_from(cycles), arguments)
    def one(who: str, route: str, cycle: int, query: dict[str, str]) -> None:
        if who not in clients:
            clients[who] = app.test_client() if who == "anon" else login(app.test_client(), who)
        response = clients[who].get(route.format(cycle=cycle), query_string=query)
        response.close()
        assert response.status_code in (200, 302, 403, 404), (
            who,
            route,
            query,
            response.status_code,
        )

    one()

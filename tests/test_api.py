"""The JSON API (/api/v1): the page's main actions, with the same checks, as JSON."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete
from werkzeug.test import TestResponse

from opsperf.config import PROJECT_ROOT
from opsperf.persistence.models import Appraisal, LoginFailure, db
from opsperf.services import demo
from tests import helpers
from tests.helpers import appraisal_of, events, launch
from tests.worlds import open_world

FAST_HASH = "pbkdf2:sha256:1000"
PACK = [str(PROJECT_ROOT / name) for name in ("org", "forms", "workflows")]
PASSWORD = demo.PASSWORD
SHAPE = {
    "id",
    "cycle",
    "employee",
    "department",
    "position",
    "form",
    "workflow",
    "state",
    "pending",
    "due",
    "version",
    "values",
    "score",
    "grade",
    "bonus",
    "result",
    "your_roles",
    "actions",
}
PLAN = {
    "plan_summary": "聚焦重点行业大客户",
    "key_actions": "每周拜访 3 家重点客户；每月复盘商机。",
}
# The sales form checks four of its actuals in monthly; the survey's satisfaction is typed.
CHECKINS = {"kpis.revenue": 130, "kpis.revenue_growth": 18, "kpis.new_customers": 13,
            "kpis.collection_rate": 96}  # fmt: skip
TYPED = {"customer_satisfaction": {"actual": 91}}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    """One app and the demo people per backend for the module; each test launches its own cycle."""
    yield from open_world(request, tmp_path_factory, PACK, "api")


@pytest.fixture
def app(world: Flask) -> Flask:
    """Overrides conftest's ``app``: the module's world, made current for ``tests.helpers``."""
    helpers.APP = world
    return world


@pytest.fixture
def aid(app: Flask) -> int:
    """李娜's appraisal in a cycle launched for this test (state: plan)."""
    hr = app.test_client()
    hr.post("/login", data={"login": "hr01", "password": PASSWORD})
    response = launch(hr, ["sales"], name=f"Q4 {uuid.uuid4().hex[:6]}")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return appraisal_of("s101").id


def cycle_ids(aid: int) -> set[int]:
    """The appraisals of the cycle ``aid`` belongs to (earlier tests' cycles stay active)."""
    with helpers.APP.app_context():
        a = db.session.get(Appraisal, aid)
        return {x.id for x in a.cycle.appraisals}


def tasks(client: FlaskClient, aid: int) -> list[dict[str, Any]]:
    response = client.get("/api/v1/tasks")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    mine = cycle_ids(aid)
    return [t for t in response.get_json() if t["appraisal"] in mine]


def basic(app: Flask, login: str = "s101", password: str = PASSWORD) -> FlaskClient:
    """A client that sends HTTP Basic credentials with every request (no session)."""
    client = app.test_client()
    original = client.open

    def open_with_auth(*args: Any, **kwargs: Any) -> TestResponse:
        kwargs.setdefault("auth", (login, password))
        return original(*args, **kwargs)

    client.open = open_with_auth  # type: ignore[method-assign]
    return client


def values(
    client: FlaskClient, appraisal_id: int, vals: dict[str, Any], version: Any = "current"
) -> TestResponse:
    body: dict[str, Any] = {"values": vals}
    if version == "current":
        body["version"] = appraisal_of_id(appraisal_id).version
    elif version is not None:
        body["version"] = version
    return client.post(f"/api/v1/appraisals/{appraisal_id}/values", json=body)


def checkins(
    client: FlaskClient, appraisal_id: int, vals: dict[str, Any], period: str = "2026-10"
) -> TestResponse:
    body = {"period": period, "values": vals, "version": appraisal_of_id(appraisal_id).version}
    return client.post(f"/api/v1/appraisals/{appraisal_id}/checkins", json=body)


def enter_actuals(client: FlaskClient, appraisal_id: int) -> None:
    ok_json(checkins(client, appraisal_id, CHECKINS))
    ok_json(values(client, appraisal_id, {"kpis": TYPED}))


def transition(
    client: FlaskClient,
    appraisal_id: int,
    trigger: str,
    kind: str = "fire",
    comment: Any = None,
    version: Any = "current",
) -> TestResponse:
    body: dict[str, Any] = {"trigger": trigger, "kind": kind}
    if comment is not None:
        body["comment"] = comment
    if version == "current":
        body["version"] = appraisal_of_id(appraisal_id).version
    elif version is not None:
        body["version"] = version
    return client.post(f"/api/v1/appraisals/{appraisal_id}/transitions", json=body)


def appraisal_of_id(appraisal_id: int) -> Any:
    from tests.helpers import appraisal

    return appraisal(appraisal_id)


def stored(appraisal_id: int) -> tuple[Any, ...]:
    a = appraisal_of_id(appraisal_id)
    return (a.state, a.version, a.pending_trigger, json.dumps(a.values, sort_keys=True))


def ok_json(response: TestResponse, status: int = 200) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    assert response.is_json
    return response.get_json()


# --------------------------------------------------------------------------- authentication


def test_basic_auth_by_employee_no_or_email(app: Flask, aid: int) -> None:
    for login in ("s101", "s101@demo.opsperf", "S101@DEMO.OPSPERF"):
        found = tasks(basic(app, login), aid)
        assert [t["appraisal"] for t in found] == [aid], login


def test_session_auth_works_too(as_user: Any, aid: int) -> None:
    found = tasks(as_user("s101"), aid)
    assert [t["appraisal"] for t in found] == [aid]
    assert ok_json(as_user("s101").get(f"/api/v1/appraisals/{aid}"))["id"] == aid


@pytest.mark.parametrize(
    "auth",
    [
        ("s101", "wrong"),
        ("s101", ""),
        ("nobody", PASSWORD),
        ("", ""),
        None,
    ],
    ids=["wrong-password", "empty-password", "unknown-user", "empty", "no-credentials"],
)
def test_bad_credentials_get_401_with_a_challenge(
    app: Flask, aid: int, auth: tuple[str, str] | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES", 1_000)  # throttling: test_sessions.py
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_ADDRESS", 1_000)
    try:
        _bad_credentials(app, aid, auth)
    finally:  # the world is shared: leave no failures to throttle later tests
        with app.app_context():
            db.session.execute(delete(LoginFailure))
            db.session.commit()


def _bad_credentials(app: Flask, aid: int, auth: tuple[str, str] | None) -> None:
    client = app.test_client()
    for method, url, body in [
        ("GET", "/api/v1/tasks", None),
        ("GET", f"/api/v1/appraisals/{aid}", None),
        ("POST", f"/api/v1/appraisals/{aid}/values", {"values": {"plan_summary": "x"}}),
        ("POST", f"/api/v1/appraisals/{aid}/transitions", {"trigger": "submit_plan"}),
    ]:
        before = stored(aid)
        response = client.open(url, method=method, json=body, auth=auth)
        assert response.status_code == 401, (url, response.status_code)
        assert response.headers["WWW-Authenticate"].startswith("Basic")
        assert 'realm="opsperf"' in response.headers["WWW-Authenticate"]
        payload = ok_json(response, 401)
        assert payload["status"] == 401
        assert payload["message"]
        assert stored(aid) == before


def test_basic_auth_is_bound_to_the_person(app: Flask, aid: int) -> None:
    """Basic credentials give exactly that person's rights: s102 may not read 李娜's appraisal."""
    response = basic(app, "s102").get(f"/api/v1/appraisals/{aid}")
    assert ok_json(response, 403)["status"] == 403
    assert "李娜" not in json.dumps(response.get_json(), ensure_ascii=False)
    assert ok_json(basic(app, "s100").get(f"/api/v1/appraisals/{aid}"))["id"] == aid


# --------------------------------------------------------------------------- reading


def test_tasks_show_what_awaits_me(app: Flask, aid: int) -> None:
    mine = tasks(basic(app, "s101"), aid)
    assert len(mine) == 1
    task = mine[0]
    assert set(task) >= {"appraisal", "employee", "state", "can_edit", "actions", "due", "overdue"}
    assert task == {**task, "appraisal": aid, "employee": "李娜", "state": "plan", "can_edit": True}
    assert task["actions"] == [{"trigger": "submit_plan", "kind": "request"}]
    # the manager sees the plans of the team; a colleague sees only their own
    team = {t["appraisal"] for t in tasks(basic(app, "s100"), aid)}
    assert aid in team
    colleague = {t["appraisal"] for t in tasks(basic(app, "s102"), aid)}
    assert aid not in colleague
    assert colleague == {appraisal_of("s102").id}
    # the marketing head has nothing to do with sales
    assert tasks(basic(app, "m100"), aid) == []


def test_read_an_appraisal(app: Flask, aid: int) -> None:
    body = ok_json(basic(app, "s101").get(f"/api/v1/appraisals/{aid}"))
    assert set(body) >= SHAPE
    assert body["id"] == aid
    assert body["state"] == "plan"
    assert body["pending"] is None
    assert body["version"] == appraisal_of("s101").version
    assert body["employee"]["employee_no"] == "s101"
    assert body["department"] == "sales"
    assert body["form"]["id"] == "sales_quarterly"
    assert body["workflow"]["id"] == "quarterly_review"
    assert body["your_roles"] == ["employee"]
    assert body["values"]["kpis"]["revenue"]["target"] == 120
    assert [(a["trigger"], a["kind"], a["enabled"]) for a in body["actions"]] == [
        ("submit_plan", "request", True)
    ]
    assert body["actions"][0]["label"]["en"] == "Submit plan"
    head = ok_json(basic(app, "s100").get(f"/api/v1/appraisals/{aid}"))
    assert {"manager", "dept_head"} <= set(head["your_roles"])
    assert head["actions"] == []  # nothing to approve until the plan is submitted
    hr = ok_json(basic(app, "hr01").get(f"/api/v1/appraisals/{aid}"))
    assert "hr" in hr["your_roles"]
    assert [a["trigger"] for a in hr["actions"]] == ["cancel"]


def test_unknown_appraisal_is_404_everywhere(app: Flask, aid: int) -> None:
    client = basic(app, "hr01")
    for response in (
        client.get("/api/v1/appraisals/999999"),
        client.post("/api/v1/appraisals/999999/values", json={"values": {}, "version": 1}),
        client.post("/api/v1/appraisals/999999/transitions", json={"trigger": "cancel"}),
    ):
        assert ok_json(response, 404)["status"] == 404
    assert ok_json(client.get("/api/v1/nothing-here"), 404)["status"] == 404
    assert ok_json(client.get(f"/api/v1/appraisals/{aid}/values"), 405)["status"] == 405


# --------------------------------------------------------------------------- saving values


def test_save_values(app: Flask, aid: int) -> None:
    client = basic(app, "s101")
    version = appraisal_of("s101").version
    body = ok_json(
        values(
            client,
            aid,
            {**PLAN, "kpis": {"revenue": {"target": 130}}, "development_focus": ["data"]},
        )
    )
    assert set(body["saved"]) == {
        "plan_summary",
        "key_actions",
        "kpis.revenue.target",
        "development_focus",
    }
    assert body["appraisal"]["version"] == version + 1
    a = appraisal_of("s101")
    assert a.values["plan_summary"] == PLAN["plan_summary"]
    assert a.values["kpis"]["revenue"]["target"] == 130
    assert a.values["development_focus"] == ["data"]
    assert [e.kind for e in events(aid)][-1] == "save"
    # the same values again: nothing changes, the version stays
    body = ok_json(values(client, aid, {"plan_summary": PLAN["plan_summary"]}))
    assert body["saved"] == []
    assert appraisal_of("s101").version == version + 1


def test_save_kpi_actuals_in_monitor(app: Flask, aid: int) -> None:
    me, manager = basic(app, "s101"), basic(app, "s100")
    ok_json(values(me, aid, PLAN))
    ok_json(transition(me, aid, "submit_plan", "request"))
    ok_json(transition(manager, aid, "submit_plan", "approve"))
    body = ok_json(values(me, aid, {"kpis": {"customer_satisfaction": {"actual": 91}}}))
    assert body["saved"] == ["kpis.customer_satisfaction.actual"]
    assert appraisal_of("s101").values["kpis"]["customer_satisfaction"]["actual"] == 91
    # revenue is checked in by month: typed it is refused, checked in it becomes the actual
    before = stored(aid)
    refused = ok_json(values(me, aid, {"kpis": {"revenue": {"actual": 130}}}), 403)
    assert "kpis.revenue.actual" in refused["message"]
    assert stored(aid) == before
    body = ok_json(checkins(me, aid, {"kpis.revenue": {"value": 70, "note": "CRM 十月"}}))
    assert body["recorded"] == ["kpis.revenue@2026-10", "kpis.revenue.actual"]
    ok_json(checkins(me, aid, {"kpis.revenue": 60}, period="2026-11"))
    assert appraisal_of("s101").values["kpis"]["revenue"]["actual"] == 130  # the months' sum
    # the manager may add a note but not touch the actuals, typed or checked in
    before = stored(aid)
    for response in (
        values(manager, aid, {"kpis": {"customer_satisfaction": {"actual": 1}}}),
        checkins(manager, aid, {"kpis.revenue": 1}),
    ):
        assert ok_json(response, 403)["status"] == 403
    assert stored(aid) == before
    # a check-in the form does not take: 422 with where, and nothing written
    for vals, period, problem in (
        ({"kpis.revenue": "abc"}, "2026-10", ("kpis.revenue.value", "number")),
        ({"kpis.revenue": 1}, "2027-01", ("period", "period")),
        ({"kpis.revenue": {"value": 1, "note": "长" * 501}}, "2026-10", ("kpis.revenue.note",
                                                                       "max_length")),
    ):  # fmt: skip
        problems = ok_json(checkins(me, aid, vals, period), 422)["problems"]
        assert [(p["path"], p["code"]) for p in problems] == [problem]
    for vals in ({"kpis.customer_satisfaction": 90}, {"kpis.revenue": {"amount": 1}}, {}):
        assert ok_json(checkins(me, aid, vals), 422)["status"] == 422
    assert stored(aid) == before
    assert ok_json(values(manager, aid, {"kpis": {"revenue": {"note": "跟进"}}}))["saved"] == [
        "kpis.revenue.note"
    ]


@pytest.mark.parametrize(
    ("vals", "path", "code"),
    [
        ({"kpis": {"revenue": {"target": "abc"}}}, "kpis.revenue.target", "number"),
        ({"plan_summary": "长" * 121}, "plan_summary", "max_length"),
        ({"plan_agreed_on": "2026-13-45"}, "plan_agreed_on", "date"),
        ({"development_focus": ["data", "astrology"]}, "development_focus", "choice"),
    ],
    ids=["kpi-not-a-number", "too-long", "bad-date", "unknown-choice"],
)
def test_invalid_values_get_422_with_problems_by_path(
    app: Flask, aid: int, vals: dict[str, Any], path: str, code: str
) -> None:
    before = stored(aid)
    body = ok_json(values(basic(app, "s101"), aid, {"plan_summary": "ok", **vals}), 422)
    assert body["status"] == 422
    assert [(p["path"], p["code"]) for p in body["problems"]] == [(path, code)]
    assert stored(aid) == before  # all or nothing: the valid plan_summary is not saved either


def test_unknown_field_is_422(app: Flask, aid: int) -> None:
    before = stored(aid)
    body = ok_json(values(basic(app, "s101"), aid, {"no_such_field": 1}), 422)
    assert "no_such_field" in body["message"]
    assert stored(aid) == before


def test_fields_not_editable_now_are_403(app: Flask, aid: int) -> None:
    before = stored(aid)
    for vals in (
        {"manager_rating": 5},
        {"kpis": {"revenue": {"actual": 130}}},
        {"self_rating": 4},
        {"plan_summary": "ok", "manager_comment": "hidden in a valid post"},
    ):
        response = values(basic(app, "s101"), aid, vals)
        assert ok_json(response, 403)["status"] == 403, vals
    assert stored(aid) == before


@pytest.mark.parametrize(
    ("kwargs"),
    [
        {"data": "values=1", "content_type": "application/x-www-form-urlencoded"},
        {"data": '{"values": {}}', "content_type": "text/plain"},
        {"data": "{not json", "content_type": "application/json"},
        {"data": "[1, 2]", "content_type": "application/json"},
        {"data": '"text"', "content_type": "application/json"},
        {"json": {"values": [1, 2]}},
        {"json": {"values": "plan_summary=x"}},
        {"json": {}},
    ],
    ids=[
        "form-encoded",
        "text-plain",
        "malformed-json",
        "json-array",
        "json-string",
        "values-array",
        "values-string",
        "no-values",
    ],
)
def test_non_json_or_misshapen_body_is_422(app: Flask, aid: int, kwargs: dict[str, Any]) -> None:
    before = stored(aid)
    response = basic(app, "s101").post(f"/api/v1/appraisals/{aid}/values", **kwargs)
    assert ok_json(response, 422)["status"] == 422
    assert stored(aid) == before


def test_stale_version_is_409(app: Flask, aid: int) -> None:
    client = basic(app, "s101")
    old = appraisal_of("s101").version
    ok_json(values(client, aid, {"plan_summary": "first"}))
    before = stored(aid)
    response = values(client, aid, {"plan_summary": "second"}, version=old)
    assert ok_json(response, 409)["status"] == 409
    assert stored(aid) == before
    response = transition(client, aid, "submit_plan", "request", version=old)
    assert ok_json(response, 409)["status"] == 409
    assert stored(aid) == before


# --------------------------------------------------------------------------- transitions


def test_request_approve_and_fire_through_the_api(app: Flask, aid: int) -> None:
    me, manager, hr = basic(app, "s101"), basic(app, "s100"), basic(app, "hr01")
    ok_json(values(me, aid, PLAN))

    body = ok_json(transition(me, aid, "submit_plan", "request", comment="请审阅"))
    assert (body["state"], body["pending"]) == ("plan", "submit_plan")
    assert body["actions"] == []  # the requester waits
    lead = ok_json(manager.get(f"/api/v1/appraisals/{aid}"))
    assert [(a["trigger"], a["kind"]) for a in lead["actions"]] == [
        ("submit_plan", "approve"),
        ("submit_plan", "decline"),
    ]

    # decline needs a comment; with one, the request is withdrawn
    before = stored(aid)
    assert ok_json(transition(manager, aid, "submit_plan", "decline"), 422)["status"] == 422
    assert stored(aid) == before
    body = ok_json(transition(manager, aid, "submit_plan", "decline", comment="目标偏低"))
    assert (body["state"], body["pending"]) == ("plan", None)

    ok_json(transition(me, aid, "submit_plan", "request"))
    body = ok_json(transition(manager, aid, "submit_plan", "approve"))
    assert (body["state"], body["pending"]) == ("monitor", None)

    enter_actuals(me, aid)
    body = ok_json(transition(hr, aid, "start_assessment"))
    assert body["state"] == "assess.self"
    assert body["score"] is not None  # start_assessment computes scores
    kinds = [(e.kind, e.trigger) for e in events(aid) if e.kind != "save"]
    assert kinds == [
        ("request", "submit_plan"),
        ("decline", "submit_plan"),
        ("request", "submit_plan"),
        ("vote", "submit_plan"),
        ("transition", "submit_plan"),
        ("checkin", "api"),
        ("transition", "start_assessment"),
    ]


def test_guarded_transition_reports_why(app: Flask, aid: int) -> None:
    """submit_self needs a self-rating: the action is listed as disabled with the reason."""
    me, manager, hr = basic(app, "s101"), basic(app, "s100"), basic(app, "hr01")
    ok_json(values(me, aid, PLAN))
    ok_json(transition(me, aid, "submit_plan", "request"))
    ok_json(transition(manager, aid, "submit_plan", "approve"))
    enter_actuals(me, aid)
    ok_json(transition(hr, aid, "start_assessment"))
    body = ok_json(me.get(f"/api/v1/appraisals/{aid}"))
    action = next(a for a in body["actions"] if a["trigger"] == "submit_self")
    assert action["enabled"] is False
    assert action["reason"]
    before = stored(aid)
    assert ok_json(transition(me, aid, "submit_self"), 403)["status"] == 403
    assert stored(aid) == before


def test_comment_required_transition_is_422_without_comment(app: Flask, aid: int) -> None:
    hr = basic(app, "hr01")
    before = stored(aid)
    for comment in (None, "", "   "):
        assert ok_json(transition(hr, aid, "cancel", comment=comment), 422)["status"] == 422
    assert stored(aid) == before
    assert ok_json(transition(hr, aid, "cancel", comment="离职"))["state"] == "cancelled"


@pytest.mark.parametrize(
    ("who", "trigger", "kind"),
    [
        ("s101", "submit_plan", "fire"),  # needs approval: request, not fire
        ("s101", "submit_plan", "approve"),  # nothing pending
        ("s101", "start_assessment", "fire"),  # wrong state and wrong role
        ("s101", "cancel", "fire"),  # HR only
        ("s101", "no_such_trigger", "fire"),
        ("s101", "submit_plan", "teleport"),  # unknown kind
        ("s102", "submit_plan", "request"),  # a colleague
        ("s100", "submit_plan", "request"),  # the manager may not submit for the employee
        ("m100", "submit_plan", "request"),  # another department
        ("ceo", "submit_plan", "request"),  # not the manager
        ("hr01", "submit_plan", "request"),
    ],
)
def test_forbidden_transition_is_403(
    app: Flask, aid: int, who: str, trigger: str, kind: str
) -> None:
    ok_json(values(basic(app, "s101"), aid, PLAN))
    before = stored(aid)
    response = transition(basic(app, who), aid, trigger, kind, comment="x")
    assert ok_json(response, 403)["status"] == 403
    assert stored(aid) == before


def test_own_request_cannot_be_self_approved(app: Flask, aid: int) -> None:
    me = basic(app, "s101")
    ok_json(values(me, aid, PLAN))
    ok_json(transition(me, aid, "submit_plan", "request"))
    before = stored(aid)
    assert ok_json(transition(me, aid, "submit_plan", "approve"), 403)["status"] == 403
    assert ok_json(transition(basic(app, "hr01"), aid, "submit_plan", "approve"), 403)
    assert stored(aid) == before


@pytest.mark.parametrize(
    "body",
    [{}, {"trigger": 5}, {"trigger": None}, {"trigger": ["submit_plan"]}],
    ids=["no-trigger", "trigger-number", "trigger-null", "trigger-list"],
)
def test_transition_body_must_name_a_trigger(app: Flask, aid: int, body: dict[str, Any]) -> None:
    before = stored(aid)
    response = basic(app, "s101").post(f"/api/v1/appraisals/{aid}/transitions", json=body)
    assert ok_json(response, 422)["status"] == 422
    assert stored(aid) == before


def test_transition_needs_a_json_body(app: Flask, aid: int) -> None:
    response = basic(app, "s101").post(
        f"/api/v1/appraisals/{aid}/transitions", data={"trigger": "submit_plan", "kind": "request"}
    )
    assert ok_json(response, 422)["status"] == 422
    assert appraisal_of("s101").pending_trigger is None


# --------------------------------------------------------------------------- found bugs


@pytest.mark.parametrize(
    "vals",
    [
        {"kpis": [130]},
        {"kpis": "130"},
        {"kpis": {"revenue": 130}},
        {"checkins": 5},
        {"checkins": ["2026-10-01"]},
    ],
    ids=["kpis-list", "kpis-string", "kpi-row-number", "table-number", "table-row-string"],
)
def test_misshapen_table_values_are_422(app: Flask, aid: int, vals: dict[str, Any]) -> None:
    before = stored(aid)
    response = values(basic(app, "s101"), aid, vals)
    assert response.status_code == 422, response.status_code
    assert stored(aid) == before


@pytest.mark.parametrize("comment", [5, ["x"], {"text": "x"}], ids=["number", "list", "object"])
def test_non_string_comment_is_422(app: Flask, aid: int, comment: Any) -> None:
    hr = basic(app, "hr01")
    before = stored(aid)
    response = transition(hr, aid, "cancel", comment=comment)
    assert response.status_code == 422, response.status_code
    assert stored(aid) == before


def test_multiselect_max_items_is_enforced(app: Flask, aid: int) -> None:
    before = stored(aid)
    response = values(
        basic(app, "s101"), aid, {"development_focus": ["data", "process", "leadership"]}
    )
    assert response.status_code == 422, response.status_code
    assert stored(aid) == before


@pytest.mark.parametrize(
    "vals",
    [{"kpis": {"revnue": {"target": 130}}}, {"kpis": {"revenue": {"tagret": 130}}}],
    ids=["unknown-kpi", "unknown-column"],
)
def test_unknown_kpi_or_column_is_422(app: Flask, aid: int, vals: dict[str, Any]) -> None:
    response = values(basic(app, "s101"), aid, vals)
    assert response.status_code == 422, response.get_data(as_text=True)[:300]


@pytest.mark.parametrize("number", ["nan", "inf", "-Infinity", "1e999"])
def test_non_finite_numbers_are_422(app: Flask, aid: int, number: str) -> None:
    before = stored(aid)
    try:
        response = values(basic(app, "s101"), aid, {"kpis": {"revenue": {"target": number}}})
        status = response.status_code
    except Exception:  # the error handler itself failed: the server answers 500
        status = 500
    assert status == 422, status
    assert stored(aid) == before


def test_times_carry_their_offset_and_sign_offs_their_progress(app: Flask, aid: int) -> None:
    import datetime as dt
    import random

    with app.app_context():
        demo._walk(aid, ["submit_plan", "start_assessment", "submit_self", "submit_review"],
                   random.Random(5))  # fmt: skip
    assert appraisal_of("s101").state == "assess.calibration"
    body = ok_json(basic(app, "hr01").get(f"/api/v1/appraisals/{aid}"))
    due = dt.datetime.fromisoformat(body["due"])
    assert due.utcoffset() == dt.timedelta(0)
    assert body["approvals"] == []  # nobody has signed yet, and nobody asked
    ok_json(transition(basic(app, "s100"), aid, "sign_off", "approve"))
    body = ok_json(basic(app, "hr01").get(f"/api/v1/appraisals/{aid}"))
    [sign_off] = body["approvals"]
    assert sign_off["trigger"] == "sign_off"
    assert sign_off["mode"] == "all"
    assert [v["name"] for v in sign_off["votes"]] == ["张伟"]  # s100, the sales head
    assert sign_off["still_needed"] == 1
    task = next(t for t in tasks(basic(app, "hr01"), aid) if t["appraisal"] == aid)
    assert dt.datetime.fromisoformat(task["due"]).utcoffset() == dt.timedelta(0)

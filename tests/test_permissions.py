"""Who may do what: every route × every role, allowed or refused — and a refusal changes nothing.

The matrix runs against one scenario per backend (a module-scoped "world": the demo people, a
cycle launched over HTTP for sales and marketing, and a few appraisals walked to later states).
The PostgreSQL world lives in its own schema, so the function-scoped ``app`` fixture (which resets
the ``public`` schema) cannot disturb it.
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from opsperf.config import PROJECT_ROOT
from opsperf.persistence.models import Appraisal, Comment, Cycle, Event, User, Vote, db
from opsperf.services import demo, passwords
from tests.helpers import appraisal_of, fire, problems, record_actuals
from tests.worlds import open_world

FAST_HASH = "pbkdf2:sha256:1000"
PACK = [str(PROJECT_ROOT / name) for name in ("org", "forms", "workflows")]
PASSWORD = demo.PASSWORD
NAMES = {no: name for no, name, *_ in demo.PEOPLE}

# The roles of the brief, in matrix order.
WHO = ["anon", "s101", "s102", "s100", "m100", "hr01", "admin", "ceo"]
STAFF = [w for w in WHO if w != "anon"]
HR_ADMIN = {"hr01", "admin"}

# Where the world's appraisals stand, and who may open each one.
WALKS = {
    "s101": [],  # plan: the appraisal most rows act on
    "s100": [],  # plan: a department head's own appraisal (the CEO is manager and dept_head)
    "m101": [],  # plan: marketing, m100's report
    "s103": ["submit_plan"],  # monitor
    "s102": ["submit_plan", "start_assessment", "submit_self"],  # assess.manager
    "m102": ["submit_plan", "start_assessment", "submit_self", "submit_review"],  # calibration
}
STATES = {
    "s101": "plan",
    "s100": "plan",
    "m101": "plan",
    "s103": "monitor",
    "s102": "assess.manager",
    "m102": "assess.calibration",
}
VIEWERS = {
    "s101": {"s101", "s100", *HR_ADMIN},
    "s102": {"s102", "s100", *HR_ADMIN},
    "s103": {"s103", "s100", *HR_ADMIN},
    "s100": {"s100", "ceo", *HR_ADMIN},
    "m101": {"m101", "m100", *HR_ADMIN},
    "m102": {"m102", "m100", *HR_ADMIN},
}
REFUSED = {400, 401, 403, 404, 405, 409, 422}
PEOPLE_OF_REVENUE = (
    "/cycles/{cycle}/alignment/people?goal=sales.quarterly_revenue&kpi=sales_quarterly.kpis.revenue"
)


# --------------------------------------------------------------------------- the world


class Version:
    """Placeholder for the current version of someone's appraisal, resolved when the row runs."""

    def __init__(self, employee_no: str) -> None:
        self.employee_no = employee_no

    def __repr__(self) -> str:
        return f"V({self.employee_no})"


@dataclass
class World:
    app: Flask
    ids: dict[str, int]  # employee_no → id of their appraisal in the world's cycle
    cycle_id: int
    job_id: int = 0  # a people import HR ran in the world
    clients: dict[str, FlaskClient] = field(default_factory=dict)
    people: dict[str, int] = field(default_factory=dict)  # "person_<no>" → user id
    links: dict[str, str] = field(default_factory=dict)  # "link_<no>" → set-password token

    def client(self, who: str, fresh: bool = False) -> FlaskClient:
        if who == "anon":
            return self.app.test_client()
        if fresh or who not in self.clients:
            c = self.app.test_client()
            r = c.post("/login", data={"login": who, "password": PASSWORD})
            assert r.status_code == 302, (who, r.status_code)
            if fresh:
                return c
            self.clients[who] = c
        return self.clients[who]

    def version(self, employee_no: str) -> int:
        with self.app.app_context():
            a = db.session.get(Appraisal, self.ids[employee_no])
            assert a is not None
            return a.version

    def resolve(self, value: Any) -> Any:
        if isinstance(value, Version):
            return self.version(value.employee_no)
        if isinstance(value, str):
            return value.format(
                cycle=self.cycle_id, job=self.job_id, **self.ids, **self.people, **self.links
            )
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def fingerprint(self) -> Any:
        """Everything a refused request must leave alone."""
        with self.app.app_context():
            appraisals = [
                (a.id, a.state, a.version, a.pending_trigger, a.entry_seq, json.dumps(a.values))
                for a in db.session.scalars(select(Appraisal).order_by(Appraisal.id))
            ]
            users = [
                (u.employee_no, u.name, u.department_id, u.position_id, u.roles, u.active)
                for u in db.session.scalars(select(User).order_by(User.employee_no))
            ]
            counts = [
                db.session.scalar(select(func.count()).select_from(model))
                for model in (Cycle, Event, Vote, Comment)
            ]
            return appraisals, users, counts


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    worlds = open_world(request, tmp_path_factory, PACK, "perm")
    app = next(worlds)
    w = World(app, {}, 0)
    response = w.client("hr01").post(
        "/cycles/new",
        data={
            "name": "2026 Q4",
            "workflow": "quarterly_review",
            "period_start": "2026-10-01",
            "period_end": "2026-12-31",
            "departments": ["sales", "marketing"],
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    w.cycle_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    with app.app_context():
        for a in db.session.scalars(select(Appraisal).where(Appraisal.cycle_id == w.cycle_id)):
            w.ids[a.employee.employee_no] = a.id
        w.people = {f"person_{u.employee_no}": u.id for u in db.session.scalars(select(User))}
        m101 = db.session.get(User, w.people["person_m101"])
        w.links = {"link_m101": passwords.token(m101, str(app.secret_key))}
        for employee_no, steps in WALKS.items():
            demo._walk(w.ids[employee_no], steps, random.Random(2026))
        for employee_no, state in STATES.items():
            assert db.session.get(Appraisal, w.ids[employee_no]).state == state
    response = w.client("hr01").post(
        "/admin/people", data={"file": (io.BytesIO(BAD_PEOPLE), "people.csv")}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    w.job_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    yield w
    next(worlds, None)  # tear the world down


# --------------------------------------------------------------------------- the matrix


@dataclass(frozen=True)
class Row:
    who: str
    method: str
    url: str
    expect: int
    data: Any = None
    json: Any = None
    files: bool = False  # attach a people file whose row is refused
    location: str | None = None  # expected start of the redirect target
    changes: bool = False  # the request is allowed to change stored data
    fresh: bool = False  # needs its own client (log-in / log-out)
    target: str | None = None  # whose appraisal: a refused outsider must not see it
    ends_sessions_of: str | None = None  # whose sessions the request ends when allowed
    note: str = ""

    @property
    def id(self) -> str:
        body = self.note or ",".join(_short(k, v) for k, v in _fields(self.data or self.json))
        return f"{self.who}-{self.method}-{self.url}{'-' + body if body else ''}->{self.expect}"


def _fields(body: Any) -> list[tuple[str, Any]]:
    if not isinstance(body, dict):
        return []
    if isinstance(body.get("values"), dict):
        return list(body["values"].items())
    return [(k, v) for k, v in body.items() if k not in ("version", "comment")]


def _short(key: str, value: Any) -> str:
    shown = str(value)
    if key in ("trigger", "kind") or (shown.isascii() and len(shown) <= 12):
        return f"{key}={shown}"
    return key


def page(who: str, expect_staff: int, url: str, method: str = "GET", **kw: Any) -> Row:
    """A page: anonymous visitors go to the log-in page."""
    if who == "anon":
        return Row(who, method, url, 302, **{**kw, "location": "/login"})
    return Row(who, method, url, expect_staff, **kw)


def api(who: str, expect_staff: int, url: str, method: str = "GET", **kw: Any) -> Row:
    if who == "anon":
        return Row(who, method, url, 401, **kw)
    return Row(who, method, url, expect_staff, **kw)


BAD_PEOPLE = (
    b"employee_no,name,email,department,position,manager\nx900,X,x900@demo.opsperf,nowhere,,\n"
)


def _rows() -> list[Row]:
    rows: list[Row] = []
    hr_only = {w: (200 if w in HR_ADMIN else 403) for w in STAFF}

    # -- pages anyone logged in may open
    for w in WHO:
        rows.append(page(w, 200, "/"))
        # everyone their own appraisals, never someone else's
        rows.append(page(w, 200, "/appraisals/mine", target="s101"))
        rows.append(page(w, 200, "/appraisals/mine?page=2", target="s102"))
        if w == "anon":
            rows.append(Row(w, "GET", "/login", 200))
            rows.append(Row(w, "POST", "/logout", 302, location="/login"))
        else:
            rows.append(Row(w, "GET", "/login", 302, location="/", fresh=True))
            rows.append(Row(w, "POST", "/logout", 302, location="/login", fresh=True))
        rows.append(Row(w, "POST", "/language/en", 302, location="/", fresh=True))
        rows.append(Row(w, "POST", "/language/xx", 302, location="/", fresh=True))
        rows.append(api(w, 200, "/api/v1/tasks"))
        rows.append(api(w, 200, "/api/v1/tasks?page=2&per_page=1", note="page 2"))
        rows.append(page(w, 200, "/?q=李&overdue=1&page=9", note="filtered"))
        rows.append(page(w, 200, "/password"))
        wrong = {"current": "not-my-password", "new": "Another-9x", "again": "Another-9x"}
        rows.append(page(w, 422, "/password", "POST", data=wrong, note="wrong current"))
        # a set-password link works without logging in, for whoever holds it
        rows.append(Row(w, "GET", "/password/set/{link_m101}", 200))
        differ = {"new": "Another-9x", "again": "Another-9y"}
        rows.append(Row(w, "POST", "/password/set/{link_m101}", 422, data=differ, note="differ"))
        rows.append(Row(w, "GET", "/password/set/forged", 404))

    # -- HR and admin only
    for w in WHO:
        ok = hr_only.get(w, 0)
        rows.append(page(w, ok, "/cycles/"))
        rows.append(page(w, ok, "/cycles/new"))
        rows.append(page(w, ok, "/cycles/{cycle}"))
        for query in (
            "state=plan&q=李&sort=-score",
            "department=sales&overdue=1&page=2",
            "grade=S&per_page=10&sort=name",
            "page=abc&state=nowhere&_anchor=x",
        ):
            rows.append(page(w, ok, "/cycles/{cycle}?" + query, note=query))
        rows.append(page(w, ok, "/cycles/?q=Q4&page=3", note="search"))
        rows.append(page(w, ok, "/admin/people?q=李&department=sales&page=2", note="search"))
        rows.append(page(w, 404 if w in HR_ADMIN else 403, "/cycles/999999"))
        rows.append(
            page(
                w,
                302 if w in HR_ADMIN else 403,
                "/cycles/{cycle}/launch",
                "POST",
                location="/cycles/" if w in HR_ADMIN else None,
            )
        )
        rows.append(page(w, 404 if w in HR_ADMIN else 403, "/cycles/999999/launch", "POST"))
        rows.append(page(w, ok, "/jobs/{job}"))
        rows.append(page(w, 404, "/jobs/999999"))
        launch = {
            "name": "",
            "workflow": "quarterly_review",
            "period_start": "2027-01-01",
            "period_end": "2027-03-31",
            "departments": "sales",
        }
        rows.append(
            page(
                w, 422 if w in HR_ADMIN else 403, "/cycles/new", "POST", data=launch, note="no name"
            )
        )
        rows.append(page(w, ok, "/admin/people"))
        rows.append(
            page(
                w,
                302 if w in HR_ADMIN else 403,
                "/admin/people",
                "POST",
                files=True,
                location="/jobs/" if w in HR_ADMIN else None,
                note="bad row",
            )
        )
        rows.append(
            page(
                w,
                302 if w == "admin" else 403,
                "/admin/people/{person_m101}/sign-out",
                "POST",
                location="/admin/people" if w == "admin" else None,
                ends_sessions_of="m101",
            )
        )
        rows.append(page(w, 404 if w == "admin" else 403, "/admin/people/999999/sign-out", "POST"))
        rows.append(page(w, ok, "/admin/people/{person_m101}/attributes"))
        rows.append(
            page(
                w,
                302 if w in HR_ADMIN else 403,
                "/admin/people/{person_m101}/attributes",
                "POST",
                location="/admin/people" if w in HR_ADMIN else None,
            )
        )
        rows.append(
            page(w, 404 if w in HR_ADMIN else 403, "/admin/people/999999/attributes", "POST")
        )
        rows.append(page(w, ok, "/admin/definitions"))
        rows.append(
            page(
                w,
                302 if w in HR_ADMIN else 403,
                "/admin/people/password-links",
                "POST",
                location="/jobs/" if w in HR_ADMIN else None,
                changes=True,
            )
        )
        # m101 has a password: a reset link is for administrators only
        rows.append(
            page(
                w, 200 if w == "admin" else 403, "/admin/people/{person_m101}/password-link", "POST"
            )
        )
        rows.append(
            page(w, 404 if w in HR_ADMIN else 403, "/admin/people/999999/password-link", "POST")
        )
        rows.append(page(w, 404 if w in HR_ADMIN else 403, "/jobs/{job}/file"))
        rows.append(page(w, 404, "/jobs/999999/file"))
        if w in HR_ADMIN:
            rows.append(
                Row(w, "POST", "/admin/definitions/reload", 302, location="/admin/definitions")
            )
        else:
            rows.append(page(w, 403, "/admin/definitions/reload", "POST"))

    # -- opening appraisals (page, live preview, API)
    for target in ("s101", "s100", "m101", "m102"):
        for w in WHO:
            ok = 200 if w in VIEWERS[target] else 403
            url = "{" + target + "}"
            rows.append(page(w, ok, f"/appraisals/{url}", target=target))
            rows.append(page(w, ok, f"/appraisals/{url}/history?before=999999", target=target))
            rows.append(api(w, ok, f"/api/v1/appraisals/{url}", target=target))
    for w in WHO:
        ok = 200 if w in VIEWERS["s101"] else 403
        rows.append(
            page(
                w,
                ok,
                "/appraisals/{s101}/preview",
                "POST",
                data={"plan_summary": "x"},
                target="s101",
            )
        )
    # comments: whoever may open the appraisal reads and writes them; the mention box
    for target in ("s101", "m102"):
        for w in WHO:
            ok = 200 if w in VIEWERS[target] else 403
            url = "{" + target + "}"
            rows.append(page(w, ok, f"/appraisals/{url}/comments", target=target))
            rows.append(page(w, ok, f"/appraisals/{url}/comments?kpi=kpis.revenue",
                             target=target, note="kpi"))  # fmt: skip
            rows.append(page(w, ok, f"/appraisals/{url}/comments/people?q=s", target=target))
            rows.append(api(w, ok, f"/api/v1/appraisals/{url}/comments", target=target))
            # an empty comment: viewers reach the check (422), nothing is stored
            refused = 422 if w in VIEWERS[target] else 403
            rows.append(page(w, refused, f"/appraisals/{url}/comments", "POST",
                             data={"body": " "}, target=target))  # fmt: skip
            rows.append(api(w, refused, f"/api/v1/appraisals/{url}/comments", "POST",
                            json={"body": ""}, target=target))  # fmt: skip
    for w in WHO:
        if w in VIEWERS["s101"]:
            rows.append(Row(w, "POST", "/api/v1/appraisals/{s101}/comments", 201,
                            json={"body": f"{w} 的评论"}, changes=True, note="posted"))  # fmt: skip
        # a private note: the manager, the head and HR write them, never the employee
        may = w in {"s100", "hr01"}
        expect = 201 if may else 403
        rows.append(api(w, expect, "/api/v1/appraisals/{s101}/comments", "POST",
                        json={"body": "私密", "private": True}, changes=may,
                        target=None if w in VIEWERS["s101"] else "s101",
                        note="private"))  # fmt: skip
    rows.append(page("s101", 404, "/appraisals/999999/comments"))
    rows.append(page("s101", 404, "/appraisals/999999/comments", "POST", data={"body": "x"}))
    rows.append(api("s101", 404, "/api/v1/appraisals/{s101}/comments", "POST",
                    json={"body": "x", "reply_to": 999999}, note="no such thread"))  # fmt: skip
    # the printed appraisal: whoever may open it, as a PDF
    for target in ("s101", "m102"):
        for w in WHO:
            ok = 200 if w in VIEWERS[target] else 403
            url = "{" + target + "}"
            rows.append(page(w, ok, f"/appraisals/{url}/report.pdf", target=target))
            rows.append(api(w, ok, f"/api/v1/appraisals/{url}/report.pdf", target=target))
    # a batch of PDFs: HR and administrators any department, a head their own (an unknown
    # department is refused before anything is printed); a batch's ZIP is its maker's
    for w in WHO:
        may = w in HR_ADMIN or w in ("s100", "m100")
        rows.append(
            page(w, 404 if may else 403, "/cycles/{cycle}/reports", "POST",
                 data={"department": "nowhere"} if may else {"department": ""})
        )  # fmt: skip
        rows.append(page(w, 404, "/jobs/999999/appraisals.zip"))
        rows.append(page(w, 200 if w in HR_ADMIN else 403, "/cycles/{cycle}/results.csv"))
        rows.append(page(w, 200 if w in HR_ADMIN else 403, "/cycles/{cycle}/results.xlsx"))
    for w in STAFF:
        rows.append(Row(w, "GET", "/appraisals/999999", 404))
        rows.append(Row(w, "GET", "/api/v1/appraisals/999999", 404))
        rows.append(Row(w, "GET", "/appraisals/999999/report.pdf", 404))
    rows += [
        Row("s101", "POST", "/appraisals/999999/preview", 404),
        Row("s101", "GET", "/appraisals/abc", 404),
        Row("s101", "GET", "/logout", 405),
        Row("hr01", "GET", "/cycles/abc", 404),
    ]

    # -- saving: only what the role may edit in the current state
    v101, v102, v103, vm102 = (Version(n) for n in ("s101", "s102", "s103", "m102"))
    plan = {"plan_summary": "聚焦重点行业大客户", "version": v101}
    for w in WHO:
        if w in ("s101", "s100"):
            rows.append(Row(w, "POST", "/appraisals/{s101}", 302, data=plan, changes=True))
        else:
            rows.append(page(w, 403, "/appraisals/{s101}", "POST", data=plan, target="s101"))
    rows += [
        # in plan: the employee may not rate, nobody may record actuals
        Row(
            "s101", "POST", "/appraisals/{s101}", 403, data={"manager_rating": "5", "version": v101}
        ),
        Row(
            "s100", "POST", "/appraisals/{s101}", 403, data={"manager_rating": "5", "version": v101}
        ),
        Row(
            "s101",
            "POST",
            "/appraisals/{s101}",
            403,
            data={"kpis-revenue-actual": "130", "version": v101},
        ),
        Row(
            "s100",
            "POST",
            "/appraisals/{s101}",
            403,
            data={"kpis-revenue-actual": "130", "version": v101},
        ),
        Row(
            "hr01",
            "POST",
            "/appraisals/{s101}",
            403,
            data={"kpis-revenue-target": "99", "version": v101},
        ),
        # an allowed field next to a forbidden one: the whole post is refused
        Row(
            "s101",
            "POST",
            "/appraisals/{s101}",
            403,
            data={"plan_summary": "mixed", "self_rating": "5", "version": v101},
            note="plan_summary+self_rating",
        ),
        Row(
            "s101",
            "POST",
            "/appraisals/{s101}",
            302,
            changes=True,
            data={"kpis-revenue-target": "125", "version": v101},
        ),
        Row("s101", "POST", "/appraisals/999999", 404, data={"plan_summary": "x"}),
        # monitor: the employee records actuals (revenue checked in by month, satisfaction
        # typed), the manager may only note
        Row(
            "s103",
            "POST",
            "/appraisals/{s103}",
            302,
            changes=True,
            data={"kpis-customer_satisfaction-actual": "91", "version": v103},
        ),
        Row(
            "s103",
            "POST",
            "/appraisals/{s103}",
            403,
            data={"kpis-revenue-actual": "130", "version": v103},
        ),
        Row(
            "s103",
            "POST",
            "/appraisals/{s103}/checkins",
            302,
            changes=True,
            data={"period": "2026-10", "value:kpis.revenue": "42", "version": v103},
        ),
        Row(
            "s100",
            "POST",
            "/appraisals/{s103}/checkins",
            403,
            data={"period": "2026-10", "value:kpis.revenue": "1", "version": v103},
        ),
        Row(
            "s100",
            "POST",
            "/appraisals/{s103}",
            403,
            data={"kpis-customer_satisfaction-actual": "1", "version": v103},
        ),
        Row(
            "s100",
            "POST",
            "/appraisals/{s103}",
            302,
            changes=True,
            data={"kpis-revenue-note": "跟进中", "version": v103},
        ),
        Row(
            "s103",
            "POST",
            "/appraisals/{s103}",
            403,
            data={"kpis-revenue-target": "1", "version": v103},
        ),
        Row(
            "s101",
            "POST",
            "/appraisals/{s103}",
            403,
            data={"kpis-customer_satisfaction-actual": "1", "version": v103},
            target="s103",
        ),
        # assess.manager: the manager rates; the employee and HR may not
        Row(
            "s102", "POST", "/appraisals/{s102}", 403, data={"manager_rating": "5", "version": v102}
        ),
        Row(
            "s102",
            "POST",
            "/appraisals/{s102}",
            403,
            data={"highlights": "x" * 30, "version": v102},
        ),
        Row(
            "hr01", "POST", "/appraisals/{s102}", 403, data={"manager_rating": "5", "version": v102}
        ),
        Row(
            "m100",
            "POST",
            "/appraisals/{s102}",
            403,
            data={"manager_rating": "5", "version": v102},
            target="s102",
        ),
        Row(
            "s100",
            "POST",
            "/appraisals/{s102}",
            302,
            changes=True,
            data={"manager_rating": "4", "version": v102},
        ),
        # calibration: the department head may adjust the rating, HR may not
        Row(
            "hr01",
            "POST",
            "/appraisals/{m102}",
            403,
            data={"manager_rating": "1", "version": vm102},
        ),
        Row(
            "m102",
            "POST",
            "/appraisals/{m102}",
            403,
            data={"manager_rating": "5", "version": vm102},
        ),
        Row(
            "s100",
            "POST",
            "/appraisals/{m102}",
            403,
            data={"manager_rating": "5", "version": vm102},
            target="m102",
        ),
        Row(
            "m100",
            "POST",
            "/appraisals/{m102}",
            302,
            changes=True,
            data={"manager_comment": "校准后维持。", "version": vm102},
        ),
    ]

    # -- firing: only the steps the role may take now; refused steps move nothing
    def step(trigger: str, kind: str, v: Version, comment: str = "") -> dict[str, Any]:
        return {"trigger": trigger, "kind": kind, "comment": comment, "version": v}

    for w in WHO:
        if w == "s101":
            continue  # the employee may request submit_plan (walked in test_each_step_*)
        data = step("submit_plan", "request", v101)
        rows.append(page(w, 403, "/appraisals/{s101}/fire", "POST", data=data, target="s101"))
    rows += [
        Row("s101", "POST", "/appraisals/{s101}/fire", 403, data=step("submit_plan", "fire", v101)),
        Row(
            "s101",
            "POST",
            "/appraisals/{s101}/fire",
            403,
            data=step("submit_plan", "approve", v101),
        ),
        Row(
            "s100",
            "POST",
            "/appraisals/{s101}/fire",
            403,
            data=step("submit_plan", "approve", v101),
        ),
        Row(
            "s101",
            "POST",
            "/appraisals/{s101}/fire",
            403,
            data=step("start_assessment", "fire", v101),
        ),
        Row(
            "s101",
            "POST",
            "/appraisals/{s101}/fire",
            403,
            data=step("cancel", "fire", v101, "离职"),
        ),
        Row(
            "s101", "POST", "/appraisals/{s101}/fire", 403, data=step("no_such_step", "fire", v101)
        ),
        Row("s101", "POST", "/appraisals/{s101}/fire", 403, data=step("submit_plan", "zap", v101)),
        Row(
            "hr01",
            "POST",
            "/appraisals/{s101}/fire",
            403,
            data=step("start_assessment", "fire", v101),
        ),
        # allowed step, but the required comment is missing: 422, nothing moves
        Row("hr01", "POST", "/appraisals/{s101}/fire", 422, data=step("cancel", "fire", v101)),
        Row("admin", "POST", "/appraisals/{s101}/fire", 422, data=step("cancel", "fire", v101)),
        Row(
            "s101",
            "POST",
            "/appraisals/999999/fire",
            404,
            data={"trigger": "submit_plan", "kind": "request"},
        ),
        # monitor
        Row(
            "s103",
            "POST",
            "/appraisals/{s103}/fire",
            403,
            data=step("start_assessment", "fire", v103),
        ),
        Row(
            "s103",
            "POST",
            "/appraisals/{s103}/fire",
            403,
            data=step("revise_plan", "fire", v103, "x"),
        ),
        Row(
            "s102",
            "POST",
            "/appraisals/{s103}/fire",
            403,
            data=step("revise_plan", "fire", v103, "x"),
            target="s103",
        ),
        Row(
            "m100",
            "POST",
            "/appraisals/{s103}/fire",
            403,
            data=step("start_assessment", "fire", v103),
            target="s103",
        ),
        Row("s100", "POST", "/appraisals/{s103}/fire", 422, data=step("revise_plan", "fire", v103)),
        # assess.manager
        Row(
            "s102", "POST", "/appraisals/{s102}/fire", 403, data=step("submit_review", "fire", v102)
        ),
        Row("s102", "POST", "/appraisals/{s102}/fire", 403, data=step("reject", "fire", v102, "x")),
        Row(
            "hr01", "POST", "/appraisals/{s102}/fire", 403, data=step("submit_review", "fire", v102)
        ),
        Row(
            "s101",
            "POST",
            "/appraisals/{s102}/fire",
            403,
            data=step("reject", "fire", v102, "x"),
            target="s102",
        ),
        Row("s100", "POST", "/appraisals/{s102}/fire", 422, data=step("reject", "fire", v102)),
        # calibration: the employee may not sign off, outsiders not at all
        Row(
            "m102", "POST", "/appraisals/{m102}/fire", 403, data=step("sign_off", "approve", vm102)
        ),
        Row(
            "m101",
            "POST",
            "/appraisals/{m102}/fire",
            403,
            data=step("sign_off", "approve", vm102),
            target="m102",
        ),
        Row(
            "s100",
            "POST",
            "/appraisals/{m102}/fire",
            403,
            data=step("sign_off", "approve", vm102),
            target="m102",
        ),
        Row(
            "ceo",
            "POST",
            "/appraisals/{m102}/fire",
            403,
            data=step("sign_off", "approve", vm102),
            target="m102",
        ),
        Row("hr01", "POST", "/appraisals/{m102}/fire", 403, data=step("sign_off", "fire", vm102)),
        Row(
            "hr01",
            "POST",
            "/appraisals/{m102}/fire",
            422,
            data=step("return_to_manager", "fire", vm102),
        ),
    ]

    # -- calibration: HR and administrators any department, a department head their own
    calibrators = HR_ADMIN | {"s100", "m100"}
    for w in WHO:
        ok = 200 if w in calibrators else 403
        rows.append(page(w, ok, "/cycles/{cycle}/calibration"))
        rows.append(page(w, ok, "/cycles/{cycle}/payout.xlsx"))
        rows.append(page(w, ok, "/cycles/{cycle}/payout.csv"))
        refused = 422 if w in calibrators else 403  # allowed, but the board is not named
        rows.append(page(w, refused, "/cycles/{cycle}/calibration/sign-off", "POST", data={}))
        rows.append(page(w, refused, "/cycles/{cycle}/calibration/override", "POST", data={}))
        rows.append(api(w, ok, "/api/v1/cycles/{cycle}/calibration"))
        rows.append(api(w, ok, "/api/v1/cycles/{cycle}/payout"))
        rows.append(api(w, refused, "/api/v1/cycles/{cycle}/calibration/sign-off", "POST", json={}))
        # m102 is in calibration: m100 (its head) and HR may change the grade, with a reason
        may = w in {"m100", "hr01"}
        rows.append(
            api(
                w,
                422 if may else 403,
                "/api/v1/appraisals/{m102}/override",
                "POST",
                json={"grade": "A", "reason": "", "version": Version("m102")},
                target=None if may or w in VIEWERS["m102"] else "m102",
            )
        )
    # -- follow-ups: everyone has a list (theirs); one that does not exist is not found
    for w in WHO:
        rows.append(page(w, 200, "/follow-ups/"))
        rows.append(page(w, 404, "/follow-ups/999999", "POST", data={"status": "done"}))
        rows.append(api(w, 200, "/api/v1/follow-ups"))
        rows.append(api(w, 404, "/api/v1/follow-ups/999999", "POST", json={"status": "done"}))
    # -- notifications: everyone has an inbox (only their own); administrators see the outbox
    for w in WHO:
        rows.append(page(w, 200, "/inbox/"))
        rows.append(page(w, 404, "/inbox/999999"))
        rows.append(page(w, 404, "/inbox/999999/read", "POST", data={}))
        rows.append(page(w, 302, "/inbox/read-all", "POST", data={}, changes=True))
        rows.append(page(w, 422, "/inbox/settings", "POST", data={"email": "pigeon"}))
        rows.append(page(w, 200 if w == "admin" else 403, "/admin/emails/"))
        rows.append(
            page(w, 404 if w == "admin" else 403, "/admin/emails/999999/retry", "POST", data={})
        )
    # -- actuals: HR, administrators (and data stewards) import files; administrators hold the
    # API tokens; the integration API takes a token, never a session or a password
    for w in WHO:
        importer = w in HR_ADMIN
        rows.append(page(w, 200 if importer else 403, "/cycles/{cycle}/actuals"))
        # no file chosen: sent back to the page with a message
        rows.append(page(w, 302 if importer else 403, "/cycles/{cycle}/actuals", "POST", data={}))
        rows.append(
            page(w, 404 if importer else 403, "/cycles/{cycle}/actuals/999999/import", "POST",
                 data={})
        )  # fmt: skip
        rows.append(page(w, 200 if w == "admin" else 403, "/admin/tokens"))
        rows.append(
            page(w, 422 if w == "admin" else 403, "/admin/tokens", "POST", data={"name": ""})
        )
        rows.append(
            page(w, 404 if w == "admin" else 403, "/admin/tokens/999999/revoke", "POST", data={})
        )
        # s103 is in monitor: those who may view it reach the check (no version: refused)
        viewer = w in VIEWERS["s103"]
        rows.append(
            page(w, 422 if viewer else 403, "/appraisals/{s103}/checkins", "POST",
                 data={"kpi": "revenue"}, target=None if viewer else "s103")
        )  # fmt: skip
        rows.append(
            api(w, 422 if viewer else 403, "/api/v1/appraisals/{s103}/checkins", "POST",
                json={"period": "2026-10"}, target=None if viewer else "s103")
        )  # fmt: skip
        # PDCA: the world has one cycle, so a viewer finds no earlier targets to copy
        viewer_101 = w in VIEWERS["s101"]
        rows.append(
            page(w, 422 if viewer_101 else 403, "/appraisals/{s101}/copy-targets", "POST",
                 data={"version": "1"}, target=None if viewer_101 else "s101")
        )  # fmt: skip
        # department goals recorded by hand: HR looks; only the goal's recorders record
        rows.append(page(w, 200 if w in HR_ADMIN else 403, "/cycles/{cycle}/goals/production"))
        rows.append(
            page(w, 403, "/cycles/{cycle}/goals/production/workshop_output", "POST",
                 data={"value": "1"})
        )  # fmt: skip
        rows.append(Row(w, "POST", "/api/v1/actuals", 401, json={"cycle": 1, "rows": []}))
        rows.append(Row(w, "GET", "/api/v1/cycles/{cycle}/checkins", 401))
    rows.append(page("s100", 403, "/cycles/{cycle}/calibration?department=marketing"))
    rows.append(page("hr01", 404, "/cycles/999999/calibration"))

    # -- goal alignment: HR and administrators the whole company, a department head their
    # subtree (and the goals above it); the CEO heads no department
    for w in WHO:
        ok = 200 if w in HR_ADMIN | {"s100", "m100"} else 403
        rows.append(page(w, ok, "/cycles/{cycle}/alignment"))
        # 销售部's revenue KPI: not on 市场部's head's page
        rows.append(page(w, 404 if w == "m100" else ok, PEOPLE_OF_REVENUE))
    rows.append(page("s100", 403, "/cycles/{cycle}/alignment?department=marketing"))
    rows.append(page("m100", 200, "/cycles/{cycle}/alignment?department=marketing"))
    rows.append(page("hr01", 404, "/cycles/{cycle}/alignment?department=nowhere"))
    rows.append(page("hr01", 404, "/cycles/{cycle}/alignment?department=production"))
    rows.append(page("hr01", 404, "/cycles/999999/alignment"))

    # -- dashboards: HR and administrators the whole company, a department head their subtree;
    # everyone their own
    for w in WHO:
        ok = 200 if w in HR_ADMIN | {"s100", "m100"} else 403
        rows.append(page(w, 302, "/dashboards/"))
        rows.append(page(w, ok, "/dashboards/company"))
        rows.append(page(w, ok, "/dashboards/company.csv?table=states"))
        rows.append(page(w, ok, "/dashboards/company.xlsx?table=departments"))
        rows.append(page(w, 200, "/dashboards/me"))
        rows.append(page(w, 200, "/dashboards/me.csv?table=scores"))
        rows.append(page(w, 200, "/dashboards/me.xlsx?table=kpis"))
        rows.append(page(w, ok, "/dashboards/company.pdf"))
        rows.append(page(w, ok, "/dashboards/appraisals?state=monitor"))
        rows.append(page(w, 200, "/dashboards/me.pdf"))
    rows.append(page("s100", 403, "/dashboards/company?department=marketing"))
    rows.append(page("m100", 200, "/dashboards/company?department=marketing"))
    rows.append(page("s100", 403, "/dashboards/company.csv?department=marketing&table=heat"))
    rows.append(page("hr01", 404, "/dashboards/company?department=nowhere"))
    rows.append(page("hr01", 404, "/dashboards/company?department=production"))
    rows.append(page("hr01", 404, "/dashboards/company?cycle=999999"))
    rows.append(page("hr01", 404, "/dashboards/company?position=nowhere"))
    rows.append(page("hr01", 404, "/dashboards/company.csv?table=nowhere"))
    rows.append(page("s100", 403, "/dashboards/company.pdf?department=marketing"))
    rows.append(page("s100", 403, "/dashboards/appraisals?department=marketing"))
    rows.append(page("hr01", 404, "/dashboards/appraisals?state=nowhere"))

    # -- the JSON API: the same checks
    values = {"values": {"plan_summary": "API 保存"}, "version": v101}
    for w in WHO:
        if w in ("s101", "s100"):
            rows.append(
                Row(w, "POST", "/api/v1/appraisals/{s101}/values", 200, json=values, changes=True)
            )
        else:
            rows.append(
                api(w, 403, "/api/v1/appraisals/{s101}/values", "POST", json=values, target="s101")
            )
        if w != "s101":
            body = {"trigger": "submit_plan", "kind": "request", "version": v101}
            rows.append(
                api(
                    w,
                    403,
                    "/api/v1/appraisals/{s101}/transitions",
                    "POST",
                    json=body,
                    target="s101",
                )
            )
    rows += [
        Row(
            "s101",
            "POST",
            "/api/v1/appraisals/{s101}/values",
            403,
            json={"values": {"manager_rating": 5}, "version": v101},
        ),
        Row(
            "s100",
            "POST",
            "/api/v1/appraisals/{s101}/values",
            403,
            json={"values": {"kpis": {"revenue": {"actual": 130}}}, "version": v101},
        ),
        Row(
            "s102",
            "POST",
            "/api/v1/appraisals/{s102}/values",
            403,
            json={"values": {"manager_rating": 5}, "version": v102},
        ),
        Row(
            "s101",
            "POST",
            "/api/v1/appraisals/999999/values",
            404,
            json={"values": {"plan_summary": "x"}},
        ),
        Row(
            "s101",
            "POST",
            "/api/v1/appraisals/{s101}/transitions",
            403,
            json={"trigger": "submit_plan", "kind": "fire", "version": Version("s101")},
        ),
        Row(
            "hr01",
            "POST",
            "/api/v1/appraisals/{s101}/transitions",
            403,
            json={"trigger": "start_assessment", "kind": "fire", "version": Version("s101")},
        ),
        Row(
            "hr01",
            "POST",
            "/api/v1/appraisals/{s101}/transitions",
            422,
            json={"trigger": "cancel", "kind": "fire", "version": Version("s101")},
        ),
        Row(
            "s102",
            "POST",
            "/api/v1/appraisals/{s102}/transitions",
            403,
            json={"trigger": "submit_review", "kind": "fire", "version": Version("s102")},
        ),
        # the version is required, as a JSON whole number, and must be the current one
        Row(
            "s101",
            "POST",
            "/api/v1/appraisals/{s101}/values",
            422,
            json={"values": {"plan_summary": "x"}},
            note="no version",
        ),
        Row(
            "s101",
            "POST",
            "/api/v1/appraisals/{s101}/values",
            422,
            json={"values": {"plan_summary": "x"}, "version": "1"},
            note="version as text",
        ),
        Row(
            "s101",
            "POST",
            "/api/v1/appraisals/{s101}/values",
            409,
            json={"values": {"plan_summary": "x"}, "version": 0},
            note="stale version",
        ),
        Row(
            "s101",
            "POST",
            "/api/v1/appraisals/{s101}/transitions",
            422,
            json={"trigger": "submit_plan", "kind": "request", "version": 1.0},
            note="version as a fraction",
        ),
        Row(
            "s101",
            "POST",
            "/api/v1/appraisals/999999/transitions",
            404,
            json={"trigger": "submit_plan", "kind": "request"},
        ),
    ]
    return rows


ROWS = _rows()


def _secret_leaked(response: TestResponse, target: str) -> bool:
    body = response.get_data(as_text=True)
    if response.is_json:
        body += json.dumps(response.get_json(silent=True), ensure_ascii=False)
    return NAMES[target] in body


def _send(world: World, row: Row) -> TestResponse:
    client = world.client(row.who, fresh=row.fresh)
    url = world.resolve(row.url)
    if row.json is not None:
        return client.open(url, method=row.method, json=world.resolve(row.json))
    data = world.resolve(row.data) if row.data is not None else None
    if row.files:
        data = {"file": (io.BytesIO(BAD_PEOPLE), "people.csv")}
    return client.open(url, method=row.method, data=data)


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_matrix(world: World, row: Row) -> None:
    before = world.fingerprint()
    response = _send(world, row)
    if response.status_code < 400:  # log-out and "sign out everywhere" end every session
        for who in (row.ends_sessions_of, row.who if row.url == "/logout" else None):
            world.clients.pop(str(who), None)
    assert response.status_code == row.expect, response.get_data(as_text=True)[:1500]
    if row.location is not None:
        location = response.headers.get("Location", "")
        assert location.startswith(row.location), location
        if row.location == "/":
            assert location.split("?")[0] == "/", location
    if row.url.startswith("/api/") and row.expect >= 400:
        assert response.is_json, response.get_data(as_text=True)[:300]
        assert response.get_json()["status"] == row.expect
    if row.expect == 401:
        assert response.headers.get("WWW-Authenticate", "").startswith(("Basic", "Bearer"))
    if not row.changes:
        assert world.fingerprint() == before, "a request that must change nothing changed data"
    if row.target and (row.who == "anon" or row.who not in VIEWERS[row.target]):
        assert not _secret_leaked(response, row.target), "a refused response shows the appraisal"


def test_matrix_covers_every_role_on_every_route() -> None:
    """The table itself: each role of the brief meets each route at least once."""
    routes = {
        "/",
        "/login",
        "/logout",
        "/language/en",
        "/appraisals/mine",
        "/appraisals/mine?page=2",
        "/appraisals/{s101}",
        "/appraisals/{s101}/preview",
        "/appraisals/{s101}/fire",
        "/cycles/",
        "/cycles/new",
        "/cycles/{cycle}",
        "/cycles/{cycle}/launch",
        "/jobs/{job}",
        "/appraisals/{s101}/history?before=999999",
        "/admin/people",
        "/admin/definitions",
        "/admin/definitions/reload",
        "/admin/people/{person_m101}/sign-out",
        "/admin/people/password-links",
        "/admin/people/{person_m101}/password-link",
        "/admin/people/{person_m101}/attributes",
        "/jobs/{job}/file",
        "/cycles/{cycle}/calibration",
        "/cycles/{cycle}/calibration/sign-off",
        "/cycles/{cycle}/calibration/override",
        "/cycles/{cycle}/payout.xlsx",
        "/cycles/{cycle}/payout.csv",
        "/cycles/{cycle}/alignment",
        PEOPLE_OF_REVENUE,
        "/dashboards/",
        "/dashboards/company",
        "/dashboards/company.csv?table=states",
        "/dashboards/company.xlsx?table=departments",
        "/dashboards/company.pdf",
        "/dashboards/me.pdf",
        "/dashboards/appraisals?state=monitor",
        "/dashboards/me",
        "/dashboards/me.csv?table=scores",
        "/dashboards/me.xlsx?table=kpis",
        "/api/v1/cycles/{cycle}/calibration",
        "/api/v1/cycles/{cycle}/calibration/sign-off",
        "/api/v1/appraisals/{m102}/override",
        "/api/v1/cycles/{cycle}/payout",
        "/follow-ups/",
        "/follow-ups/999999",
        "/api/v1/follow-ups",
        "/api/v1/follow-ups/999999",
        "/password",
        "/password/set/{link_m101}",
        "/api/v1/tasks",
        "/api/v1/appraisals/{s101}",
        "/api/v1/appraisals/{s101}/values",
        "/api/v1/appraisals/{s101}/transitions",
        "/cycles/{cycle}/actuals",
        "/cycles/{cycle}/actuals/999999/import",
        "/admin/tokens",
        "/admin/tokens/999999/revoke",
        "/appraisals/{s103}/checkins",
        "/api/v1/appraisals/{s103}/checkins",
        "/appraisals/{s101}/copy-targets",
        "/appraisals/{s101}/report.pdf",
        "/api/v1/appraisals/{s101}/report.pdf",
        "/cycles/{cycle}/reports",
        "/cycles/{cycle}/results.csv",
        "/cycles/{cycle}/results.xlsx",
        "/jobs/999999/appraisals.zip",
        "/cycles/{cycle}/goals/production",
        "/cycles/{cycle}/goals/production/workshop_output",
        "/api/v1/actuals",
        "/api/v1/cycles/{cycle}/checkins",
        "/inbox/",
        "/inbox/999999",
        "/inbox/999999/read",
        "/inbox/read-all",
        "/inbox/settings",
        "/admin/emails/",
        "/admin/emails/999999/retry",
        "/appraisals/{s101}/comments",
        "/appraisals/{s101}/comments/people?q=s",
        "/api/v1/appraisals/{s101}/comments",
    }
    seen = {(r.who, r.url) for r in ROWS}
    missing = [(w, route) for w in WHO for route in routes if (w, route) not in seen]
    assert not missing
    assert len({r.id for r in ROWS}) == len(ROWS), "row ids must be unique"


# --------------------------------------------------------------------------- the walk


@pytest.fixture
def cycle(as_user: Any, staff: dict[str, int]) -> int:
    from tests.helpers import launch

    response = launch(as_user("hr01"), ["sales"])
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return appraisal_of("s101").id


FILL = {
    "plan": (
        "s101",
        {"plan_summary": "聚焦重点行业大客户", "key_actions": "每周拜访 3 家重点客户。"},
    ),
    "monitor": ("s101", {"kpis-customer_satisfaction-actual": "91"}),
    "assess.self": (
        "s101",
        {"highlights": "销售额完成 110%，新签 3 个年度框架合同。", "self_rating": "4"},
    ),
    "assess.manager": (
        "s100",
        {"manager_rating": "4", "performance_trend": "stable", "manager_comment": "目标达成扎实。"},
    ),
    "feedback": (
        "s100",
        {
            "feedback_date": "2026-12-28",
            "manager_feedback": "本季度目标达成扎实，继续保持；下季度加强大客户覆盖。",
        },
    ),
}
# state → the steps in order: (who takes it, trigger, kind, others who could take it too);
# everyone else trying it is refused
STEPS: list[tuple[str, list[tuple[str, str, str, set[str]]]]] = [
    (
        "plan",
        [("s101", "submit_plan", "request", set()), ("s100", "submit_plan", "approve", set())],
    ),
    ("monitor", [("hr01", "start_assessment", "fire", {"s100"})]),
    ("assess.self", [("s101", "submit_self", "fire", set())]),
    ("assess.manager", [("s100", "submit_review", "fire", set())]),
    (
        "assess.calibration",
        [("s100", "sign_off", "approve", {"hr01"}), ("hr01", "sign_off", "approve", set())],
    ),
    ("feedback", [("s101", "acknowledge", "fire", set())]),
]


def test_each_step_only_by_its_people(as_user: Any, cycle: int, app: Flask) -> None:
    """Walk 李娜's appraisal; at every step everyone else is refused (403) and nothing moves."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    clients = {w: as_user(w) for w in STAFF}
    for state, steps in STEPS:
        assert appraisal_of("s101").state == state
        if state in FILL:
            who, data = FILL[state]
            response = clients[who].post(
                f"/appraisals/{cycle}", data={**data, "version": appraisal_of("s101").version}
            )
            assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        if state == "monitor":  # the actuals checked in by month
            actuals = {"revenue": 130, "revenue_growth": 18, "new_customers": 13,
                       "collection_rate": 96}  # fmt: skip
            for response in record_actuals(clients["s101"], cycle, actuals):
                assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        if state == "feedback":
            response = clients["s101"].post(
                f"/appraisals/{cycle}",
                data={
                    "agreement": "agree",
                    "acknowledged": "y",
                    "version": appraisal_of("s101").version,
                },
            )
            assert response.status_code == 302
        for right, trigger, kind, also in steps:
            for w in STAFF:
                if w == right or w in also:
                    continue
                before = appraisal_of("s101")
                response = fire(clients[w], cycle, trigger, kind, comment="试图越权")
                assert response.status_code == 403, (state, w, trigger, kind, response.status_code)
                after = appraisal_of("s101")
                assert (after.state, after.version, after.pending_trigger) == (
                    before.state,
                    before.version,
                    before.pending_trigger,
                ), (state, w, trigger)
            response = fire(clients[right], cycle, trigger, kind)
            assert response.status_code == 302, (state, right, trigger, kind, problems(response))
    assert appraisal_of("s101").state == "closed"
    # a closed appraisal: nobody edits, nobody fires, everybody who could read still can
    for w in STAFF:
        response = fire(clients[w], cycle, "appeal", "fire", comment="x")
        assert response.status_code == 403
        response = clients[w].post(
            f"/appraisals/{cycle}",
            data={"employee_reply": "x", "version": appraisal_of("s101").version},
        )
        assert response.status_code == 403
        expected = 200 if w in VIEWERS["s101"] else 403
        assert clients[w].get(f"/appraisals/{cycle}").status_code == expected


def test_pending_request_freezes_the_form(as_user: Any, cycle: int) -> None:
    """While the plan awaits approval neither the employee nor the manager may edit it."""
    me, manager = as_user("s101"), as_user("s100")
    data = {"plan_summary": "聚焦重点行业大客户", "key_actions": "每周拜访 3 家重点客户。"}
    version = appraisal_of("s101").version
    assert me.post(f"/appraisals/{cycle}", data={**data, "version": version}).status_code == 302
    assert fire(me, cycle, "submit_plan", "request").status_code == 302
    before = appraisal_of("s101")
    for client in (me, manager):
        response = client.post(
            f"/appraisals/{cycle}", data={"plan_summary": "改", "version": before.version}
        )
        assert response.status_code == 403
    # the requester may not approve their own request
    assert fire(me, cycle, "submit_plan", "approve").status_code == 403
    after = appraisal_of("s101")
    assert (after.version, after.values, after.pending_trigger) == (
        before.version,
        before.values,
        "submit_plan",
    )


def test_deactivated_person_loses_access(app: Flask, as_user: Any, cycle: int) -> None:
    """A session and HTTP Basic credentials stop working when the person is deactivated."""
    me = as_user("s101")
    assert me.get(f"/appraisals/{cycle}").status_code == 200
    with app.app_context():
        user = db.session.scalar(select(User).where(User.employee_no == "s101"))
        user.active = False
        db.session.commit()
    response = me.get(f"/appraisals/{cycle}")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert me.get("/api/v1/tasks").status_code == 401
    api_client = app.test_client()
    assert api_client.get("/api/v1/tasks", auth=("s101", PASSWORD)).status_code == 401
    response = app.test_client().post("/login", data={"login": "s101", "password": PASSWORD})
    assert response.status_code == 401


def test_people_import_cannot_take_over_an_existing_account(
    app: Flask, as_user: Any, staff: dict[str, int]
) -> None:
    csv = (
        "employee_no,name,email,department,position,manager,password\n"
        "s100,张伟,s100@demo.opsperf,sales,sales_director,ceo,hijacked1\n"
    ).encode()
    response = as_user("hr01").post("/admin/people", data={"file": (io.BytesIO(csv), "people.csv")})
    assert response.status_code in (302, 403, 422)
    hijack = app.test_client().post("/login", data={"login": "s100", "password": "hijacked1"})
    assert hijack.status_code == 401, "HR logged in as the sales director"

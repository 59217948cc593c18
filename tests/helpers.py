"""Helpers for driving appraisals through the real HTTP layer."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from opsperf.persistence.models import Appraisal, User, db

APP: Flask = Flask(__name__)  # replaced by the ``app`` fixture

FIELDS = (
    "id",
    "state",
    "score",
    "grade",
    "bonus",
    "version",
    "pending_trigger",
    "result",
    "values",
    "employee_id",
    "manager_id",
    "department_id",
    "entry_seq",
    "cycle_id",
    "override",
    "due_at",
)


def snapshot(a: Appraisal) -> SimpleNamespace:
    return SimpleNamespace(**{name: getattr(a, name) for name in FIELDS})


def appraisal_of(employee_no: str) -> SimpleNamespace:
    """The newest appraisal of a person, as plain values read now from the database."""
    with APP.app_context():
        a = (
            db.session.query(Appraisal)
            .join(User, Appraisal.employee_id == User.id)
            .filter(User.employee_no == employee_no)
            .order_by(Appraisal.id.desc())
            .first()
        )
        assert a is not None, f"{employee_no} has no appraisal"
        return snapshot(a)


def appraisal(appraisal_id: int) -> SimpleNamespace:
    with APP.app_context():
        return snapshot(db.session.get(Appraisal, appraisal_id))


def save(client: FlaskClient, appraisal_id: int, data: dict[str, Any]) -> TestResponse:
    version = appraisal(appraisal_id).version
    return client.post(f"/appraisals/{appraisal_id}", data={**data, "version": version})


def checked_in(appraisal_id: int, table: str = "kpis") -> dict[str, str]:
    """The KPIs of the appraisal's form whose actual is checked in, each with the first
    period of its cycle (one check-in there makes it the actual, whatever the aggregate)."""
    from opsperf.services import checkins
    from opsperf.services.context import context

    with APP.app_context():
        a = db.session.get(Appraisal, appraisal_id)
        return {
            kpi.id: checkins.cycle_periods(a.cycle, kpi)[0].key
            for f, kpi in checkins.checkin_kpis(context(a).form)
            if f.id == table
        }


def record_actuals(
    client: FlaskClient, appraisal_id: int, actuals: dict[str, Any], table: str = "kpis"
) -> list[TestResponse]:
    """KPI actuals entered as the form takes them from the appraisal page: a checked-in
    KPI's as a check-in, the others typed. Returns each response."""
    periods = checked_in(appraisal_id, table)
    responses = []
    for period in sorted(set(periods.values())):
        data: dict[str, Any] = {"period": period, "version": appraisal(appraisal_id).version}
        for kpi, value in actuals.items():
            if periods.get(kpi) == period:
                data[f"value:{table}.{kpi}"] = str(value)
        responses.append(client.post(f"/appraisals/{appraisal_id}/checkins", data=data))
    typed = {k: v for k, v in actuals.items() if k not in periods}
    if typed:
        responses.append(save(client, appraisal_id, kpi_data(table, "actual", typed)))
    return responses


def fire(
    client: FlaskClient,
    appraisal_id: int,
    trigger: str,
    kind: str = "fire",
    comment: str = "",
    version: int | None = None,
) -> TestResponse:
    if version is None:
        version = appraisal(appraisal_id).version
    return client.post(
        f"/appraisals/{appraisal_id}/fire",
        data={"trigger": trigger, "kind": kind, "comment": comment, "version": version},
    )


def launch(
    client: FlaskClient,
    departments: list[str],
    workflow: str = "quarterly_review",
    name: str = "2026 Q4",
) -> TestResponse:
    return client.post(
        "/cycles/new",
        data={
            "name": name,
            "workflow": workflow,
            "period_start": "2026-10-01",
            "period_end": "2026-12-31",
            "departments": departments,
        },
    )


def launch_quarter(departments: list[str], name: str = "2026 Q4") -> dict[str, int]:
    """Launch the quarterly cycle through the service: employee number → appraisal id."""
    import datetime as dt

    from opsperf.services import cycles

    with APP.app_context():
        launched = cycles.launch(
            APP.extensions["opsperf.registry"].current,
            name=name,
            workflow_id="quarterly_review",
            period_start=dt.date(2026, 10, 1),
            period_end=dt.date(2026, 12, 31),
            department_ids=departments,
            actor=None,
        )
        return {a.employee.employee_no: a.id for a in launched.cycle.appraisals}


def kpi_data(field: str, column: str, values: dict[str, float]) -> dict[str, str]:
    return {f"{field}-{kpi}-{column}": str(v) for kpi, v in values.items()}


def events(appraisal_id: int) -> list[SimpleNamespace]:
    from opsperf.persistence.models import Event

    with APP.app_context():
        rows = db.session.query(Event).filter_by(appraisal_id=appraisal_id).order_by(Event.id)
        return [
            SimpleNamespace(
                kind=e.kind,
                trigger=e.trigger,
                from_state=e.from_state,
                to_state=e.to_state,
                actor_id=e.actor_id,
                comment=e.comment,
                changes=e.changes,
            )
            for e in rows
        ]


def problems(response: TestResponse) -> list[str]:
    """The error messages a page shows (flash messages and messages beside fields)."""
    import re

    html = response.get_data(as_text=True)
    found = re.findall(r'class="(?:flash flash-error|field-error)"[^>]*>(.*?)</div>', html, re.S)
    return [re.sub(r"<[^>]+>", "", text).strip() for text in found]


def to_calibration(app: Flask) -> int:
    """Launch sales and walk 李娜's appraisal to calibration, where sign_off needs two people."""
    import random

    from opsperf.services import demo

    appraisal_id = launch_quarter(["sales"], name="Q4")["s101"]
    with app.app_context():
        steps = ["submit_plan", "start_assessment", "submit_self", "submit_review"]
        demo._walk(appraisal_id, steps, random.Random(7))
    assert appraisal_of("s101").state == "assess.calibration"
    return appraisal_id


def example(name: str) -> dict[str, str]:
    """A pack of ``examples/`` as {relative path: text}, to write (changed or not) and load."""
    from opsperf.config import PROJECT_ROOT

    root = PROJECT_ROOT / "examples" / name
    return {
        str(path.relative_to(root)): path.read_text(encoding="utf-8")
        for path in sorted(root.rglob("*.yaml"))
    }


def write_pack(root: Any, pack: dict[str, str]) -> list[str]:
    """Write a pack ({relative path: text}) under ``root``; its org/, forms/, workflows/."""
    for name, content in pack.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return [str(root / folder) for folder in ("org", "forms", "workflows")]


def diagnostics_after(root: Any, pack: dict[str, str], path: str, old: str, new: str) -> str:
    """Every diagnostic's message, joined, for ``pack`` with ``old`` replaced in ``path``."""
    from pathlib import Path

    from opsperf.definitions.loader import load

    assert old in pack[path], f"{old!r} is not in {path}"
    roots = write_pack(root, {**pack, path: pack[path].replace(old, new)})
    return " | ".join(d.message for d in load([Path(r) for r in roots]).diagnostics)


def crew(app: Flask, rows: list[dict[str, str]], password: str) -> Any:
    """Import ``rows`` (each with ``password``) and return ``login(employee_no)`` → a client."""
    from opsperf.services import people
    from tests.conftest import FAST_HASH

    with app.app_context():
        defs = app.extensions["opsperf.registry"].current
        found = people.import_people(
            defs, [{**r, "password": password} for r in rows], password_method=FAST_HASH
        )
        assert not found.problems, found.problems
        assert found.created == len(rows)

    def login(employee_no: str) -> FlaskClient:
        client = app.test_client()
        response = client.post("/login", data={"login": employee_no, "password": password})
        assert response.status_code == 302, employee_no
        return client

    return login

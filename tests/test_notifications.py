"""Notifications and the scheduler: reminders at the declared offsets, overdue notices and
escalation, overdue steps fired once (also by two runs at once), e-mail through a real SMTP
server in the reader's language, retries, digests, the inbox, and the rules' checks."""

from __future__ import annotations

import datetime as dt
import random
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import func, select

from opsperf.cli import _run_tick
from opsperf.persistence.models import (
    Appraisal,
    Email,
    Event,
    Notification,
    ScheduleMark,
    User,
    db,
)
from opsperf.services import demo, scheduler
from tests.helpers import appraisal_of, diagnostics_after, fire, launch_quarter, to_calibration

PLAN_DUE = dt.datetime(2026, 10, 15)  # the sales plan: 14 days after the quarter starts


# --------------------------------------------------------------------------- helpers


class Inbox:
    """What a real SMTP server (aiosmtpd) received."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": _free_port(),  # nobody listens until a test starts a server there
        "SMTP_SECURITY": "none",
        "PUBLIC_URL": "http://opsperf.example/",
        "EMAIL_RETRIES": 3,
        "EMAIL_RETRY_DELAY": 60,
    }


def tick(app: Flask, now: dt.datetime) -> scheduler.Report:
    return _run_tick(app, now)


def notes(app: Flask, employee_no: str, message: str | None = None) -> list[Notification]:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.employee_no == employee_no))
        query = select(Notification).where(Notification.user_id == user.id)
        if message:
            query = query.where(Notification.message == message)
        found = list(db.session.scalars(query.order_by(Notification.id)))
        db.session.expunge_all()
        return found


def launch_now(departments: list[str]) -> dict[str, int]:
    """A cycle whose quarter began yesterday: no deadline is near (for the real clock)."""
    from opsperf.services import cycles
    from tests import helpers

    today = dt.datetime.now(dt.UTC).date()
    with helpers.APP.app_context():
        launched = cycles.launch(
            helpers.APP.extensions["opsperf.registry"].current,
            name="This quarter",
            workflow_id="quarterly_review",
            period_start=today - dt.timedelta(days=1),
            period_end=today + dt.timedelta(days=89),
            department_ids=departments,
            actor=None,
        )
        return {a.employee.employee_no: a.id for a in launched.cycle.appraisals}


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def walk(app: Flask, appraisal_id: int, steps: list[str]) -> None:
    with app.app_context():
        demo._walk(appraisal_id, steps, random.Random(3))


def set_user(app: Flask, employee_no: str, **fields: Any) -> None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.employee_no == employee_no))
        for key, value in fields.items():
            setattr(user, key, value)
        db.session.commit()


# --------------------------------------------------------------------------- deadlines


def test_reminders_come_at_the_declared_offsets_once(app: Flask, staff: Any) -> None:
    ids = launch_quarter(["sales"])
    assert tick(app, PLAN_DUE - dt.timedelta(days=4)).reminders == 0  # before "P3D"

    first = tick(app, PLAN_DUE - dt.timedelta(days=2, hours=12))
    assert first.reminders == len(ids)  # every sales appraisal is in plan
    said = notes(app, "s101", "reminder")
    assert len(said) == 1
    assert said[0].appraisal_id == ids["s101"]
    assert said[0].params["person"] == "李娜"
    assert said[0].params["due"].startswith("2026-10-15")
    # the manager may act on their people's plans too; nobody else is told
    assert {n.appraisal_id for n in notes(app, "s100", "reminder")} == set(ids.values())
    assert notes(app, "m100", "reminder") == []
    assert notes(app, "hr01", "reminder") == []

    assert tick(app, PLAN_DUE - dt.timedelta(days=2)).reminders == 0  # done already
    assert tick(app, PLAN_DUE - dt.timedelta(hours=20)).reminders == len(ids)  # "P1D"
    assert len(notes(app, "s101", "reminder")) == 2
    assert tick(app, PLAN_DUE - dt.timedelta(hours=2)).reminders == 0


def test_a_late_first_run_sends_one_reminder_not_every_missed_one(app: Flask, staff: Any) -> None:
    launch_quarter(["sales"])
    assert tick(app, PLAN_DUE - dt.timedelta(hours=6)).reminders == 4
    assert len(notes(app, "s101", "reminder")) == 1
    with app.app_context():
        marks = set(db.session.scalars(select(ScheduleMark.key)))
    assert any(k.endswith(":P3D") for k in marks)
    assert any(k.endswith(":P1D") for k in marks)
    assert tick(app, PLAN_DUE - dt.timedelta(hours=5)).reminders == 0


def test_overdue_notifies_and_escalates_to_the_declared_role(app: Flask, staff: Any) -> None:
    appraisal_id = launch_quarter(["sales"])["s101"]
    walk(app, appraisal_id, ["submit_plan", "start_assessment", "submit_self"])
    a = appraisal_of("s101")
    assert a.state == "assess.manager"
    due = a.due_at

    report = tick(app, due + dt.timedelta(hours=1))
    assert (report.overdue, report.escalated) >= (1, 1)
    overdue = [n for n in notes(app, "s100", "overdue") if n.appraisal_id == appraisal_id]
    escalated = [n for n in notes(app, "hr01", "escalated") if n.appraisal_id == appraisal_id]
    assert len(overdue) == 1
    assert len(escalated) == 1
    assert notes(app, "s101", "overdue") == []  # the manager's step is late, not the employee's

    again = tick(app, due + dt.timedelta(days=2))
    assert (again.overdue, again.escalated) == (0, 0)
    assert len([n for n in notes(app, "hr01", "escalated") if n.appraisal_id == appraisal_id]) == 1


def _to_feedback(app: Flask) -> int:
    appraisal_id = to_calibration(app)
    walk(app, appraisal_id, ["sign_off"])
    assert appraisal_of("s101").state == "feedback"
    return appraisal_id


def test_an_overdue_step_is_fired_by_the_system_and_audited_with_its_rule(
    app: Flask, staff: Any, as_user: Any
) -> None:
    appraisal_id = _to_feedback(app)
    due = appraisal_of("s101").due_at
    assert tick(app, due - dt.timedelta(minutes=1)).fired == 0

    report = tick(app, due + dt.timedelta(minutes=5))
    assert report.fired == 1
    assert appraisal_of("s101").state == "closed"
    with app.app_context():
        fired = db.session.scalars(
            select(Event).where(Event.appraisal_id == appraisal_id, Event.kind == "transition")
        ).all()[-1]
        assert (fired.trigger, fired.actor_id, fired.to_state) == (
            "deem_acknowledged",
            None,
            "closed",
        )
        assert fired.changes["rule"] == "feedback: on_overdue.fire deem_acknowledged"
        assert fired.at == due + dt.timedelta(minutes=5)  # the scheduler's moment
    # employee and manager hear that the system took the step; HR that the step was overdue
    assert [n.message for n in notes(app, "s101", "fired")] == ["fired"]
    assert any(n.message == "fired" for n in notes(app, "s100"))
    assert any(
        n.message == "overdue" and n.appraisal_id == appraisal_id for n in notes(app, "hr01")
    )
    history = as_user("s101").get(f"/appraisals/{appraisal_id}").get_data(as_text=True)
    assert "系统" in history
    assert "on_overdue.fire deem_acknowledged" in history

    assert tick(app, due + dt.timedelta(days=1)).fired == 0


def test_two_runs_at_once_fire_an_overdue_step_exactly_once(app: Flask, staff: Any) -> None:
    appraisal_id = _to_feedback(app)
    moment = appraisal_of("s101").due_at + dt.timedelta(hours=1)
    barrier = threading.Barrier(2)
    reports: list[scheduler.Report] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            reports.append(tick(app, moment))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(r.fired for r in reports) == [0, 1]
    with app.app_context():
        fired = db.session.scalar(
            select(func.count()).where(
                Event.appraisal_id == appraisal_id, Event.trigger == "deem_acknowledged"
            )
        )
        told = db.session.scalar(
            select(func.count()).where(
                Notification.appraisal_id == appraisal_id, Notification.message == "overdue"
            )
        )
    assert fired == 1
    assert told == 2  # employee and HR, once each


# --------------------------------------------------------------------------- step events


def test_a_request_tells_the_approver_and_a_decline_the_requester(
    app: Flask, staff: Any, as_user: Any
) -> None:
    appraisal_id = launch_quarter(["sales"])["s101"]
    walk(app, appraisal_id, ["@request_plan"])
    asked = notes(app, "s100", "approval_requested")
    assert [n.appraisal_id for n in asked] == [appraisal_id]
    assert asked[0].params["actor"] == "李娜"
    assert notes(app, "s101", "approval_requested") == []  # nobody is told of their own doing

    response = fire(as_user("s100"), appraisal_id, "submit_plan", "decline", "目标偏低，请调整。")
    assert response.status_code == 302
    assert [n.message for n in notes(app, "s101")] == ["declined"]


# --------------------------------------------------------------------------- e-mail


def test_email_arrives_in_the_readers_language_with_a_working_link(
    app: Flask, staff: Any, smtp: tuple[Inbox, int], as_user: Any
) -> None:
    inbox, port = smtp
    app.config["SMTP_PORT"] = port
    set_user(app, "s100", language="zh")
    set_user(app, "s101", language="en")
    appraisal_id = launch_now(["sales"])["s101"]
    walk(app, appraisal_id, ["@request_plan"])
    fire(as_user("s100"), appraisal_id, "submit_plan", "decline", "目标偏低。")

    report = tick(app, now())
    assert report.sent == 2, report
    by_to = {str(m["To"]): m for m in inbox.messages}
    chinese, english = by_to["s100@demo.opsperf"], by_to["s101@demo.opsperf"]
    assert "李娜" in str(chinese["Subject"])
    assert "请" in str(chinese["Subject"])
    assert "declined" in str(english["Subject"])
    assert "张伟" in str(english["Subject"])
    for message in (chinese, english):
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        url = f"http://opsperf.example/appraisals/{appraisal_id}"
        assert url in text
        assert f'href="{url}' in html
    assert "Hello 李娜" in english.get_body(("plain",)).get_content()
    # the link opens the appraisal for its reader
    assert as_user("s101").get(f"/appraisals/{appraisal_id}").status_code == 200
    with app.app_context():
        sent = db.session.scalars(select(Email)).all()
        assert {e.status for e in sent} == {"sent"}
        assert all(e.to_addr for e in sent)
    assert tick(app, now()).sent == 0


def test_a_refused_delivery_is_retried_then_shown_failed(
    app: Flask, staff: Any, smtp: tuple[Inbox, int], as_user: Any
) -> None:
    inbox, port = smtp  # the configured port refuses: nobody listens there
    appraisal_id = launch_now(["sales"])["s101"]
    walk(app, appraisal_id, ["@request_plan"])
    start = now()

    first = tick(app, start)
    assert (first.sent, first.retrying) == (0, 1)
    assert tick(app, start + dt.timedelta(seconds=30)).retrying == 0  # waits a minute
    assert tick(app, start + dt.timedelta(seconds=61)).retrying == 1  # then two
    last = tick(app, start + dt.timedelta(seconds=61 + 121))
    assert (last.retrying, last.failed) == (0, 1)  # three tries, given up
    with app.app_context():
        email = db.session.scalars(select(Email)).one()
        assert (email.status, email.attempts) == ("failed", 3)
        assert "Connection" in (email.last_error or "") or "refused" in (email.last_error or "")
        email_id = email.id
    admin = as_user("admin")
    page = admin.get("/admin/emails/?status=failed").get_data(as_text=True)
    assert "失败" in page
    assert "张伟" in page

    # the server is mended: the administrator tries again and the next run delivers it
    app.config["SMTP_PORT"] = port
    assert admin.post(f"/admin/emails/{email_id}/retry").status_code == 302
    assert tick(app, start + dt.timedelta(hours=1)).sent == 1
    assert [str(m["To"]) for m in inbox.messages] == ["s100@demo.opsperf"]


def test_the_daily_digest_gathers_a_days_notifications_in_one_email(
    app: Flask, staff: Any, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    app.config["SMTP_PORT"] = port
    set_user(app, "s100", email_notifications="digest")
    launch_quarter(["sales"])
    day = PLAN_DUE - dt.timedelta(days=2, hours=12)  # 12:00 UTC, after the digest hour
    tick(app, day)  # reminders: four of the manager's, mailed in the digest
    tick(app, day + dt.timedelta(minutes=1))
    digests = [m for m in inbox.messages if str(m["To"]) == "s100@demo.opsperf"]
    assert len(digests) == 1
    assert "4" in str(digests[0]["Subject"])
    assert digests[0].get_body(("plain",)).get_content().count("http://opsperf.example/") >= 5
    # s101 wants e-mail at once: one message for the one reminder
    assert [str(m["To"]) for m in inbox.messages].count("s101@demo.opsperf") == 1

    tick(app, PLAN_DUE - dt.timedelta(hours=20))  # the "P1D" reminders: the same day? no — next
    with app.app_context():
        waiting = db.session.scalar(select(func.count()).where(Notification.mail == "digest"))
    assert waiting == 0  # a new day: gathered into the next digest
    assert len([m for m in inbox.messages if str(m["To"]) == "s100@demo.opsperf"]) == 2


# --------------------------------------------------------------------------- the inbox


def test_the_inbox_counts_unread_opens_and_marks_read(app: Flask, staff: Any, as_user: Any) -> None:
    appraisal_id = launch_quarter(["sales"])["s101"]
    walk(app, appraisal_id, ["@request_plan"])
    manager = as_user("s100")
    home = manager.get("/").get_data(as_text=True)
    assert 'class="inbox-count" aria-hidden="true">1<' in home

    page = manager.get("/inbox/").get_data(as_text=True)
    assert "李娜" in page
    assert "请您审批" in page
    (n,) = notes(app, "s100")
    opened = manager.get(f"/inbox/{n.id}")
    assert opened.status_code == 302
    assert opened.location.endswith(f"/appraisals/{appraisal_id}")
    assert notes(app, "s100")[0].read_at is not None
    assert "inbox-count" not in manager.get("/").get_data(as_text=True)

    # someone else's notification is as missing as one that does not exist
    assert as_user("s102").get(f"/inbox/{n.id}").status_code == 404
    assert as_user("s102").post(f"/inbox/{n.id}/read").status_code == 404

    walk(app, appraisal_id, ["submit_plan", "start_assessment"])  # the employee is told
    assert notes(app, "s101")[-1].message == "step"
    employee = as_user("s101")
    assert "inbox-count" in employee.get("/").get_data(as_text=True)
    assert employee.post("/inbox/read-all").status_code == 302
    assert all(n.read_at for n in notes(app, "s101"))
    assert employee.post("/inbox/settings", data={"email": "digest"}).status_code == 302
    assert employee.post("/inbox/settings", data={"email": "pigeon"}).status_code == 422
    with app.app_context():
        assert (
            db.session.scalar(select(User.email_notifications).where(User.employee_no == "s101"))
            == "digest"
        )


# --------------------------------------------------------------------------- the rules' checks


RULES = """\
notifications:
  - event: approval_requested      # 请求审批时，通知能审批的人
    notify: [actors]
"""


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        (
            "    notify: [actors]\n",
            "    notify: [actor]\n",
            "unknown role 'actor'; did you mean 'actors'?",
        ),
        (
            "    notify: [actors]\n",
            "    states: [asess]\n    notify: [actors]\n",
            "unknown state 'asess'",
        ),
        (
            "    notify: [actors]\n",
            "    transitions: [submit]\n    notify: [actors]\n",
            "unknown transition 'submit'",
        ),
        ("  - event: approval_requested", "  - event: approved", "approved"),
        (
            "    notify: [actors]\n",
            "    notify: [mentioned]\n",
            "only a 'mentioned' rule has people mentioned",
        ),
        ("    notify: [actors]\n", "    notify: [actors]\n    message: hello\n", "hello"),
    ],
)
def test_the_checker_locates_rule_errors(tmp_path: Path, old: str, new: str, said: str) -> None:
    from opsperf.config import PROJECT_ROOT
    from opsperf.definitions.loader import load

    pack = {
        str(p.relative_to(PROJECT_ROOT)): p.read_text(encoding="utf-8")
        for folder in ("org", "forms", "workflows")
        for p in sorted((PROJECT_ROOT / folder).rglob("*.yaml"))
    }
    path = "workflows/quarterly_review.yaml"
    assert RULES in pack[path]
    text = diagnostics_after(tmp_path, pack, path, RULES, RULES.replace(old, new))
    assert said in text, text
    found = load([tmp_path / f for f in ("org", "forms", "workflows")]).diagnostics
    located = [d for d in found if said.split("'")[0] in d.message or said in d.message]
    assert located, [d.message for d in found]
    assert all(d.line for d in located), [(d.message, d.line) for d in found]


def test_remind_without_a_deadline_is_a_warning(tmp_path: Path) -> None:
    from opsperf.config import PROJECT_ROOT

    pack = {
        str(p.relative_to(PROJECT_ROOT)): p.read_text(encoding="utf-8")
        for folder in ("org", "forms", "workflows")
        for p in sorted((PROJECT_ROOT / folder).rglob("*.yaml"))
    }
    text = diagnostics_after(
        tmp_path,
        pack,
        "workflows/quarterly_review.yaml",
        "    final: true\n  cancelled:",
        "    final: true\n    remind: [P1D]\n  cancelled:",
    )
    assert "remind never happens: the state has no 'due'" in text


def test_tick_from_the_command_line(app: Flask, staff: Any, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from opsperf.cli import main

    launch_quarter(["sales"])
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    runner = CliRunner(env={"OPSPERF_SQLALCHEMY_DATABASE_URI": uri, "OPSPERF_SMTP_HOST": ""})
    result = runner.invoke(main, ["tick", "--now", "2026-10-12T12:00"])
    assert result.exit_code == 0, result.output
    assert "reminders=4" in result.output
    again = runner.invoke(main, ["tick", "--now", "2026-10-12T12:30"])
    assert "reminders=0" in again.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Appraisal)) == 4


def test_a_step_entered_after_its_deadline_is_still_seen_as_overdue(app: Flask, staff: Any) -> None:
    """Runs look at the deadlines since the last run, and at the steps entered since then: a
    plan sent back weeks after its date is overdue at once, and told so."""
    from opsperf.persistence.models import clock_at
    from opsperf.services import appraisals

    appraisal_id = launch_quarter(["sales"])["s101"]
    walk(app, appraisal_id, ["submit_plan"])
    tick(app, PLAN_DUE + dt.timedelta(days=5))  # the others' plans: overdue, told
    assert notes(app, "s101", "overdue") == []
    with app.app_context(), clock_at(PLAN_DUE + dt.timedelta(days=10)):
        boss = db.session.scalar(select(User).where(User.employee_no == "s100"))
        a = db.session.get(Appraisal, appraisal_id)
        appraisals.fire(
            appraisal_id, boss, "revise_plan", "fire", "目标需要按新区域调整。", a.version
        )
    assert appraisal_of("s101").state == "plan"
    tick(app, PLAN_DUE + dt.timedelta(days=10, hours=1))
    assert [n.appraisal_id for n in notes(app, "s101", "overdue")] == [appraisal_id]


def test_the_deadlines_are_read_a_page_at_a_time_without_missing_one(
    app: Flask, staff: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduler, "BATCH", 1)  # a page per appraisal: every page boundary
    ids = launch_quarter(["sales"])
    assert tick(app, PLAN_DUE - dt.timedelta(days=2, hours=12)).reminders == len(ids)
    assert tick(app, PLAN_DUE + dt.timedelta(hours=1)).overdue == len(ids)

"""Task lists read from open steps are exactly the task lists worked out the slow way.

A generated company runs the shipped pack, and another runs a pack written to reach every rule of
who-may-act: custom roles of each scope held in and outside the department that declares them,
escalation to custom roles, edit rights on a parent state, ``all``, ``any`` (with self-approval)
and ``quorum`` approvals, requests, declines and a step open from anywhere. Random people take
random steps; after every few, every person's materialised list is compared with ``tests.oracle``,
now and a month later (when deadlines have passed and escalations count).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from opsperf.config import PROJECT_ROOT
from opsperf.errors import Conflict, TransitionNotAllowed, ValidationFailed
from opsperf.persistence.models import Appraisal, OpenStep, User, db, utcnow
from opsperf.services import appraisals, cycles, demo, generated, people, steps, tasks
from opsperf.services.context import context
from tests import oracle
from tests.conftest import FAST_HASH
from tests.worlds import open_world

SHIPPED = [str(PROJECT_ROOT / name) for name in ("org", "forms", "workflows")]

PACK = {
    "org/hq.yaml": """\
kind: Department
id: company
version: 1
name: {zh: 公司, en: Company}
---
kind: Department
id: hq
version: 1
name: {zh: 总部, en: Head office}
parent: company
head: director
roles:
  - {id: auditor, name: {zh: 审计员, en: Auditor}, scope: subtree}
positions:
  - {id: director, name: 总监, form: f, workflow: w}
  - {id: analyst, name: 分析员, form: f, workflow: w}
---
kind: Department
id: floor
version: 1
name: {zh: 车间, en: Floor}
parent: hq
head: floor_manager
roles:
  - {id: safety_officer, name: {zh: 安全员, en: Safety officer}, scope: department}
positions:
  - {id: floor_manager, name: 车间主任, form: f, workflow: w}
  - {id: operator, name: 操作工, form: f, workflow: w}
  - {id: inspector, name: 质检员, form: f, workflow: w}
""",
    "forms/f.yaml": """\
kind: Form
id: f
version: 1
title: 测试表
period: quarter
sections:
  - id: goals
    title: 目标
    fields:
      - id: kpis
        type: kpi_table
        label: KPI
        kpis:
          - {id: output, name: 产量, unit: 件, weight: 100, target: 100}
  - id: audit
    title: 审计
    fields:
      - {id: audit_note, type: textarea, label: 审计意见}
  - id: self_part
    title: 自评
    fields:
      - {id: self_rating, type: rating, scale: 5, label: 自评, required: true}
  - id: review
    title: 评价
    fields:
      - {id: rating, type: rating, scale: 5, label: 评分}
  - id: wrap
    title: 确认
    fields:
      - {id: accepted, type: checkbox, label: 已确认}
""",
    "workflows/w.yaml": """\
kind: Workflow
id: w
version: 1
name: 测试流程
not_self: [auditor]
states:
  plan:
    edit: {employee: [goals], manager: [goals]}
    due: P3D
    on_overdue: {escalate_to: safety_officer}
  monitor:
    edit: {employee: [kpis.actual], safety_officer: [kpis.note], auditor: [audit]}
    due: P5D
    on_overdue: {escalate_to: auditor}
  assess:
    initial: self
    edit: {dept_head: [review]}
    states:
      self: {edit: {employee: [self_part]}, due: P2D, on_overdue: {escalate_to: hr}}
      review: {edit: {manager: [review]}}
      panel: {}
  feedback: {edit: {employee: [wrap]}, due: PT1H, on_overdue: {escalate_to: manager}}
  done: {final: true}
  dropped: {final: true}
transitions:
  - {trigger: propose, source: plan, dest: monitor, roles: [employee],
     approval: {roles: [manager, dept_head], mode: all}}
  - {trigger: fast_track, source: plan, dest: monitor, approval: {roles: [auditor, hr], mode: any},
     allow_self_approval: true}
  - {trigger: close, source: monitor, dest: assess, roles: [hr, auditor]}
  - {trigger: back, source: monitor, dest: plan, roles: [manager], comment: required,
     require_complete: false}
  - {trigger: hand_in, source: assess.self, dest: assess.review, roles: [employee]}
  - {trigger: redo, source: assess.review, dest: assess.self, roles: [manager, dept_head],
     comment: required, require_complete: false}
  - {trigger: rate, source: assess.review, dest: assess.panel, roles: [manager]}
  - {trigger: second_opinion, source: assess.review, dest: assess.panel, roles: [manager],
     approval: {roles: [hr, auditor], mode: any}}
  - {trigger: panel_ok, source: assess.panel, dest: feedback,
     approval: {roles: [dept_head, hr, safety_officer], mode: quorum, quorum: 2}}
  - {trigger: sign, source: feedback, dest: done, roles: [employee]}
  - {trigger: drop, source: "*", dest: dropped, roles: [hr], comment: required}
""",
}


def _write_pack(root: Path) -> list[str]:
    for name, text in PACK.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return [str(root / d) for d in ("org", "forms", "workflows")]


def _company(defs: Any, size: int) -> list[dict[str, str]]:
    made = generated.company(defs, size, team_size=5, hr_people=2, seed=7)
    if "floor" not in defs.departments:
        return made.rows
    # Approvers who are also appraised (the employee and the requester may not approve), and
    # roles held outside the department that defines them (see appraisals.roles_of).
    floor = [r for r in made.rows if r["department"] == "floor"]
    for i, row in enumerate(floor[1:], start=1):
        if row["employee_no"] in made.leads:
            row["roles"] = "auditor"
        else:
            row["roles"] = ("safety_officer", "hr", "", "auditor")[i % 4]
    next(r for r in made.rows if r["department"] == "hq" and r["position"] == "analyst")[
        "roles"
    ] = "safety_officer"
    return made.rows


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module", params=["shipped", "custom"])
def world(
    request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    roots = SHIPPED
    if request.param == "custom":
        roots = _write_pack(tmp_path_factory.mktemp("pack"))
    worlds = open_world(
        request, tmp_path_factory, roots, "steps", backend=backend, demo_people=False
    )
    app = next(worlds)
    with app.app_context():
        defs = app.extensions["opsperf.registry"].current
        result = people.import_people(
            defs, _company(defs, 40), password_method=FAST_HASH, by_admin=True
        )
        assert not result.problems, result.problems[:5]
        workflow = next(iter(defs.workflows))
        for name, start in (("Q3", dt.date(2026, 7, 1)), ("Q4", dt.date(2026, 10, 1))):
            top = [d.id for d in defs.departments.values() if d.parent is None]
            cycles.launch(
                defs,
                name=name,
                workflow_id=workflow,
                period_start=start,
                period_end=start + dt.timedelta(days=90),
                department_ids=top,
                actor=None,
            )
    yield app
    next(worlds, None)


def _fill(appraisal_id: int, rng: random.Random) -> None:
    """Everyone who may edit now fills in what they may (as the demo does)."""
    demo._fill_all(appraisal_id, rng)


def _step(rng: random.Random, everyone: list[User]) -> None:
    """A random person takes a random step they may take on a random open appraisal."""
    a = appraisals.get(rng.choice(list(db.session.scalars(select(Appraisal.id)))))
    for _ in range(rng.randint(1, 12)):  # several steps on one appraisal, to get deep
        _act(rng, everyone, a.id)


def _weight(ctx: Any, action: Any) -> float:
    """Mostly forward along the cycle; sometimes back or declined; rarely cancelled."""
    t = ctx.workflow.transition(ctx.appraisal.state, action.trigger)
    if "*" in t.sources:
        return 0.002
    if action.kind == "decline" or not t.require_complete:  # declines and sending back
        return 0.2
    return 1.0


def _act(rng: random.Random, everyone: list[User], appraisal_id: int) -> None:
    a = appraisals.get(appraisal_id)
    ctx = context(a)
    if ctx.final:
        return
    options = [(u, x) for u in everyone for x in appraisals.actions_for(ctx, u)]
    if not options:
        return
    user, action = rng.choices(options, [_weight(ctx, x) for _, x in options])[0]
    if action.kind in ("fire", "request") and rng.random() < 0.9:
        try:
            _fill(a.id, rng)
        except Exception:  # a value the demo filler cannot make: take the step anyway
            db.session.rollback()
    a = appraisals.get(a.id)
    try:
        appraisals.fire(a.id, user, action.trigger, action.kind, "随机测试。", a.version)
    except (ValidationFailed, TransitionNotAllowed, Conflict):
        db.session.rollback()


def _materialised(user: User, now: dt.datetime) -> dict[int, oracle.Expected]:
    """Every page of the user's list (short pages, to cross many page boundaries)."""
    out: dict[int, oracle.Expected] = {}
    order: list[tuple[dt.datetime, int]] = []
    page = 1
    while True:
        current = tasks.tasks_for(user, page=page, per_page=7, now=now)
        for t in current.items:
            order.append((t.due or steps.NO_DEADLINE, t.appraisal.id))
            out[t.appraisal.id] = oracle.Expected(
                t.appraisal.id,
                frozenset((s.trigger, s.kind) for s in t.actions),
                t.can_edit,
                t.escalated,
                t.due,
            )
        if not current.has_next:
            assert len(out) == current.total
            assert order == sorted(order), "most urgent first, then by appraisal"
            return out
        page += 1


def _compare(app: Flask) -> int:
    with app.app_context():
        everyone = list(db.session.scalars(select(User).order_by(User.id)))
        compared = 0
        for now in (utcnow(), utcnow() + dt.timedelta(days=30)):
            for user in everyone:
                expected = oracle.tasks_for(user, now)
                got = _materialised(user, now)
                assert got == expected, (user.employee_no, _diff(expected, got))
                compared += len(got)
        return compared


def _diff(expected: dict[int, Any], got: dict[int, Any]) -> list[Any]:
    keys = sorted(set(expected) | set(got))
    return [(k, expected.get(k), got.get(k)) for k in keys if expected.get(k) != got.get(k)][:5]


def test_random_walks_keep_task_lists_exact(world: Flask) -> None:
    rng = random.Random(11)
    assert _compare(world) > 0
    for _round in range(3):
        with world.app_context():
            everyone = list(db.session.scalars(select(User).order_by(User.id)))
            for _ in range(25):
                _step(rng, everyone)
        assert _compare(world) > 0


def test_a_rebuild_writes_the_same_rows(world: Flask) -> None:
    def rows() -> list[Any]:
        return sorted(
            (s.appraisal_id, s.actor, s.kind, s.trigger or "", s.due_at, s.entry_seq)
            for s in db.session.scalars(select(OpenStep))
        )

    with world.app_context():
        before = rows()
        assert before
        assert steps.rebuild() > 0
        assert rows() == before
        assert steps.rebuild_if_stale() is None  # the rules are current now


def test_long_lists_count_to_a_cap_and_still_page_to_the_end(
    world: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "COUNT_CAP", 5)
    with world.app_context():
        now = utcnow()
        everyone = list(db.session.scalars(select(User)))
        busiest = max(everyone, key=lambda u: len(oracle.tasks_for(u, now)))
        expected = oracle.tasks_for(busiest, now)
        assert len(expected) > 8
        first = tasks.tasks_for(busiest, per_page=2, now=now)
        assert (first.total, first.exact, first.has_next) == (5, False, True)
        seen, page = [], first
        while True:
            seen += [t.appraisal.id for t in page.items]
            if not page.has_next:
                break
            page = tasks.tasks_for(busiest, page=page.number + 1, per_page=2, now=now)
        assert sorted(seen) == sorted(expected)
        assert tasks.tasks_for(busiest, page=999, per_page=2, now=now).items == []

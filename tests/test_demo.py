"""The demo reads like a company in the middle of a quarter, whatever day it is seeded."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from flask import Flask

from opsperf.persistence.models import Appraisal, Cycle, User, db, utcnow
from opsperf.services import demo
from tests.conftest import FAST_HASH


def test_the_demo_cycle_is_this_quarter_with_only_plans_late(app: Flask) -> None:
    with app.app_context():
        defs = app.extensions["opsperf.registry"].current
        demo.seed(defs, password_method=FAST_HASH)
        cycle = db.session.query(Cycle).one()
        today = dt.date.today()
        assert cycle.period_start <= today <= cycle.period_end
        assert cycle.period_start.day == 1
        assert cycle.period_start.month in (1, 4, 7, 10)
        appraisals = db.session.query(Appraisal).all()
        states = Counter(a.state.split(".")[0] for a in appraisals)
        assert set(states) >= {"plan", "monitor", "assess", "feedback", "closed"}
        late = {
            db.session.get(User, a.employee_id).employee_no: a.state
            for a in appraisals
            if a.due_at is not None and a.due_at < utcnow()
        }
        # Only the two plans that are not agreed yet can be late (after the plan deadline).
        assert set(late) <= {"m101", "p102"}, late
        assert set(late.values()) <= {"plan"}
        demo.seed(defs, password_method=FAST_HASH)  # idempotent
        assert db.session.query(Appraisal).count() == len(appraisals)

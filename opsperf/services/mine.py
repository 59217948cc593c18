"""A person's own appraisals, current and past: the "My appraisals" page."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from opsperf.persistence.models import Appraisal, Cycle, User, db, utcnow
from opsperf.services import appraisals, calibration
from opsperf.services.context import Context, context
from opsperf.services.pages import Page


@dataclass
class MyAppraisal:
    """One row: the appraisal, its step and deadline, and its result as its page shows it."""

    ctx: Context
    due: dt.datetime | None
    overdue: bool
    result: bool  # score and grade are shown (as on the appraisal's page)
    provisional: bool

    @property
    def appraisal(self) -> Appraisal:
        return self.ctx.appraisal


def of(user: User, page: int = 1, per_page: int = 20) -> Page[MyAppraisal]:
    """``user``'s own appraisals, newest cycle first, a page at a time (in SQL)."""
    own = Appraisal.employee_id == user.id
    total = db.session.scalar(select(func.count()).select_from(Appraisal).where(own)) or 0
    out: Page[MyAppraisal] = Page.of(page, per_page, total)
    rows = db.session.scalars(
        select(Appraisal)
        .join(Cycle, Cycle.id == Appraisal.cycle_id)
        .where(own)
        .options(joinedload(Appraisal.cycle))
        .order_by(Cycle.period_start.desc(), Cycle.id.desc())
        .offset(out.offset)
        .limit(out.per_page)
    )
    now = utcnow()
    for a in rows:
        ctx = context(a)
        due = appraisals.due_at(ctx)
        out.items.append(
            MyAppraisal(
                ctx,
                due,
                appraisals.is_overdue(ctx, now),
                appraisals.result_shown(ctx),
                calibration.provisional(ctx),
            )
        )
    return out

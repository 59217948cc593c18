"""Bonus pools: a department's bonuses against its pool, scaled down pro rata to fit it.

The pool of a department is the policy's ``budget.amounts`` for it, or base_bonus × the
department's headcount × ``budget.factor``; the headcount and the bonuses allocated are those
of the calibrated population (in calibration or signed off) under the same policy. With
``fit``, a bonus is scaled when its calibration is signed off by pool ÷ allocated (never
above 1), and the arithmetic is kept on the appraisal.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from opsperf.definitions.schema import IncentivePolicy, Rounding
from opsperf.engine.scoring import money
from opsperf.persistence.cache import per_transaction
from opsperf.persistence.models import Appraisal, db
from opsperf.services.context import Context


@dataclass(frozen=True)
class Pool:
    amount: float
    headcount: int
    fixed: float  # bonuses already signed off (scaled or not): they stay as they are
    open: float  # the policy's bonuses of those signed now or still in calibration

    @property
    def allocated(self) -> float:
        return self.fixed + self.open

    @property
    def factor(self) -> float:
        """What the open bonuses are multiplied by to fit what is left of the pool (1: they
        fit; never above 1, never below 0)."""
        left = max(0.0, self.amount - self.fixed)
        if self.open <= left or self.open <= 0:
            return 1.0
        return left / self.open


def pool_amount(policy: IncentivePolicy, department_id: str, headcount: int) -> float | None:
    budget = policy.budget
    if budget is None:
        return None
    if department_id in budget.amounts:
        return budget.amounts[department_id]
    if budget.factor is None:
        return None
    return policy.base_bonus * headcount * budget.factor


def _unscaled(a: Appraisal) -> float:
    bonus = (a.result or {}).get("bonus") or {}
    amount = bonus.get("amount")
    return float(amount) if isinstance(amount, int | float) else float(a.bonus or 0)


def pool_of(ctx: Context, step_state: str, states: list[str]) -> Pool | None:
    """The pool of the appraisal's department under its policy: the bonuses already signed off
    are fixed; those in calibration (and this one, signed now) share what is left. One read of
    the department's calibrated population, remembered for the transaction, so that a batch
    sign-off shares one factor per department."""
    a, policy = ctx.appraisal, ctx.policy
    if policy is None or policy.budget is None:
        return None
    key = ("budget", a.cycle_id, a.department_id, a.policy_snapshot_id)
    remembered = per_transaction()
    if key in remembered:
        found: Pool | None = remembered[key]
        return found
    rows = db.session.scalars(
        select(Appraisal).where(
            Appraisal.cycle_id == a.cycle_id,
            Appraisal.department_id == a.department_id,
            Appraisal.policy_snapshot_id == a.policy_snapshot_id,
            Appraisal.state.in_(states),
            Appraisal.id != a.id,
        )
    ).all()
    fixed = sum(float(r.bonus or 0) for r in rows if r.state != step_state)
    open_ = _unscaled(a) + sum(_unscaled(r) for r in rows if r.state == step_state)
    amount = pool_amount(policy, a.department_id, len(rows) + 1)
    pool = None if amount is None else Pool(amount, len(rows) + 1, fixed, open_)
    remembered[key] = pool
    return pool


def fit(ctx: Context, step_state: str, states: list[str]) -> None:
    """Scale the appraisal's bonus to the pool when the policy says so (not committed). A
    scaled amount is rounded down to the policy's unit, so the pool is never overspent."""
    a, policy = ctx.appraisal, ctx.policy
    if policy is None or policy.budget is None or not policy.budget.fit or a.bonus is None:
        return
    pool = pool_of(ctx, step_state, states)
    if pool is None:
        return
    unscaled = _unscaled(a)
    factor = pool.factor
    rounding = policy.rounding if factor >= 1 else Rounding(unit=policy.rounding.unit, mode="down")
    amount = money(unscaled * factor, rounding)
    result = dict(a.result or {})
    bonus = dict(result.get("bonus") or {})
    bonus["budget"] = {
        "pool": pool.amount,
        "headcount": pool.headcount,
        "allocated": round(pool.allocated, 2),
        "fixed": round(pool.fixed, 2),
        "factor": round(factor, 6),
        "unscaled": unscaled,
        "amount": amount,
        "formula": (
            f"{unscaled:.2f} × ({pool.amount:.2f} − {pool.fixed:.2f}) / {pool.open:.2f} = "
            f"{amount:.2f}"
        )
        if factor < 1
        else f"{pool.allocated:.2f} ≤ {pool.amount:.2f}: {unscaled:.2f}",
    }
    result["bonus"] = bonus
    a.result = result
    a.bonus = amount

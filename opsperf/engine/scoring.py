"""Scores, grades, bonuses and quotas: pure functions over definitions and plain values.

Every result carries a ``formula``: the arithmetic as text with the numbers filled in, so a score
on a page or in the audit trail explains itself. Scores are points (100 = target met), rounded
half up to 2 decimals. A score that cannot be computed yet is ``None`` with the reason as its
formula; only :func:`bonus_for` lets an :class:`~opsperf.errors.ExpressionError` through.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal
from itertools import pairwise
from typing import Any, Literal, NamedTuple

from opsperf.definitions.expressions import Expression, parse
from opsperf.definitions.schema import (
    DEPARTMENT,
    BandsScoring,
    ExpressionScoring,
    Form,
    Grade,
    IncentivePolicy,
    InverseRatioScoring,
    Kpi,
    KpiTableField,
    LinearScoring,
    RatioScoring,
    Rounding,
    ScoringMethod,
    TableField,
    Text,
)
from opsperf.engine import failures
from opsperf.errors import ExpressionError

DEFAULT_BONUS: Expression = parse("base_bonus * bonus_multiplier * department.bonus_coefficient")
QuotaKind = Literal["above_max", "below_min"]

_DEFAULT_TEXT = "base_bonus × bonus_multiplier × department.bonus_coefficient"
_CENT = Decimal("0.01")
_EPS = 1e-9


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class KpiScore:
    """One KPI scored; ``note`` holds side remarks (default target used, cap or floor hit)."""

    kpi_id: str
    weight: float
    target: float | None
    actual: float | None
    method: str
    formula: str
    score: float | None
    weighted: float | None
    note: str = ""


@dataclass(frozen=True)
class TableScore:
    """A KPI table scored: each KPI and the sum of weighted scores (None until all are in)."""

    field_id: str
    kpis: tuple[KpiScore, ...]
    score: float | None
    formula: str


@dataclass(frozen=True)
class FormScore:
    """A whole form scored: its KPI tables, the total and the inputs used, as plain data.

    ``adjustments``: the form's rules on the result that applied, in order, each as
    ``{label, kind, before, after, formula}``; ``grade``: a grade one of them gives outright."""

    tables: tuple[TableScore, ...]
    total: float | None
    formula: str
    inputs: dict[str, Any]
    adjustments: tuple[dict[str, Any], ...] = ()
    grade: str | None = None


@dataclass(frozen=True)
class GradeResult:
    """The grade a score earns under an incentive policy."""

    grade: str
    label: Text | None
    min_score: float
    bonus_multiplier: float
    actions: tuple[str, ...]
    formula: str


@dataclass(frozen=True)
class BonusResult:
    """A bonus amount, its arithmetic and the inputs used, as plain data."""

    amount: float
    formula: str
    inputs: dict[str, Any]


@dataclass(frozen=True)
class QuotaIssue:
    """A grade whose share of a population is above its quota_max or below its quota_min."""

    grade: str
    count: int
    share_percent: float
    limit_percent: float
    kind: QuotaKind
    message: str
    population: int = 0
    hard: bool = False


class _Result(NamedTuple):
    score: float | None
    formula: str
    note: str = ""


# --------------------------------------------------------------------------- KPIs


def score_kpi(kpi: Kpi, target: float | None, actual: float | None) -> KpiScore:
    """Score one KPI against the agreed ``target``, or the KPI's own target when None."""
    scoring = kpi.effective_scoring
    used = target if target is not None else kpi.target
    if actual is None:
        result = _Result(None, "no actual yet")
    else:
        result = _apply(scoring, kpi, used, actual)
    weighted = None if result.score is None else _round2(result.score * kpi.weight / 100)
    default = f"target {_num(used)} from the form" if target is None and used is not None else ""
    note = "; ".join(n for n in (default, result.note) if n)
    return KpiScore(
        kpi.id,
        kpi.weight,
        used,
        actual,
        scoring.method,
        result.formula,
        result.score,
        weighted,
        note,
    )


def _apply(scoring: ScoringMethod, kpi: Kpi, target: float | None, actual: float) -> _Result:
    """Dispatch to the scoring method; ratio, inverse_ratio and linear need a target."""
    higher = kpi.direction == "higher"
    if isinstance(scoring, BandsScoring):
        return _bands(scoring, actual, higher)
    if isinstance(scoring, ExpressionScoring):
        names = {"actual": actual, "target": target, "weight": kpi.weight}
        return _expression(scoring.expr, names, f"kpis.{kpi.id}.scoring.expr")
    if target is None:
        return _Result(None, "no target agreed")
    if isinstance(scoring, RatioScoring):
        return _ratio(scoring.cap, target, actual)
    if isinstance(scoring, InverseRatioScoring):
        return _inverse_ratio(scoring.cap, target, actual)
    return _linear(scoring, target, actual, higher)


def _ratio(cap: float, target: float, actual: float) -> _Result:
    """min(actual ÷ target, cap) × 100, floored at 0; a zero target gives no score."""
    if target == 0:
        return _Result(None, f"target is 0: {_num(actual)} ÷ 0 cannot be computed")
    text = f"min({_num(actual)} ÷ {_num(target)}, {_num(cap)}) × 100"
    return _capped(actual / target, cap, text)


def _inverse_ratio(cap: float, target: float, actual: float) -> _Result:
    """min(target ÷ actual, cap) × 100, floored at 0; an actual at or below 0 earns the cap."""
    if actual <= 0:
        best = _round2(cap * 100)
        text = f"actual {_num(actual)} ≤ 0 → {_num(cap)} × 100 = {_pts(best)}"
        return _Result(best, text, f"capped at {_num(cap)}")
    text = f"min({_num(target)} ÷ {_num(actual)}, {_num(cap)}) × 100"
    return _capped(target / actual, cap, text)


def _capped(ratio: float, cap: float, text: str) -> _Result:
    """Points for a ratio: capped at ``cap`` and floored at 0."""
    score = _round2(min(ratio, cap) * 100)
    if score < 0:
        return _Result(0.0, f"{text} = {_pts(score)} < 0 → 0.0", "floored at 0")
    return _Result(
        score, f"{text} = {_pts(score)}", f"capped at {_num(cap)}" if ratio > cap else ""
    )


def _bands(scoring: BandsScoring, actual: float, higher: bool) -> _Result:
    """The first band (in listed order) the actual reaches; none reached scores 0."""
    sign = "≥" if higher else "≤"
    for band in scoring.bands:
        if (band.at <= actual) if higher else (band.at >= actual):
            formula = f"bands: {_num(actual)} {sign} {_num(band.at)} → {_num(band.score)}"
            return _Result(_round2(band.score), formula)
    side = "below" if higher else "above"
    return _Result(0.0, f"bands: {_num(actual)} is {side} every threshold → 0")


def _linear(s: LinearScoring, target: float, actual: float, higher: bool) -> _Result:
    """Threshold → target → stretch, interpolated; beyond target without a stretch: target_score."""

    def better(a: float, b: float) -> bool:
        return a > b if higher else a < b

    worse_sign, better_sign = ("<", ">") if higher else (">", "<")
    a = _num(actual)
    if problem := _linear_order(s, target, better, higher):
        return _Result(None, problem)
    if better(s.threshold, actual):
        score = _round2(s.below_threshold_score)
        return _Result(
            score, f"linear: {a} {worse_sign} threshold {_num(s.threshold)} → {_pts(score)}"
        )
    if not better(actual, target):
        return _segment(actual, s.threshold, target, s.threshold_score, s.target_score)
    if s.stretch is None:
        score = _round2(s.target_score)
        text = f"linear: {a} {better_sign} target {_num(target)}, no stretch → {_pts(score)}"
        return _Result(score, text, "capped at target_score (no stretch)")
    if not better(actual, s.stretch):
        return _segment(actual, target, s.stretch, s.target_score, s.stretch_score)
    score = _round2(s.stretch_score)
    return _Result(score, f"linear: {a} {better_sign} stretch {_num(s.stretch)} → {_pts(score)}")


def _linear_order(
    s: LinearScoring, target: float, better: Callable[[float, float], bool], higher: bool
) -> str | None:
    """Why threshold, target and stretch are out of order, or None when they are in order."""
    points = [s.threshold, target] + ([] if s.stretch is None else [s.stretch])
    if all(better(b, a) for a, b in pairwise(points)):
        return None
    above, below = ("above", "below") if higher else ("below", "above")
    stretch = "" if s.stretch is None else f" and {below} stretch {_num(s.stretch)}"
    return f"linear: target {_num(target)} must lie {above} threshold {_num(s.threshold)}{stretch}"


def _segment(x: float, x0: float, x1: float, y0: float, y1: float) -> _Result:
    """Linear interpolation of ``x`` from (x0, y0) to (x1, y1)."""
    score = _round2(y0 + (x - x0) / (x1 - x0) * (y1 - y0))
    text = f"({_num(x)} − {_num(x0)}) ÷ ({_num(x1)} − {_num(x0)}) × ({_num(y1)} − {_num(y0)})"
    return _Result(score, f"linear: {_num(y0)} + {text} = {_pts(score)}")


def _expression(expr: Expression, names: dict[str, Any], where: str) -> _Result:
    """A custom formula over actual, target and weight; a failure gives no score."""
    try:
        score = _round2(_as_number(expr.evaluate(names), expr))
    except ExpressionError as exc:
        failures.note("KPI", where, expr, exc, names)
        return _Result(None, f"`{expr}`: {exc}")
    return _Result(score, f"`{expr}` with {_with(names)} → {_pts(score)}")


# --------------------------------------------------------------------------- tables and forms


def score_kpi_table(field: KpiTableField, rows: Mapping[str, Any]) -> TableScore:
    """Score every KPI of a table from its stored rows (kpi_id → target, actual, note)."""
    rows = rows if isinstance(rows, Mapping) else {}
    return _table(field.id, tuple(_score_row(kpi, rows.get(kpi.id)) for kpi in field.kpis))


def _score_row(kpi: Kpi, row: Any) -> KpiScore:
    """Score one stored row; anything that is not a number counts as missing."""
    row = row if isinstance(row, Mapping) else {}
    return score_kpi(kpi, _number(row.get("target")), _number(row.get("actual")))


def _table(field_id: str, kpis: tuple[KpiScore, ...]) -> TableScore:
    """Σ weighted scores, or None naming the KPIs still without a score."""
    weighted = [k.weighted for k in kpis if k.weighted is not None]
    if len(weighted) < len(kpis):
        reasons = "; ".join(f"{k.kpi_id}: {k.formula}" for k in kpis if k.weighted is None)
        return TableScore(field_id, kpis, None, f"no total yet — {reasons}")
    total = _round2(sum(weighted))
    terms = " + ".join(f"{k.kpi_id} {_pts(k.score)} × {_num(k.weight)}%" for k in kpis)
    sums = " + ".join(_pts(w) for w in weighted)
    return TableScore(field_id, kpis, total, f"{terms} = {sums} = {_pts(total)}")


def expression_values(
    form: Form, values: Mapping[str, Any], tables: tuple[TableScore, ...] | None = None
) -> dict[str, Any]:
    """The form's values shaped exactly like ``form_scope(form)``, for expressions to read.

    Every field id is present: None when missing, a list of row dicts for a table (``[]`` when
    missing), and for a KPI table ``{"score": ..., kpi_id: {actual, target, score, weight}}``
    where ``target`` is the one scored (the agreed target, else the KPI's own). ``tables``:
    the KPI tables of these values, already scored (see :func:`score_tables`).
    """
    scored = tables if tables is not None else score_tables(form, values)
    return _shape(form, values, {t.field_id: t for t in scored})


def score_tables(form: Form, values: Mapping[str, Any]) -> tuple[TableScore, ...]:
    """Every KPI table of the form, scored, in form order."""
    return tuple(
        score_kpi_table(f, values.get(f.id) or {})
        for f in form.fields()
        if isinstance(f, KpiTableField)
    )


def _shape(
    form: Form, values: Mapping[str, Any], tables: Mapping[str, TableScore]
) -> dict[str, Any]:
    """Field values by id, with KPI tables and tables in their expression shape."""
    shaped: dict[str, Any] = {}
    for f in form.fields():
        if isinstance(f, KpiTableField):
            shaped[f.id] = _kpi_values(tables[f.id])
        elif isinstance(f, TableField):
            shaped[f.id] = _rows_of(values.get(f.id))
        else:
            shaped[f.id] = values.get(f.id)
    if DEPARTMENT in values:  # the department's goals the form reads, given by the services
        shaped[DEPARTMENT] = dict(values[DEPARTMENT] or {})
    return shaped


def _kpi_values(table: TableScore) -> dict[str, Any]:
    """A scored KPI table as expressions read it (``kpis.score``, ``kpis.revenue.actual``)."""
    kpis = {
        k.kpi_id: {"actual": k.actual, "target": k.target, "score": k.score, "weight": k.weight}
        for k in table.kpis
    }
    return {"score": table.score, **kpis}


def _rows_of(value: Any) -> list[dict[str, Any]]:
    """The rows of a table field as a list of dicts; anything else is no rows."""
    if not isinstance(value, list | tuple):
        return []
    return [dict(row) for row in value if isinstance(row, Mapping)]


def score_form(
    form: Form, values: Mapping[str, Any], tables: tuple[TableScore, ...] | None = None
) -> FormScore:
    """Score a form: ``form.score`` over the expression values, else the KPI table score(s).

    Without a ``score`` formula the total is the one KPI table's score, or the mean of several;
    it is None while a needed score is missing. A formula that cannot be evaluated (a value is
    still missing, or it fails) also gives None, with the reason as the formula.
    """
    tables = tables if tables is not None else score_tables(form, values)
    inputs: dict[str, Any] = {"tables": {t.field_id: _table_inputs(t) for t in tables}}
    scope = _shape(form, values, {t.field_id: t for t in tables})
    if form.score is None:
        total, formula = _default_total(tables)
        scored = FormScore(tables, total, formula, {"method": "default", **inputs})
    else:
        names = _names_read(form.score, scope)
        where = f"form {form.id} v{form.version}"
        total, formula = _expression_total(form.score, scope, names, where)
        extra = {"method": "expression", "expression": form.score.source, "names": names}
        scored = FormScore(tables, total, formula, {**extra, **inputs})
    if scored.total is None or not form.adjustments:
        return scored
    return _adjusted(form, scored, scope)


def _adjusted(form: Form, scored: FormScore, scope: Mapping[str, Any]) -> FormScore:
    """The total after the form's adjustments, applied in order while their condition holds.

    A condition or amount that cannot be worked out (a value it reads is still missing)
    leaves the total open: a veto that cannot be judged must not be passed over."""
    assert scored.total is not None
    total, grade = scored.total, None
    applied: list[dict[str, Any]] = []
    where = f"form {form.id} v{form.version}"
    for number, rule in enumerate(form.adjustments):
        names = {**scope, "score": total}
        try:
            if rule.when is not None and not rule.when.evaluate(names):
                continue
            before = total
            if rule.grade is not None:
                grade = grade or rule.grade  # the first veto that holds decides
                formula = f"grade {rule.grade}"
            elif rule.cap is not None or rule.floor is not None:
                bound = rule.cap if rule.cap is not None else rule.floor
                assert bound is not None
                total = min(total, bound) if rule.cap is not None else max(total, bound)
                if total == before:
                    continue  # within the bound: nothing to explain
                word = "at most" if rule.cap is not None else "at least"
                formula = f"{word} {_pts(bound)}: {_pts(before)} → {_pts(total)}"
            else:
                expr = rule.deduct if rule.deduct is not None else rule.add
                assert expr is not None
                points = _as_number(expr.evaluate(names), expr)
                sign = -1 if rule.deduct is not None else 1
                total = _round2(total + sign * points)
                op = "−" if sign < 0 else "+"
                formula = f"{_pts(before)} {op} `{expr}` ({_pts(points)}) = {_pts(total)}"
        except ExpressionError as exc:
            source = rule.when if rule.when is not None else (rule.deduct or rule.add)
            assert source is not None
            failures.note(where, f"adjustments[{number}]", source, exc, names)
            missing = [n for n, v in _names_read(source, names).items() if v is None]
            reason = f"waiting for {', '.join(missing)}" if missing else str(exc)
            return replace(scored, total=None, formula=f"no total yet — {reason} (`{source}`)")
        applied.append(
            {"label": rule.label.model_dump(), "kind": rule.kind, "before": before,
             "after": total, "formula": formula}
        )  # fmt: skip
    steps = "; ".join(f"{a['kind']}: {a['formula']}" for a in applied)
    formula = f"{scored.formula}; {steps}" if applied else scored.formula
    inputs = {**scored.inputs, "unadjusted": {"value": scored.total, "formula": scored.formula}}
    return replace(
        scored,
        total=total,
        formula=formula,
        inputs=inputs,
        adjustments=tuple(applied),
        grade=grade,
    )


def _table_inputs(table: TableScore) -> dict[str, Any]:
    """A scored table as JSON-ready data for the audit trail."""
    kpis = {
        k.kpi_id: {
            "method": k.method,
            "target": k.target,
            "actual": k.actual,
            "weight": k.weight,
            "score": k.score,
            "weighted": k.weighted,
        }
        for k in table.kpis
    }
    return {"score": table.score, "kpis": kpis}


def _default_total(tables: tuple[TableScore, ...]) -> tuple[float | None, str]:
    """The single KPI table's score, or the mean of several tables' scores."""
    if not tables:
        return None, "the form has no KPI table and no score formula"
    scores = [t.score for t in tables if t.score is not None]
    if len(scores) < len(tables):
        waiting = ", ".join(t.field_id for t in tables if t.score is None)
        return None, f"no total yet — waiting for the score of {waiting}"
    if len(tables) == 1:
        return scores[0], f"{tables[0].field_id}.score = {_pts(scores[0])}"
    mean = _round2(sum(scores) / len(scores))
    named = ", ".join(f"{t.field_id} {_pts(t.score)}" for t in tables)
    summed = " + ".join(_pts(s) for s in scores)
    return mean, f"avg({named}) = ({summed}) ÷ {len(scores)} = {_pts(mean)}"


def _expression_total(
    expr: Expression, scope: Mapping[str, Any], names: Mapping[str, Any], definition: str
) -> tuple[float | None, str]:
    """The form's score formula evaluated; None with the reason when it cannot be."""
    try:
        total = _round2(_as_number(expr.evaluate(scope), expr))
    except ExpressionError as exc:
        failures.note(definition, "score", expr, exc, scope)
        missing = [name for name, value in names.items() if value is None]
        reason = f"waiting for {', '.join(missing)}" if missing else str(exc)
        return None, f"no total yet — {reason} (`{expr}`)"
    return total, f"`{expr}` with {_with(names)} → {_pts(total)}"


# --------------------------------------------------------------------------- incentives


def grade_for(
    policy: IncentivePolicy, score: float, forced: str | None = None
) -> GradeResult | None:
    """The first grade (in listed order) whose min_score ≤ score; below them all, the last one;
    None for a policy without grades. ``forced``: a grade an adjustment of the form gives
    whatever the score."""
    if not policy.grades:
        return None
    if forced is not None:
        chosen = next((g for g in policy.grades if g.grade == forced), None)
        if chosen is None:
            raise ExpressionError(
                f"an adjustment gives grade {forced}, which policy {policy.id} does not have"
            )
        return grade_result(chosen, f"{forced} — by an adjustment, whatever the score")
    for g in policy.grades:
        if g.min_score <= score:
            return grade_result(g, f"{_num(score)} ≥ {_num(g.min_score)} → {g.grade}")
    lowest = policy.grades[-1]
    return grade_result(lowest, f"{_num(score)} is below every min_score → {lowest.grade}")


def grade_result(g: Grade, formula: str) -> GradeResult:
    """A grade definition as a result."""
    return GradeResult(g.grade, g.label, g.min_score, g.bonus_multiplier, tuple(g.actions), formula)


def bonus_for(
    policy: IncentivePolicy,
    grade: GradeResult | None,
    score: float,
    base_bonus: float | None,
    department_id: str,
    bonus_coefficient: float,
    position_id: str,
    values: Mapping[str, Any] | None = None,
    person: Mapping[str, Any] | None = None,
) -> BonusResult:
    """The bonus from the policy's formula (default: base × multiplier × coefficient), at most
    ``bonus_cap``.

    The formula reads the form's ``values`` (as expressions see them), the policy's names and
    ``person.<attribute>``. ``base_bonus`` falls back to the policy's. The amount is rounded
    half up to 2 decimals; an :class:`ExpressionError` (including a result that is not a
    number) propagates. The formula text names person attributes but never shows their values:
    pages show it to people who may not read them.
    """
    own: dict[str, Any] = {
        "base_bonus": policy.base_bonus if base_bonus is None else base_bonus,
        "bonus_multiplier": grade.bonus_multiplier if grade else None,
        "score": score,
        "grade": grade.grade if grade else None,
        "department": {"id": department_id, "bonus_coefficient": bonus_coefficient},
        "position": {"id": position_id},
    }
    names = {**(values or {}), "person": dict(person or {}), **own}
    expr = policy.bonus if policy.bonus is not None else DEFAULT_BONUS
    amount = money(_as_number(expr.evaluate(names), expr), policy.rounding)
    formula = _bonus_formula(expr, names, amount)
    read = _names_read(expr, names)
    if policy.bonus_cap is not None:
        cap = money(_as_number(policy.bonus_cap.evaluate(names), policy.bonus_cap), policy.rounding)
        read.update(_names_read(policy.bonus_cap, names))
        if amount > cap:
            formula += f"; at most `{policy.bonus_cap}` = {cap:.2f}"
            amount = cap
    inputs = {**_plain(own), "read": read, "expression": expr.source}
    return BonusResult(amount, formula, inputs)


def _bonus_formula(expr: Expression, names: Mapping[str, Any], amount: float) -> str:
    """The bonus arithmetic as text."""
    if expr is DEFAULT_BONUS:
        factors = (names["base_bonus"], names["bonus_multiplier"])
        numbers = " × ".join(_num(f) for f in (*factors, names["department"]["bonus_coefficient"]))
        return f"{_DEFAULT_TEXT} = {numbers} = {amount:.2f}"
    shown = {k: v for k, v in _names_read(expr, names).items() if not k.startswith("person.")}
    return f"`{expr}` with {_with(shown)} = {amount:.2f}" if shown else f"`{expr}` = {amount:.2f}"


def check_quotas(policy: IncentivePolicy, grades: Sequence[str]) -> list[QuotaIssue]:
    """Grades of a population (e.g. one calibration group) whose share breaks a quota.

    Strict: a share above quota_max is a violation, except a single person when the quota
    allows at least half a person (population × quota_max / 100 ≥ 0.5, i.e. one person after
    rounding half up: 1 S of 7 under a 10% quota is fine, 1 S of 4 is not). Mirrored for
    quota_min: a share below it is a violation, except nobody when the quota asks for less than
    half a person. Grades the policy does not know are ignored; an empty population has none.
    """
    return check_quota_counts(policy, Counter(grades))


def check_quota_counts(policy: IncentivePolicy, counts: Mapping[str, int]) -> list[QuotaIssue]:
    """As :func:`check_quotas`, from the number of people per grade (the population is their
    sum). A population below the policy's ``quotas.min_population`` has no quotas; each issue
    says whether it blocks a sign-off (``hard``: the grade's ``quota_enforce``, else the
    policy's)."""
    population = sum(counts.values())
    if population == 0 or population < policy.quotas.min_population:
        return []
    issues: list[QuotaIssue] = []
    for g in policy.grades:
        count = counts.get(g.grade, 0)
        hard = (g.quota_enforce or policy.quotas.enforce) == "hard"
        if g.quota_max is not None and _above(count, population, g.quota_max):
            issues.append(_quota_issue(g.grade, count, population, g.quota_max, "above_max", hard))
        if g.quota_min is not None and _below(count, population, g.quota_min):
            issues.append(_quota_issue(g.grade, count, population, g.quota_min, "below_min", hard))
    return issues


def _above(count: int, population: int, limit: float) -> bool:
    """Whether ``count`` people exceed a quota_max of ``limit`` percent."""
    allowed = population * limit / 100
    if count == 1 and allowed >= 0.5 - _EPS:
        return False
    return count > allowed + _EPS


def _below(count: int, population: int, limit: float) -> bool:
    """Whether ``count`` people fall short of a quota_min of ``limit`` percent."""
    required = population * limit / 100
    if count == 0 and required < 0.5 - _EPS:
        return False
    return count < required - _EPS


def _quota_issue(
    grade: str, count: int, population: int, limit: float, kind: QuotaKind, hard: bool
) -> QuotaIssue:
    """A quota violation with its message."""
    share = _round2(count * 100 / population)
    bound = "above the maximum" if kind == "above_max" else "below the minimum"
    message = (
        f"grade {grade}: {count} of {population} ({_num(share)}%) is {bound} of {_num(limit)}%"
    )
    return QuotaIssue(grade, count, share, limit, kind, message, population, hard)


# --------------------------------------------------------------------------- helpers


def _round2(value: float) -> float:
    """Round half up to 2 decimals, as written (2.675 → 2.68, not binary float's 2.67)."""
    if not math.isfinite(value) or abs(value) >= 1e15:
        return round(value, 2)
    return float(Decimal(repr(float(value))).quantize(_CENT, rounding=ROUND_HALF_UP))


_MODES = {
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
    "down": ROUND_DOWN,
    "up": ROUND_UP,
}


def money_decimal(value: float, rounding: Rounding) -> Decimal:
    """An amount as the policy rounds it, exactly (as written: 2.675 → 2.68 half up)."""
    unit = Decimal(str(rounding.unit))
    steps = (Decimal(repr(float(value))) / unit).quantize(
        Decimal(1), rounding=_MODES[rounding.mode]
    )
    places = max(0, -int(unit.normalize().as_tuple().exponent))  # 0.01 → 2; 1 and 100 → 0
    return (steps * unit).quantize(Decimal(1).scaleb(-places))


def money(value: float, rounding: Rounding) -> float:
    """:func:`money_decimal` as the float stored with the appraisal."""
    if not math.isfinite(value) or abs(value) >= 1e15:
        return round(value, 2)
    return float(money_decimal(value, rounding))


def _num(value: float | None) -> str:
    """A number as written by hand: ``120`` rather than ``120.0``."""
    if value is None:
        return "None"
    number = float(value)
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


def _pts(value: float | None) -> str:
    """A score as shown in formulas: ``110.0``, ``91.67``."""
    return "None" if value is None else repr(float(value))


def _number(value: Any) -> float | None:
    """A stored number as float; missing, blank, non-numeric or non-finite is None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _as_number(value: Any, expr: Expression) -> float:
    """An expression's result as a finite number, else an :class:`ExpressionError`."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ExpressionError(f"`{expr}` gave {value!r}, not a number")
    return float(value)


def _names_read(expr: Expression, scope: Mapping[str, Any]) -> dict[str, Any]:
    """The values of the names ``expr`` reads (``kpis.score``), as plain data; None if absent."""
    return {".".join(chain): _plain(_resolve(chain, scope)) for chain in expr.names()}


def _resolve(chain: tuple[str, ...], scope: Mapping[str, Any]) -> Any:
    """Follow a dotted chain of names through nested dicts."""
    current: Any = scope
    for part in chain:
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def _with(names: Mapping[str, Any]) -> str:
    """``a=1, b=2`` for a formula; nested values are flattened to dotted names."""
    parts = [f"{name}={_show(value)}" for name, value in _flat(names)]
    return ", ".join(parts) if parts else "no inputs"


def _flat(names: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested dicts as (dotted name, value) pairs."""
    out: list[tuple[str, Any]] = []
    for name, value in names.items():
        if isinstance(value, Mapping):
            out += _flat(value, f"{prefix}{name}.")
        else:
            out.append((f"{prefix}{name}", value))
    return out


def _show(value: Any) -> str:
    """A value as shown in a formula, kept short."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _num(value)
    if isinstance(value, list):
        return f"[{len(value)} item{'s' if len(value) != 1 else ''}]"
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _plain(value: Any) -> Any:
    """JSON-ready copy: dicts with string keys, lists, str, finite numbers, bool, None."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)

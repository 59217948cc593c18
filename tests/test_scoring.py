"""Scoring engine: KPI methods, tables, form totals, grades, bonuses and quotas."""

from __future__ import annotations

import json
from typing import Any

import pytest

from opsperf.definitions.schema import Form, IncentivePolicy, Kpi, KpiTableField
from opsperf.definitions.scopes import form_scope
from opsperf.engine.scoring import (
    bonus_for,
    check_quota_counts,
    check_quotas,
    expression_values,
    grade_for,
    score_form,
    score_kpi,
    score_kpi_table,
)
from opsperf.errors import ExpressionError

# --------------------------------------------------------------------------- builders


def kpi(scoring: dict[str, Any] | None = None, **extra: Any) -> Kpi:
    """A KPI with a weight of 50 and a target of 100 unless told otherwise."""
    data: dict[str, Any] = {"id": "k", "name": "K", "weight": 50, "target": 100, **extra}
    if scoring is not None:
        data["scoring"] = scoring
    return Kpi.model_validate(data)


LINEAR = {"method": "linear", "threshold": 80, "stretch": 120}
LINEAR_LOWER = {"method": "linear", "threshold": 10, "stretch": 2}

SALES_KPIS: list[dict[str, Any]] = [
    {"id": "revenue", "name": "销售额", "weight": 50, "target": 120},
    {"id": "cost_rate", "name": "成本率", "direction": "lower", "weight": 20, "target": 15},
    {
        "id": "csat",
        "name": "满意度",
        "weight": 30,
        "target": 90,
        "scoring": {"method": "bands", "bands": [[95, 120], [90, 100], [80, 80], [0, 50]]},
    },
]
SALES_ROWS = {
    "revenue": {"target": None, "actual": 132, "note": None},
    "cost_rate": {"target": 15, "actual": 12, "note": "good"},
    "csat": {"target": 90, "actual": 92, "note": None},
}


def table(kpis: list[dict[str, Any]] = SALES_KPIS, field_id: str = "kpis") -> dict[str, Any]:
    return {"id": field_id, "type": "kpi_table", "label": "KPI", "kpis": kpis}


def form(*fields: dict[str, Any], score: str | None = None) -> Form:
    data: dict[str, Any] = {
        "kind": "Form",
        "id": "f",
        "title": "F",
        "sections": [{"id": "main", "title": "Main", "fields": list(fields)}],
    }
    if score is not None:
        data["score"] = score
    return Form.model_validate(data)


RATING = {"id": "rating", "type": "rating", "label": "Rating"}
ACTIONS = {
    "id": "actions",
    "type": "table",
    "label": "Actions",
    "columns": [{"id": "what", "type": "text", "label": "What"}],
}


def policy(**extra: Any) -> IncentivePolicy:
    return IncentivePolicy.model_validate(
        {
            "kind": "IncentivePolicy",
            "id": "p",
            "name": "P",
            "base_bonus": 10000,
            "grades": [
                {
                    "grade": "S",
                    "label": {"zh": "卓越", "en": "Outstanding"},
                    "min_score": 95,
                    "quota_max": "10%",
                    "bonus_multiplier": 2.0,
                    "actions": ["promotion_nomination"],
                },
                {"grade": "A", "min_score": 85, "quota_max": 25, "bonus_multiplier": 1.5},
                {"grade": "B", "min_score": 70, "quota_min": 20, "bonus_multiplier": 1.0},
                {"grade": "C", "min_score": 60, "bonus_multiplier": 0.5},
                {"grade": "D", "min_score": 0, "bonus_multiplier": 0},
            ],
            **extra,
        }
    )


# --------------------------------------------------------------------------- ratio


def test_ratio_formula_and_weighted() -> None:
    s = score_kpi(kpi(target=120), None, 132)
    assert (s.score, s.weighted, s.method, s.target) == (110.0, 55.0, "ratio", 120)
    assert s.formula == "min(132 ÷ 120, 1.2) × 100 = 110.0"
    assert s.note == "target 120 from the form"


def test_ratio_agreed_target_wins_over_the_default() -> None:
    s = score_kpi(kpi(target=120), 100, 90)
    assert (s.target, s.score, s.note) == (100, 90.0, "")


@pytest.mark.parametrize(
    ("cap", "actual", "score"),
    [(1.2, 150, 120.0), (1.5, 150, 150.0), (1.2, 120, 120.0), (1.2, 0, 0.0)],
)
def test_ratio_cap(cap: float, actual: float, score: float) -> None:
    assert score_kpi(kpi({"method": "ratio", "cap": cap}), None, actual).score == score


def test_ratio_cap_is_noted() -> None:
    assert "capped at 1.2" in score_kpi(kpi(), None, 150).note


def test_ratio_floors_at_zero() -> None:
    s = score_kpi(kpi(), None, -5)
    assert (s.score, s.weighted, s.note) == (0.0, 0.0, "target 100 from the form; floored at 0")
    assert s.formula == "min(-5 ÷ 100, 1.2) × 100 = -5.0 < 0 → 0.0"


def test_ratio_rounds_half_up_to_two_decimals() -> None:
    assert score_kpi(kpi(), 3, 2).score == 66.67
    assert score_kpi(kpi(), 12, 11).score == 91.67


def test_ratio_zero_target_gives_no_score() -> None:
    s = score_kpi(kpi(target=0), None, 50)
    assert (s.score, s.weighted) == (None, None)
    assert s.formula == "target is 0: 50 ÷ 0 cannot be computed"


def test_ratio_without_any_target() -> None:
    s = score_kpi(kpi(target=None), None, 50)
    assert (s.score, s.formula, s.target) == (None, "no target agreed", None)


@pytest.mark.parametrize(
    "scoring",
    [None, {"method": "inverse_ratio"}, {"method": "bands", "bands": [[0, 50]]}, LINEAR],
)
def test_missing_actual_for_every_method(scoring: dict[str, Any] | None) -> None:
    s = score_kpi(kpi(scoring), 100, None)
    assert (s.score, s.weighted, s.formula) == (None, None, "no actual yet")


def test_missing_actual_for_expression() -> None:
    s = score_kpi(kpi({"method": "expression", "expr": "actual * 2"}), 100, None)
    assert (s.score, s.formula) == (None, "no actual yet")


# --------------------------------------------------------------------------- inverse ratio


def test_inverse_ratio_is_the_default_for_lower() -> None:
    s = score_kpi(kpi(direction="lower", target=15), None, 12.5)
    assert (s.method, s.score, s.weighted) == ("inverse_ratio", 120.0, 60.0)
    assert s.formula == "min(15 ÷ 12.5, 1.2) × 100 = 120.0"


def test_inverse_ratio_below_the_cap() -> None:
    s = score_kpi(kpi(direction="lower", target=15), None, 20)
    assert (s.score, s.formula) == (75.0, "min(15 ÷ 20, 1.2) × 100 = 75.0")


def test_inverse_ratio_caps() -> None:
    s = score_kpi(kpi({"method": "inverse_ratio", "cap": 1.5}, direction="lower"), 10, 2)
    assert s.score == 150.0


def test_inverse_ratio_zero_actual_earns_the_cap() -> None:
    s = score_kpi(kpi(direction="lower", target=3), None, 0)
    assert (s.score, s.formula) == (120.0, "actual 0 ≤ 0 → 1.2 × 100 = 120.0")


def test_inverse_ratio_zero_target_scores_zero() -> None:
    assert score_kpi(kpi(direction="lower", target=0), None, 4).score == 0.0


def test_inverse_ratio_needs_a_target() -> None:
    s = score_kpi(kpi(direction="lower", target=None), None, 4)
    assert (s.score, s.formula) == (None, "no target agreed")


# --------------------------------------------------------------------------- bands

BANDS_HIGH = {"method": "bands", "bands": [[95, 120], [90, 100], [80, 80], [60, 50]]}
BANDS_LOW = {"method": "bands", "bands": [[2, 120], [5, 100], [10, 60]]}


@pytest.mark.parametrize(
    ("actual", "score", "formula"),
    [
        (99, 120.0, "bands: 99 ≥ 95 → 120"),
        (95, 120.0, "bands: 95 ≥ 95 → 120"),
        (94.99, 100.0, "bands: 94.99 ≥ 90 → 100"),
        (92, 100.0, "bands: 92 ≥ 90 → 100"),
        (90, 100.0, "bands: 90 ≥ 90 → 100"),
        (60, 50.0, "bands: 60 ≥ 60 → 50"),
        (59.9, 0.0, "bands: 59.9 is below every threshold → 0"),
    ],
)
def test_bands_higher(actual: float, score: float, formula: str) -> None:
    s = score_kpi(kpi(BANDS_HIGH), None, actual)
    assert (s.score, s.formula) == (score, formula)


@pytest.mark.parametrize(
    ("actual", "score", "formula"),
    [
        (1, 120.0, "bands: 1 ≤ 2 → 120"),
        (2, 120.0, "bands: 2 ≤ 2 → 120"),
        (3, 100.0, "bands: 3 ≤ 5 → 100"),
        (10, 60.0, "bands: 10 ≤ 10 → 60"),
        (10.5, 0.0, "bands: 10.5 is above every threshold → 0"),
    ],
)
def test_bands_lower(actual: float, score: float, formula: str) -> None:
    s = score_kpi(kpi(BANDS_LOW, direction="lower"), None, actual)
    assert (s.score, s.formula) == (score, formula)


def test_bands_need_no_target() -> None:
    s = score_kpi(kpi(BANDS_HIGH, target=None), None, 92)
    assert (s.target, s.score, s.weighted) == (None, 100.0, 50.0)


# --------------------------------------------------------------------------- linear


@pytest.mark.parametrize(
    ("actual", "score"),
    [
        (79.9, 0.0),  # below threshold
        (80, 60.0),  # exactly on the threshold
        (90, 80.0),  # threshold → target
        (100, 100.0),  # exactly on target
        (110, 110.0),  # target → stretch
        (120, 120.0),  # exactly on stretch
        (200, 120.0),  # beyond stretch
    ],
)
def test_linear_higher_segments(actual: float, score: float) -> None:
    assert score_kpi(kpi(LINEAR), None, actual).score == score


def test_linear_formulas() -> None:
    assert score_kpi(kpi(LINEAR), None, 90).formula == (
        "linear: 60 + (90 − 80) ÷ (100 − 80) × (100 − 60) = 80.0"
    )
    assert score_kpi(kpi(LINEAR), None, 70).formula == "linear: 70 < threshold 80 → 0.0"
    assert score_kpi(kpi(LINEAR), None, 130).formula == "linear: 130 > stretch 120 → 120.0"


def test_linear_custom_scores() -> None:
    scoring = {
        **LINEAR,
        "threshold_score": 50,
        "target_score": 90,
        "stretch_score": 150,
        "below_threshold_score": 10,
    }
    scores = [score_kpi(kpi(scoring), None, a).score for a in (50, 85, 105, 999)]
    assert scores == [10.0, 60.0, 105.0, 150.0]


def test_linear_without_stretch_caps_at_target_score() -> None:
    scoring = {"method": "linear", "threshold": 80}
    s = score_kpi(kpi(scoring), None, 150)
    assert (s.score, s.formula) == (100.0, "linear: 150 > target 100, no stretch → 100.0")
    assert "no stretch" in s.note
    assert score_kpi(kpi(scoring), None, 95).score == 90.0


@pytest.mark.parametrize(
    ("actual", "score"),
    [(11, 0.0), (10, 60.0), (7, 80.0), (4, 100.0), (3, 110.0), (2, 120.0), (0, 120.0)],
)
def test_linear_lower_mirrors(actual: float, score: float) -> None:
    assert score_kpi(kpi(LINEAR_LOWER, direction="lower", target=4), None, actual).score == score


def test_linear_lower_formulas() -> None:
    lower = kpi(LINEAR_LOWER, direction="lower", target=4)
    assert score_kpi(lower, None, 11).formula == "linear: 11 > threshold 10 → 0.0"
    assert score_kpi(lower, None, 1).formula == "linear: 1 < stretch 2 → 120.0"


def test_linear_agreed_target_out_of_order_gives_no_score() -> None:
    s = score_kpi(kpi(LINEAR), 130, 100)
    assert s.score is None
    assert s.formula == "linear: target 130 must lie above threshold 80 and below stretch 120"


def test_linear_needs_a_target() -> None:
    s = score_kpi(kpi(LINEAR, target=None), None, 100)
    assert (s.score, s.formula) == (None, "no target agreed")


# --------------------------------------------------------------------------- expression


def test_expression_scoring() -> None:
    s = score_kpi(
        kpi({"method": "expression", "expr": "clamp(actual / target * 100, 0, 120)"}), 120, 132
    )
    assert (s.method, s.score, s.weighted) == ("expression", 110.0, 55.0)
    assert s.formula == (
        "`clamp(actual / target * 100, 0, 120)` with actual=132, target=120, weight=50 → 110.0"
    )


def test_expression_reads_weight_and_rounds() -> None:
    s = score_kpi(kpi({"method": "expression", "expr": "actual / 3 + weight"}), None, 10)
    assert s.score == 53.33


def test_expression_division_by_zero_gives_no_score() -> None:
    s = score_kpi(kpi({"method": "expression", "expr": "actual / target * 100"}), 0, 10)
    assert s.score is None
    assert "division by zero" in s.formula


def test_expression_that_is_not_a_number_gives_no_score() -> None:
    s = score_kpi(kpi({"method": "expression", "expr": "actual > target"}), None, 10)
    assert s.score is None
    assert "not a number" in s.formula


def test_expression_sees_a_missing_target_as_none() -> None:
    s = score_kpi(
        kpi({"method": "expression", "expr": "coalesce(target, 50) + actual"}, target=None), None, 1
    )
    assert s.score == 51.0


# --------------------------------------------------------------------------- tables


def test_table_total_is_the_sum_of_weighted_scores() -> None:
    t = score_kpi_table(KpiTableField.model_validate(table()), SALES_ROWS)
    assert [k.weighted for k in t.kpis] == [55.0, 24.0, 30.0]
    assert t.score == 109.0
    assert t.formula == (
        "revenue 110.0 × 50% + cost_rate 120.0 × 20% + csat 100.0 × 30%"
        " = 55.0 + 24.0 + 30.0 = 109.0"
    )


def test_table_total_waits_for_every_kpi() -> None:
    rows = {**SALES_ROWS, "csat": {"target": 90, "actual": None}}
    rows.pop("cost_rate")
    t = score_kpi_table(KpiTableField.model_validate(table()), rows)
    assert t.score is None
    assert t.formula == "no total yet — cost_rate: no actual yet; csat: no actual yet"


def test_table_tolerates_odd_stored_values() -> None:
    rows: dict[str, Any] = {
        "revenue": {"target": "120", "actual": " 132 "},
        "cost_rate": "garbage",
        "csat": {"actual": True},
    }
    t = score_kpi_table(KpiTableField.model_validate(table()), rows)
    assert [k.actual for k in t.kpis] == [132.0, None, None]
    assert t.kpis[0].score == 110.0


# --------------------------------------------------------------------------- expression values


def test_expression_values_have_the_shape_of_form_scope() -> None:
    f = form(table(), RATING, ACTIONS)
    values = expression_values(f, {"kpis": SALES_ROWS, "rating": 4})
    scope = form_scope(f)
    assert set(values) == set(scope)
    assert set(values["kpis"]) == set(scope["kpis"])
    assert values["kpis"]["score"] == 109.0
    assert values["kpis"]["revenue"] == {"actual": 132, "target": 120, "score": 110.0, "weight": 50}
    assert (values["rating"], values["actions"]) == (4, [])


def test_expression_values_of_an_empty_appraisal() -> None:
    values = expression_values(form(table(), RATING, ACTIONS), {})
    assert values["kpis"]["score"] is None
    assert values["kpis"]["csat"] == {"actual": None, "target": 90, "score": None, "weight": 30}
    assert (values["rating"], values["actions"]) == (None, [])


def test_expression_values_keep_table_rows() -> None:
    rows = [{"what": "call"}, {"what": "visit"}, "not a row"]
    values = expression_values(form(ACTIONS), {"actions": rows})
    assert values["actions"] == [{"what": "call"}, {"what": "visit"}]


# --------------------------------------------------------------------------- form totals


def test_form_total_defaults_to_the_single_table() -> None:
    s = score_form(form(table(), RATING), {"kpis": SALES_ROWS})
    assert (s.total, s.formula) == (109.0, "kpis.score = 109.0")
    assert s.inputs["method"] == "default"
    assert s.inputs["tables"]["kpis"]["kpis"]["revenue"]["weighted"] == 55.0
    json.dumps(s.inputs)


def test_form_total_defaults_to_the_mean_of_several_tables() -> None:
    extra = table([{"id": "tickets", "name": "工单", "weight": 100, "target": 50}], "extra")
    values = {"kpis": SALES_ROWS, "extra": {"tickets": {"actual": 45}}}
    s = score_form(form(table(), extra), values)
    assert [t.score for t in s.tables] == [109.0, 90.0]
    assert s.total == 99.5
    assert s.formula == "avg(kpis 109.0, extra 90.0) = (109.0 + 90.0) ÷ 2 = 99.5"


def test_form_total_waits_for_a_table() -> None:
    s = score_form(form(table()), {})
    assert s.total is None
    assert s.formula == "no total yet — waiting for the score of kpis"


def test_form_without_kpi_table_or_formula_has_no_total() -> None:
    s = score_form(form(RATING), {"rating": 3})
    assert (s.tables, s.total) == ((), None)


def test_form_total_from_a_score_expression() -> None:
    f = form(table(), RATING, score="kpis.score * 0.8 + rating * 4")
    s = score_form(f, {"kpis": SALES_ROWS, "rating": 4})
    assert s.total == 103.2
    assert s.formula == "`kpis.score * 0.8 + rating * 4` with kpis.score=109, rating=4 → 103.2"
    assert s.inputs["expression"] == "kpis.score * 0.8 + rating * 4"
    assert s.inputs["names"] == {"kpis.score": 109.0, "rating": 4}
    json.dumps(s.inputs)


def test_form_score_expression_waits_for_missing_values() -> None:
    f = form(table(), RATING, score="kpis.score * 0.8 + rating * 4")
    s = score_form(f, {"kpis": SALES_ROWS})
    assert s.total is None
    assert s.formula == "no total yet — waiting for rating (`kpis.score * 0.8 + rating * 4`)"


def test_form_score_expression_may_handle_missing_values() -> None:
    f = form(table(), RATING, score="kpis.score * 0.8 + coalesce(rating, 3) * 4")
    assert score_form(f, {"kpis": SALES_ROWS}).total == 99.2


def test_form_score_expression_can_read_table_rows() -> None:
    f = form(table(), ACTIONS, score="kpis.score - len(actions)")
    s = score_form(f, {"kpis": SALES_ROWS, "actions": [{"what": "a"}, {"what": "b"}]})
    assert s.total == 107.0


# --------------------------------------------------------------------------- grades


@pytest.mark.parametrize(
    ("score", "grade"),
    [
        (120, "S"),
        (95, "S"),
        (94.99, "A"),
        (85, "A"),
        (84.99, "B"),
        (70, "B"),
        (69.99, "C"),
        (60, "C"),
        (59.99, "D"),
        (0, "D"),
    ],
)
def test_grade_boundaries(score: float, grade: str) -> None:
    assert grade_for(policy(), score).grade == grade


def test_grade_result_carries_the_definition() -> None:
    g = grade_for(policy(), 95)
    assert (g.min_score, g.bonus_multiplier, g.actions) == (95, 2.0, ("promotion_nomination",))
    assert g.label is not None
    assert g.label.get("en") == "Outstanding"
    assert g.formula == "95 ≥ 95 → S"
    assert grade_for(policy(), 94.99).formula == "94.99 ≥ 85 → A"


def test_grade_below_every_min_score_is_the_lowest() -> None:
    g = grade_for(policy(), -3)
    assert (g.grade, g.formula) == ("D", "-3 is below every min_score → D")


# --------------------------------------------------------------------------- bonuses


def test_default_bonus() -> None:
    p = policy()
    b = bonus_for(p, grade_for(p, 96), 96, None, "sales", 1.1, "sales_rep")
    assert b.amount == 22000.0
    assert b.formula == (
        "base_bonus × bonus_multiplier × department.bonus_coefficient = 10000 × 2 × 1.1 = 22000.00"
    )
    assert b.inputs["base_bonus"] == 10000
    assert b.inputs["department"] == {"id": "sales", "bonus_coefficient": 1.1}
    json.dumps(b.inputs)


def test_bonus_uses_the_persons_base_bonus() -> None:
    p = policy()
    assert bonus_for(p, grade_for(p, 88), 88, 8000, "ops", 1.0, "agent").amount == 12000.0


def test_bonus_with_a_custom_formula() -> None:
    p = policy(bonus="base_bonus * bonus_multiplier * score / 100 + (500 if grade == 'S' else 0)")
    b = bonus_for(p, grade_for(p, 97.5), 97.5, 3333, "ops", 1.0, "agent")
    assert b.amount == 6999.35
    assert b.formula.endswith("= 6999.35")
    assert "base_bonus=3333, bonus_multiplier=2, grade='S', score=97.5" in b.formula
    assert b.inputs["expression"].startswith("base_bonus * bonus_multiplier")


def test_bonus_rounds_half_up() -> None:
    p = policy(bonus="base_bonus / 1000")
    assert bonus_for(p, grade_for(p, 50), 50, 2675, "ops", 1.0, "agent").amount == 2.68


def test_bonus_reads_the_position() -> None:
    p = policy(bonus="1000 if position.id == 'lead' else 0")
    assert bonus_for(p, grade_for(p, 50), 50, None, "ops", 1.0, "lead").amount == 1000.0


@pytest.mark.parametrize("expr", ["base_bonus / 0", "grade"])
def test_bonus_errors_propagate(expr: str) -> None:
    p = policy(bonus=expr)
    with pytest.raises(ExpressionError):
        bonus_for(p, grade_for(p, 50), 50, None, "ops", 1.0, "agent")


# --------------------------------------------------------------------------- quotas


EVERY_TEAM = policy(quotas={"min_population": 1})


def test_quotas_within_limits() -> None:
    assert check_quotas(policy(), ["S", "A", "A", "B", "B", "B", "C", "C", "C", "D"]) == []


def test_quota_above_max() -> None:
    issues = check_quotas(policy(), ["S", "S", "A", "B", "B", "B", "B", "C", "C", "D"])
    assert len(issues) == 1
    issue = issues[0]
    assert (issue.grade, issue.count, issue.kind) == ("S", 2, "above_max")
    assert (issue.share_percent, issue.limit_percent) == (20.0, 10.0)
    assert issue.message == "grade S: 2 of 10 (20%) is above the maximum of 10%"


def test_quota_exactly_at_max_is_fine() -> None:
    group = ["S"] * 3 + ["B"] * 27
    assert check_quotas(policy(), group) == []


def test_quota_below_min() -> None:
    issues = check_quotas(policy(), ["A", "A", "C", "C", "C", "C", "C", "C", "D", "D"])
    assert [(i.grade, i.count, i.kind, i.share_percent) for i in issues] == [
        ("B", 0, "below_min", 0.0)
    ]
    assert issues[0].message == "grade B: 0 of 10 (0%) is below the minimum of 20%"


def test_quota_one_person_allowed_when_the_quota_rounds_to_one() -> None:
    # 10% of 7 is 0.7 people: one S is allowed, two are not.
    assert check_quotas(policy(), ["S", "B", "B", "C", "C", "C", "D"]) == []
    issues = check_quotas(policy(), ["S", "S", "B", "B", "C", "C", "D"])
    assert [(i.grade, i.count, i.share_percent) for i in issues] == [("S", 2, 28.57)]


def test_quota_one_person_too_many_when_the_quota_rounds_to_zero() -> None:
    # 10% of 4 is 0.4 people: even one S is over the quota.
    issues = check_quotas(EVERY_TEAM, ["S", "B", "C", "D"])
    assert [(i.grade, i.count, i.kind) for i in issues] == [("S", 1, "above_max")]


def test_quota_half_a_person_rounds_up() -> None:
    # 10% of 5 is 0.5 people: one S is allowed.
    assert check_quotas(policy(), ["S", "B", "C", "C", "D"]) == []


def test_quota_min_waived_when_it_asks_for_under_half_a_person() -> None:
    # 20% of 2 is 0.4 people: no B is needed; 20% of 3 is 0.6: one B is.
    assert check_quotas(EVERY_TEAM, ["C", "D"]) == []
    issues = check_quotas(EVERY_TEAM, ["C", "C", "D"])
    assert [(i.grade, i.kind) for i in issues] == [("B", "below_min")]


def test_small_teams_have_no_quotas_and_hard_is_per_grade_or_policy() -> None:
    four = ["S", "S", "B", "C"]
    assert check_quotas(policy(), four) == []  # below the default min_population of 5
    assert check_quotas(policy(quotas={"min_population": 4}), four)
    five = [*four, "C"]
    assert [i.hard for i in check_quotas(policy(), five)] == [False]
    assert [i.hard for i in check_quotas(policy(quotas={"enforce": "hard"}), five)] == [True]
    counts = check_quota_counts(policy(quotas={"min_population": 100}), {"S": 60, "B": 40})
    assert [(i.grade, i.count, i.population, i.share_percent) for i in counts] == [
        ("S", 60, 100, 60.0)
    ]


def test_quotas_of_an_empty_population() -> None:
    assert check_quotas(policy(), []) == []


def test_quotas_ignore_unknown_grades() -> None:
    assert check_quotas(policy(), ["B", "X", "X"]) == []


@pytest.mark.parametrize(
    ("unit", "mode", "value", "expected"),
    [
        (0.01, "half_up", 2.675, "2.68"),  # as written, not binary float's 2.67
        (1, "half_up", 1799.5, "1800"),
        (1, "half_even", 1800.5, "1800"),
        (100, "down", 12399.99, "12300"),
        (10, "up", 1231, "1240"),
        (0.1, "half_up", 0.25, "0.3"),
    ],
)
def test_bonus_amounts_round_as_the_policy_says(
    unit: float, mode: str, value: float, expected: str
) -> None:
    from decimal import Decimal

    from opsperf.definitions.schema import Rounding
    from opsperf.engine.scoring import money_decimal

    assert money_decimal(value, Rounding(unit=unit, mode=mode)) == Decimal(expected)
    assert str(money_decimal(value, Rounding(unit=unit, mode=mode))) == expected

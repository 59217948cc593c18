"""The form engine on its own: edit rights, posts, evaluation and completeness (no app)."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.datastructures import MultiDict

from opsperf.definitions.schema import Form
from opsperf.engine.forms import Editable, check_complete, evaluate, form_class, parse_post

FORM = Form.model_validate(
    {
        "kind": "Form",
        "id": "probe",
        "title": "Probe",
        "period": "quarter",
        "sections": [
            {
                "id": "goals",
                "title": "Goals",
                "fields": [
                    {
                        "id": "kpis",
                        "type": "kpi_table",
                        "label": "KPIs",
                        "kpis": [
                            {
                                "id": "revenue",
                                "name": "Revenue",
                                "unit": "万元",
                                "weight": 60,
                                "target": 100,
                                "scoring": {"method": "ratio", "cap": 1.2},
                            },
                            {
                                "id": "cost",
                                "name": "Cost",
                                "unit": "%",
                                "direction": "lower",
                                "weight": 40,
                                "target": 10,
                            },
                        ],
                    },
                    {
                        "id": "attainment",
                        "type": "percent",
                        "label": "Attainment",
                        "compute": "round(kpis.revenue.actual / kpis.revenue.target * 100, 1) "
                        "if kpis.revenue.actual is not None else None",
                    },
                ],
            },
            {
                "id": "review",
                "title": "Review",
                "fields": [
                    {
                        "id": "rating",
                        "type": "rating",
                        "label": "Rating",
                        "scale": 5,
                        "required": True,
                    },
                    {
                        "id": "comment",
                        "type": "textarea",
                        "label": "Comment",
                        "max_length": 50,
                        "required_if": "rating is not None and rating <= 2",
                    },
                    {"id": "agreed", "type": "checkbox", "label": "Agreed"},
                    {
                        "id": "focus",
                        "type": "multiselect",
                        "label": "Focus",
                        "max_items": 2,
                        "choices": ["data", "people", "process"],
                    },
                    {"id": "met_on", "type": "date", "label": "Met on"},
                    {"id": "hours", "type": "number", "label": "Hours", "min": 0, "max": 100},
                    {
                        "id": "secret",
                        "type": "text",
                        "label": "Secret",
                        "visible_if": "rating == 5",
                    },
                    {"id": "code", "type": "text", "label": "Code", "pattern": "(a|aa)+"},
                    {
                        "id": "actions",
                        "type": "table",
                        "label": "Actions",
                        "columns": [
                            {"id": "what", "type": "text", "label": "What", "required": True},
                            {"id": "when", "type": "date", "label": "When"},
                        ],
                    },
                ],
            },
        ],
        "rules": [
            {"check": "hours is None or hours <= 80", "message": "Too many hours", "field": "hours"}
        ],
    }
)
STORED: dict[str, Any] = {
    "kpis": {"revenue": {"target": 100.0, "actual": None}, "cost": {"target": 10.0, "actual": None}}
}


def post(data: dict[str, Any], refs: list[str], stored: dict[str, Any] | None = None) -> Any:
    return parse_post(FORM, MultiDict(data), stored or STORED, Editable.from_refs(FORM, refs))


def test_edit_rights_resolve_sections_fields_and_columns() -> None:
    rights = Editable.from_refs(FORM, ["review", "kpis.actual"])
    assert {"rating", "comment", "actions"} <= rights.fields
    assert rights.kpi_columns == {("kpis", "actual")}
    assert ("actions", "what") in rights.table_columns
    assert not Editable.from_refs(FORM, [])


def test_form_class_is_built_once_per_definition() -> None:
    assert form_class(FORM) is form_class(FORM)


def test_a_post_outside_the_rights_is_refused_and_an_allowed_one_applied() -> None:
    result = post({"rating": "4", "kpis-revenue-actual": "120"}, ["review"])
    assert result.refused == ["kpis.revenue.actual"]
    result = post({"kpis-revenue-actual": "120"}, ["kpis.actual"])
    assert result.refused == []
    assert result.values["kpis"]["revenue"]["actual"] == 120.0
    assert result.changes == {"kpis.revenue.actual": [None, 120.0]}


@pytest.mark.parametrize(
    ("data", "path", "code"),
    [
        ({"hours": "abc"}, "hours", "number"),
        ({"hours": "nan"}, "hours", "number"),
        ({"hours": "1e999"}, "hours", "number"),
        ({"hours": "101"}, "hours", "max"),
        ({"rating": "7"}, "rating", "choice"),
        ({"met_on": "2026-02-30"}, "met_on", "date"),
        ({"comment": "x" * 51}, "comment", "max_length"),
        ({"focus": ["data", "people", "process"], "focus__shown": "1"}, "focus", "max_items"),
        ({"focus": ["nope"], "focus__shown": "1"}, "focus", "choice"),
        ({"actions__rows": "1", "actions-0-when": "2026-12-01"}, "actions.0.what", "required"),
    ],
)
def test_wrong_values_are_reported_where_they_are(
    data: dict[str, Any], path: str, code: str
) -> None:
    errors = post(data, ["review"]).errors
    assert [(e.path, e.code) for e in errors] == [(path, code)]


def test_empty_inputs_are_blank_not_errors() -> None:
    result = post({"hours": "", "met_on": "", "rating": "3"}, ["review"])
    assert result.errors == []
    assert result.values["rating"] == 3
    assert result.values.get("hours") is None


def test_an_unticked_box_is_cleared_only_when_it_was_shown() -> None:
    stored = {**STORED, "agreed": True, "focus": ["data"]}
    assert post({"rating": "3"}, ["review"], stored).values["agreed"] is True
    cleared = post({"agreed__shown": "1", "focus__shown": "1"}, ["review"], stored).values
    assert cleared["agreed"] is False
    assert cleared["focus"] == []


def test_evaluation_computes_shows_and_requires_on_the_server() -> None:
    values = {
        **STORED,
        "kpis": {
            "revenue": {"target": 100.0, "actual": 130.0},
            "cost": {"target": 10.0, "actual": 8.0},
        },
        "rating": 2,
    }
    ev = evaluate(FORM, values, Editable.from_refs(FORM, ["review"]))
    assert ev.fields["attainment"].value == 130.0
    assert ev.fields["attainment"].readonly
    assert ev.fields["comment"].required
    assert not ev.fields["secret"].visible
    # revenue: min(1.3, 1.2) × 100 × 60% = 72; cost: min(10 ÷ 8, 1.2) × 100 × 40% = 48
    assert ev.score.total == pytest.approx(120.0)


def test_completeness_covers_required_values_and_rules() -> None:
    rights = Editable.from_refs(FORM, ["review"])
    missing = check_complete(evaluate(FORM, {**STORED, "rating": 2, "hours": 90}), rights)
    assert {(e.path, e.code) for e in missing} == {("comment", "required"), ("hours", "rule")}
    done = {**STORED, "rating": 4, "hours": 10}
    assert check_complete(evaluate(FORM, done), rights) == []


def test_completeness_of_kpi_columns() -> None:
    rights = Editable.from_refs(FORM, ["kpis.actual"])
    missing = check_complete(evaluate(FORM, STORED), rights)
    assert {e.path for e in missing} == {"kpis.revenue.actual", "kpis.cost.actual"}


def test_a_pattern_that_backtracks_forever_is_cut_short() -> None:
    import time

    started = time.perf_counter()
    errors = post({"code": "a" * 60 + "!"}, ["review"]).errors
    assert [(e.path, e.code) for e in errors] == [("code", "pattern")]
    assert time.perf_counter() - started < 5  # a safety bound: unbounded, this never ends
    assert post({"code": "aaaa"}, ["review"]).errors == []


def test_text_has_a_length_limit_even_when_the_form_sets_none() -> None:
    """``secret`` (text) and table cells have no max_length: the defaults apply; ``comment``
    (textarea) declares 50, which wins over the default."""
    from opsperf.engine.text import DEFAULT_LIMITS, KPI_NOTE_LIMIT

    text = DEFAULT_LIMITS["text"]
    for data, path, limit in (
        ({"secret": "长" * (text + 1)}, "secret", text),
        ({"comment": "长" * 51}, "comment", 50),
        ({"actions__rows": "1", "actions-0-what": "长" * (text + 1)}, "actions.0.what", text),
        ({"kpis-revenue-note": "长" * (KPI_NOTE_LIMIT + 1)}, "kpis.revenue.note", KPI_NOTE_LIMIT),
    ):
        result = post(data, ["review", "kpis.note"])
        assert [(e.path, e.code, e.params) for e in result.errors] == [
            (path, "max_length", {"max": limit})
        ], path
        exact = {k: v[:limit] if v.startswith("长") else v for k, v in data.items()}
        assert not post(exact, ["review", "kpis.note"]).errors, path


def test_text_refuses_control_characters_and_lone_surrogates() -> None:
    for value in ("a\x00b", "x\ud800", "esc\x1b[0m"):
        for data, path in (
            ({"secret": value}, "secret"),
            ({"actions__rows": "1", "actions-0-what": value}, "actions.0.what"),
            ({"kpis-revenue-note": value}, "kpis.revenue.note"),
        ):
            result = post(data, ["review", "kpis.note"])
            assert [(e.path, e.code) for e in result.errors] == [(path, "characters")], path
    assert not post({"comment": "第一行\r\n第二行\t缩进"}, ["review"]).errors


def test_conditions_that_cannot_be_worked_out_fail_closed() -> None:
    """A visible_if that fails hides the field; a readonly_if that fails makes it read-only."""
    form = Form.model_validate(
        {
            "kind": "Form",
            "id": "closed",
            "title": "Closed",
            "period": "quarter",
            "sections": [
                {
                    "id": "s",
                    "title": "S",
                    "fields": [
                        {"id": "n", "type": "number", "label": "N"},
                        {"id": "shown", "type": "text", "label": "A", "visible_if": "10 / n > 1"},
                        {"id": "open", "type": "text", "label": "B", "readonly_if": "10 / n > 1"},
                    ],
                }
            ],
        }
    )
    everything = Editable.from_refs(form, ["s"])
    fine = evaluate(form, {"n": 2}, everything)
    assert fine.fields["shown"].visible
    assert fine.fields["open"].readonly
    small = evaluate(form, {"n": 20}, everything)
    assert not small.fields["shown"].visible
    assert small.fields["open"].editable
    broken = evaluate(form, {"n": 0}, everything)  # 10 / 0: the conditions cannot be decided
    assert not broken.fields["shown"].visible
    assert broken.fields["open"].readonly
    assert not broken.fields["open"].editable


def test_min_rows_asks_for_rows_even_without_required() -> None:
    form = Form.model_validate(
        {
            "kind": "Form",
            "id": "okr",
            "title": "OKR",
            "sections": [
                {
                    "id": "s",
                    "title": "s",
                    "fields": [
                        {
                            "id": "key_results",
                            "type": "table",
                            "label": "关键结果",
                            "min_rows": 2,
                            "columns": [{"id": "kr", "type": "text", "label": "KR"}],
                        }
                    ],
                }
            ],
        }
    )
    rights = Editable.from_refs(form, ["key_results"])
    assert evaluate(form, {}).fields["key_results"].required
    empty = check_complete(evaluate(form, {}), rights)
    assert [(e.path, e.code) for e in empty] == [("key_results", "required")]
    one = check_complete(evaluate(form, {"key_results": [{"kr": "上线新版本"}]}), rights)
    assert [(e.path, e.code, e.params["min"]) for e in one] == [("key_results", "min_rows", 2)]
    two = {"key_results": [{"kr": "上线新版本"}, {"kr": "留存率 40%"}]}
    assert check_complete(evaluate(form, two), rights) == []

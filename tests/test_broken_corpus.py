"""A corpus of broken definitions: every case is the valid pack plus exactly one mistake.

The valid pack lives in ``tests/broken/_valid/`` (two departments, a form, a workflow and an
incentive policy that load with no diagnostics at all). A case is built in a temporary folder
from a copy of that pack, then

* the files of ``tests/broken/<case id>/`` (if that folder exists) are laid over it: used for
  mistakes at the YAML level, which are easiest to read as real files, and
* ``edits`` replace one snippet of a pack file (the snippet must occur exactly as often as
  stated, once by default), so the one mistake is visible right in the case.

Every case states each diagnostic it must produce as ``file:line:column`` (line numbers are
those of the file *after* the edit) plus substrings of the message. Besides, the files a case
touches must report nothing else: one mistake, its diagnostics, no noise. Diagnostics that a
mistake causes in *other* files are covered separately (see the cascade test).

A case marked xfail (strict) describes how the loader *should* behave and names the bug it
shows; the bugs found so far are fixed, and their cases stay as regression tests.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from opsperf.definitions.loader import LoadResult, load
from opsperf.errors import Diagnostic

BROKEN = Path(__file__).parent / "broken"
VALID = BROKEN / "_valid"

COMPANY = "org/company.yaml"
SALES = "org/sales.yaml"
FORM = "forms/sales_review.yaml"
WORKFLOW = "workflows/review.yaml"
POLICY = "policies/standard.yaml"
HR = "org/hr.yaml"  # the extra file most YAML-level cases add

KPI1 = "sections[0].fields[0].kpis[1]"  # the 'complaints' KPI


# --------------------------------------------------------------------------- case machinery


@dataclass(frozen=True)
class Expect:
    """One diagnostic a case must produce."""

    file: str
    line: int
    column: int
    has: tuple[str, ...]
    severity: str = "error"
    key_path: str | None = None

    def matches(self, file: str, d: Diagnostic) -> bool:
        return (
            file == self.file
            and (d.line, d.column, d.severity) == (self.line, self.column, self.severity)
            and all(part in d.message for part in self.has)
            and (self.key_path is None or d.key_path == self.key_path)
        )

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}: {self.severity}"
        return f"{where}: ...{'...'.join(self.has)}... [{self.key_path or '*'}]"


def E(where: str, *has: str, key_path: str | None = None) -> Expect:
    """An expected error at ``file:line:column`` whose message contains every ``has``."""
    file, line, column = where.rsplit(":", 2)
    return Expect(file, int(line), int(column), has, "error", key_path)


def W(where: str, *has: str, key_path: str | None = None) -> Expect:
    """An expected warning, like :func:`E`."""
    file, line, column = where.rsplit(":", 2)
    return Expect(file, int(line), int(column), has, "warning", key_path)


@dataclass(frozen=True)
class Edit:
    """Replace ``old`` by ``new`` in one file of the valid pack (``count`` occurrences)."""

    file: str
    old: str
    new: str
    count: int = 1


@dataclass(frozen=True)
class Case:
    id: str
    expect: tuple[Expect, ...]
    edits: tuple[Edit, ...] = ()
    files: tuple[tuple[str, bytes], ...] = ()  # extra files written inline (e.g. binary)

    @property
    def overlay(self) -> Path:
        return BROKEN / self.id

    def overlay_files(self) -> list[str]:
        if not self.overlay.is_dir():
            return []
        return sorted(p.relative_to(self.overlay).as_posix() for p in self.overlay.rglob("*.yaml"))

    def touched(self) -> set[str]:
        return {e.file for e in self.edits} | set(self.overlay_files()) | {f for f, _ in self.files}


def case(
    ident: str,
    *expect: Expect,
    edit: Edit | Sequence[Edit] = (),
    files: dict[str, bytes] | None = None,
    xfail: str | None = None,
) -> Any:
    edits = (edit,) if isinstance(edit, Edit) else tuple(edit)
    built = Case(ident, expect, edits, tuple((files or {}).items()))
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    return pytest.param(built, id=ident, marks=marks)


def build(case: Case, root: Path) -> Path:
    """The valid pack with ``case``'s one mistake applied, under ``root``."""
    shutil.copytree(VALID, root)
    if case.overlay.is_dir():
        shutil.copytree(case.overlay, root, dirs_exist_ok=True)
    for name, data in case.files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    for edit in case.edits:
        path = root / edit.file
        text = path.read_text(encoding="utf-8")
        found = text.count(edit.old)
        assert found == edit.count, f"{edit.file}: {edit.old!r} occurs {found}×, not {edit.count}"
        path.write_text(text.replace(edit.old, edit.new), encoding="utf-8")
    return root


def rel(root: Path, d: Diagnostic) -> str:
    try:
        return Path(d.path).relative_to(root).as_posix()
    except ValueError:
        return d.path


def listing(root: Path, result: LoadResult) -> str:
    lines = [
        f"  {rel(root, d)}:{d.line}:{d.column}: {d.severity}: {d.message} [{d.key_path}]"
        for d in result.diagnostics
    ]
    return "\n".join(lines) or "  (no diagnostics)"


def assert_case(case: Case, root: Path, result: LoadResult) -> None:
    for expected in case.expect:
        found = [d for d in result.diagnostics if expected.matches(rel(root, d), d)]
        assert found, f"missing {expected}\ngot:\n{listing(root, result)}"
    touched = case.touched()
    for d in result.diagnostics:
        file = rel(root, d)
        if file in touched:
            assert any(e.matches(file, d) for e in case.expect), (
                f"unexpected diagnostic in a file this case touches: {d.format()}\n"
                f"got:\n{listing(root, result)}"
            )


# --------------------------------------------------------------------------- the corpus

YAML_CASES = [
    case(
        "yaml_syntax_colon_in_value",
        E(f"{HR}:3:9", "YAML syntax: mapping values are not allowed here", "needs quotes"),
    ),
    case(
        "yaml_syntax_bad_indent",
        E(f"{HR}:8:4", "YAML syntax", "check the indentation of this line"),
    ),
    case(
        "yaml_key_reads_as_boolean",
        E(f"{HR}:5:1", "key 'yes' reads as True; put it in quotes"),
    ),
    case(
        "tab_indentation",
        E(f"{HR}:4:1", "tab character in indentation", "replace the tab with spaces"),
        E(f"{HR}:5:1", "tab character in indentation"),
    ),
    case(
        "duplicate_key",
        E(f"{HR}:5:1", "duplicate key 'id' (first written on line 2)", key_path="id"),
    ),
    case(
        "alias_bomb",
        E(f"{HR}:2:1", "document expands to more than 200000 values", "anchors and aliases"),
    ),
    case(
        # PyYAML gives an alias the very node of its anchor, so the anchor's place is reported.
        "self_referencing_alias",
        E(f"{HR}:5:8", "an alias refers to itself", key_path="roles[1]"),
    ),
    case(
        "non_mapping_document",
        E(f"{HR}:1:1", "a definition must be a mapping with `kind:`"),
    ),
    case(
        "missing_kind",
        E(f"{HR}:1:1", "missing `kind:`", "Department, Form, Workflow, IncentivePolicy"),
    ),
    case(
        "unknown_kind",
        E(f"{HR}:1:7", "unknown kind 'Departmnet'", "did you mean 'Department'?", key_path="kind"),
    ),
    case(
        "duplicate_definition_id",
        E(
            "org/sales_copy.yaml:2:5",
            "Department id 'sales' is already defined at",
            "org/sales.yaml:2",
            "ids must be unique",
            key_path="id",
        ),
    ),
    case(
        "multi_document_second_doc",
        E("org/support.yaml:9:9", "unknown parent department 'compny'", "did you mean 'company'?"),
    ),
    case(
        "not_utf8",
        E(f"{HR}:1:1", "not UTF-8 text", "save as UTF-8"),
        files={HR: b"kind: Department\nid: hr\nname: Caf\xe9\nparent: company\n"},
    ),
    case(
        "kind_is_a_list",
        E(f"{HR}:1:7", "kind must be one of Department, Form", "got a list", key_path="kind"),
    ),
    case(
        "kind_is_a_mapping",
        E(f"{SALES}:1:7", "kind must be one of Department, Form", "got a mapping"),
        edit=Edit(SALES, "kind: Department", "kind: {a: 1}"),
    ),
]

DEPARTMENT_CASES = [
    case(
        "invalid_id",
        E(f"{SALES}:2:5", "'Sales Team' is not a valid id", "e.g. 'sales_team'", key_path="id"),
        edit=Edit(SALES, "id: sales", "id: Sales Team"),
    ),
    case(
        "unknown_parent_department",
        E(f"{SALES}:3:9", "unknown parent department 'compnay'", "did you mean 'company'?"),
        edit=Edit(SALES, "parent: company", "parent: compnay"),
    ),
    case(
        "department_cycle",
        E(f"{COMPANY}:3:9", "departments form a cycle: company → sales → company"),
        E(f"{SALES}:3:9", "departments form a cycle: company → sales → company"),
        edit=Edit(COMPANY, "id: company\n", "id: company\nparent: sales\n"),
    ),
    case(
        "department_own_parent",
        E(f"{COMPANY}:3:9", "departments form a cycle: company → company", key_path="parent"),
        edit=Edit(COMPANY, "id: company\n", "id: company\nparent: company\n"),
    ),
    case(
        "head_not_a_position",
        E(f"{COMPANY}:4:7", "unknown head position 'boss'; use one of: ceo, sales_rep"),
        edit=Edit(COMPANY, "head: ceo", "head: boss"),
    ),
    case(
        "head_in_department_without_positions",
        E(f"{SALES}:4:7", "head position 'boss'", "the department has no positions"),
        edit=Edit(SALES, "parent: company\n", "parent: company\nhead: boss\n"),
    ),
    case(
        "duplicate_position_id",
        E(f"{COMPANY}:20:9", "position id 'ceo' repeats", key_path="positions[1].id"),
        edit=Edit(COMPANY, "id: sales_rep", "id: ceo"),
    ),
    case(
        "custom_role_shadows_builtin",
        E(f"{COMPANY}:7:9", "'hr' is a built-in role", key_path="roles[0].id"),
        # the workflow's use of the renamed role is a true consequence, not noise
        E(f"{WORKFLOW}:52:17", "unknown role 'quality_officer'"),
        edit=Edit(COMPANY, "id: quality_officer", "id: hr"),
    ),
    case(
        "position_unknown_form",
        E(f"{COMPANY}:22:11", "unknown form 'sales_reveiw'", "did you mean 'sales_review'?"),
        edit=Edit(
            COMPANY,
            "form: sales_review\n    workflow: review\n    policy",
            "form: sales_reveiw\n    workflow: review\n    policy",
        ),
    ),
    case(
        "position_unknown_workflow",
        E(f"{COMPANY}:23:15", "unknown workflow 'reviews'", "did you mean 'review'?"),
        edit=Edit(COMPANY, "workflow: review\n    policy", "workflow: reviews\n    policy"),
    ),
    case(
        "position_unknown_policy",
        E(f"{COMPANY}:24:13", "unknown incentive policy 'standrad'", "did you mean 'standard'?"),
        edit=Edit(COMPANY, "policy: standard", "policy: standrad"),
    ),
]

FORM_CASES = [
    case(
        "unknown_key_wieght",
        # the missing 'weight' it causes is not reported: the misspelling explains it
        E(f"{FORM}:23:13", "unknown key 'wieght'", "did you mean 'weight'?"),
        edit=Edit(FORM, "weight: 30", "wieght: 30"),
    ),
    case(
        "unknown_optional_key_directon",
        E(f"{FORM}:22:13", "unknown key 'directon'", "did you mean 'direction'?"),
        edit=Edit(FORM, "direction: lower", "directon: lower"),
    ),
    case(
        "unknown_key_inside_field_type",
        E(f"{FORM}:43:9", "unknown key 'scael'", "did you mean 'scale'?"),
        edit=Edit(FORM, "scale: 3", "scael: 3"),
    ),
    case(
        "unknown_key_in_flow_mapping",
        E(f"{FORM}:36:39", "unknown key 'treshold'", "did you mean 'threshold'?"),
        edit=Edit(FORM, "threshold: 60", "treshold: 60"),
    ),
    case(
        "unknown_key_in_bands_scoring",
        E(f"{FORM}:27:15", "unknown key 'bandz'", "did you mean 'bands'?"),
        edit=Edit(FORM, "method: bands\n", "method: bands\n              bandz: []\n"),
    ),
    case(
        "missing_required_key",
        E(f"{FORM}:19:13", "missing required key 'weight'", key_path=f"{KPI1}.weight"),
        edit=Edit(FORM, "            weight: 30\n", ""),
    ),
    case(
        "missing_required_top_level_key",
        E(f"{FORM}:1:1", "missing required key 'title'", key_path="title"),
        edit=Edit(FORM, "title: {zh: 销售季度考核, en: Sales quarterly review}\n", ""),
    ),
    case(
        "wrong_type_weight_abc",
        E(f"{FORM}:23:21", "should be a valid number", "'abc'", key_path=f"{KPI1}.weight"),
        edit=Edit(FORM, "weight: 30", "weight: abc"),
    ),
    case(
        "invalid_field_type",
        E(f"{FORM}:51:15", "'textbox' is not a valid type", "'textarea'"),
        edit=Edit(FORM, "type: textarea", "type: textbox"),
    ),
    case(
        "bad_label_empty_mapping",
        E(f"{FORM}:42:16", "a label needs at least one of zh or en"),
        edit=Edit(FORM, "label: Self rating", "label: {}"),
    ),
    case(
        "bad_label_unknown_language",
        E(f"{WORKFLOW}:3:18", "unknown key 'fr'", "allowed here: en, zh", key_path="name.fr"),
        edit=Edit(WORKFLOW, "en: Quarterly review", "fr: Quarterly review"),
    ),
    case(
        "invalid_regex_pattern",
        E(
            f"{FORM}:57:18",
            "pattern is not a valid regular expression",
            "unterminated character set",
            key_path="sections[1].fields[3].pattern",
        ),
        edit=Edit(FORM, 'pattern: "^[A-Z]+$"', 'pattern: "^[A-Z+$"'),
    ),
    case(
        "rating_labels_do_not_match_scale",
        E(f"{FORM}:40:9", "labels has 2 entries but scale is 3", "one label per step"),
        edit=Edit(FORM, "labels: [Low, Mid, High]", "labels: [Low, High]"),
    ),
    case(
        "min_length_above_max_length",
        E(f"{FORM}:54:9", "min_length is larger than max_length"),
        edit=Edit(FORM, 'pattern: "^[A-Z]+$"', "min_length: 5\n        max_length: 2"),
    ),
    case(
        "choice_default_not_in_choices",
        E(
            f"{FORM}:49:18",
            "default 'midlevel' is not one of the choices; use one of: junior, senior",
        ),
        edit=Edit(FORM, "default: junior", "default: midlevel"),
    ),
    case(
        "duplicate_field_id",
        E(f"{FORM}:54:13", "id 'summary' is used twice", key_path="sections[1].fields[3].id"),
        edit=Edit(FORM, "id: code", "id: summary"),
    ),
    case(
        "field_id_repeats_section_id",
        E(f"{FORM}:54:13", "id 'goals' is used twice", "share one namespace"),
        edit=Edit(FORM, "id: code", "id: goals"),
    ),
    case(
        "duplicate_kpi_id",
        E(f"{FORM}:19:17", "KPI id 'revenue' repeats", key_path=f"{KPI1}.id"),
        edit=Edit(FORM, "id: complaints", "id: revenue"),
    ),
    case(
        "kpi_weights_not_100",
        E(
            f"{FORM}:12:9",
            "KPI weights add up to 105, not 100",
            "revenue, complaints, retention",
            key_path="sections[0].fields[0].kpis",
        ),
        edit=Edit(FORM, "weight: 50", "weight: 55"),
    ),
    case(
        "bands_out_of_order",
        E(f"{FORM}:28:17", "bands must go from the lowest threshold up", "(direction is lower)"),
        edit=Edit(
            FORM, "- [2, 120]\n                - [5, 100]", "- [5, 100]\n                - [2, 120]"
        ),
    ),
    case(
        "linear_scoring_without_target",
        E(f"{FORM}:35:22", "KPI 'retention': linear scoring needs a target"),
        W(f"{FORM}:31:13", "KPI 'retention' has no target"),
        edit=Edit(FORM, "            target: 90\n", ""),
    ),
    case(
        "kpi_aligns_to_unknown_goal",
        E(f"{FORM}:18:24", "department 'company' has no goal 'revenu'; did you mean 'revenue'?"),
        edit=Edit(FORM, "aligns_to: company.revenue", "aligns_to: company.revenu"),
    ),
    case(
        "expression_syntax_error",
        E(f"{FORM}:61:18", "invalid expression: syntax error at column 14"),
        edit=Edit(FORM, 'compute: "kpis.score / 10"', 'compute: "kpis.score / / 10"'),
    ),
    case(
        "expression_unknown_field",
        E(
            f"{FORM}:53:22",
            "unknown name 'self_ratng'; did you mean 'self_rating'?",
            "in `self_ratng <= 1`",
            key_path="sections[1].fields[2].required_if",
        ),
        edit=Edit(FORM, 'required_if: "self_rating <= 1"', 'required_if: "self_ratng <= 1"'),
    ),
    case(
        "expression_unknown_kpi",
        E(f"{FORM}:61:18", "'kpis' has no 'revenu'; did you mean 'revenue'?"),
        edit=Edit(FORM, 'compute: "kpis.score / 10"', 'compute: "kpis.revenu.actual / 10"'),
    ),
    case(
        "expression_dunder_attack",
        E(f"{FORM}:67:12", "'.__class__': names starting with '_' are not allowed"),
        edit=Edit(FORM, 'check: "self_rating >= 1"', 'check: "().__class__"'),
    ),
    case(
        "expression_method_call",
        E(f"{FORM}:67:12", "methods cannot be called", key_path="rules[0].check"),
        edit=Edit(FORM, 'check: "self_rating >= 1"', "check: \"summary.upper() == 'OK'\""),
    ),
    case(
        "expression_unknown_function",
        E(f"{FORM}:67:12", "unknown function 'open'", "known: abs"),
        edit=Edit(FORM, 'check: "self_rating >= 1"', "check: \"open('/etc/passwd')\""),
    ),
    case(
        "compute_cycle",
        E(f"{FORM}:61:18", "computed field 'bonus_points' depends on itself"),
        E(f"{FORM}:65:18", "computed field 'total_points' depends on itself"),
        edit=Edit(FORM, 'compute: "kpis.score / 10"', 'compute: "total_points / 10"'),
    ),
    case(
        "label_left_empty",
        E(f"{FORM}:42:15", "a label is needed: a text or {zh: ..., en: ...}"),
        edit=Edit(FORM, "label: Self rating", "label:"),
    ),
    case(
        "label_reads_as_boolean",
        E(f"{FORM}:52:16", "this label reads as true/false", "put it in quotes"),
        edit=Edit(FORM, "label: Summary", "label: yes"),
    ),
    case(
        "text_reads_as_boolean",
        E(
            f"{FORM}:21:19",
            "this reads as true/false",
            "put the text in quotes",
            key_path=f"{KPI1}.unit",
        ),
        edit=Edit(FORM, "unit: count", "unit: no"),
    ),
    case(
        "choices_read_as_booleans",
        E(f"{FORM}:48:19", "a choice reads as true/false", "put it in quotes"),
        E(f"{FORM}:48:24", "a choice reads as true/false"),
        edit=Edit(FORM, "choices: [junior, senior]\n        default: junior", "choices: [yes, no]"),
    ),
    case(
        "number_is_not_finite",
        E(
            f"{FORM}:35:21",
            "should be a finite number",
            key_path="sections[0].fields[0].kpis[2].target",
        ),
        edit=Edit(FORM, "target: 90\n", "target: .nan\n"),
    ),
    case(
        # the engine does not evaluate expressions per row, so they must not be written there
        "table_column_with_expression",
        E(
            f"{FORM}:65:26",
            "table columns do not support 'required_if'",
            key_path="sections[1].fields[4].columns[0].required_if",
        ),
        edit=Edit(
            FORM,
            '        pattern: "^[A-Z]+$"\n',
            '        pattern: "^[A-Z]+$"\n'
            "      - id: actions\n"
            "        type: table\n"
            "        label: Improvement actions\n"
            "        columns:\n"
            "          - id: action\n"
            "            type: text\n"
            "            label: Action\n"
            '            required_if: "self_rating <= 1"\n',
        ),
    ),
    case(
        "rule_names_unknown_field",
        E(f"{FORM}:69:12", "unknown field 'self_ratin'", "did you mean 'self_rating'?"),
        edit=Edit(FORM, "field: self_rating", "field: self_ratin"),
    ),
]

WORKFLOW_CASES = [
    case(
        "workflow_missing_phase",
        E(
            f"{WORKFLOW}:4:1",
            "needs the phases plan, monitor, assess, feedback",
            "missing: feedback",
        ),
        edit=Edit(WORKFLOW, "feedback", "meeting", count=3),
    ),
    case(
        "bad_iso_duration",
        E(f"{WORKFLOW}:9:10", "'14 days' is not an ISO 8601 duration", "P14D"),
        edit=Edit(WORKFLOW, "due: P14D", "due: 14 days"),
    ),
    case(
        # `source` is a text or a list of texts: only the bad item is reported, not the list
        "transition_source_item_not_text",
        E(
            f"{WORKFLOW}:35:23",
            "should be a valid string, got 3",
            key_path="transitions[1].source[1]",
        ),
        edit=Edit(WORKFLOW, "source: monitor\n", "source: [monitor, 3]\n"),
    ),
    case(
        "unknown_state_in_transition",
        E(f"{WORKFLOW}:32:11", "unknown state 'monitr'", "did you mean 'monitor'?"),
        edit=Edit(WORKFLOW, "dest: monitor", "dest: monitr"),
    ),
    case(
        "nested_state_written_with_underscore",
        E(
            f"{WORKFLOW}:39:13",
            "unknown state 'assess_self'",
            "nested states are written with a dot: 'assess.self'",
            key_path="transitions[2].source",
        ),
        edit=Edit(WORKFLOW, "source: assess.self", "source: assess_self"),
    ),
    case(
        "unknown_initial_state",
        E(f"{WORKFLOW}:4:10", "unknown state 'plann'", "did you mean 'plan'?", key_path="initial"),
        edit=Edit(WORKFLOW, "states:\n  plan:", "initial: plann\nstates:\n  plan:"),
    ),
    case(
        "unknown_initial_child_state",
        E(f"{WORKFLOW}:17:14", "unknown child state 'slef'", "did you mean 'self'?"),
        edit=Edit(WORKFLOW, "initial: self", "initial: slef"),
    ),
    case(
        "unknown_initial_child_of_first_state",
        E(f"{WORKFLOW}:6:14", "unknown child state 'draf'", "did you mean 'draft'?"),
        edit=Edit(
            WORKFLOW, "  plan:\n", "  plan:\n    initial: draf\n    states:\n      draft: {}\n"
        ),
    ),
    case(
        "unreachable_state",
        E(f"{WORKFLOW}:22:7", "state 'assess.manager' cannot be reached from 'plan'"),
        edit=Edit(WORKFLOW, "dest: assess.manager", "dest: feedback"),
    ),
    case(
        "dead_end_state",
        E(
            f"{WORKFLOW}:25:3",
            "state 'feedback' is a dead end: no transition leaves it and it is not final",
            key_path="states.feedback",
        ),
        edit=Edit(WORKFLOW, "source: feedback", "source: monitor"),
    ),
    case(
        "no_final_state",
        E(f"{WORKFLOW}:4:1", "no state is final", "`final: true`", key_path="states"),
        E(f"{WORKFLOW}:27:3", "state 'done' is a dead end"),
        edit=Edit(WORKFLOW, "final: true", "final: false"),
    ),
    case(
        "final_state_as_transition_source",
        E(
            f"{WORKFLOW}:50:24",
            "'done' is final; nothing leaves it",
            key_path="transitions[4].source[1]",
        ),
        edit=Edit(WORKFLOW, "source: feedback", "source: [feedback, done]"),
    ),
    case(
        "unknown_role",
        E(f"{WORKFLOW}:33:13", "unknown role 'employe'", "did you mean 'employee'?"),
        edit=Edit(
            WORKFLOW,
            "roles: [employee]\n  - trigger: start",
            "roles: [employe]\n  - trigger: start",
        ),
    ),
    case(
        "private_notes_unknown_role",
        E(
            f"{WORKFLOW}:4:31",
            "unknown role 'dept_haed'",
            "did you mean 'dept_head'?",
            key_path="comments.private[1]",
        ),
        edit=Edit(
            WORKFLOW,
            "en: Quarterly review}\n",
            "en: Quarterly review}\ncomments: {private: [manager, dept_haed]}\n",
        ),
    ),
    case(
        "private_notes_for_the_employee",
        E(f"{WORKFLOW}:4:22", "never shown to the employee", key_path="comments.private[0]"),
        edit=Edit(
            WORKFLOW,
            "en: Quarterly review}\n",
            "en: Quarterly review}\ncomments: {private: [employee, hr]}\n",
        ),
    ),
    case(
        "thread_to_unknown_role",
        E(
            f"{WORKFLOW}:54:20",
            "unknown role 'hrr'",
            "did you mean 'hr'?",
            key_path="transitions[4].opens_thread[0]",
        ),
        edit=Edit(
            WORKFLOW,
            "    actions: [notify_employee]",
            "    actions: [notify_employee]\n    opens_thread: [hrr]",
        ),
    ),
    case(
        "thread_without_comment",
        E(
            f"{WORKFLOW}:54:14",
            "opens a thread with its comment but takes none",
            key_path="transitions[4].comment",
        ),
        edit=Edit(
            WORKFLOW,
            "    actions: [notify_employee]",
            "    actions: [notify_employee]\n    comment: none\n    opens_thread: [hr]",
        ),
    ),
    case(
        "unknown_approval_role",
        E(f"{WORKFLOW}:47:24", "unknown role 'dept_haed'", "did you mean 'dept_head'?"),
        edit=Edit(WORKFLOW, "roles: [manager, dept_head]", "roles: [manager, dept_haed]"),
    ),
    case(
        "approval_quorum_without_number",
        E(
            f"{WORKFLOW}:47:7",
            "mode quorum needs 'quorum: N'",
            key_path="transitions[3].approval",
        ),
        edit=Edit(WORKFLOW, "mode: all", "mode: quorum"),
    ),
    case(
        "edit_right_unknown_field",
        E(
            f"{WORKFLOW}:7:18",
            "form 'sales_review' has no section or field 'kpis.targte'",
            "did you mean 'kpis.target'?",
            key_path="states.plan.edit.employee[0]",
        ),
        edit=Edit(WORKFLOW, "employee: [kpis.target]", "employee: [kpis.targte]"),
    ),
    case(
        "edit_right_unknown_section",
        E(f"{WORKFLOW}:21:22", "has no section or field 'reviews'", "did you mean 'review'?"),
        edit=Edit(WORKFLOW, "employee: [review]", "employee: [reviews]"),
    ),
    case(
        "edit_right_unknown_role",
        E(f"{WORKFLOW}:7:7", "unknown role 'employe'", "did you mean 'employee'?"),
        edit=Edit(
            WORKFLOW, "      employee: [kpis.target]\n", "      employe:\n        - kpis.target\n"
        ),
    ),
    case(
        "on_overdue_fires_trigger_not_leaving_state",
        E(f"{WORKFLOW}:12:13", "no transition 'start_assess' leaves 'plan'"),
        edit=Edit(WORKFLOW, "fire: submit_plan", "fire: start_assess"),
    ),
    case(
        "on_overdue_notifies_unknown_role",
        E(f"{WORKFLOW}:11:16", "unknown role 'manger'", "did you mean 'manager'?"),
        edit=Edit(WORKFLOW, "notify: [manager]", "notify: [manger]"),
    ),
    case(
        "on_overdue_unknown_key",
        E(f"{WORKFLOW}:11:7", "unknown key 'notfy'", "did you mean 'notify'?"),
        edit=Edit(WORKFLOW, "notify: [manager]", "notfy: [manager]"),
    ),
    case(
        "approval_unknown_key",
        E(f"{WORKFLOW}:48:7", "unknown key 'mdoe'; did you mean 'mode'?"),
        edit=Edit(WORKFLOW, "mode: all", "mdoe: all"),
    ),
    case(
        "optional_label_unknown_language",
        E(
            f"{WORKFLOW}:26:21",
            "unknown key 'eng'; did you mean 'en'?",
            key_path="states.feedback.label.eng",
        ),
        edit=Edit(WORKFLOW, "label: Feedback meeting", "label: {zh: 反馈, eng: Feedback}"),
    ),
    case(
        "guard_names_unknown_field",
        E(f"{WORKFLOW}:45:12", "unknown name 'self_ratin'", "(form 'sales_review')"),
        edit=Edit(WORKFLOW, 'guard: "self_rating >= 1"', 'guard: "self_ratin >= 1"'),
    ),
]

POLICY_CASES = [
    case(
        "grades_out_of_order",
        E(
            f"{POLICY}:13:16",
            "grades must go from the highest min_score down",
            "120 is not below 110",
        ),
        edit=Edit(POLICY, "min_score: 90", "min_score: 120"),
    ),
    case(
        "last_grade_does_not_cover_zero",
        E(f"{POLICY}:18:16", "scores below 10 get no grade", "min_score: 0"),
        edit=Edit(POLICY, "min_score: 0", "min_score: 10"),
    ),
    case(
        "duplicate_grade",
        E(f"{POLICY}:12:12", "grade 'A' repeats", key_path="grades[1].grade"),
        edit=Edit(POLICY, "grade: B", "grade: A"),
    ),
    case(
        "quota_over_100_percent",
        E(f"{POLICY}:9:16", "less than or equal to 100", "'120%'", key_path="grades[0].quota_max"),
        edit=Edit(POLICY, "quota_max: 20%", "quota_max: 120%"),
    ),
    case(
        "quota_not_a_percentage",
        E(
            f"{POLICY}:9:16",
            "'lots' is not a percentage; write a number like 20% or 20",
            key_path="grades[0].quota_max",
        ),
        edit=Edit(POLICY, "quota_max: 20%", "quota_max: lots"),
    ),
    case(
        "quota_min_sum_over_100",
        E(f"{POLICY}:6:1", "quota_min values add up to 105%", key_path="grades"),
        edit=Edit(POLICY, "quota_min: 5", "quota_min: 95"),
    ),
    case(
        "quota_max_all_set_sum_under_100",
        E(f"{POLICY}:6:1", "quota_max values add up to 95%", "not everyone can get a grade"),
        edit=Edit(POLICY, "quota_min: 5\n", "quota_min: 5\n    quota_max: 5\n"),
    ),
    case(
        "bonus_unknown_name",
        E(
            f"{POLICY}:22:8",
            "unknown name 'bonus_multipler'; did you mean 'bonus_multiplier'?",
            key_path="bonus",
        ),
        edit=Edit(POLICY, "base_bonus * bonus_multiplier", "base_bonus * bonus_multipler"),
    ),
    case(
        "bonus_unknown_member",
        E(f"{POLICY}:22:8", "'department' has no 'bonus_coef'", "'bonus_coefficient'"),
        edit=Edit(POLICY, "department.bonus_coefficient", "department.bonus_coef"),
    ),
    case(
        "policy_unknown_workflow",
        E(f"{POLICY}:4:11", "unknown workflow 'reviw'", "did you mean 'review'?"),
        edit=Edit(POLICY, "workflow: review", "workflow: reviw"),
    ),
]

ALL_CASES = YAML_CASES + DEPARTMENT_CASES + FORM_CASES + WORKFLOW_CASES + POLICY_CASES

WARNING_CASES = [
    case(
        "approval_quorum_of_one",
        W(f"{WORKFLOW}:49:15", "a quorum of 1 is mode: any"),
        edit=Edit(WORKFLOW, "mode: all", "mode: quorum\n      quorum: 1"),
    ),
    case(
        "smart_kpi_without_unit",
        W(f"{FORM}:19:13", "KPI 'complaints' has no unit (SMART: measurable)", key_path=KPI1),
        edit=Edit(FORM, "            unit: count\n", ""),
    ),
    case(
        "smart_kpi_without_target",
        W(f"{FORM}:13:13", "KPI 'revenue' has no target", "SMART: measurable, attainable"),
        edit=Edit(FORM, "            target: 1000000\n", ""),
    ),
    case(
        "smart_no_period",
        W(f"{FORM}:12:13", "KPI 'revenue' has no period", "SMART: time-bound"),
        W(f"{FORM}:18:13", "KPI 'complaints' has no period"),
        W(f"{FORM}:30:13", "KPI 'retention' has no period"),
        edit=Edit(FORM, "period: quarter\n", ""),
    ),
]


CASES: dict[str, Case] = {}
for _param in ALL_CASES + WARNING_CASES:
    (_case,) = _param.values
    assert isinstance(_case, Case)
    assert _case.id not in CASES, f"case id {_case.id} repeats"
    CASES[_case.id] = _case


# --------------------------------------------------------------------------- tests


def test_valid_pack_loads_clean() -> None:
    result = load([VALID])
    assert result.diagnostics == [], listing(VALID, result)
    assert len(result.definitions) == 5


# case folders used by the standalone tests below rather than by a parametrized case
STANDALONE_FOLDERS = {"self_referencing_merge", "yaml_unclosed_flow_sequence"}


def test_corpus_is_large_and_every_case_folder_is_used() -> None:
    assert len(CASES) >= 35
    folders = {p.name for p in BROKEN.iterdir() if p.is_dir() and not p.name.startswith("_")}
    unused = folders - set(CASES) - STANDALONE_FOLDERS
    assert not unused, f"folders without a case: {sorted(unused)}"


@pytest.mark.parametrize("case", ALL_CASES)
def test_broken_case(case: Case, tmp_path: Path) -> None:
    root = build(case, tmp_path / "defs")
    result = load([root])
    assert result.errors, f"{case.id} loaded without errors"
    assert_case(case, root, result)


@pytest.mark.parametrize("case", WARNING_CASES)
def test_warning_case(case: Case, tmp_path: Path) -> None:
    root = build(case, tmp_path / "defs")
    result = load([root])
    assert result.errors == [], listing(root, result)
    assert len(result.warnings) == len(case.expect), listing(root, result)
    assert_case(case, root, result)


# --------------------------------------------------------------------------- fixed bugs


def _load_edited(tmp_path: Path, *edits: Edit) -> tuple[Path, LoadResult]:
    root = build(Case("_adhoc", (), edits), tmp_path / "defs")
    return root, load([root])


def _load_folder(name: str, tmp_path: Path) -> tuple[Path, LoadResult]:
    root = build(Case(name, ()), tmp_path / "defs")
    return root, load([root])


def test_self_referencing_merge(tmp_path: Path) -> None:
    root, result = _load_folder("self_referencing_merge", tmp_path)
    found = [d for d in result.errors if rel(root, d) == HR]
    assert len(found) == 1, listing(root, result)
    # the anchor (line 5) or the `<<: *help` (line 7) are both fair places
    assert found[0].line in (5, 7), found[0].format()
    assert "refers to itself" in found[0].message


def test_unclosed_flow_sequence_points_at_its_start(tmp_path: Path) -> None:
    root, result = _load_folder("yaml_unclosed_flow_sequence", tmp_path)
    (found,) = result.errors
    assert rel(root, found) == HR
    assert found.line == 5 or "line 5" in found.message, found.format()


def test_percent_may_be_written_with_a_space(tmp_path: Path) -> None:
    root, result = _load_edited(tmp_path, Edit(POLICY, "quota_max: 20%", "quota_max: 20 %"))
    assert result.diagnostics == [], listing(root, result)
    (grade, *_) = result.definitions.policies["standard"].grades
    assert grade.quota_max == 20


@pytest.mark.parametrize(
    "edit",
    [
        Edit(FORM, "weight: 30", "weight: abc"),
        Edit(WORKFLOW, "due: P14D", "due: 14 days"),
        Edit(POLICY, "quota_max: 20%", "quota_max: lots"),
        # its roles, goals and positions still count: no 'unknown role', no 'unused workflow'
        Edit(COMPANY, "bonus_coefficient: 1.2", "bonus_coefficient: high"),
    ],
    ids=["form", "workflow", "policy", "department"],
)
def test_invalid_definition_does_not_cascade(edit: Edit, tmp_path: Path) -> None:
    """A definition that fails validation still exists: naming it is no second mistake."""
    root, result = _load_edited(tmp_path, edit)
    assert [d for d in result.errors if rel(root, d) == edit.file], listing(root, result)
    elsewhere = [d.format() for d in result.diagnostics if rel(root, d) != edit.file]
    assert elsewhere == []


def test_on_overdue_may_fire_a_wildcard_transition(tmp_path: Path) -> None:
    cancel = "  - trigger: cancel\n    source: '*'\n    dest: done\n    roles: [hr]\n"
    last = "    actions: [notify_employee]\n"
    root, result = _load_edited(
        tmp_path,
        Edit(WORKFLOW, "fire: submit_plan", "fire: cancel"),
        Edit(WORKFLOW, last, last + cancel),
    )
    assert result.diagnostics == [], listing(root, result)


def test_key_path_has_no_union_tag(tmp_path: Path) -> None:
    _, result = _load_edited(tmp_path, Edit(FORM, "labels: [Low, Mid, High]", "labels: [Low]"))
    (found,) = [d for d in result.diagnostics if "labels has 1 entries" in d.message]
    assert found.key_path in ("sections[1].fields[0]", "sections[1].fields[0].labels")


def test_bands_message_for_lower_direction(tmp_path: Path) -> None:
    _, result = _load_edited(
        tmp_path,
        Edit(
            FORM, "- [2, 120]\n                - [5, 100]", "- [5, 100]\n                - [2, 120]"
        ),
    )
    (found,) = result.errors
    assert "lowest threshold up" in found.message, found.format()


def test_empty_sections_message(tmp_path: Path) -> None:
    _, result = _load_edited(
        tmp_path,
        Edit(FORM, "sections:\n  - id: goals", "sections: []\nold_sections:\n  - id: goals"),
    )
    (found,) = [d for d in result.errors if d.key_path == "sections"]
    assert "after validation" not in found.message, found.format()
    assert "at least 1" in found.message


# --------------------------------------------------------------------------- the CLI, end to end

CLI = [sys.executable, "-m", "opsperf"]


def _cli(case_id: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m opsperf check . ARGS`` inside the built case."""
    root = build(CASES[case_id], tmp_path / "defs") if case_id else _valid_copy(tmp_path)
    return subprocess.run(
        [*CLI, "check", ".", *args], cwd=root, capture_output=True, text=True, timeout=60
    )


def _valid_copy(tmp_path: Path) -> Path:
    root = tmp_path / "defs"
    shutil.copytree(VALID, root)
    return root


def test_cli_valid_pack_exits_0(tmp_path: Path) -> None:
    run = _cli("", tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout == "5 definitions checked: 0 error(s), 0 warning(s)\n"


def test_cli_text_output(tmp_path: Path) -> None:
    run = _cli("unknown_parent_department", tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stdout.splitlines() == [
        "org/sales.yaml:3:9: error: unknown parent department 'compnay'; "
        "did you mean 'company'? [parent]",
        "5 definitions checked: 1 error(s), 0 warning(s)",
    ]


def test_cli_text_output_of_a_schema_error(tmp_path: Path) -> None:
    run = _cli("unknown_key_wieght", tmp_path)
    assert run.returncode == 1
    lines = run.stdout.splitlines()
    assert (
        "forms/sales_review.yaml:23:13: error: unknown key 'wieght'; did you mean 'weight'? "
        "[sections[0].fields[0].kpis[1].wieght]"
    ) in lines
    # one mistake, one line: no "missing weight", no cascade into the positions or workflow
    assert lines[-1] == "4 definitions checked: 1 error(s), 0 warning(s)"


def test_cli_json_output(tmp_path: Path) -> None:
    run = _cli("kpi_weights_not_100", tmp_path, "--format", "json")
    assert run.returncode == 1, run.stderr
    payload = json.loads(run.stdout)
    assert payload == {
        "ok": False,
        "definitions": 5,
        "errors": 1,
        "warnings": 0,
        "diagnostics": [
            {
                "path": "forms/sales_review.yaml",
                "line": 12,
                "column": 9,
                "severity": "error",
                "message": "KPI weights add up to 105, not 100; adjust the weights of "
                "revenue, complaints, retention",
                "key_path": "sections[0].fields[0].kpis",
            }
        ],
    }


def test_cli_strict_fails_on_warnings(tmp_path: Path) -> None:
    relaxed = _cli("smart_kpi_without_unit", tmp_path / "a")
    assert relaxed.returncode == 0, relaxed.stdout
    assert relaxed.stdout.splitlines() == [
        "forms/sales_review.yaml:19:13: warning: KPI 'complaints' has no unit "
        "(SMART: measurable) [sections[0].fields[0].kpis[1]]",
        "5 definitions checked: 0 error(s), 1 warning(s)",
    ]
    strict = _cli("smart_kpi_without_unit", tmp_path / "b", "--strict")
    assert strict.returncode == 1
    assert strict.stdout.splitlines()[-1] == (
        "5 definitions checked: 0 error(s), 1 warning(s) (warnings fail with --strict)"
    )
    as_json = json.loads(
        _cli("smart_kpi_without_unit", tmp_path / "c", "--strict", "--format", "json").stdout
    )
    assert (as_json["ok"], as_json["errors"], as_json["warnings"]) == (False, 0, 1)


@pytest.mark.parametrize("module", ["opsperf", "opsperf.cli"])
def test_python_dash_m_runs_the_cli(module: str, tmp_path: Path) -> None:
    """Both spellings a CI step may use really check (they once exited 0 doing nothing)."""
    root = build(CASES["kpi_weights_not_100"], tmp_path / "defs")
    run = subprocess.run(
        [sys.executable, "-m", module, "check", "."],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert "KPI weights add up to 105" in run.stdout


def test_a_link_out_of_the_definitions_folder_is_refused(tmp_path: Path) -> None:
    root = build(Case("_adhoc", ()), tmp_path / "defs")
    outside = tmp_path / "secret.yaml"
    outside.write_text("kind: Department\nid: leaked\nversion: 1\nname: 外泄\n", encoding="utf-8")
    (root / "forms" / "leak.yaml").symlink_to(outside)
    inside = root / "forms" / "alias.yaml"
    target = next(p for p in sorted((root / "forms").glob("*.yaml")) if not p.is_symlink())
    inside.symlink_to(target.name)  # a link within the folder is read like any file
    result = load([root])
    found = [d for d in result.errors if d.path.endswith("leak.yaml")]
    assert len(found) == 1, listing(root, result)
    assert "outside" in found[0].message
    assert "leaked" not in result.definitions.departments
    assert not [
        d for d in result.errors if d.path.endswith("alias.yaml") and "outside" in d.message
    ]


def _department_with_keys(path: Path, keys: int) -> None:
    lines = ["kind: Department", "id: big", "version: 1", "name: 大"]
    lines += [f"k{i}: {i}" for i in range(keys)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_problems_per_definition_are_bounded(tmp_path: Path) -> None:
    _department_with_keys(tmp_path / "many.yaml", 1_000)
    result = load([tmp_path])
    assert len(result.errors) == 101
    assert any("and up to 900 more problems" in d.message for d in result.errors)


def test_a_file_with_more_values_than_any_definition_is_refused_at_once(tmp_path: Path) -> None:
    """1.8 MB of 130,000 keys: one problem, found on the parser's event stream."""
    _department_with_keys(tmp_path / "huge.yaml", 130_000)
    result = load([tmp_path])
    (found,) = result.errors
    assert "split the file" in found.message
    assert "100,000" in found.message


def test_a_file_that_cannot_be_parsed_is_one_problem_not_a_cascade(tmp_path: Path) -> None:
    """The form's YAML is broken: its definition is unread, and the departments and workflows
    that name it are not told it is unknown."""
    _root, result = _load_edited(tmp_path, Edit(FORM, "weight: 30", "weight: [30"))
    (found,) = result.errors
    assert found.path.endswith(FORM)
    assert "YAML" in found.message
    assert "references to it were not checked" in found.message
    assert "sales_review" in found.message


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("kpis.score * 0.9 + 1 / 0", "division by zero"),
        ("kpis.score * 9 ** 9 ** 9", "exponent"),
        ("len('a' * 10 ** 9) + kpis.score", "too long"),
    ],
)
def test_a_part_that_can_never_be_worked_out_is_an_error(
    tmp_path: Path, expression: str, reason: str
) -> None:
    """It reads no value, so it fails on every form: the checker says so, at the expression."""
    edit = Edit(FORM, '"kpis.score / 10"', f'"{expression}"')
    root, result = _load_edited(tmp_path, edit)
    (found,) = result.errors
    assert rel(root, found) == FORM, listing(root, result)
    assert "can never be worked out" in found.message
    assert reason in found.message


def test_declined_to_names_a_state(tmp_path: Path) -> None:
    edit = Edit(WORKFLOW, "      mode: all\n", "      mode: all\n      declined_to: nowhere\n")
    root, result = _load_edited(tmp_path, edit)
    (found,) = result.errors
    assert rel(root, found) == WORKFLOW, listing(root, result)
    assert "unknown state 'nowhere'" in found.message
    assert found.key_path.endswith("approval.declined_to")
    fine = Edit(WORKFLOW, "      mode: all\n", "      mode: all\n      declined_to: feedback\n")
    assert _load_edited(tmp_path / "fine", fine)[1].ok


def test_a_department_without_a_head_on_a_workflow_for_dept_head_is_warned(
    tmp_path: Path,
) -> None:
    """The review workflow's sign-off needs dept_head: without a head nobody could give it."""
    root, result = _load_edited(tmp_path, Edit(COMPANY, "head: ceo\n", ""))
    assert not result.errors, listing(root, result)
    found = [d for d in result.warnings if "names no head" in d.message]
    assert len(found) == 2, listing(root, result)  # both positions follow that workflow
    assert all(rel(root, d) == COMPANY for d in found)
    assert found[0].key_path == "positions[0].workflow"

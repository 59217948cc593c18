"""Display names for the fixed words of the definition language, in the reader's language.

Definitions name roles, scoring methods, kinds and follow-up actions by id (``dept_head``,
``ratio``, ``IncentivePolicy``); pages show these names instead. Custom roles take the label their
department gives them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from flask import Flask
from flask_babel import gettext as _
from flask_babel import ngettext

from opsperf.errors import N_, DefinitionError
from opsperf.web.helpers import defs, error_text, label, lang, texts

ROLES = {
    "employee": N_("Employee"),
    "manager": N_("Manager"),
    "dept_head": N_("Department head"),
    "hr": N_("HR"),
    "admin": N_("Administrator"),
    "data_steward": N_("Data steward"),
}
SCORING_METHODS = {
    "ratio": N_("actual ÷ target"),
    "inverse_ratio": N_("target ÷ actual"),
    "bands": N_("score bands"),
    "linear": N_("linear scale"),
    "expression": N_("custom formula"),
}
KINDS = {
    "Department": N_("Department"),
    "Form": N_("Appraisal form"),
    "Workflow": N_("Workflow"),
    "IncentivePolicy": N_("Incentive policy"),
    # the pinned definitions of an appraisal, by their role in it
    "department": N_("Department"),
    "form": N_("Appraisal form"),
    "workflow": N_("Workflow"),
    "policy": N_("Incentive policy"),
}
FOLLOW_UPS = {
    "promotion_nomination": N_("Promotion nomination"),
    "salary_review": N_("Salary review"),
    "training": N_("Training"),
    "coaching": N_("Coaching"),
    "improvement_plan": N_("Performance improvement plan"),
}
SEVERITIES = {"error": N_("error"), "warning": N_("warning")}
RESULTS = {"score": N_("Score"), "grade": N_("Grade"), "bonus": N_("Bonus")}


def _named(names: dict[str, str], key: Any) -> str:
    text = names.get(str(key))
    return str(_(text)) if text else str(key)


def role_name(role: str) -> str:
    """``dept_head`` → 部门负责人; a custom role → its label in the definitions."""
    if role in ROLES:
        return str(_(ROLES[role]))
    try:
        departments = defs().departments.values()
    except DefinitionError:  # no good set of definitions yet: show the id
        return role
    for department in departments:
        for custom in department.roles:
            if custom.id == role:
                return str(label(custom.name, role))
    return role


def workflow_name(workflow_id: str) -> str:
    """A workflow by its label in the live definitions, else by id."""
    try:
        workflow = defs().workflows.get(workflow_id)
    except DefinitionError:
        workflow = None
    return str(label(workflow.name, workflow_id)) if workflow is not None else workflow_id


def join(items: Iterable[Any]) -> str:
    """A list as the language writes it: 甲、乙 / a, b."""
    return ("、" if lang() == "zh" else ", ").join(str(i) for i in items)


def role_names(roles: Iterable[str] | None) -> str:
    return join(role_name(r) for r in roles or [])


def approval_rule(ctx: Any, trigger: str) -> str:
    """Who must sign ``trigger`` off, e.g. 需以下角色全部签核：部门负责人、HR."""
    approval = ctx.workflow.transition(ctx.appraisal.state, trigger).approval
    if approval is None:
        return ""
    roles = role_names(approval.roles)
    if approval.mode == "all":
        return str(_("each of: %(roles)s", roles=roles))
    if approval.mode == "quorum":
        count = approval.quorum or 1
        return str(
            ngettext(
                "%(num)s approval from: %(roles)s",
                "%(num)s approvals from: %(roles)s",
                count,
                roles=roles,
            )
        )
    return str(_("any one of: %(roles)s", roles=roles))


def trigger_label(ctx: Any, trigger: str | None) -> str:
    """A workflow step by its label (``submit_plan`` → 提交计划)."""
    for t in ctx.workflow.definition.transitions:
        if t.trigger == trigger:
            return str(label(t.label, trigger or ""))
    return trigger or ""


def form_label(form: Any, path: str) -> str:
    """A field (``kpis``) or KPI (``kpis.revenue``) of ``form`` by its label."""
    field_id, _dot, kpi_id = path.partition(".")
    found = next((f for f in form.fields() if f.id == field_id), None)
    if found is None:
        return path
    if not kpi_id:
        return str(label(found.label, path))
    kpi = next((k for k in getattr(found, "kpis", []) if k.id == kpi_id), None)
    return str(label(kpi.name, path)) if kpi is not None else path


# The words the scoring engine writes into its formulas, longest first. Text between backticks
# is a formula from the YAML and stays as written.
FORMULA_WORDS = [
    N_("no total yet — waiting for the score of"),
    N_("the form has no KPI table and no score formula"),
    N_("no total yet —"),
    N_("by an adjustment, whatever the score"),
    N_("at most"),
    N_("at least"),
    N_("grade"),
    N_("cap:"),
    N_("floor:"),
    N_("deduct:"),
    N_("add:"),
    N_("no actual yet"),
    N_("no target agreed"),
    N_("cannot be computed"),
    N_("from the form"),
    N_("no stretch"),
    N_("is below every threshold"),
    N_("is above every threshold"),
    N_("must lie above"),
    N_("must lie below"),
    N_("threshold"),
    N_("bands:"),
    N_("linear:"),
    N_("with"),
    N_("target"),
    N_("actual"),
]
_FORMULA_PATTERN = re.compile(
    "|".join(rf"(?<!\w){re.escape(word)}(?!\w)" for word in FORMULA_WORDS)
)


def formula(text: str | None) -> str:
    """A formula the engine wrote, its words in the reader's language (YAML formulas kept)."""
    if not text:
        return ""
    parts = str(text).split("`")
    translate = texts().gettext
    for index in range(0, len(parts), 2):
        words = _FORMULA_PATTERN.sub(lambda m: translate(m.group(0)), parts[index])
        parts[index] = words.replace("： ", "：")  # a full-width colon brings its own space
    return "`".join(parts)


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        formula=formula,
        role_name=role_name,
        role_names=role_names,
        scoring_method=lambda method: _named(SCORING_METHODS, method),
        kind_name=lambda kind: _named(KINDS, kind),
        follow_up=lambda action: _named(FOLLOW_UPS, action),
        severity=lambda severity: _named(SEVERITIES, severity),
        result_name=lambda key: _named(RESULTS, key),
        join_names=join,
        workflow_name=workflow_name,
    )
    app.jinja_env.globals.update(
        error_text=error_text,
        approval_rule=approval_rule,
        trigger_label=trigger_label,
        form_label=form_label,
    )

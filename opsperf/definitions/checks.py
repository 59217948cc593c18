"""Checks across definitions: references, graphs, weights, quotas and SMART warnings."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from difflib import get_close_matches
from typing import Any

from opsperf.definitions import goals, org, statetree
from opsperf.definitions.calibration import leaf_sources, sign_off_of
from opsperf.definitions.expressions import ANY, Expression
from opsperf.definitions.loader import DefinitionSet, Located
from opsperf.definitions.schema import (
    ACCOUNT_ROLES,
    DEPARTMENT,
    GLOBAL_ROLES,
    INCENTIVE_ACTIONS,
    KPI_COLUMNS,
    NOTIFY_RECIPIENTS,
    OWN_RIGHT,
    PHASES,
    RELATIVE_ROLES,
    ROWS_RIGHT,
    BandsScoring,
    Calibration,
    ChoiceField,
    Department,
    ExpressionScoring,
    Form,
    Goal,
    IncentivePolicy,
    InverseRatioScoring,
    Kpi,
    KpiTableField,
    LinearScoring,
    NumberField,
    PersonAttributes,
    RatingField,
    RatioScoring,
    RoleDef,
    TableField,
    TransitionDef,
    Workflow,
)
from opsperf.definitions.scopes import (
    SCORING_SCOPE,
    Scope,
    bonus_scope,
    form_scope,
    guard_scope,
)
from opsperf.definitions.yamlio import KeyPath
from opsperf.errors import Diagnostic

WEIGHT_TOLERANCE = 1e-6


def check(defs: DefinitionSet) -> list[Diagnostic]:
    """Every cross-definition problem in ``defs``."""
    found: list[Diagnostic] = []
    declared = org.declarations(defs)  # every custom role with the department declaring it
    for item in defs.located.values():
        definition = item.definition
        if isinstance(definition, Department):
            found += _department(defs, item, definition, declared)
            found += _headless(defs, item, definition)
        elif isinstance(definition, Form):
            found += _form(item, definition, defs)
        elif isinstance(definition, Workflow):
            found += _workflow(defs, item, definition)
        elif isinstance(definition, IncentivePolicy):
            found += _policy(defs, item, definition)
        else:
            found += _person_attributes(defs, item, definition)
    found += _department_cycles(defs)
    found += _goal_circles(defs)
    return found


MAX_LISTED = 12
# The people import's own columns: a person attribute cannot take their names.
PEOPLE_COLUMNS = (
    "employee_no", "name", "email", "department", "position", "manager", "roles", "password",
    "base_bonus", "language",
)  # fmt: skip


def _headless(defs: DefinitionSet, item: Located, dept: Department) -> list[Diagnostic]:
    """A workflow with steps for ``dept_head`` used by a department that names no ``head``:
    nobody would ever hold that role for its people, and their appraisals would wait there."""
    if dept.head is not None:
        return []
    out = []
    for index, position in enumerate(dept.positions):
        workflow = defs.workflows.get(position.workflow)
        if workflow is None or not _names_dept_head(workflow):
            continue
        out.append(
            item.at(
                ("positions", index, "workflow"),
                "warning",
                f"workflow '{workflow.id}' has steps for dept_head, but department '{dept.id}' "
                "names no head: give it `head: <position>`, or nobody can take those steps",
            )
        )
    return out


def _names_dept_head(workflow: Workflow) -> bool:
    return any(
        "dept_head" in t.roles or (t.approval is not None and "dept_head" in t.approval.roles)
        for t in workflow.transitions
    )


def _hint(name: str, options: Iterable[str]) -> str:
    """``; did you mean 'x'?``, else the options when they are few."""
    known = sorted(options)
    close = get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    if 0 < len(known) <= MAX_LISTED:
        return f"; use one of: {', '.join(known)}"
    return ""


def _unknown(
    item: Located, at: KeyPath, what: str, name: str, options: Iterable[str], *, key: bool = False
) -> Diagnostic:
    return item.at(at, "error", f"unknown {what} '{name}'{_hint(name, options)}", key=key)


def roles_known(defs: DefinitionSet) -> set[str]:
    """Relative, global and every department's custom roles (also of broken departments)."""
    custom = {r.id for d in defs.departments.values() for r in d.roles}
    return {*RELATIVE_ROLES, *GLOBAL_ROLES, *custom, *_salvaged(defs, "roles", "id")}


def _salvaged(defs: DefinitionSet, key: str, name: str) -> set[str]:
    """``name`` of every item under ``key`` in the raw data of departments that failed."""
    found: set[str] = set()
    for (kind, _), data in defs.invalid.items():
        items = data.get(key) if kind == "Department" else None
        for entry in items if isinstance(items, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get(name), str):
                found.add(entry[name])
    return found


def _workflow_used(defs: DefinitionSet, workflow_id: str) -> bool:
    """Whether some position (of a valid or broken department) follows ``workflow_id``."""
    used = {p.workflow for d in defs.departments.values() for p in d.positions}
    return workflow_id in used | _salvaged(defs, "positions", "workflow")


def forms_of_workflow(defs: DefinitionSet, workflow_id: str) -> list[str]:
    """Ids of the forms that positions pair with ``workflow_id``."""
    ids = {
        p.form
        for d in defs.departments.values()
        for p in d.positions
        if p.workflow == workflow_id and p.form in defs.forms
    }
    return sorted(ids)


def _duplicates(ids: Iterable[str]) -> Iterator[tuple[int, str]]:
    seen: set[str] = set()
    for index, ident in enumerate(ids):
        if ident in seen:
            yield index, ident
        seen.add(ident)


# --------------------------------------------------------------------------- departments


def _department(
    defs: DefinitionSet,
    item: Located,
    dept: Department,
    declared: Mapping[str, tuple[str, RoleDef]],
) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    if dept.parent is not None and not defs.has("Department", dept.parent):
        out.append(_unknown(item, ("parent",), "parent department", dept.parent, defs.departments))
    position_ids = [p.id for p in dept.positions]
    if dept.head is not None and dept.head not in position_ids:
        out.append(_unknown_head(item, dept.head, position_ids))
    for label, ids in (("position", position_ids), ("goal", [g.id for g in dept.goals])):
        for index, ident in _duplicates(ids):
            key = "positions" if label == "position" else "goals"
            out.append(item.at((key, index, "id"), "error", f"{label} id '{ident}' repeats"))
    for index, role in enumerate(dept.roles):
        if role.id in RELATIVE_ROLES or role.id in GLOBAL_ROLES or role.id in ACCOUNT_ROLES:
            out.append(item.at(("roles", index, "id"), "error", f"'{role.id}' is a built-in role"))
        elif declared[role.id][0] != dept.id:
            owner = declared[role.id][0]
            message = f"role '{role.id}' is already declared by department '{owner}'"
            out.append(item.at(("roles", index, "id"), "error", message))
    for index, position in enumerate(dept.positions):
        out += _position(defs, item, index, position.form, position.workflow, position.policy)
    out += _roles_out_of_scope(defs, item, dept, declared)
    recorders = {"dept_head", *GLOBAL_ROLES, *declared}
    for g_index, goal in enumerate(dept.goals):
        for r_index, recorder in enumerate(goal.entered_by):
            if recorder not in recorders:
                at: KeyPath = ("goals", g_index, "entered_by", r_index)
                out.append(_unknown(item, at, "role", recorder, sorted(recorders)))
            elif recorder in declared and not org.counts_in(declared[recorder], dept.id, defs):
                message = (
                    f"role '{recorder}' does not count in department '{dept.id}' (its scope), "
                    "so its holders could not record this goal"
                )
                out.append(item.at(("goals", g_index, "entered_by", r_index), "error", message))
    for index, goal in enumerate(dept.goals):
        if goal.aligns_to is not None:
            out += _goal_aligns_to(defs, item, ("goals", index, "aligns_to"), dept, goal)
    return out


def _goal_aligns_to(
    defs: DefinitionSet, item: Located, at: KeyPath, dept: Department, goal: Goal
) -> list[Diagnostic]:
    """The goal a goal carries exists, is measured in the same unit, and belongs to the
    department itself or one above it (a warning: a goal cascades down the tree)."""
    assert goal.aligns_to is not None
    found = _aligns_to(item, at, goal.aligns_to, defs)
    carried = goals.find(defs, goal.aligns_to)
    if found or carried is None or goals.circle(defs, goals.ref(dept.id, goal.id)):
        return found  # a circle is reported by _goal_circles, at this same place
    out = _units(item, at, f"goal '{goal.id}'", goal.unit, goal.aligns_to, carried)
    owner = goal.aligns_to.split(".", 1)[0]
    if owner not in org.ancestors(defs, dept.id):
        message = (
            f"goal '{goal.id}' aligns to a goal of department '{owner}', which is not "
            f"'{dept.id}' or a department above it: goals cascade down the tree (a KPI may "
            "serve a goal anywhere)"
        )
        out.append(item.at(at, "warning", message))
    return out


def _units(
    item: Located, at: KeyPath, what: str, unit: str | None, target: str, goal: Goal
) -> list[Diagnostic]:
    """What aligns to a goal is measured in the goal's unit, when both declare one: the goal
    rolls their figures up."""
    if unit is None or goal.unit is None or unit.strip() == goal.unit.strip():
        return []
    message = (
        f"{what} is measured in {unit} but goal '{target}' in {goal.unit}: their figures "
        "cannot roll up into it; use one unit"
    )
    return [item.at(at, "error", message)]


def _goal_circles(defs: DefinitionSet) -> list[Diagnostic]:
    """Goals that align to themselves, or round in a circle: none of them could ever be
    worked out, and the cascade has no top."""
    out: list[Diagnostic] = []
    for dept in defs.departments.values():
        for index, goal in enumerate(dept.goals):
            path = goals.circle(defs, goals.ref(dept.id, goal.id))
            if not path:
                continue
            if len(path) == 2:
                message = f"goal '{path[0]}' aligns to itself"
            else:
                message = f"goals align in a circle: {' → '.join(path)}"
            at: KeyPath = ("goals", index, "aligns_to")
            out.append(defs.source("Department", dept.id).at(at, "error", message))
    return out


def _roles_out_of_scope(
    defs: DefinitionSet,
    item: Located,
    dept: Department,
    declared: Mapping[str, tuple[str, RoleDef]],
) -> list[Diagnostic]:
    """A workflow this department uses names roles that do not count here: nobody could take
    those steps for its people, and their appraisals would wait there."""
    out = []
    seen: set[str] = set()
    for index, position in enumerate(dept.positions):
        workflow = defs.workflows.get(position.workflow)
        if workflow is None or workflow.id in seen:
            continue
        seen.add(workflow.id)
        outside = [
            f"'{role}' (declared by '{declared[role][0]}' with scope: {declared[role][1].scope})"
            for role in sorted(org.custom_roles(workflow))
            if role in declared and not org.counts_in(declared[role], dept.id, defs)
        ]
        if outside:
            message = (
                f"workflow '{workflow.id}' has steps for roles that do not count in department "
                f"'{dept.id}': {', '.join(outside)}; nobody can take those steps for its "
                "people: widen the role's scope or use another role"
            )
            out.append(item.at(("positions", index, "workflow"), "warning", message))
    return out


def _unknown_head(item: Located, head: str, position_ids: list[str]) -> Diagnostic:
    if not position_ids:
        message = f"head position '{head}' is not here: the department has no positions"
        return item.at(("head",), "error", message + "; add it under 'positions:'")
    return _unknown(item, ("head",), "head position", head, position_ids)


def _position(
    defs: DefinitionSet, item: Located, index: int, form: str, workflow: str, policy: str | None
) -> list[Diagnostic]:
    at: KeyPath = ("positions", index)
    out: list[Diagnostic] = []
    if not defs.has("Form", form):
        out.append(_unknown(item, (*at, "form"), "form", form, defs.forms))
    if not defs.has("Workflow", workflow):
        out.append(_unknown(item, (*at, "workflow"), "workflow", workflow, defs.workflows))
    if policy is not None:
        if not defs.has("IncentivePolicy", policy):
            out.append(_unknown(item, (*at, "policy"), "incentive policy", policy, defs.policies))
        out += _forced_grades(defs, item, at, form, policy)
        return out
    matching = _policies_of(defs, workflow)
    if len(matching) == 1:
        out += _forced_grades(defs, item, at, form, matching[0])
    if len(matching) > 1:
        out.append(
            item.at(
                at,
                "error",
                f"several incentive policies grade workflow '{workflow}' "
                f"({', '.join(sorted(matching))}); name one with 'policy:'",
            )
        )
    elif not matching and workflow in defs.workflows:
        out.append(
            item.at(
                at,
                "warning",
                f"no incentive policy grades workflow '{workflow}'; "
                "appraisals of this position get a score but no grade or bonus",
            )
        )
    return out


def _forced_grades(
    defs: DefinitionSet, item: Located, at: KeyPath, form_id: str, policy_id: str
) -> list[Diagnostic]:
    """A grade an adjustment of the form gives must be one the position's policy has."""
    form, policy = defs.forms.get(form_id), defs.policies.get(policy_id)
    if form is None or policy is None:
        return []
    grades = [g.grade for g in policy.grades]
    return [
        item.at(
            at,
            "error",
            f"form '{form.id}' has an adjustment that gives grade '{adj.grade}', which policy "
            f"'{policy.id}' does not have (its grades: {', '.join(grades) or 'none'})",
        )
        for adj in form.adjustments
        if adj.grade is not None and adj.grade not in grades
    ]


def _policies_of(defs: DefinitionSet, workflow: str) -> list[str]:
    """Ids of the policies grading ``workflow``, counting broken ones that name it."""
    valid = [p.id for p in defs.policies.values() if p.workflow == workflow]
    broken = [
        ident
        for (kind, ident), data in defs.invalid.items()
        if kind == "IncentivePolicy" and data.get("workflow") == workflow
    ]
    return valid + broken


def _department_cycles(defs: DefinitionSet) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    reported: set[str] = set()
    for start in defs.departments:
        chain: list[str] = []
        current: str | None = start
        while current is not None and current in defs.departments and current not in chain:
            chain.append(current)
            current = defs.departments[current].parent
        if current is None or current not in chain or current in reported:
            continue
        cycle = chain[chain.index(current) :]
        reported.update(cycle)
        text = " → ".join([*cycle, cycle[0]])
        for member in cycle:
            out.append(
                defs.source("Department", member).at(
                    ("parent",), "error", f"departments form a cycle: {text}"
                )
            )
    return out


# --------------------------------------------------------------------------- forms


def _form(item: Located, form: Form, defs: DefinitionSet) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    ids: list[tuple[KeyPath, str]] = []
    for s_index, section in enumerate(form.sections):
        ids.append((("sections", s_index, "id"), section.id))
        for f_index, f in enumerate(section.fields):
            ids.append((("sections", s_index, "fields", f_index, "id"), f.id))
    seen: set[str] = set()
    for at, ident in ids:
        if ident in seen:
            out.append(
                item.at(
                    at,
                    "error",
                    f"id '{ident}' is used twice; sections and fields "
                    "share one namespace in a form",
                )
            )
        seen.add(ident)
        if ident in VIEWER_NAMES:
            message = f"'{ident}' is what visible_if reads about the viewer; name it otherwise"
            out.append(item.at(at, "error", message))
        if ident == DEPARTMENT:
            message = f"'{ident}' is where a form reads its department's goals; name it otherwise"
            out.append(item.at(at, "error", message))
    known_fields = [f.id for f in form.fields()]
    for index, ident in enumerate(form.review_previous):
        if ident not in known_fields:
            out.append(
                item.at(
                    ("review_previous", index),
                    "error",
                    f"review_previous names '{ident}', which is not a field of this form"
                    + _hint(ident, known_fields),
                )
            )
    scope = {**form_scope(form), DEPARTMENT: _goals_read(form, defs)}
    out += _form_expressions(item, form, scope)
    out += _goals_missing(item, form, defs)
    out += _audiences(item, form, roles_known(defs))
    for s_index, section in enumerate(form.sections):
        for f_index, f in enumerate(section.fields):
            f_at: KeyPath = ("sections", s_index, "fields", f_index)
            if isinstance(f, KpiTableField):
                out += _kpi_table(item, f_at, f, form, defs)
            elif isinstance(f, TableField):
                out += _table_columns(item, f_at, f)
            elif isinstance(f, ChoiceField):
                out += _choice_default(item, f_at, f)
    field_ids = {f.id for f in form.fields()}
    for index, rule in enumerate(form.rules):
        if rule.field is not None and rule.field not in field_ids:
            out.append(_unknown(item, ("rules", index, "field"), "field", rule.field, field_ids))
    out += _compute_cycles(item, form)
    result_scope = {**scope, "score": None}
    for index, adj in enumerate(form.adjustments):
        for name in ("when", "deduct", "add"):
            expr = getattr(adj, name)
            if expr is not None:
                out += _expression(item, ("adjustments", index, name), expr, result_scope)
    return out


def _expressions_of(form: Form) -> Iterator[tuple[KeyPath, Expression]]:
    for s_index, section in enumerate(form.sections):
        if section.visible_if is not None:
            yield ("sections", s_index, "visible_if"), section.visible_if
        for f_index, f in enumerate(section.fields):
            for name in ("required_if", "visible_if", "readonly_if", "compute"):
                expr = getattr(f, name)
                if expr is not None:
                    yield ("sections", s_index, "fields", f_index, name), expr
            if isinstance(f, KpiTableField):
                for k_index, kpi in enumerate(f.kpis):
                    if kpi.actual_from is not None:
                        at = ("sections", s_index, "fields", f_index, "kpis", k_index)
                        yield (*at, "actual_from"), kpi.actual_from
    for index, rule in enumerate(form.rules):
        yield ("rules", index, "check"), rule.check
    if form.score is not None:
        yield ("score",), form.score


# What ``visible_if`` reads besides the form: the appraisal's state and the viewer's roles.
VIEWER_NAMES = ("state", "viewer_roles")


def _goals_read(form: Form, defs: DefinitionSet) -> Scope:
    """What ``department.<goal>`` may name in a form: a goal whose actual is recorded by hand
    (``entered_by``) in a department with a position on this form (each of those departments
    must have it: see :func:`_goals_missing`)."""
    recorded = {g for d in _using(form, defs) for g in _recorded(d)}
    return {g: {"actual": None, "target": None, "attainment": None} for g in sorted(recorded)}


def _goals_missing(item: Located, form: Form, defs: DefinitionSet) -> list[Diagnostic]:
    """A form reads the goal of the appraisal's own department: every department with a
    position on the form must record that goal."""
    out = []
    using = _using(form, defs)
    for at, expr in _expressions_of(form):
        read = sorted({c[1] for c in expr.names() if len(c) > 1 and c[0] == DEPARTMENT})
        for goal in read:
            lacking = [d.id for d in using if goal not in _recorded(d)]
            if lacking and len(lacking) < len(using):
                message = (
                    f"department.{goal} is a goal recorded by hand only in some departments "
                    f"whose positions use this form; {', '.join(lacking)} has no such goal "
                    "(add it with entered_by, or give those positions another form)"
                )
                out.append(item.at(at, "error", message))
    return out


def _using(form: Form, defs: DefinitionSet) -> list[Department]:
    return [d for d in defs.departments.values() if any(p.form == form.id for p in d.positions)]


def _recorded(dept: Department) -> set[str]:
    return {g.id for g in dept.goals if g.entered_by}


def _form_expressions(item: Located, form: Form, scope: Scope) -> list[Diagnostic]:
    seen = {**scope, "state": None, "viewer_roles": ANY}
    return [
        d
        for at, expr in _expressions_of(form)
        for d in _expression(item, at, expr, seen if at[-1] == "visible_if" else scope)
    ]


def _audiences(item: Located, form: Form, roles: set[str]) -> list[Diagnostic]:
    """``visible_to`` and ``hidden_from`` name roles that exist."""
    out = []
    for s_index, section in enumerate(form.sections):
        places: list[tuple[KeyPath, Any]] = [(("sections", s_index), section)]
        places += [
            (("sections", s_index, "fields", f_index), f)
            for f_index, f in enumerate(section.fields)
        ]
        for at, thing in places:
            for key in ("visible_to", "hidden_from"):
                for index, role in enumerate(getattr(thing, key) or []):
                    if role not in roles:
                        out.append(_unknown(item, (*at, key, index), "role", role, roles))
    return out


def _expression(
    item: Located, at: KeyPath, expr: Expression, scope: Scope, suffix: str = ""
) -> list[Diagnostic]:
    """Every problem of one expression (each unknown name…) in one message: a place in a
    file holds one diagnostic."""
    problems = expr.check(scope)
    if not problems:
        return []
    return [item.at(at, "error", f"{'; '.join(problems)} in `{expr}`{suffix}")]


def _compute_cycles(item: Located, form: Form) -> list[Diagnostic]:
    """Values worked out from others (computed fields, ``actual_from`` KPIs) are evaluated
    after what they read: one that ends up reading itself can never be worked out."""
    worked_out = _worked_out(form)
    depends = {
        node: {d for chain in expr.names() for d in _reads(form, chain, worked_out)}
        for node, (_at, expr) in worked_out.items()
    }
    out: list[Diagnostic] = []
    for node, (at, _expr) in worked_out.items():
        path = _cycle(node, depends)
        if path:
            what = f"KPI actual '{node}'" if "." in node else f"computed field '{node}'"
            chain = " → ".join([node, *path])
            out.append(item.at(at, "error", f"{what} depends on itself: {chain}"))
    return out


def _worked_out(form: Form) -> dict[str, tuple[KeyPath, Expression]]:
    """Computed fields (by id) and worked-out KPI actuals (``table.kpi``), with where they are
    declared and their expression."""
    found: dict[str, tuple[KeyPath, Expression]] = {}
    for s_index, section in enumerate(form.sections):
        for f_index, f in enumerate(section.fields):
            at: KeyPath = ("sections", s_index, "fields", f_index)
            if f.compute is not None:
                found[f.id] = ((*at, "compute"), f.compute)
            if isinstance(f, KpiTableField):
                for k_index, kpi in enumerate(f.kpis):
                    if kpi.actual_from is not None:
                        where = (*at, "kpis", k_index, "actual_from")
                        found[f"{f.id}.{kpi.id}"] = (where, kpi.actual_from)
    return found


def _reads(form: Form, chain: tuple[str, ...], worked_out: Mapping[str, Any]) -> set[str]:
    """The worked-out values that reading ``chain`` depends on: a computed field itself; a
    KPI's actual or score its ``actual_from``; a table's score every worked-out actual in it."""
    head = chain[0]
    table = next((f for f in form.fields() if f.id == head), None)
    if not isinstance(table, KpiTableField) or table.compute is not None:
        return {head} if head in worked_out else set()
    inside = {n for n in worked_out if n.startswith(f"{head}.")}
    if len(chain) == 1 or chain[1] == "score":
        return inside
    node = f"{head}.{chain[1]}"
    if node in worked_out and (len(chain) == 2 or chain[2] in ("actual", "score")):
        return {node}
    return set()


def _cycle(start: str, depends: Mapping[str, set[str]]) -> list[str]:
    """A path from ``start`` back to itself through ``depends``, or []."""
    stack: list[tuple[str, list[str]]] = [(d, [d]) for d in sorted(depends[start])]
    seen: set[str] = set()
    while stack:
        current, path = stack.pop()
        if current == start:
            return path
        if current not in seen:
            seen.add(current)
            stack.extend((d, [*path, d]) for d in sorted(depends.get(current, ())))
    return []


def _field_path(form: Form, field_id: str) -> KeyPath:
    for s_index, section in enumerate(form.sections):
        for f_index, f in enumerate(section.fields):
            if f.id == field_id:
                return ("sections", s_index, "fields", f_index)
    return ()


def _table_columns(item: Located, at: KeyPath, table: TableField) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for index, column in enumerate(table.columns):
        unsupported = ("required_if", "visible_if", "readonly_if", "compute", "visible_to")
        given = [n for n in unsupported if getattr(column, n) is not None]
        given += ["hidden_from"] if column.hidden_from else []
        for name in given:
            out.append(
                item.at(
                    (*at, "columns", index, name),
                    "error",
                    f"table columns do not support '{name}'; use it on the "
                    "table field, or a form rule over the rows",
                )
            )
        if isinstance(column, ChoiceField):
            out += _choice_default(item, (*at, "columns", index), column)
    for index, ident in _duplicates(c.id for c in table.columns):
        out.append(item.at((*at, "columns", index, "id"), "error", f"column id '{ident}' repeats"))
    if table.group_by is not None and table.group_by not in {c.id for c in table.columns}:
        columns = [c.id for c in table.columns]
        out.append(_unknown(item, (*at, "group_by"), "column", table.group_by, columns))
    if table.max_per_group is not None and table.min_per_group > table.max_per_group:
        message = "min_per_group is larger than max_per_group: no group could ever fit"
        out.append(item.at((*at, "min_per_group"), "error", message))
    if table.group_by is None and (table.min_per_group or table.max_per_group is not None):
        message = "min_per_group and max_per_group need group_by: the column that forms groups"
        out.append(item.at(at, "error", message))
    for index, column in enumerate(table.columns):
        if column.id in (ROWS_RIGHT, OWN_RIGHT):
            message = (
                f"a column cannot be called '{column.id}': {table.id}.{column.id} in edit "
                "rights is a right over rows"
            )
            out.append(item.at((*at, "columns", index, "id"), "error", message))
    return out


def _choice_default(item: Located, at: KeyPath, f: ChoiceField) -> list[Diagnostic]:
    values = [c.value for c in f.choices]
    defaults = f.default if isinstance(f.default, list) else [f.default]
    return [
        item.at(
            (*at, "default"), "error", f"default '{d}' is not one of the choices{_hint(d, values)}"
        )
        for d in defaults
        if d is not None and d not in values
    ]


def _kpi_table(
    item: Located, at: KeyPath, table: KpiTableField, form: Form, defs: DefinitionSet
) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for index, kpi in enumerate(table.kpis):
        if kpi.id == "score":
            out.append(
                item.at(
                    (*at, "kpis", index, "id"),
                    "error",
                    f"a KPI cannot be called 'score': {table.id}.score is the "
                    "table's weighted score",
                )
            )
        elif kpi.id in KPI_COLUMNS:
            message = (
                f"a KPI cannot be called '{kpi.id}': {table.id}.{kpi.id} is the {kpi.id} "
                "column of every KPI in edit rights"
            )
            out.append(item.at((*at, "kpis", index, "id"), "error", message))
    for index, ident in _duplicates(k.id for k in table.kpis):
        out.append(item.at((*at, "kpis", index, "id"), "error", f"KPI id '{ident}' repeats"))
    total = sum(k.weight for k in table.kpis)
    if abs(total - 100) > WEIGHT_TOLERANCE:
        out.append(
            item.at(
                (*at, "kpis"),
                "error",
                f"KPI weights add up to {total:g}, not 100; adjust the weights of "
                f"{', '.join(k.id for k in table.kpis)}",
                key=True,
            )
        )
    for index, kpi in enumerate(table.kpis):
        out += _kpi(item, (*at, "kpis", index), kpi, form, defs)
    return out


def _kpi(item: Located, at: KeyPath, kpi: Kpi, form: Form, defs: DefinitionSet) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    scoring = kpi.effective_scoring
    needs_target = isinstance(scoring, RatioScoring | InverseRatioScoring | LinearScoring)
    if isinstance(scoring, ExpressionScoring):
        needs_target = any(c[0] == "target" for c in scoring.expr.names())
    if kpi.unit is None:
        out.append(item.at(at, "warning", f"KPI '{kpi.id}' has no unit (SMART: measurable)"))
    if kpi.target is None and needs_target:
        out.append(
            item.at(
                at,
                "warning",
                f"KPI '{kpi.id}' has no target; its scoring needs one "
                "(SMART: measurable, attainable); it must be agreed while planning",
            )
        )
    if kpi.period is None and form.period is None:
        out.append(
            item.at(
                at,
                "warning",
                f"KPI '{kpi.id}' has no period and the form none either "
                "(SMART: time-bound); add `period: quarter` to the form",
            )
        )
    out += _scoring(item, (*at, "scoring"), kpi)
    if kpi.actual_from is not None and kpi.checkins:
        out.append(
            item.at(
                (*at, "checkins"),
                "error",
                f"KPI '{kpi.id}' has both actual_from and checkins: its actual is either "
                "worked out from the form or recorded period by period, not both",
            )
        )
    if kpi.aligns_to is not None:
        found = _aligns_to(item, (*at, "aligns_to"), kpi.aligns_to, defs)
        goal = goals.find(defs, kpi.aligns_to)
        if not found and goal is not None:
            what = f"KPI '{kpi.id}'"
            found = _units(item, (*at, "aligns_to"), what, kpi.unit, kpi.aligns_to, goal)
        out += found
    return out


def _aligns_to(item: Located, at: KeyPath, target: str, defs: DefinitionSet) -> list[Diagnostic]:
    dept_id, goal_id = target.split(".", 1)
    dept = defs.departments.get(dept_id)
    if dept is None:
        if defs.has("Department", dept_id):
            return []  # the department is broken; its own errors say why
        return [_unknown(item, at, "department", dept_id, defs.departments)]
    goals = [g.id for g in dept.goals]
    if goal_id in goals:
        return []
    message = f"department '{dept_id}' has no goal '{goal_id}'"
    hint = _hint(goal_id, goals) if goals else f": it has no goals; add '{goal_id}' under 'goals:'"
    return [item.at(at, "error", message + hint)]


def _scoring(item: Located, at: KeyPath, kpi: Kpi) -> list[Diagnostic]:
    scoring = kpi.scoring
    higher = kpi.direction == "higher"
    if isinstance(scoring, RatioScoring) and not higher:
        return [
            item.at(
                at,
                "warning",
                f"KPI '{kpi.id}': ratio rewards higher actuals but the "
                "direction is lower; use method: inverse_ratio",
            )
        ]
    if isinstance(scoring, InverseRatioScoring) and higher:
        return [
            item.at(
                at,
                "warning",
                f"KPI '{kpi.id}': inverse_ratio rewards lower actuals but "
                "the direction is higher; use method: ratio",
            )
        ]
    if isinstance(scoring, BandsScoring):
        points = [b.at for b in scoring.bands]
        ordered = sorted(points, reverse=higher)
        if points != ordered or len(set(points)) != len(points):
            order = "highest threshold down" if higher else "lowest threshold up"
            return [
                item.at(
                    (*at, "bands"),
                    "error",
                    f"bands must go from the {order}, each threshold once "
                    f"(direction is {kpi.direction})",
                )
            ]
    if isinstance(scoring, LinearScoring):
        return _linear(item, at, kpi, scoring)
    if isinstance(scoring, ExpressionScoring):
        return _expression(item, (*at, "expr"), scoring.expr, SCORING_SCOPE)
    return []


def _linear(item: Located, at: KeyPath, kpi: Kpi, scoring: LinearScoring) -> list[Diagnostic]:
    if kpi.target is None:
        return [item.at(at, "error", f"KPI '{kpi.id}': linear scoring needs a target")]
    points = [scoring.threshold, kpi.target]
    if scoring.stretch is not None:
        points.append(scoring.stretch)
    higher = kpi.direction == "higher"
    if points != sorted(points, reverse=not higher) or len(set(points)) != len(points):
        word = "below" if higher else "above"
        return [
            item.at(
                at,
                "error",
                f"KPI '{kpi.id}': threshold must lie {word} the target "
                "and the target between threshold and stretch",
            )
        ]
    return []


# --------------------------------------------------------------------------- workflows


def _workflow(defs: DefinitionSet, item: Located, wf: Workflow) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    states = statetree.all_states(wf)
    missing = [p for p in PHASES if p not in wf.states]
    if missing:
        out.append(
            item.at(
                ("states",),
                "error",
                "the top level needs the phases plan, monitor, "
                f"assess, feedback; missing: {', '.join(missing)}",
                key=True,
            )
        )
    for path, state in states.items():
        at = statetree.key_path(path)
        if state.initial and state.states and state.initial not in state.states:
            out.append(_unknown(item, (*at, "initial"), "child state", state.initial, state.states))
    if wf.initial is not None and wf.initial not in wf.states:
        out.append(_unknown(item, ("initial",), "state", wf.initial, wf.states))
        return out
    out += _transitions(defs, item, wf, states)
    out += _graph(item, wf)
    out += _edit_rights(defs, item, wf)
    out += _calibration(defs, item, wf)
    out += _comments(defs, item, wf)
    return out


def _comments(defs: DefinitionSet, item: Located, wf: Workflow) -> list[Diagnostic]:
    """Private notes are for roles that exist, never the employee's; a step that opens a
    thread addresses roles that exist and takes a comment to open it with."""
    out: list[Diagnostic] = []
    roles = roles_known(defs)
    if wf.comments is not None:
        for index, role in enumerate(wf.comments.private):
            at: KeyPath = ("comments", "private", index)
            if role == "employee":
                message = "a private note is never shown to the employee; take 'employee' out"
                out.append(item.at(at, "error", message))
            elif role not in roles:
                out.append(_unknown(item, at, "role", role, roles))
    for index, t in enumerate(wf.transitions):
        for r_index, role in enumerate(t.opens_thread):
            if role not in roles:
                at = ("transitions", index, "opens_thread", r_index)
                out.append(_unknown(item, at, "role", role, roles))
        if t.opens_thread and t.comment == "none":
            message = (
                f"'{t.trigger}' opens a thread with its comment but takes none: "
                "say comment: required (or optional)"
            )
            out.append(item.at(("transitions", index, "comment"), "error", message))
    return out


def _calibration(defs: DefinitionSet, item: Located, wf: Workflow) -> list[Diagnostic]:
    """One calibration state at most, override roles that exist, a sign-off that can be found."""
    out: list[Diagnostic] = []
    roles = roles_known(defs)
    declared = [(p, s) for p, s in statetree.leaves(wf).items() if s.calibration is not None]
    for index, (path, state) in enumerate(declared):
        at = (*statetree.key_path(path), "calibration")
        rules = state.calibration
        assert rules is not None
        if index:
            out.append(
                item.at(
                    at,
                    "error",
                    f"only one state calibrates grades; '{declared[0][0]}' already does",
                    key=True,
                )
            )
        out += [
            _unknown(item, (*at, "override", i), "role", r, roles)
            for i, r in enumerate(rules.override)
            if r not in roles
        ]
        out += _board_fields(defs, item, wf, at, rules)
        if sign_off_of(wf, path, rules) is not None:
            continue
        leaving = [t.trigger for t in wf.transitions if path in leaf_sources(wf, t)]
        if rules.sign_off is not None:
            out.append(
                _unknown(item, (*at, "sign_off"), "transition out of it", rules.sign_off, leaving)
            )
        else:
            out.append(
                item.at(
                    at,
                    "error",
                    "say which transition signs calibration off (sign_off: <trigger>): no single "
                    f"transition out of '{path}' has an approval",
                    key=True,
                )
            )
    return out


def _board_fields(
    defs: DefinitionSet, item: Located, wf: Workflow, at: KeyPath, rules: Calibration
) -> list[Diagnostic]:
    """Board columns and 9-box axes name fields every form of the workflow has (9-box: numbers)."""
    out: list[Diagnostic] = []
    wanted: list[tuple[KeyPath, str, bool]] = [
        ((*at, "show", i), f, False) for i, f in enumerate(rules.show)
    ]
    if rules.nine_box is not None:
        for axis in ("performance", "potential"):
            value = getattr(rules.nine_box, axis).value
            if value != "score":
                wanted.append(((*at, "nine_box", axis, "value"), value, True))
    for form_id in forms_of_workflow(defs, wf.id):
        fields = {f.id: f for f in defs.forms[form_id].fields()}
        for f_at, name, numeric in wanted:
            found = fields.get(name)
            if found is None:
                out.append(_unknown(item, f_at, f"field of form '{form_id}'", name, fields))
            elif found.compute is not None:
                out.append(
                    item.at(
                        f_at,
                        "error",
                        f"field '{name}' of form '{form_id}' is computed; the board counts "
                        "and shows stored values: name a field people fill in",
                    )
                )
            elif numeric and not isinstance(found, NumberField | RatingField):
                out.append(
                    item.at(
                        f_at,
                        "error",
                        f"field '{name}' of form '{form_id}' is not a number or rating; a 9-box "
                        "axis needs one",
                    )
                )
    return out


def _resolve(
    item: Located, at: KeyPath, name: str, states: Mapping[str, object]
) -> Diagnostic | None:
    if name in states:
        return None
    underscored = {p.replace(".", "_"): p for p in states}
    if name in underscored:
        return item.at(
            at,
            "error",
            f"unknown state '{name}'; nested states are written with a dot: '{underscored[name]}'",
        )
    return _unknown(item, at, "state", name, states)


def _transitions(
    defs: DefinitionSet, item: Located, wf: Workflow, states: Mapping[str, object]
) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    roles = roles_known(defs)
    leaves = statetree.leaves(wf)
    seen: dict[tuple[str, str], int] = {}
    forms = [defs.forms[f] for f in forms_of_workflow(defs, wf.id)]
    for index, t in enumerate(wf.transitions):
        at: KeyPath = ("transitions", index)
        sources = t.sources
        for s_index, source in enumerate(sources):
            s_at = (*at, "source", s_index) if isinstance(t.source, list) else (*at, "source")
            if source == "*":
                covered = [p for p, s in leaves.items() if not s.final]
            else:
                problem = _resolve(item, s_at, source, states)
                if problem:
                    out.append(problem)
                    continue
                covered = statetree.leaves_under(wf, source)
            for leaf in covered:
                if leaves[leaf].final:
                    out.append(item.at(s_at, "error", f"'{leaf}' is final; nothing leaves it"))
                if (t.trigger, leaf) in seen:
                    out.append(
                        item.at(
                            (*at, "trigger"),
                            "error",
                            f"trigger '{t.trigger}' already leaves '{leaf}' "
                            f"(transitions[{seen[t.trigger, leaf]}]); give it "
                            "another name",
                        )
                    )
                seen[(t.trigger, leaf)] = index
        problem = _resolve(item, (*at, "dest"), t.dest, states)
        if problem:
            out.append(problem)
        named = [((*at, "roles", i), r) for i, r in enumerate(t.roles)]
        if t.approval is not None:
            named += [((*at, "approval", "roles", i), r) for i, r in enumerate(t.approval.roles)]
            out += _quorum(item, at, t.approval.mode, t.approval.quorum)
            out += _self_approval(item, at, t)
            if t.approval.declined_to is not None:
                declined = t.approval.declined_to
                problem = _resolve(item, (*at, "approval", "declined_to"), declined, states)
                if problem:
                    out.append(problem)
        out += [_unknown(item, r_at, "role", r, roles) for r_at, r in named if r not in roles]
        if t.guard is not None:
            for form in forms:
                scope = guard_scope(form)
                out += _expression(item, (*at, "guard"), t.guard, scope, f" (form '{form.id}')")
    out += _overdue(item, wf, roles, seen)
    out += _notification_rules(item, wf, roles, states)
    return out


def _notification_rules(
    item: Located, wf: Workflow, roles: set[str], states: Mapping[str, object]
) -> list[Diagnostic]:
    """Rules name known roles (or the recipients every rule may use), states and triggers, and
    ask only what their event can tell."""
    out: list[Diagnostic] = []
    triggers = {t.trigger for t in wf.transitions}
    recipients = roles | set(NOTIFY_RECIPIENTS)
    for index, rule in enumerate(wf.notifications):
        at: KeyPath = ("notifications", index)
        for i, state in enumerate(rule.states):
            problem = _resolve(item, (*at, "states", i), state, states)
            if problem:
                out.append(problem)
        for i, trigger in enumerate(rule.transitions):
            if trigger not in triggers:
                out.append(_unknown(item, (*at, "transitions", i), "transition", trigger, triggers))
        if rule.transitions and rule.event not in ("step", "approval_requested", "declined"):
            out.append(
                item.at(
                    (*at, "transitions"),
                    "error",
                    f"'{rule.event}' is not about a transition; 'transitions' is for step, "
                    "approval_requested and declined",
                )
            )
        for i, who in enumerate(rule.notify):
            if who not in recipients:
                out.append(_unknown(item, (*at, "notify", i), "role", who, recipients))
            elif who == "mentioned" and rule.event != "mentioned":
                out.append(
                    item.at(
                        (*at, "notify", i), "error", "only a 'mentioned' rule has people mentioned"
                    )
                )
            elif who == "requester" and rule.event not in ("declined", "approval_requested"):
                out.append(
                    item.at(
                        (*at, "notify", i),
                        "error",
                        "only approval_requested and declined rules have a requester",
                    )
                )
            elif who == "participants" and rule.event not in ("comment", "mentioned"):
                out.append(
                    item.at(
                        (*at, "notify", i),
                        "error",
                        "only comment and mentioned rules have a thread's participants",
                    )
                )
    for path, st in statetree.all_states(wf).items():
        if st.remind and st.due is None:
            out.append(
                item.at(
                    (*statetree.key_path(path), "remind"),
                    "warning",
                    "remind never happens: the state has no 'due'",
                )
            )
    return out


def _self_approval(item: Located, at: KeyPath, t: TransitionDef) -> list[Diagnostic]:
    """Sign-offs nobody can ever give: the appraised person and the requester may not approve
    (unless ``allow_self_approval``), and employee, manager and dept_head are one person each."""
    assert t.approval is not None
    if t.allow_self_approval:
        return []
    approvers = set(t.approval.roles)
    fix = "add allow_self_approval: true, or name another approver"
    if approvers == {"employee"} or (t.approval.mode == "all" and "employee" in approvers):
        message = (
            f"nobody can approve '{t.trigger}': the employee may not approve a step of their "
            f"own appraisal; {fix}"
        )
        return [item.at((*at, "approval", "roles"), "error", message)]
    single = approvers <= {"manager", "dept_head"} and len(approvers) == 1
    if single and set(t.roles) == approvers:
        (role,) = approvers
        message = (
            f"nobody can approve '{t.trigger}': only the {role} may approve, and the {role} "
            f"is the one who requests it; {fix}"
        )
        return [item.at((*at, "approval", "roles"), "error", message)]
    return []


def _quorum(item: Located, at: KeyPath, mode: str, quorum: int | None) -> list[Diagnostic]:
    # No upper bound: several people may hold one role, so any quorum above 1 can be met.
    if mode == "quorum" and quorum is not None and quorum < 2:
        return [
            item.at((*at, "approval", "quorum"), "warning", "a quorum of 1 is mode: any; say so")
        ]
    return []


def _overdue(
    item: Located, wf: Workflow, roles: set[str], fired: dict[tuple[str, str], int]
) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for path, state in statetree.all_states(wf).items():
        at = statetree.key_path(path)
        action = state.on_overdue
        if action is None:
            continue
        if state.due is None:
            out.append(
                item.at(
                    (*at, "on_overdue"),
                    "warning",
                    "on_overdue never happens: the state has no 'due'",
                )
            )
        named: list[tuple[KeyPath, str]] = [
            ((*at, "on_overdue", "notify", i), r) for i, r in enumerate(action.notify)
        ]
        if action.escalate_to:
            named.append(((*at, "on_overdue", "escalate_to"), action.escalate_to))
        out += [_unknown(item, r_at, "role", r, roles) for r_at, r in named if r not in roles]
        if action.fire is not None:
            leaves = statetree.leaves_under(wf, path)
            if not all((action.fire, leaf) in fired for leaf in leaves):
                out.append(
                    item.at(
                        (*at, "on_overdue", "fire"),
                        "error",
                        f"no transition '{action.fire}' leaves '{path}'",
                    )
                )
    return out


def _graph(item: Located, wf: Workflow) -> list[Diagnostic]:
    """Unreachable states, dead ends, and whether any final state can be reached."""
    try:
        edges = transition_edges(wf)
        start = statetree.initial_leaf(wf)
    except KeyError:
        return []  # unknown states are reported already
    leaves = statetree.leaves(wf)
    reached = statetree.reachable(edges, start)
    out: list[Diagnostic] = []
    finals = [p for p, s in leaves.items() if s.final]
    if not finals:
        out.append(
            item.at(
                ("states",),
                "error",
                "no state is final; mark the end of the cycle with `final: true`",
                key=True,
            )
        )
    elif not reached & set(finals):
        out.append(
            item.at(("states",), "error", f"no final state can be reached from '{start}'", key=True)
        )
    for path, state in leaves.items():
        at = statetree.key_path(path)
        if path not in reached:
            out.append(
                item.at(at, "error", f"state '{path}' cannot be reached from '{start}'", key=True)
            )
        elif not state.final and not edges.get(path):
            out.append(
                item.at(
                    at,
                    "error",
                    f"state '{path}' is a dead end: no transition leaves it and it is not final",
                    key=True,
                )
            )
    return out


def transition_edges(wf: Workflow) -> dict[str, set[str]]:
    """Leaf → leaves reachable in one transition. Raises KeyError for unknown states."""
    leaves = statetree.leaves(wf)
    known = statetree.all_states(wf)
    edges: dict[str, set[str]] = {}
    for t in wf.transitions:
        if t.dest not in known:
            raise KeyError(t.dest)
        dest = statetree.initial_leaf(wf, t.dest)
        for source in t.sources:
            if source != "*" and source not in known:
                raise KeyError(source)
            froms = (
                [p for p, s in leaves.items() if not s.final]
                if source == "*"
                else (statetree.leaves_under(wf, source))
            )
            for leaf in froms:
                edges.setdefault(leaf, set()).add(dest)
    return edges


def edit_targets(form: Form) -> set[str]:
    """Everything an edit right may name in ``form``: sections, fields, ``kpis.actual`` (a
    column), ``kpis.qa`` and ``kpis.qa.actual`` (one KPI), ``table.column``, ``table.rows``."""
    targets = {s.id for s in form.sections}
    for f in form.fields():
        targets.add(f.id)
        if isinstance(f, KpiTableField):
            targets.update(f"{f.id}.{column}" for column in KPI_COLUMNS)
            for k in f.kpis:
                targets.add(f"{f.id}.{k.id}")
                targets.update(f"{f.id}.{k.id}.{column}" for column in KPI_COLUMNS)
        if isinstance(f, TableField):
            targets.update(f"{f.id}.{c.id}" for c in f.columns)
            targets.add(f"{f.id}.{ROWS_RIGHT}")
            targets.add(f"{f.id}.{OWN_RIGHT}")
    return targets


def _hidden_target(form: Form, role: str, ref: str) -> str | None:
    """The field (or section) ``ref`` edits that ``form`` hides from ``role``, if any."""
    owner = ref.split(".", 1)[0]
    for section in form.sections:
        fields = (
            section.fields if section.id == owner else [f for f in section.fields if f.id == owner]
        )
        for f in fields:
            for thing in (section, f):
                if role in thing.hidden_from or (
                    thing.visible_to is not None and role not in thing.visible_to
                ):
                    return thing.id
    return None


def _edit_rights(defs: DefinitionSet, item: Located, wf: Workflow) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    roles = roles_known(defs)
    form_ids = forms_of_workflow(defs, wf.id)
    if not _workflow_used(defs, wf.id):
        out.append(item.at(("id",), "warning", f"no position uses workflow '{wf.id}'"))
    targets_of = {form_id: edit_targets(defs.forms[form_id]) for form_id in form_ids}
    for index, role in enumerate(wf.not_self):
        if role in RELATIVE_ROLES:
            message = f"'{role}' is who someone is on an appraisal; not_self is for other roles"
            out.append(item.at(("not_self", index), "error", message))
        elif role not in roles:
            out.append(_unknown(item, ("not_self", index), "role", role, roles))
    for path, state in statetree.all_states(wf).items():
        at = statetree.key_path(path)
        for role, refs in state.edit.items():
            if role not in roles:
                out.append(_unknown(item, (*at, "edit", role), "role", role, roles, key=True))
            for index, ref in enumerate(refs):
                for form_id in form_ids:
                    hidden = _hidden_target(defs.forms[form_id], role, ref)
                    if hidden:
                        message = (
                            f"role '{role}' may edit '{ref}', but form '{form_id}' hides "
                            f"'{hidden}' from it (visible_to / hidden_from)"
                        )
                        out.append(item.at((*at, "edit", role, index), "error", message))
                for form_id, targets in targets_of.items():
                    if ref not in targets:
                        out.append(
                            item.at(
                                (*at, "edit", role, index),
                                "error",
                                f"form '{form_id}' has no section or field '{ref}'"
                                f"{_hint(ref, targets)}",
                            )
                        )
    return out


# --------------------------------------------------------------------------- policies


def _policy(defs: DefinitionSet, item: Located, policy: IncentivePolicy) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    if policy.workflow is not None and not defs.has("Workflow", policy.workflow):
        out.append(_unknown(item, ("workflow",), "workflow", policy.workflow, defs.workflows))
    for index, name in _duplicates(g.grade for g in policy.grades):
        out.append(item.at(("grades", index, "grade"), "error", f"grade '{name}' repeats"))
    scores = [g.min_score for g in policy.grades]
    for index in range(1, len(scores)):
        if scores[index] >= scores[index - 1]:
            out.append(
                item.at(
                    ("grades", index, "min_score"),
                    "error",
                    f"grades must go from the highest min_score down: {scores[index]:g}"
                    f" is not below {scores[index - 1]:g}",
                )
            )
    if scores and scores[-1] > 0:
        out.append(
            item.at(
                ("grades", len(scores) - 1, "min_score"),
                "error",
                f"scores below {scores[-1]:g} get no grade; give the last grade min_score: 0",
            )
        )
    out += _quotas(item, policy)
    out += _policy_actions(item, policy)
    if policy.budget is not None:
        out += [
            _unknown(item, ("budget", "amounts", dept), "department", dept, defs.departments)
            for dept in policy.budget.amounts
            if dept not in defs.departments
        ]
    graded = bool(policy.grades)
    if not graded and policy.bonus is None:
        message = (
            "a policy without grades needs a `bonus` formula: the default one multiplies "
            "by the grade's bonus_multiplier"
        )
        out.append(item.at(("grades",), "error", message, key=True))
    person = dict.fromkeys(defs.attributes())
    forms: list[Form | None] = [defs.forms[f] for f in _forms_of_policy(defs, policy)]
    for name in ("bonus", "bonus_cap"):
        expr = getattr(policy, name)
        if expr is None:
            continue
        for form in forms or [None]:
            if form is None:  # grades no position yet: the form's names cannot be known
                own = bonus_scope({}, person)
                unknown = {c[0]: ANY for c in expr.names() if c[0] not in own}
                scope, suffix = bonus_scope(unknown, person), ""
            else:
                scope, suffix = bonus_scope(form_scope(form), person), f" (form '{form.id}')"
            out += _expression(item, (name,), expr, scope, suffix)
        if not graded:
            reads = {chain[0] for chain in expr.names()} & {"grade", "bonus_multiplier"}
            if reads:
                message = f"`{expr}` reads {', '.join(sorted(reads))}, but the policy has no grades"
                out.append(item.at((name,), "error", message))
    return out


def _forms_of_policy(defs: DefinitionSet, policy: IncentivePolicy) -> list[str]:
    """The forms of the positions this policy grades (named, or by its workflow)."""
    found = set()
    for dept in defs.departments.values():
        for p in dept.positions:
            named = p.policy == policy.id
            by_workflow = p.policy is None and policy.workflow == p.workflow
            if (named or by_workflow) and p.form in defs.forms:
                found.add(p.form)
    return sorted(found)


def _policy_actions(item: Located, policy: IncentivePolicy) -> list[Diagnostic]:
    """Grades call for the policy's own follow-ups or built-in ones; owners are roles."""
    declared = {a.id for a in policy.actions}
    known = declared | set(INCENTIVE_ACTIONS)
    out = [
        item.at(("actions", index, "id"), "error", f"action '{ident}' repeats")
        for index, ident in _duplicates(a.id for a in policy.actions)
    ]
    for g_index, grade in enumerate(policy.grades):
        for a_index, action in enumerate(grade.actions):
            if action not in known:
                at = ("grades", g_index, "actions", a_index)
                out.append(_unknown(item, at, "action", action, known))
    return out


def _person_attributes(
    defs: DefinitionSet, item: Located, declared: PersonAttributes
) -> list[Diagnostic]:
    out = []
    for index, attribute in enumerate(declared.attributes):
        for other in sorted(defs.person_attributes):
            if other == declared.id:
                break
            if any(a.id == attribute.id for a in defs.person_attributes[other].attributes):
                message = f"person attribute '{attribute.id}' is already declared in '{other}'"
                out.append(item.at(("attributes", index, "id"), "error", message))
                break
        if attribute.id in PEOPLE_COLUMNS:
            message = (
                f"'{attribute.id}' is a column of the people import already; name it otherwise"
            )
            out.append(item.at(("attributes", index, "id"), "error", message))
    for index, ident in _duplicates(a.id for a in declared.attributes):
        message = f"person attribute '{ident}' repeats"
        out.append(item.at(("attributes", index, "id"), "error", message))
    roles = roles_known(defs)
    for a_index, attribute in enumerate(declared.attributes):
        for r_index, role in enumerate(attribute.read):
            if role not in roles:
                at = ("attributes", a_index, "read", r_index)
                out.append(_unknown(item, at, "role", role, roles))
    return out


def _quotas(item: Located, policy: IncentivePolicy) -> list[Diagnostic]:
    lows = [g.quota_min or 0 for g in policy.grades]
    highs = [g.quota_max for g in policy.grades]
    out: list[Diagnostic] = []
    if sum(lows) > 100:
        out.append(
            item.at(
                ("grades",),
                "error",
                f"quota_min values add up to {sum(lows):g}%, more than everyone",
                key=True,
            )
        )
    if highs and all(h is not None for h in highs):
        total = sum(h for h in highs if h is not None)
        if total < 100:
            out.append(
                item.at(
                    ("grades",),
                    "error",
                    f"quota_max values add up to {total:g}%: "
                    "not everyone can get a grade; leave one grade without a quota_max",
                    key=True,
                )
            )
    return out

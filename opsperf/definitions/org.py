"""The organisation as the definitions draw it: the department tree and where roles count.

A custom role is declared once, by one department. Its ``scope`` says where its holders act:
``company`` (everywhere, the default), ``department`` (appraisals of the declaring department)
or ``subtree`` (the declaring department and every department below it). Launching a cycle
pins, on each appraisal, the custom roles its workflow names that count in its department.
"""

from __future__ import annotations

from opsperf.definitions import statetree
from opsperf.definitions.loader import DefinitionSet
from opsperf.definitions.schema import (
    GLOBAL_ROLES,
    NOTIFY_RECIPIENTS,
    RELATIVE_ROLES,
    RoleDef,
    Workflow,
)


def ancestors(defs: DefinitionSet, dept_id: str) -> list[str]:
    """``dept_id`` and the departments above it, nearest first (safe on a broken tree)."""
    out: list[str] = []
    current: str | None = dept_id
    while current is not None and current not in out:
        out.append(current)
        dept = defs.departments.get(current)
        current = dept.parent if dept is not None else None
    return out


def declarations(defs: DefinitionSet) -> dict[str, tuple[str, RoleDef]]:
    """Each custom role with the department that declares it (the first by id, if repeated)."""
    out: dict[str, tuple[str, RoleDef]] = {}
    for dept_id in sorted(defs.departments):
        for role in defs.departments[dept_id].roles:
            out.setdefault(role.id, (dept_id, role))
    return out


def counts_in(declared: tuple[str, RoleDef], dept_id: str, defs: DefinitionSet) -> bool:
    """Whether holders of a role declared as ``declared`` act on appraisals of ``dept_id``."""
    owner, role = declared
    if role.scope == "company":
        return True
    if role.scope == "department":
        return dept_id == owner
    return owner in ancestors(defs, dept_id)


def named_roles(workflow: Workflow) -> set[str]:
    """Every role a workflow gives something to do or tells something: firing, approving,
    editing, escalations, notifications, private notes and threads addressed to it."""
    named: set[str] = set()
    for t in workflow.transitions:
        named.update(t.roles)
        if t.approval is not None:
            named.update(t.approval.roles)
    for state in statetree.all_states(workflow).values():
        named.update(state.edit)
        if state.on_overdue is not None:
            named.update(state.on_overdue.notify)
            if state.on_overdue.escalate_to:
                named.add(state.on_overdue.escalate_to)
    for rule in workflow.notifications:
        named.update(rule.notify)
    for t in workflow.transitions:  # a thread a step opens is addressed to them
        named.update(t.opens_thread)
    if workflow.comments is not None:  # they write and read private notes
        named.update(workflow.comments.private)
    return named - set(NOTIFY_RECIPIENTS)


def custom_roles(workflow: Workflow) -> set[str]:
    return named_roles(workflow) - set(RELATIVE_ROLES) - set(GLOBAL_ROLES)


def roles_in_force(
    defs: DefinitionSet,
    workflow: Workflow,
    dept_id: str,
    declared: dict[str, tuple[str, RoleDef]],
) -> list[str]:
    """The custom roles ``workflow`` names that count on appraisals of ``dept_id``
    (``declared``: :func:`declarations` of ``defs``, made once by the caller)."""
    return sorted(
        role
        for role in custom_roles(workflow)
        if role in declared and counts_in(declared[role], dept_id, defs)
    )

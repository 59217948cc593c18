"""Follow-up actions: what a final grade calls for (a promotion nomination, coaching, an
improvement plan…) as tracked items with an owner, a due date, a status and notes.

Items are made when a result becomes final — the calibration is signed off, or, in a workflow
without calibration, a final state is reached — once per appraisal and action (a unique key:
signing off again after an appeal adds what the new grade calls for and cancels what it no
longer does, and never duplicates). Owners are a person when the role names one on the
appraisal (employee, manager, the department head) and otherwise a role (hr): its holders see
the item in their list. Lists are pages filtered in SQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.orm import joinedload

from opsperf.definitions import org
from opsperf.definitions.loader import DefinitionSet
from opsperf.definitions.schema import GLOBAL_ROLES, Text
from opsperf.engine.text import COMMENT_LIMIT, untypable
from opsperf.errors import NotFound, PermissionDenied, ValidationFailed
from opsperf.persistence.models import Appraisal, FollowUp, User, db, utcnow
from opsperf.services.context import Context
from opsperf.services.pages import Page, like

STATUSES = ("open", "done", "cancelled")
PREVIOUS_SHOWN = 10  # open items of earlier cycles shown beside a new plan


def create_for(ctx: Context) -> int:
    """Make the items the appraisal's final grade calls for (not committed); cancel open ones
    it no longer calls for. Returns how many were made."""
    a = ctx.appraisal
    wanted = ((a.result or {}).get("grade") or {}).get("follow_ups") or []
    existing = {
        f.action_id: f
        for f in db.session.scalars(select(FollowUp).where(FollowUp.appraisal_id == a.id))
    }
    today = utcnow().date()
    made = 0
    for item in wanted:
        ident = str(item.get("id", ""))[:64]
        if not ident:
            continue
        if ident in existing:
            if existing[ident].status == "cancelled" and existing[ident].closed_by_id is None:
                existing[ident].status = "open"  # called for again after a recalibration
            continue
        owner_role = str(item.get("owner") or "manager")[:64]
        days = item.get("days") or 30
        db.session.add(
            FollowUp(
                appraisal_id=a.id,
                cycle_id=a.cycle_id,
                employee_id=a.employee_id,
                department_id=a.department_id,
                action_id=ident,
                label=item.get("label"),
                owner_role=owner_role,
                owner_id=_owner(ctx, owner_role),
                due_on=today + dt.timedelta(days=int(days)),
                status="open",
            )
        )
        made += 1
    called = {str(item.get("id", "")) for item in wanted}
    for ident, f in existing.items():
        if ident not in called and f.status == "open":
            f.status = "cancelled"  # the grade changed: no longer called for
    return made


def _owner(ctx: Context, role: str) -> int | None:
    """The person a role names on this appraisal, if it names one."""
    a = ctx.appraisal
    if role == "employee":
        return a.employee_id
    if role == "manager":
        return a.manager_id
    if role == "dept_head" and ctx.department.head:
        return db.session.scalar(
            select(User.id)
            .where(
                User.department_id == a.department_id,
                User.position_id == ctx.department.head,
                User.active.is_(True),
            )
            .order_by(User.id)
            .limit(1)
        )
    return None


# --------------------------------------------------------------------------- who sees what


def _visible(user: User, defs: DefinitionSet) -> ColumnElement[bool]:
    """The items ``user`` may see: HR and administrators all; others those they own, their
    own, their reports', and those owned by a custom role they hold where it counts."""
    if user.has_role("hr") or user.has_role("admin"):
        return ~false()
    reports = select(Appraisal.id).where(Appraisal.manager_id == user.id)
    return or_(
        FollowUp.owner_id == user.id,
        FollowUp.employee_id == user.id,
        FollowUp.appraisal_id.in_(reports),
        _role_items(user, defs),
    )


def _role_items(user: User, defs: DefinitionSet) -> ColumnElement[bool]:
    """Items owned by a custom role ``user`` holds, in the departments where it counts."""
    declared = org.declarations(defs)
    conditions = []
    for role in user.roles or []:
        if role in GLOBAL_ROLES or role not in declared:
            continue
        where = [d for d in defs.departments if org.counts_in(declared[role], d, defs)]
        conditions.append((FollowUp.owner_role == role) & FollowUp.department_id.in_(where))
    return or_(*conditions) if conditions else false()


def may_update(user: User, item: FollowUp) -> bool:
    """The owner (or a holder of the owning role), the employee's manager, HR."""
    if user.has_role("hr") or user.has_role("admin"):
        return True
    if item.owner_id == user.id:
        return True
    if item.owner_id is None and item.owner_role in GLOBAL_ROLES and user.has_role(item.owner_role):
        return True
    return item.appraisal.manager_id == user.id


@dataclass(frozen=True)
class FollowUpFilter:
    status: str = "open"
    department: str = ""
    action: str = ""
    search: str = ""
    mine: bool = False


def page(
    defs: DefinitionSet, user: User, only: FollowUpFilter, number: int = 1, per_page: int = 50
) -> Page[FollowUp]:
    """The items ``user`` may see that pass the filter, soonest due first, one page."""
    query = select(FollowUp).where(_visible(user, defs))
    if only.status in STATUSES:
        query = query.where(FollowUp.status == only.status)
    if only.department:
        query = query.where(FollowUp.department_id == only.department)
    if only.action:
        query = query.where(FollowUp.action_id == only.action)
    if only.mine:
        query = query.where(FollowUp.owner_id == user.id)
    if only.search:
        people = select(User.id).where(
            or_(like(User.name, only.search), like(User.employee_no, only.search))
        )
        query = query.where(FollowUp.employee_id.in_(people))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    current: Page[FollowUp] = Page.of(number, per_page, total)
    current.items = list(
        db.session.scalars(
            query.options(joinedload(FollowUp.employee), joinedload(FollowUp.owner))
            .order_by(FollowUp.due_on, FollowUp.id)
            .limit(current.per_page)
            .offset(current.offset)
        )
    )
    return current


def of_appraisal(defs: DefinitionSet, appraisal_id: int, user: User) -> list[FollowUp]:
    """An appraisal's items ``user`` may see (a handful: one per action its grade calls for)."""
    return list(
        db.session.scalars(
            select(FollowUp)
            .options(joinedload(FollowUp.owner))
            .where(FollowUp.appraisal_id == appraisal_id, _visible(user, defs))
            .order_by(FollowUp.id)
        )
    )


def open_before(defs: DefinitionSet, appraisal: Appraisal, user: User) -> list[FollowUp]:
    """The person's items still open from earlier cycles that ``user`` may see, shown beside a
    new plan (PDCA)."""
    return list(
        db.session.scalars(
            select(FollowUp)
            .options(joinedload(FollowUp.owner))
            .where(
                _visible(user, defs),
                FollowUp.employee_id == appraisal.employee_id,
                FollowUp.status == "open",
                FollowUp.cycle_id != appraisal.cycle_id,
            )
            .order_by(FollowUp.due_on, FollowUp.id)
            .limit(PREVIOUS_SHOWN)
        )
    )


def due_for(user: User, limit: int = 10) -> list[FollowUp]:
    """Open items ``user`` owns, soonest due first (the home page's follow-ups)."""
    return list(
        db.session.scalars(
            select(FollowUp)
            .options(joinedload(FollowUp.employee))
            .where(FollowUp.owner_id == user.id, FollowUp.status == "open")
            .order_by(FollowUp.due_on, FollowUp.id)
            .limit(limit)
        )
    )


def get(defs: DefinitionSet, item_id: int, user: User) -> FollowUp:
    item = db.session.get(FollowUp, item_id)
    if item is None or not db.session.scalar(
        select(func.count()).where(FollowUp.id == item_id, _visible(user, defs))
    ):
        raise NotFound("follow-up %(id)s does not exist", id=item_id)
    return item


def update(
    defs: DefinitionSet, item_id: int, user: User, status: str, note: str | None
) -> FollowUp:
    """Set an item's status and add to its notes (who and when are written with the note)."""
    item = get(defs, item_id, user)
    if not may_update(user, item):
        raise PermissionDenied("only its owner, the manager or HR update this follow-up")
    if status not in STATUSES:
        raise ValidationFailed("choose a status: open, done or cancelled")
    text = (note or "").strip()
    if untypable(text):
        raise ValidationFailed("the note holds control characters or broken symbols; remove them")
    if len(text) > COMMENT_LIMIT:
        raise ValidationFailed("a note may be at most %(max)s characters long", max=COMMENT_LIMIT)
    if status == item.status and not text:
        raise ValidationFailed("change the status or write a note")
    if text:
        stamp = utcnow().strftime("%Y-%m-%d %H:%M")
        entry = f"{stamp} {user.name}: {text}"
        notes = f"{item.notes}\n{entry}" if item.notes else entry
        item.notes = notes[-NOTES_LIMIT:]
    if status != item.status:
        item.status = status
        done = status != "open"
        item.closed_by_id = user.id if done else None
        item.closed_at = utcnow() if done else None
    db.session.commit()
    return item


NOTES_LIMIT = 20_000  # characters of an item's notes (the oldest give way)


def label_of(item: FollowUp) -> Text | str:
    """The item's label as declared by the policy (a built-in action: its id)."""
    if isinstance(item.label, dict):
        return Text.model_validate(item.label)
    return item.action_id


def as_json(item: FollowUp) -> dict[str, Any]:
    return {
        "id": item.id,
        "appraisal": item.appraisal_id,
        "cycle": item.cycle_id,
        "employee": {"employee_no": item.employee.employee_no, "name": item.employee.name},
        "action": item.action_id,
        "label": item.label,
        "owner_role": item.owner_role,
        "owner": item.owner.name if item.owner else None,
        "due_on": item.due_on.isoformat(),
        "status": item.status,
        "notes": item.notes,
    }

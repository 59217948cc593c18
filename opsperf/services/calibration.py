"""Calibration: a cycle's grades side by side per department, against the policies' quotas;
grade overrides with a reason; the sign-off of a whole department at once.

Who counts: the appraisals in the workflow's calibration state and those already signed off
(``definitions.calibration``). Quotas are checked per population as the policy's
``quotas.scope`` says: each department alone, a department with its sub-departments, or the
whole cycle. Every count is one ``GROUP BY`` over the cycle's appraisals (bounded by departments
× grades, not by people); lists are pages.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, select

from opsperf.definitions import org
from opsperf.definitions.calibration import CalibrationStep
from opsperf.definitions.loader import DefinitionSet
from opsperf.definitions.schema import GLOBAL_ROLES, IncentivePolicy
from opsperf.definitions.schema import NineBox as NineBoxDef
from opsperf.engine.forms import withheld
from opsperf.engine.scoring import QuotaIssue, check_quota_counts
from opsperf.engine.text import COMMENT_LIMIT, untypable
from opsperf.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    TransitionNotAllowed,
    ValidationFailed,
)
from opsperf.persistence.cache import per_transaction
from opsperf.persistence.models import Appraisal, Cycle, Event, User, Vote, db, utcnow
from opsperf.services import appraisals as appraisals_svc
from opsperf.services import budget as budget_svc
from opsperf.services import cycles as cycles_svc
from opsperf.services import snapshots
from opsperf.services.context import Context, compiled_workflow, context, get
from opsperf.services.cycles import subtree

MAX_STALE_SHOWN = 50


# --------------------------------------------------------------------------- who sees what


@dataclass(frozen=True)
class Scope:
    """The part of a cycle a board shows: ``root`` and its sub-departments (``departments``),
    or the whole cycle (``root`` None, ``departments`` None)."""

    root: str | None
    departments: tuple[str, ...] | None

    def covers(self, department_id: str) -> bool:
        return self.departments is None or department_id in self.departments


def step_for(cycle: Cycle) -> CalibrationStep | None:
    """The calibration step of the cycle's pinned workflow (None: it does not calibrate)."""
    if cycle.workflow_snapshot_id is None:
        return None
    return compiled_workflow(cycle.workflow_snapshot_id).calibration


def headed(defs: DefinitionSet, user: User) -> str | None:
    """The department ``user`` heads (holds its head position), if any."""
    dept = defs.departments.get(user.department_id or "")
    if dept is not None and dept.head is not None and dept.head == user.position_id:
        return dept.id
    return None


def is_company_wide(user: User) -> bool:
    return user.has_role("hr") or user.has_role("admin")


def may_open_board(defs: DefinitionSet, user: User) -> bool:
    return is_company_wide(user) or headed(defs, user) is not None


def scope_for(defs: DefinitionSet, user: User, department: str) -> Scope:
    """The board ``user`` may open for ``department`` ('' : the widest they may see): HR and
    administrators any department or the whole company, a department head their subtree."""
    if department and department not in defs.departments:
        department = ""
    own = headed(defs, user)
    if is_company_wide(user):
        if not department:
            return Scope(None, None)
        return Scope(department, tuple(subtree(defs, [department])))
    if own is None:
        raise PermissionDenied("only HR and department heads calibrate grades")
    allowed = subtree(defs, [own])
    if department and department not in allowed:
        raise PermissionDenied("you calibrate only your own department and those below it")
    root = department or own
    return Scope(root, tuple(subtree(defs, [root])))


def boards_for(defs: DefinitionSet, user: User, limit: int = 6) -> list[tuple[Cycle, str | None]]:
    """The calibration boards ``user`` may open in the newest active cycles: (cycle, the
    department it opens on; None: the whole company)."""
    if not may_open_board(defs, user):
        return []
    own = None if is_company_wide(user) else headed(defs, user)
    out = []
    for cycle in cycles_svc.recent_active_cycles(limit):
        if step_for(cycle) is None:
            continue
        if own is None or own in cycle.departments:
            out.append((cycle, own))
    return out


# --------------------------------------------------------------------------- distribution


@dataclass
class Group:
    """One population whose grade shares are checked against a policy's quotas."""

    department: str | None  # None: the whole cycle
    policy: IncentivePolicy
    counts: Counter[str]
    issues: list[QuotaIssue] = field(default_factory=list)

    @property
    def population(self) -> int:
        return sum(self.counts.values())

    @property
    def quotas_apply(self) -> bool:
        return self.population >= self.policy.quotas.min_population


@dataclass
class Distribution:
    """The grades of a board's scope (counts per policy) and the quota groups it touches."""

    policies: list[tuple[IncentivePolicy, Counter[str]]]
    groups: list[Group]
    waiting: int  # appraisals of the scope not yet in calibration (no final grade to count)

    @property
    def issues(self) -> list[tuple[Group, QuotaIssue]]:
        return [(g, i) for g in self.groups for i in g.issues]

    @property
    def hard(self) -> list[tuple[Group, QuotaIssue]]:
        return [(g, i) for g, i in self.issues if i.hard]


@dataclass(frozen=True)
class Tally:
    """How many of the calibrated population share a department, policy, state and grade."""

    department: str
    policy: int | None
    state: str
    grade: str | None
    count: int
    overridden: int
    bonus: float


def _tally(cycle: Cycle, step: CalibrationStep) -> list[Tally]:
    """The cycle's calibrated population in one GROUP BY (department, policy, state, grade),
    shared by the distribution, the summary and the pools of one page (per transaction)."""
    key = ("calibration tally", cycle.id)
    remembered = per_transaction()
    if key not in remembered:
        rows = db.session.execute(
            select(
                Appraisal.department_id,
                Appraisal.policy_snapshot_id,
                Appraisal.state,
                Appraisal.grade,
                func.count(),
                func.count(Appraisal.override),
                func.coalesce(func.sum(Appraisal.bonus), 0),
            )
            .where(Appraisal.cycle_id == cycle.id, Appraisal.state.in_(step.population))
            .group_by(
                Appraisal.department_id,
                Appraisal.policy_snapshot_id,
                Appraisal.state,
                Appraisal.grade,
            )
        )
        remembered[key] = [Tally(d, p, st, g, n, o, float(b or 0)) for d, p, st, g, n, o, b in rows]
    found: list[Tally] = remembered[key]
    return found


def _counts(cycle: Cycle, step: CalibrationStep) -> list[tuple[str, int | None, str, int]]:
    """(department, policy snapshot, grade, how many) over the graded calibrated population."""
    out: Counter[tuple[str, int | None, str]] = Counter()
    for t in _tally(cycle, step):
        if t.grade is not None:
            out[(t.department, t.policy, t.grade)] += t.count
    return [(d, p, g, n) for (d, p, g), n in out.items()]


def distribution(defs: DefinitionSet, cycle: Cycle, scope: Scope) -> Distribution:
    """The grade counts of ``scope`` and every quota group it touches, with their issues."""
    step = step_for(cycle)
    if step is None:
        return Distribution([], [], 0)
    rows = _counts(cycle, step)
    by_policy: dict[int, Counter[str]] = {}
    for dept, policy_id, grade, n in rows:
        if policy_id is not None and scope.covers(dept):
            by_policy.setdefault(policy_id, Counter())[grade] += n
    policies = [(snapshots.definition(p), c) for p, c in sorted(by_policy.items())]
    groups: list[Group] = []
    for policy_id in sorted({p for _, p, _, _ in rows if p is not None}):
        policy: IncentivePolicy = snapshots.definition(policy_id)
        mine = [(d, g, n) for d, p, g, n in rows if p == policy_id]
        groups += _groups(defs, policy, mine, scope)
    for group in groups:
        group.issues = check_quota_counts(group.policy, group.counts)
    return Distribution(policies, groups, _waiting(cycle, step, scope))


def _groups(
    defs: DefinitionSet,
    policy: IncentivePolicy,
    rows: Sequence[tuple[str, str, int]],
    scope: Scope,
) -> list[Group]:
    """The populations of one policy that ``scope`` touches, by the policy's quota scope."""
    how = policy.quotas.scope
    if how == "company":
        counts: Counter[str] = Counter()
        for _, grade, n in rows:
            counts[grade] += n
        return [Group(None, policy, counts)] if counts else []
    if how == "department":
        per: dict[str, Counter[str]] = {}
        for dept, grade, n in rows:
            if scope.covers(dept):
                per.setdefault(dept, Counter())[grade] += n
        return [Group(d, policy, c) for d, c in sorted(per.items())]
    # subtree: the board's root and each department above it, with everything below (signing
    # sub-departments one at a time must not slip past a parent's quota); the whole company:
    # each top department
    if scope.root:
        roots = org.ancestors(defs, scope.root)
    else:
        roots = [d.id for d in defs.departments.values() if not d.parent]
    out = []
    for root in roots:
        members = set(subtree(defs, [root]))
        counts = Counter()
        for dept, grade, n in rows:
            if dept in members:
                counts[grade] += n
        if counts:
            out.append(Group(root, policy, counts))
    return out


def _waiting(cycle: Cycle, step: CalibrationStep, scope: Scope) -> int:
    """Appraisals of the scope that have not reached calibration (cancelled ones aside)."""
    workflow = compiled_workflow(cycle.workflow_snapshot_id or 0)
    finals = [s for s in workflow.leaves if workflow.is_final(s)]
    query = select(func.count()).where(
        Appraisal.cycle_id == cycle.id,
        Appraisal.state.not_in([*step.population, *finals]),
    )
    if scope.departments is not None:
        query = query.where(Appraisal.department_id.in_(scope.departments))
    return int(db.session.scalar(query) or 0)


# --------------------------------------------------------------------------- budgets


@dataclass(frozen=True)
class BudgetLine:
    """A department's bonus pool against what its calibrated population is allocated."""

    department: str
    policy: IncentivePolicy
    headcount: int
    allocated: float
    pool: float

    @property
    def over(self) -> bool:
        return self.allocated > self.pool + 0.005


def budgets(cycle: Cycle, scope: Scope) -> list[BudgetLine]:
    """Pools of the scope's departments whose policy declares a budget."""
    step = step_for(cycle)
    if step is None:
        return []
    sums: dict[tuple[str, int], list[float]] = {}
    for t in _tally(cycle, step):
        if t.policy is not None and scope.covers(t.department):
            line = sums.setdefault((t.department, t.policy), [0, 0.0])
            line[0] += t.count
            line[1] += t.bonus
    out = []
    for (dept, policy_id), (headcount, allocated) in sorted(sums.items()):
        policy: IncentivePolicy = snapshots.definition(policy_id)
        pool = budget_svc.pool_amount(policy, dept, int(headcount))
        if pool is not None:
            out.append(BudgetLine(dept, policy, int(headcount), allocated, pool))
    return out


# --------------------------------------------------------------------------- 9-box


@dataclass
class NineBox:
    """Performance (columns: low, middle, high) × potential (rows: high first) counts."""

    box: NineBoxDef
    cells: list[list[int]]  # cells[row][column]; row 0 is high potential

    @property
    def total(self) -> int:
        return sum(sum(row) for row in self.cells)


def _axis(value: str) -> Any:
    if value == "score":
        return Appraisal.score
    return Appraisal.values[value].as_float()


def _band(column: Any, bands: Sequence[float]) -> Any:
    return case((column < bands[0], 0), (column < bands[1], 1), else_=2)


def nine_box(cycle: Cycle, scope: Scope) -> NineBox | None:
    """The 9-box of ``scope`` when the calibration declares one: one GROUP BY over the
    calibrated population (people without both values are left out)."""
    step = step_for(cycle)
    if step is None or step.rules.nine_box is None:
        return None
    box = step.rules.nine_box
    x, y = _axis(box.performance.value), _axis(box.potential.value)
    bx, by = _band(x, box.performance.bands), _band(y, box.potential.bands)
    query = select(bx, by, func.count()).where(
        Appraisal.cycle_id == cycle.id,
        Appraisal.state.in_(step.population),
        x.is_not(None),
        y.is_not(None),
    )
    if scope.departments is not None:
        query = query.where(Appraisal.department_id.in_(scope.departments))
    cells = [[0, 0, 0] for _ in range(3)]
    for column, row, n in db.session.execute(query.group_by(bx, by)):
        cells[2 - int(row)][int(column)] += n
    return NineBox(box, cells)


# --------------------------------------------------------------------------- board rows


@dataclass
class BoardRow:
    """One appraisal on the board as its reader may see it."""

    appraisal: Appraisal
    shown: dict[str, Any]  # the calibration's ``show`` fields this reader may see
    grades: list[str]  # the grades an override may give (empty: the reader may not override)
    votes: list[str]  # who signed this calibration off so far


def board_rows(items: Sequence[Appraisal], user: User) -> list[BoardRow]:
    """The page's appraisals with what the board shows of each (a page: bounded work; the
    sign-off votes of the whole page are one query)."""
    cast: dict[tuple[int, str], list[str]] = {}
    if items:
        found = db.session.execute(
            select(Vote.appraisal_id, Vote.entry_seq, Vote.trigger, User.name)
            .join(User, Vote.user_id == User.id)
            .where(Vote.appraisal_id.in_([a.id for a in items]))
            .order_by(Vote.id)
        )
        seq = {a.id: a.entry_seq for a in items}
        for appraisal_id, entry_seq, trigger, name in found:
            if entry_seq == seq[appraisal_id]:
                cast.setdefault((appraisal_id, trigger), []).append(name)
    rows = []
    for a in items:
        ctx = context(a)
        step = ctx.workflow.calibration
        roles = appraisals_svc.roles_of(ctx, user)
        if a.employee_id != user.id:  # on their own row a head is the person appraised
            roles |= board_roles(user)
        hidden = withheld(ctx.form, roles)
        fields = step.rules.show if step else []
        shown = {f: (a.values or {}).get(f) for f in fields if f not in hidden}
        policy = ctx.policy
        grades = [g.grade for g in policy.grades] if policy and may_override(ctx, user) else []
        votes = cast.get((a.id, step.sign_off.trigger), []) if step else []
        rows.append(BoardRow(a, shown, grades, votes))
    return rows


def column_labels(cycle: Cycle, rows: Sequence[BoardRow]) -> dict[str, Any]:
    """The label of each ``show`` column, from the form of the first row (forms share them)."""
    step = step_for(cycle)
    if step is None or not rows:
        return {}
    fields = {f.id: f for f in context(rows[0].appraisal).form.fields()}
    return {f: fields[f].label if f in fields else f for f in step.rules.show}


# --------------------------------------------------------------------------- provisional


def provisional(ctx: Context) -> bool:
    """Whether the appraisal's result awaits the sign-off of calibration: computed, in a
    workflow that calibrates, and not yet signed off (an appeal makes it provisional again)."""
    a = ctx.appraisal
    step = ctx.workflow.calibration
    if step is None or a.score is None or step.final(a.state):
        return False
    return not ctx.final


# --------------------------------------------------------------------------- overrides


def may_override(ctx: Context, user: User) -> bool:
    """Whether ``user`` may change this appraisal's grade now."""
    step = ctx.workflow.calibration
    if step is None or ctx.appraisal.state != step.state or ctx.appraisal.pending_trigger:
        return False
    if ctx.policy is None or not ctx.policy.grades or ctx.appraisal.score is None:
        return False
    if user.id == ctx.appraisal.employee_id:
        return False  # nobody calibrates their own grade
    return bool(appraisals_svc.roles_of(ctx, user) & set(step.rules.override))


def override(
    cycle: Cycle | None,
    appraisal_id: int,
    user: User,
    grade: str,
    reason: str,
    expected_version: int | None,
) -> Appraisal:
    """Give the appraisal ``grade`` (the bonus follows by the policy; the scores never change),
    keeping the original grade, who, when and why; the original grade itself takes the
    override back. All or nothing, audited."""
    with appraisals_svc.one_writer():
        a = get(appraisal_id)
        if cycle is not None and a.cycle_id != cycle.id:
            raise NotFound("appraisal %(id)s is not in this cycle", id=appraisal_id)
        ctx = context(a)
        appraisals_svc.require_view(ctx, user)
        appraisals_svc.check_version(a, expected_version)
        step = ctx.workflow.calibration
        if step is None or a.state != step.state:
            raise TransitionNotAllowed("a grade can be changed only while it is being calibrated")
        if not may_override(ctx, user):
            raise PermissionDenied("you may not change grades in this calibration")
        assert ctx.policy is not None
        known = [g.grade for g in ctx.policy.grades]
        if grade not in known:
            raise ValidationFailed("choose one of the grades %(grades)s", grades=", ".join(known))
        reason = _reason(reason)
        before = {"grade": a.grade, "bonus": a.bonus}
        original = (a.override or {}).get("original") or a.grade
        if grade == original:
            a.override = None
        else:
            a.override = {
                "grade": grade,
                "original": original,
                "by": user.id,
                "by_name": user.name,
                "at": utcnow().isoformat(timespec="seconds"),
                "reason": reason,
            }
        appraisals_svc.compute_scores(ctx)
        changes = {k: [v, getattr(a, k)] for k, v in before.items() if v != getattr(a, k)}
        db.session.add(
            appraisals_svc.event(
                a, user, "override", from_state=a.state, comment=reason, changes=changes or None
            )
        )
        db.session.commit()
        return a


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ValidationFailed("say why the grade changes: a reason is required")
    if untypable(text):
        raise ValidationFailed("the reason holds control characters or broken symbols; remove them")
    if len(text) > COMMENT_LIMIT:
        raise ValidationFailed("a reason may be at most %(max)s characters long", max=COMMENT_LIMIT)
    return text


# --------------------------------------------------------------------------- batch sign-off


@dataclass
class SignOff:
    """What a batch sign-off did."""

    signed: int = 0  # votes cast
    completed: int = 0  # appraisals whose calibration is now signed off
    skipped: int = 0  # in calibration, but not this person's to sign (or signed already)
    departments: list[str] = field(default_factory=list)


def latest_event_id() -> int:
    """The newest audit event: a board remembers it, and a sign-off made from the board
    refuses every appraisal of its scope that changed after it."""
    return int(db.session.scalar(select(func.max(Event.id))) or 0)


def stale(cycle: Cycle, step: CalibrationStep, scope: Scope, as_of: int) -> list[Appraisal]:
    """Appraisals of the scope that changed after event ``as_of`` and are (or were) in
    calibration: the board that was signed from did not show them as they are."""
    changed = (
        select(Appraisal.id)
        .join(Event, Event.appraisal_id == Appraisal.id)
        .where(
            Event.id > as_of,
            Event.cycle_id == cycle.id,
            Event.kind != "comment",  # a comment changes nothing the board shows
            (Appraisal.state.in_(step.population)) | (Event.from_state == step.state),
        )
        .distinct()
        .order_by(Appraisal.id)
        .limit(MAX_STALE_SHOWN + 1)
    )
    if scope.departments is not None:
        changed = changed.where(Appraisal.department_id.in_(scope.departments))
    ids = list(db.session.scalars(changed))
    if not ids:
        return []
    return list(
        db.session.scalars(select(Appraisal).where(Appraisal.id.in_(ids)).order_by(Appraisal.id))
    )


def board_token(cycle: Cycle, scope: Scope) -> str:
    """What a board was shown as: the newest event then, and a digest of the versions of the
    scope's appraisals in calibration. A sign-off from the board posts it back."""
    step = step_for(cycle)
    rows = _in_calibration(cycle, step, scope) if step else []
    return f"{latest_event_id()}.{_digest(rows)}"


def _in_calibration(cycle: Cycle, step: CalibrationStep, scope: Scope) -> list[Any]:
    """(id, department, version) of every appraisal in calibration in ``scope``, by
    department and id (one indexed read)."""
    query = select(Appraisal.id, Appraisal.department_id, Appraisal.version).where(
        Appraisal.cycle_id == cycle.id, Appraisal.state == step.state
    )
    if scope.departments is not None:
        query = query.where(Appraisal.department_id.in_(scope.departments))
    return list(db.session.execute(query.order_by(Appraisal.department_id, Appraisal.id)))


def _digest(rows: list[Any]) -> str:
    """A digest of the (id, version) of ``rows`` (as :func:`_in_calibration` orders them)."""
    text = ",".join(f"{ident}:{version}" for ident, _dept, version in rows)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _parse_token(token: str | None) -> tuple[int, str] | None:
    event, _, digest = (token or "").partition(".")
    if not (event.isascii() and event.isdigit() and len(event) <= 18 and len(digest) == 20):
        return None
    return int(event), digest


def sign_off(
    defs: DefinitionSet,
    cycle: Cycle,
    user: User,
    scope: Scope,
    token: str | None,
    comment: str | None,
) -> SignOff:
    """Sign off every appraisal in calibration in ``scope`` that is ``user``'s to sign:
    one vote (and, when it completes the approval, one transition) per appraisal, each
    audited, in one transaction per department.

    Refused as a whole, before anything is written, when an appraisal of the scope changed
    after the board was shown (``token``: the board's :func:`board_token`), when a hard quota
    is broken, or when a soft one is broken and there is no comment. Each department's
    transaction checks again that its appraisals are as they were: one that changed in
    between stops the batch there, and the message says which departments were signed."""
    step = step_for(cycle)
    if step is None:
        raise TransitionNotAllowed("this cycle's workflow has no calibration step")
    shown = _parse_token(token)
    if shown is None:
        raise ValidationFailed(
            "the board this was signed from is not named; reload the board — nothing was changed"
        )
    rows = _in_calibration(cycle, step, scope)
    if _digest(rows) != shown[1]:
        raise _changed(stale(cycle, step, scope, shown[0]))
    text = (comment or "").strip() or None
    if text is not None:
        text = _reason(text)
    shares = distribution(defs, cycle, scope)
    if shares.hard:
        raise ValidationFailed(
            "the grades break a hard quota (%(grades)s); change grades before signing off — "
            "nothing was changed",
            problems=[_issue_text(g, i) for g, i in shares.hard],
            grades=_grades_of(shares.hard),
        )
    if shares.issues and text is None:
        raise ValidationFailed(
            "the grades break a quota (%(grades)s); say in a comment why they stand — nothing "
            "was changed",
            problems=[_issue_text(g, i) for g, i in shares.issues],
            grades=_grades_of(shares.issues),
        )
    versions = {ident: version for ident, _dept, version in rows}
    by_department: dict[str, list[int]] = {}
    for ident, department, _version in rows:
        by_department.setdefault(department, []).append(ident)
    outcome = SignOff()
    for department, ids in by_department.items():
        try:
            signed, completed, skipped = appraisals_svc.approve_many(
                ids, user, step.sign_off.trigger, text, versions
            )
        except Conflict as exc:
            if not outcome.departments:
                raise
            raise Conflict(
                "signed off %(done)s; then %(department)s changed meanwhile and nothing there "
                "or after it was signed: reload the board and sign off the rest",
                done=", ".join(outcome.departments),
                department=department,
            ) from exc
        outcome.signed += signed
        outcome.completed += completed
        outcome.skipped += skipped
        if signed:
            outcome.departments.append(department)
    if not outcome.signed:
        raise TransitionNotAllowed(
            "nothing here awaits your sign-off: every appraisal in calibration is signed by you "
            "already or needs someone else"
        )
    return outcome


def _changed(changed: list[Appraisal]) -> Conflict:
    """The refusal of a board that changed, naming what changed when the audit trail says."""
    if not changed:
        return Conflict(
            "the board changed since it was shown; reload it and sign off again — nothing was "
            "changed"
        )
    return Conflict(
        "these appraisals changed since the board was shown: %(names)s%(more)s; reload the "
        "board and sign off again — nothing was changed",
        names=_names(changed[:MAX_STALE_SHOWN]),
        more=" …" if len(changed) > MAX_STALE_SHOWN else "",
    )


def _names(rows: Iterable[Appraisal]) -> str:
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(
        [a.employee_id for a in rows])))}  # fmt: skip
    return ", ".join(
        f"{people[a.employee_id].name} ({people[a.employee_id].employee_no})"
        if a.employee_id in people
        else str(a.id)
        for a in rows
    )


def _grades_of(issues: Sequence[tuple[Group, QuotaIssue]]) -> str:
    return ", ".join(dict.fromkeys(i.grade for _, i in issues))


def _issue_text(group: Group, issue: QuotaIssue) -> str:
    where = group.department or "company"
    return f"{where}: {issue.message}"


def board_roles(user: User) -> frozenset[str]:
    """The roles a board reader looks with (what fields it may show)."""
    held = {r for r in (user.roles or []) if r in GLOBAL_ROLES}
    return frozenset(held or {"dept_head"})


def summary(cycle: Cycle, scope: Scope) -> dict[str, Any]:
    """Counts for the board's header: in calibration, signed off, overridden."""
    step = step_for(cycle)
    out = {"calibrating": 0, "signed": 0, "overridden": 0}
    if step is None:
        return out
    for t in _tally(cycle, step):
        if scope.covers(t.department):
            out["calibrating" if t.state == step.state else "signed"] += t.count
            out["overridden"] += t.overridden
    return out

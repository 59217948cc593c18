"""PDCA: a person's previous appraisal beside the new plan, and its targets carried forward.

When a plan is being written, the previous appraisal of the same person (the one of the
latest cycle that ended before this one began) shows its KPIs' targets, actuals and scores,
its total and grade, and the fields the new form names in ``review_previous`` (typically the
improvement plan agreed at the end of it). Whoever may set targets now can copy the previous
targets of the KPIs both forms share; the copy goes through the normal save, so it is checked,
permitted and audited like typing them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from opsperf.definitions.schema import AnyField, KpiTableField
from opsperf.engine.forms import withheld
from opsperf.errors import ValidationFailed
from opsperf.persistence.models import Appraisal, Cycle, User, db
from opsperf.services import appraisals, calibration
from opsperf.services.context import Context, context, get


@dataclass
class PreviousKpi:
    table: str
    kpi: str
    name: Any  # Text
    unit: str | None
    target: float | None
    actual: float | None
    score: float | None


@dataclass
class Previous:
    """The previous appraisal as ``user`` may read it."""

    appraisal: Appraisal
    provisional: bool = False  # its result is not final yet (still before calibration)
    kpis: list[PreviousKpi] = field(default_factory=list)
    reviewed: list[tuple[AnyField, Any]] = field(default_factory=list)
    copyable: dict[tuple[str, str], float] = field(default_factory=dict)


def previous_appraisal(a: Appraisal) -> Appraisal | None:
    """The person's assessed appraisal of the latest cycle that ended before this one began
    (the person's own appraisals only: an indexed lookup by employee)."""
    found: Appraisal | None = db.session.scalar(
        select(Appraisal)
        .join(Cycle, Cycle.id == Appraisal.cycle_id)
        .where(
            Appraisal.employee_id == a.employee_id,
            Appraisal.id != a.id,
            Cycle.period_end < a.cycle.period_start,
            Appraisal.score.is_not(None),  # assessed: not one cancelled or left unfinished
        )
        .order_by(Cycle.period_end.desc(), Appraisal.id.desc())
        .limit(1)
    )
    return found


def previous_of(ctx: Context, user: User) -> Previous | None:
    """What the new plan shows of the previous appraisal, if there is one ``user`` may see."""
    before = previous_appraisal(ctx.appraisal)
    if before is None:
        return None
    then = context(before)
    if not appraisals.can_view(then, user):
        return None
    hidden = withheld(then.form, appraisals.roles_of(then, user))
    out = Previous(before, calibration.provisional(then))
    # what the result was computed from: worked-out actuals are kept there, not in the values
    computed = {
        (t.get("field"), k.get("kpi")): k
        for t in (before.result or {}).get("kpis", [])
        for k in t.get("kpis", [])
    }
    values = before.values or {}
    for f in then.form.fields():
        if not isinstance(f, KpiTableField) or f.id in hidden:
            continue
        rows = values.get(f.id) or {}
        for k in f.kpis:
            row = rows.get(k.id) or {}
            scored = computed.get((f.id, k.id)) or {}
            target = scored.get("target", row.get("target"))
            out.kpis.append(
                PreviousKpi(
                    f.id,
                    k.id,
                    k.name,
                    k.unit,
                    target if target is not None else k.target,
                    scored.get("actual", row.get("actual")),
                    scored.get("score"),
                )
            )
    named = {f.id: f for f in then.form.fields()}
    for ident in ctx.form.review_previous:
        shown = named.get(ident)
        if shown is not None and ident not in hidden and values.get(ident) not in (None, "", []):
            out.reviewed.append((shown, values.get(ident)))
    rights = appraisals.rights_of(ctx, user)
    now = {(f.id, k.id): (f, k) for f in ctx.form.fields() if isinstance(f, KpiTableField)
           for k in f.kpis}  # fmt: skip
    for kpi in out.kpis:
        mine = now.get((kpi.table, kpi.kpi))
        if mine is not None and kpi.target is not None and rights.cell(mine[0], kpi.kpi, "target"):
            out.copyable[(kpi.table, kpi.kpi)] = kpi.target
    return out


def copy_targets(
    appraisal_id: int, user: User, expected_version: int | None
) -> appraisals.SaveOutcome:
    """Set this plan's targets to the previous appraisal's, for the KPIs both share and
    ``user`` may set now (a normal save: checked, permitted and audited)."""
    ctx = context(get(appraisal_id))
    appraisals.require_view(ctx, user)
    found = previous_of(ctx, user)
    if found is None or not found.copyable:
        raise ValidationFailed("there are no earlier targets you could copy into this plan")
    data: MultiDict[str, str] = MultiDict()
    for (table, kpi), target in found.copyable.items():
        data.add(f"{table}-{kpi}-target", repr(float(target)))  # every digit, as stored
    return appraisals.save(appraisal_id, user, data, expected_version)

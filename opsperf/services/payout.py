"""The payout sheet for payroll: the signed-off results of a cycle (or a department subtree),
one row per person, as values: amounts are exact decimals rounded as the policy says, and text
a spreadsheet would run is written as text (``services.exports``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from opsperf.definitions.loader import DefinitionSet
from opsperf.definitions.schema import IncentivePolicy, Text
from opsperf.engine.scoring import money_decimal
from opsperf.errors import NotFound
from opsperf.persistence.models import Appraisal, Cycle, Job, User, db
from opsperf.services import exports, jobs, snapshots
from opsperf.services.calibration import Scope
from opsperf.services.context import compiled_workflow

BATCH = 500
PAYOUT_JOB = "payout_sheet"

KEYS = ["employee_no", "name", "department", "position", "score", "grade", "original_grade",
        "override_reason", "bonus_multiplier", "bonus_coefficient", "bonus", "actions",
        "definitions"]  # fmt: skip
HEADERS = {
    "zh": ["工号", "姓名", "部门", "岗位", "得分", "最终等级", "原等级", "调整理由", "等级系数",
           "部门系数", "奖金", "后续措施", "定义版本"],
    "en": ["Employee no.", "Name", "Department", "Position", "Score", "Final grade",
           "Original grade", "Reason for the change", "Grade multiplier",
           "Department coefficient", "Bonus", "Actions", "Definition versions"],
}  # fmt: skip


def filename(cycle: Cycle, scope: Scope, kind: str) -> str:
    return f"payout-{cycle.id}-{scope.root or 'all'}.{kind}"


def disposition(name: str) -> str:
    return f'attachment; filename="{name}"'


def _final_states(cycle: Cycle) -> list[str]:
    """Where a result is final: signed off at calibration, or (a workflow without it) a final
    state reached on the normal path — a cancelled appraisal is not paid."""
    return sorted(compiled_workflow(cycle.workflow_snapshot_id or 0).result_final)


def _final(cycle: Cycle, scope: Scope) -> Any:
    """The condition of the final results of ``scope``."""
    condition = (
        (Appraisal.cycle_id == cycle.id)
        & Appraisal.state.in_(_final_states(cycle))
        & Appraisal.score.is_not(None)
    )
    if scope.departments is not None:
        condition &= Appraisal.department_id.in_(scope.departments)
    return condition


def count(cycle: Cycle, scope: Scope) -> int:
    """How many rows the sheet has."""
    return int(db.session.scalar(select(func.count()).where(_final(cycle, scope))) or 0)


def _appraisals(
    cycle: Cycle, scope: Scope, offset: int = 0, limit: int | None = None
) -> Iterator[Appraisal]:
    """The cycle's final results in ``scope``, by department and employee number, streamed
    (or one page of them)."""
    query = (
        select(Appraisal)
        .options(joinedload(Appraisal.employee))
        .where(_final(cycle, scope))
        .order_by(Appraisal.department_id, Appraisal.id)
        .execution_options(yield_per=BATCH)
    )
    if limit is not None:
        query = query.offset(offset).limit(limit)
    yield from db.session.scalars(query)


def _text(value: Any, language: str) -> str:
    if isinstance(value, dict):
        return str(value.get(language) or value.get("zh") or value.get("en") or "")
    if isinstance(value, Text):
        return value.get(language)
    return str(value or "")


def rows(
    defs: DefinitionSet,
    cycle: Cycle,
    scope: Scope,
    language: str,
    offset: int = 0,
    limit: int | None = None,
) -> Iterator[list[Any]]:
    """The sheet's rows (without the header); the live tree names departments and positions."""
    departments = defs.departments
    for a in _appraisals(cycle, scope, offset, limit):
        result = a.result or {}
        grade = result.get("grade") or {}
        bonus = result.get("bonus") or {}
        override = a.override or {}
        dept = departments.get(a.department_id)
        position = (
            next((p.name for p in dept.positions if p.id == a.position_id), None) if dept else None
        )
        policy: IncentivePolicy | None = (
            snapshots.definition(a.policy_snapshot_id) if a.policy_snapshot_id else None
        )
        amount: Decimal | None = None
        if a.bonus is not None:
            amount = money_decimal(a.bonus, policy.rounding) if policy else Decimal(repr(a.bonus))
        inputs = bonus.get("inputs") or {}
        actions = [
            _text(f.get("label"), language) or str(f.get("id", ""))
            for f in grade.get("follow_ups") or []
        ]
        yield [
            a.employee.employee_no,
            a.employee.name,
            _text(dept.name, language) if dept else a.department_id,
            _text(position, language) if position else a.position_id,
            Decimal(repr(a.score)) if a.score is not None else None,
            a.grade,
            override.get("original"),
            override.get("reason"),
            grade.get("bonus_multiplier"),
            (inputs.get("department") or {}).get("bonus_coefficient"),
            amount,
            "、".join(actions) if language == "zh" else ", ".join(actions),
            _versions(result.get("definitions") or {}),
        ]


def _versions(definitions: dict[str, Any]) -> str:
    return "; ".join(
        f"{kind} {d.get('id')} v{d.get('version')}"
        for kind, d in definitions.items()
        if isinstance(d, dict)
    )


def header(language: str) -> Sequence[str]:
    return HEADERS.get(language, HEADERS["en"])


def xlsx(defs: DefinitionSet, cycle: Cycle, scope: Scope, language: str) -> bytes:
    return exports.xlsx("payout", header(language), rows(defs, cycle, scope, language))


def csv_text(defs: DefinitionSet, cycle: Cycle, scope: Scope, language: str) -> str:
    """The sheet as CSV, with a byte-order mark first (Excel then reads UTF-8)."""
    return exports.csv_text(header(language), rows(defs, cycle, scope, language))


def create_job(actor: User, cycle: Cycle, scope: Scope, kind: str, language: str) -> Job:
    """A payout sheet too large to make in a request, made in the background."""
    params = {
        "cycle_id": cycle.id,
        "root": scope.root,
        "departments": list(scope.departments) if scope.departments is not None else None,
        "kind": kind,
        "lang": language,
    }
    return jobs.create(PAYOUT_JOB, actor, params=params, subject=f"payout:{cycle.id}")


@jobs.handler(PAYOUT_JOB)
def payout_job(defs: DefinitionSet, job: Job, progress: jobs.Progress) -> dict[str, Any]:
    """Make the sheet a job's parameters name, reporting progress every 500 rows."""
    params = job.params
    cycle = db.session.get(Cycle, int(params["cycle_id"]))
    if cycle is None:
        raise NotFound("cycle %(id)s does not exist", id=params["cycle_id"])
    departments = params.get("departments")
    scope = Scope(params.get("root"), tuple(departments) if departments is not None else None)
    language, kind = str(params.get("lang", "zh")), str(params.get("kind", "xlsx"))
    total = count(cycle, scope)
    progress(0, total)
    body = jobs.counted(rows(defs, cycle, scope, language), total, progress, BATCH)

    if kind == "csv":
        job.output = exports.csv_text(header(language), body).encode("utf-8")
    else:
        job.output = exports.xlsx("payout", header(language), body)
    job.output_name = filename(cycle, scope, kind)
    progress(total, total)
    return {"rows": total}

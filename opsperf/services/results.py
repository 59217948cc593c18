"""A cycle's results as a spreadsheet: every appraisal the cycle page lists with its filters,
one row each — who, where it stands, the score, grade and bonus, and each KPI's score.

Streamed from the database a few hundred rows at a time; a sheet of more rows than
``PAYOUT_INLINE_ROWS`` is made by a background job (as the payout sheet is). Every text cell
is made safe for spreadsheet programs (``services.exports``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import joinedload

from opsperf.definitions import statetree
from opsperf.definitions.loader import DefinitionSet
from opsperf.definitions.schema import KpiTableField, Text
from opsperf.persistence.models import Appraisal, Cycle, Job, db, utcnow
from opsperf.services import exports, jobs, snapshots
from opsperf.services.context import compiled_workflow
from opsperf.services.cycles import SORTS, AppraisalFilter, filtered

RESULTS_JOB = "results_sheet"
BATCH = 500
HEADERS = {
    "zh": ["工号", "姓名", "部门", "岗位", "上级", "环节", "截止时间", "得分", "等级", "奖金",
           "各 KPI 得分", "定义版本"],
    "en": ["Employee no.", "Name", "Department", "Position", "Manager", "Step", "Due",
           "Score", "Grade", "Bonus", "KPI scores", "Definition versions"],
}  # fmt: skip


def header(language: str) -> Sequence[str]:
    return HEADERS.get(language, HEADERS["en"])


def count(cycle: Cycle, only: AppraisalFilter) -> int:
    return int(db.session.scalar(filtered(cycle, only, utcnow(), func.count(Appraisal.id))) or 0)


def filename(cycle: Cycle, kind: str) -> str:
    return f"results-{cycle.id}.{kind}"


def _text(value: Text | str | None, language: str) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else value.get(language)


def _state(cycle: Cycle, path: str, language: str) -> str:
    workflow = compiled_workflow(cycle.workflow_snapshot_id or 0)
    parts = []
    for ancestor in statetree.ancestors(path):
        state = workflow.states.get(ancestor)
        name = ancestor.rsplit(".", 1)[-1]
        parts.append(_text(state.label, language) or name if state is not None else name)
    return " · ".join(parts)


def _kpis(a: Appraisal, language: str) -> str:
    """Each KPI's score as the result holds it (or nothing before there is one)."""
    form = snapshots.definition(a.form_snapshot_id)
    names = {
        (f.id, k.id): _text(k.name, language)
        for f in form.fields()
        if isinstance(f, KpiTableField)
        for k in f.kpis
    }
    parts = []
    for table in (a.result or {}).get("kpis") or []:
        for k in table.get("kpis") or []:
            if k.get("score") is None:
                continue
            name = names.get((table.get("field"), k.get("kpi"))) or str(k.get("kpi"))
            parts.append(f"{name} {k['score']:g}")
    return "; ".join(parts)


def rows(
    defs: DefinitionSet, cycle: Cycle, only: AppraisalFilter, language: str
) -> Iterator[list[Any]]:
    departments = defs.departments
    query = (
        filtered(cycle, only, utcnow(), Appraisal)
        .options(joinedload(Appraisal.employee), joinedload(Appraisal.manager))
        .order_by(*SORTS.get(only.sort, SORTS["employee_no"]))
        .execution_options(yield_per=BATCH)
    )
    for a in db.session.scalars(query):
        dept = departments.get(a.department_id)
        position = (
            next((p.name for p in dept.positions if p.id == a.position_id), None) if dept else None
        )
        definitions = (a.result or {}).get("definitions") or {}
        yield [
            a.employee.employee_no,
            a.employee.name,
            _text(dept.name, language) if dept else a.department_id,
            _text(position, language) if position else a.position_id,
            a.manager.name if a.manager else "",
            _state(cycle, a.state, language),
            a.due_at.replace(microsecond=0) if isinstance(a.due_at, dt.datetime) else None,
            a.score,
            a.grade,
            a.bonus,
            _kpis(a, language),
            "; ".join(
                f"{kind} {d.get('id')} v{d.get('version')}"
                for kind, d in definitions.items()
                if isinstance(d, dict)
            ),
        ]


def sheet(defs: DefinitionSet, cycle: Cycle, only: AppraisalFilter, kind: str, language: str,
          body: Any = None) -> bytes:  # fmt: skip
    """The sheet as bytes: CSV (UTF-8 with a byte-order mark) or XLSX."""
    body = body if body is not None else rows(defs, cycle, only, language)
    if kind == "csv":
        return exports.csv_text(header(language), body).encode("utf-8")
    return exports.xlsx("results", header(language), body)


def create_job(user: Any, cycle: Cycle, only: AppraisalFilter, kind: str, language: str) -> Job:
    params = {"cycle_id": cycle.id, "kind": kind, "lang": language, "only": asdict(only)}
    return jobs.create(RESULTS_JOB, user, params=params, subject=f"results:{cycle.id}")


@jobs.handler(RESULTS_JOB)
def results_job(defs: DefinitionSet, job: Job, progress: jobs.Progress) -> dict[str, Any]:
    from opsperf.services import cycles

    params = job.params
    cycle = cycles.get(int(params["cycle_id"]))
    given = params.get("only") or {}
    only = AppraisalFilter(**{**given, "departments": tuple(given.get("departments") or ())})
    language, kind = str(params.get("lang", "zh")), str(params.get("kind", "xlsx"))
    total = count(cycle, only)
    progress(0, total)
    body = jobs.counted(rows(defs, cycle, only, language), total, progress, BATCH)
    job.output = sheet(defs, cycle, only, kind, language, body)
    job.output_name = filename(cycle, kind)
    progress(total, total)
    return {"rows": total}

"""Demo data for the shipped template pack: people, a running cycle, appraisals in every phase."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from werkzeug.datastructures import MultiDict

from opsperf.definitions.loader import DefinitionSet
from opsperf.definitions.schema import (
    AnyField,
    CheckboxField,
    ChoiceField,
    ColumnField,
    DateField,
    KpiTableField,
    NumberField,
    RatingField,
    TableField,
    TextField,
)
from opsperf.errors import OpsperfError
from opsperf.persistence.models import Appraisal, Cycle, User, db
from opsperf.services import appraisals, calibration, checkins, cycles, goals, people
from opsperf.services.context import context
from opsperf.services.context import get as get_appraisal

PASSWORD = "demo1234"

# employee_no, name, department, position, manager, roles
PEOPLE = [
    ("admin", "系统管理员", "company", "", "", "admin"),
    ("ceo", "高建国", "company", "", "", ""),
    ("hr01", "王芳", "company", "", "ceo", "hr"),
    ("s100", "张伟", "sales", "sales_director", "ceo", ""),
    ("s101", "李娜", "sales", "sales_rep", "s100", ""),
    ("s102", "刘洋", "sales", "sales_rep", "s100", ""),
    ("s103", "陈静", "sales", "key_account_manager", "s100", ""),
    ("m100", "赵敏", "marketing", "marketing_manager", "ceo", ""),
    ("m101", "孙强", "marketing", "marketing_specialist", "m100", ""),
    ("m102", "周杰", "marketing", "brand_manager", "m100", ""),
    ("p100", "吴刚", "production", "production_manager", "ceo", ""),
    ("p101", "郑涛", "production", "production_operator", "p100", ""),
    ("p102", "王磊", "production", "workshop_supervisor", "p100", "workshop_lead"),
    ("c100", "冯雪", "customer_service", "service_manager", "ceo", ""),
    ("c101", "何静", "customer_service", "service_agent", "c100", ""),
    ("c102", "许婷", "customer_service", "service_agent", "c100", ""),
    ("c103", "马超", "customer_service", "service_agent", "c100", ""),
    ("c104", "唐嘉", "customer_service", "service_agent", "c100", ""),
    ("c105", "邓洁", "customer_service", "service_agent", "c100", ""),
    ("c106", "曹阳", "customer_service", "service_agent", "c100", ""),
]

# Which step each demo appraisal is walked to, by trigger sequence. The department heads have
# agreed their plans; 孙强's waits for his manager's approval and 王磊 has not written his yet:
# after the plan deadline theirs are the only late steps, as in a real quarter.
WALKS: dict[str, list[str]] = {
    "s100": ["submit_plan", "@actuals"],
    "m100": ["submit_plan", "@actuals"],
    "p100": ["submit_plan", "@actuals"],
    "c100": ["submit_plan", "@actuals"],
    "s101": ["submit_plan", "start_assessment", "submit_self", "submit_review", "sign_off"],
    "s102": ["submit_plan", "start_assessment", "submit_self"],
    "s103": ["submit_plan", "@actuals"],
    "m101": ["@request_plan"],
    "m102": [
        "submit_plan",
        "start_assessment",
        "submit_self",
        "submit_review",
        "sign_off",
        "acknowledge",
    ],
    "p101": ["submit_plan", "start_assessment"],
    # 客服部 calibrates five agents whose grades break the A quota; c106 is still on
    # her self-assessment
    **{
        no: ["submit_plan", "start_assessment", "submit_self", "submit_review"]
        for no in ("c101", "c102", "c103", "c104", "c105")
    },
    "c106": ["submit_plan", "start_assessment"],
}
# The head of 客服部 has already moved one grade down a step at calibration.
OVERRIDE_REASON = "与组内同事横向对比，其首次解决率略低于同组平均，校准下调一档。"

TEXTS = [
    "本季度重点客户拜访 36 次，新签 3 个年度框架合同，回款节奏明显改善。",
    "按计划推进各项关键举措，数据按月录入，偏差在月度复盘中及时纠正。",
    "与市场部协同举办 2 场行业沙龙，线索转化率较上季度提升。",
    "下季度继续聚焦重点行业，提升大客户覆盖率，并加强团队新人带教。",
]


def people_rows() -> list[dict[str, str]]:
    return [
        {
            "employee_no": no,
            "name": name,
            "email": f"{no}@demo.opsperf",
            "department": dept,
            "position": pos,
            "manager": mgr,
            "roles": roles,
            "password": PASSWORD,
        }
        for no, name, dept, pos, mgr, roles in PEOPLE
    ]


def seed(
    defs: DefinitionSet, today: dt.date | None = None, password_method: str | None = None
) -> None:
    """Create the demo people and a cycle with appraisals in several states (idempotent)."""
    if db.session.query(Appraisal).first() is not None:
        return
    result = people.import_people(defs, people_rows(), password_method=password_method)
    if result.problems:
        raise OpsperfError(
            "demo people do not fit the definitions: %(problems)s",
            problems="; ".join(str(p) for p in result.problems),
        )
    today = today or dt.date.today()
    quarter_start = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    end_month = quarter_start.month + 2
    quarter_end = dt.date(today.year, end_month, 28) + dt.timedelta(days=4)
    quarter_end -= dt.timedelta(days=quarter_end.day)
    workflow = next(iter(defs.workflows))
    hr = _user("hr01")
    _last_quarter(defs, workflow, quarter_start, hr)
    launched = cycles.launch(
        defs,
        name=f"{today.year} Q{(today.month - 1) // 3 + 1} 季度绩效考核",
        workflow_id=workflow,
        period_start=quarter_start,
        period_end=quarter_end,
        department_ids=[d.id for d in defs.departments.values() if d.parent is None],
        actor=hr,
    )
    _record_output(defs, launched.cycle, quarter_start, quarter_end, today)
    rng = random.Random(2026)
    for appraisal in launched.cycle.appraisals:
        walk = WALKS.get(appraisal.employee.employee_no, [])
        _walk(appraisal.id, walk, rng, today)
    _override_one(launched.cycle.appraisals, _user("c100"))


# Last quarter's appraisals of 生产部, closed: beside this quarter's plans they show what was
# reached and the improvement plans agreed (PDCA); against them the dashboards draw the trend and
# who rose or fell since.
LAST_QUARTER = ["submit_plan", "start_assessment", "submit_self", "submit_review", "sign_off",
                "acknowledge"]  # fmt: skip


def _last_quarter(defs: DefinitionSet, workflow: str, quarter_start: dt.date, hr: User) -> None:
    top = [d.id for d in defs.departments.values() if d.parent is None]
    if not top:
        return
    end = quarter_start - dt.timedelta(days=1)
    start = dt.date(end.year, 3 * ((end.month - 1) // 3) + 1, 1)
    launched = cycles.launch(
        defs,
        name=f"{end.year} Q{(end.month - 1) // 3 + 1} 季度绩效考核",
        workflow_id=workflow,
        period_start=start,
        period_end=end,
        department_ids=top,
        actor=hr,
    )
    _record_output(defs, launched.cycle, start, end, end)
    rng = random.Random(2025)  # its own: this quarter's figures stay as they are
    for appraisal in launched.cycle.appraisals:
        _walk(appraisal.id, LAST_QUARTER, rng, end)


def _record_output(
    defs: DefinitionSet, cycle: Cycle, start: dt.date, end: dt.date, today: dt.date
) -> None:
    """The workshop's output so far this quarter, recorded once by its recorder (王磊) for
    everyone in the workshop: about on plan for the part of the quarter gone by."""
    department = defs.departments.get("production")
    if department is None or not any(g.id == "workshop_output" for g in department.goals):
        return
    gone = min(max((today - start).days + 1, 1) / ((end - start).days + 1), 1.0)
    target = next(g.target for g in department.goals if g.id == "workshop_output") or 0
    goals.record(
        defs, cycle.id, "production", "workshop_output", _user("p102"),
        f"{round(target * gone * 1.03, -1):.0f}", "MES 月报累计合格产出（截至本月）",
    )  # fmt: skip


def _override_one(launched: list[Appraisal], head: User) -> None:
    """The best-graded agent in calibration in 客服部, one grade lower, with a reason."""
    calibrating = [
        a
        for a in launched
        if a.department_id == "customer_service" and a.state == "assess.calibration" and a.grade
    ]
    if not calibrating:
        return
    top = max(calibrating, key=lambda a: (a.score or 0, -a.id))
    ctx = context(top)
    grades = [g.grade for g in ctx.policy.grades] if ctx.policy else []
    if top.grade not in grades or top.grade == grades[-1]:
        return
    lower = grades[grades.index(top.grade) + 1]
    calibration.override(None, top.id, head, lower, OVERRIDE_REASON, top.version)


def _user(employee_no: str) -> User:
    user = people.find_login(employee_no)
    assert user is not None
    return user


def _walk(
    appraisal_id: int, steps: list[str], rng: random.Random, today: dt.date | None = None
) -> None:
    """Take ``steps`` on the appraisal, filling in what each step needs; check-ins are those
    of the periods begun by ``today`` (all of them when the walk goes on to assessment)."""
    if today is None or "start_assessment" in steps:
        today = dt.date.max
    for step in steps:
        if step == "@actuals":
            _fill_all(appraisal_id, rng, today)
            continue
        if step == "@request_plan":
            _fill_all(appraisal_id, rng, today)
            _act(appraisal_id, "submit_plan", rng, approve=False)
            continue
        _fill_all(appraisal_id, rng, today)
        _act(appraisal_id, step, rng)


def _act(appraisal_id: int, trigger: str, rng: random.Random, approve: bool = True) -> None:
    """Fire ``trigger`` as whoever may; request and collect approvals as needed."""
    for _round in range(4):
        a = get_appraisal(appraisal_id)
        ctx = context(a)
        for user in _everyone(a):
            action = next(
                (
                    x
                    for x in appraisals.actions_for(ctx, user)
                    if x.trigger == trigger and x.kind != "decline"
                ),
                None,
            )
            if action is None:
                continue
            comment = "同意。" if action.comment == "required" else None
            appraisals.fire(appraisal_id, user, trigger, action.kind, comment, a.version)
            if action.kind == "request" and not approve:
                return
            break
        else:
            return
        if get_appraisal(appraisal_id).state != a.state:
            return


def _everyone(a: Appraisal) -> list[User]:
    return list(db.session.query(User).order_by(User.id))


def _fill_all(appraisal_id: int, rng: random.Random, today: dt.date) -> None:
    for user in [get_appraisal(appraisal_id).employee, *_everyone(get_appraisal(appraisal_id))]:
        a = get_appraisal(appraisal_id)
        ctx = context(a)
        rights = appraisals.editable(ctx, appraisals.roles_of(ctx, user))
        if not rights:
            continue
        data: MultiDict[str, str] = MultiDict()
        for f in ctx.form.fields():
            if rights.touches(f) and f.compute is None:
                _fill(f, data, rights, a.values or {}, rng)
        outcome = appraisals.save(appraisal_id, user, data, a.version)
        if outcome.errors:
            raise OpsperfError("demo values rejected: %(errors)s", errors=outcome.errors)
        _check_in(appraisal_id, user, rights, rng, today)


# A note beside the months of one KPI of each form, as people write them when they check in.
CHECKIN_NOTES = {
    "efficiency": [
        "MES 月报：二号线换型时间缩短 20 分钟。",
        "新员工上岗培训两周，效率略有波动。",
        "夜班增开一条包装线，产出回升。",
    ],
    "revenue": [
        "CRM 月报：华东两家渠道商续约，首月回款到位。",
        "大客户年框合同延后至下月签署，本月略低于进度。",
        "季末冲刺：三个项目验收确认收入。",
    ],
    "first_contact_resolution": [
        "工单系统月报：知识库新增 12 条常见问题解答。",
        "新品上市咨询量大，二次来电增多。",
        "升级流程优化后，一线可直接处理退换货。",
    ],
}


def _check_in(
    appraisal_id: int, user: User, rights: Any, rng: random.Random, today: dt.date
) -> None:
    """Monthly check-ins for every period of the cycle begun by ``today``, as the employee
    records them while monitoring (a month at a time): each month a share of the quarter's
    target, give or take."""
    a = get_appraisal(appraisal_id)
    ctx = context(a)
    months: dict[str, dict[str, tuple[str, str]]] = {}
    for table, kpi in checkins.checkin_kpis(ctx.form):
        row = ((a.values or {}).get(table.id) or {}).get(kpi.id) or {}
        if not rights.cell(table, kpi.id, "actual") or row.get("actual") is not None:
            continue
        rule = kpi.series_rule
        assert rule is not None
        target = row.get("target")
        target = float(target if target is not None else (kpi.target or 0))
        periods_all = checkins.cycle_periods(a.cycle, kpi)
        begun = [p for p in periods_all if p.start <= today]
        for index, period in enumerate(begun):
            share = target / len(periods_all) if rule.aggregate == "sum" else target
            if kpi.unit == "%":  # a rate: close to its target, never above 100 %
                value = min(share * rng.uniform(0.97, 1.02), 100.0)
            else:
                value = share * rng.uniform(0.85, 1.2)
            if kpi.unit in ("个", "起"):
                value = float(round(value))
            notes = CHECKIN_NOTES.get(kpi.id, [""])
            note = notes[index % len(notes)]
            months.setdefault(period.key, {})[f"{table.id}.{kpi.id}"] = (f"{value:.1f}", note)
    for month, typed in sorted(months.items()):
        done = checkins.record(a.id, user, month, typed, get_appraisal(a.id).version)
        if done.errors:
            raise OpsperfError("demo check-in rejected: %(errors)s", errors=done.errors)


def _fill(
    f: AnyField, data: MultiDict[str, str], rights: Any, values: dict[str, Any], rng: random.Random
) -> None:
    if isinstance(f, KpiTableField):
        rows = values.get(f.id) or {}
        for kpi in f.kpis:
            agreed = (rows.get(kpi.id) or {}).get("target")
            target = next((t for t in (agreed, kpi.target) if t is not None), 100)
            if rights.cell(f, kpi.id, "target"):
                data.add(f"{f.id}-{kpi.id}-target", str(target))
            if rights.cell(f, kpi.id, "actual") and kpi.typed:
                factor = rng.uniform(0.85, 1.2)
                if kpi.direction == "lower":
                    factor = 2 - factor
                data.add(f"{f.id}-{kpi.id}-actual", str(round(target * factor, 1)))
        return
    if isinstance(f, TableField):
        if f.id in rights.fields and not values.get(f.id):
            data.add(f"{f.id}__rows", "1")
            for column in f.columns:
                value = _sample(column, rng)
                if value is not None:
                    data.add(f"{f.id}-0-{column.id}", value)
        return
    if values.get(f.id) not in (None, "", [], False):
        return
    value = _sample(f, rng)
    if value is not None:
        data.add(f.id, value)


# Fields whose random sample would read as nonsense (an efficiency of 1 unit an hour, a pass
# rate of 490 %): the demo gives them figures that fit the KPIs they check.
FIGURES = {
    "output_qty": "2380",
    "labor_hours": "56.5",
    "inspected_qty": "2400",
    "passed_qty": "2366",
    "tickets_handled": "1260",
    "complaint_tickets": "3",
    "incident_report": "本季度无可记录安全事故；完成两次消防演练和一次设备点检。",
    "owner": "本人，班组长跟进",
}


def _sample(f: AnyField | ColumnField, rng: random.Random) -> str | None:
    drawn = _drawn(f, rng)  # drawn even where a figure is given, so later samples stay as they were
    return FIGURES.get(f.id, drawn) if drawn is not None else None


def _drawn(f: AnyField | ColumnField, rng: random.Random) -> str | None:
    if isinstance(f, TextField):
        text = rng.choice(TEXTS)
        return text[: f.max_length] if f.max_length else text
    if isinstance(f, NumberField):
        low = f.min if f.min is not None else 0
        high = f.max if f.max is not None else low + 100
        if f.type == "integer":
            return str(rng.randint(int(low), int(high)))
        return str(round(rng.uniform(low, high), 1))
    if isinstance(f, DateField):
        return dt.date.today().isoformat()
    if isinstance(f, ChoiceField):
        positive = [c.value for c in f.choices if c.value not in ("disagree", "yes")]
        return (positive or [f.choices[0].value])[0]
    if isinstance(f, CheckboxField):
        return "y"
    if isinstance(f, RatingField):
        return str(rng.choice([3, 4, 4, 5]))
    return None

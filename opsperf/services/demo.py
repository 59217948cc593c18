"""Demo data for the shipped template pack: people, a running cycle, appraisals in every phase."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
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
from opsperf.persistence.models import Appraisal, Cycle, Notification, User, db
from opsperf.services import appraisals, calibration, checkins, cycles, goals, people, steps
from opsperf.services.context import compute_due, context
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
    # signed off, the talk held and written up by 张伟: her answer is still to give
    "s101": [
        "submit_plan",
        "start_assessment",
        "submit_self",
        "submit_review",
        "sign_off",
        "@manager",
    ],
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
# The only steps the demo means to be late: these two plans, once the plan deadline (two weeks
# into the quarter) has passed. Every other deadline lies after the day the demo is seeded.
LATE = {"m101", "p102"}
# The head of 客服部 has already moved one grade down a step at calibration.
OVERRIDE_REASON = "与组内同事横向对比，其首次解决率略低于同组平均，校准下调一档。"

# Random texts are still drawn where a text is written (see ``_sample``), so that the figures
# drawn after them stay as they were; what is typed is always the text written for the field.
TEXTS = ["a", "b", "c", "d"]

# What the people of the demo company write, by form and field ("*": every form). Plans are
# plans (what, how much, by when), numbers agree with the KPI targets of the form.
WRITTEN: dict[str, dict[str, str]] = {
    "sales_quarterly": {
        "plan_summary": (
            "深耕华东装备制造行业：季度销售额 120 万元，新签 12 家客户，回款率不低于 95%"
        ),
        "key_actions": (
            "1. 每周拜访 3 家重点客户，优先覆盖苏州、无锡的装备制造企业，拜访记录当天录入 CRM。\n"
            "2. 第 1 个月底前向华东精密机械有限公司提交二期产线改造方案报价，"
            "第 2 个月进入商务谈判。\n"
            "3. 每月 5 日前与财务核对应收账款，逾期 30 天以上的款项由本人跟进到回款。\n"
            "4. 与市场部在第 2 个月联合举办 1 场行业沙龙，会后两周内回访全部到场客户。"
        ),
        "highlights": (
            "新签华东精密机械有限公司、苏州恒泰自动化设备有限公司两份年度框架合同；"
            "逾期 30 天以上的应收款全部收回，回款节奏明显改善；季度内拜访重点客户 38 次，"
            "拜访和商机全部按时录入 CRM。"
        ),
        "difficulties": "无锡宏达电气的采购审批周期较长，合同签署可能延后到下季度。",
        "manager_comment": (
            "目标达成扎实，大客户开发有突破，回款跟进及时。下季度需要把无锡、常州的客户覆盖起来，"
            "并把谈判经验整理成案例带教新人。"
        ),
        "manager_feedback": (
            "肯定：新签两家年度框架客户，回款率保持在目标以上。差距：新客户集中在苏州，"
            "无锡、常州覆盖不足。建议：下季度每月至少拜访 4 家无锡、常州的装备制造企业，"
            "在月度复盘中汇报进展。"
        ),
        "employee_reply": (
            "认同评价。希望下季度安排一次大客户谈判技巧培训，并请市场部支持无锡的行业沙龙。"
        ),
    },
    "marketing_quarterly": {
        "plan_summary": "以华东工业自动化展和线上投放带动线索转化，市场份额提升到 18%",
        "key_actions": (
            "1. 第 1 个月完成华东工业自动化展的展位设计和物料，展会有效留资不少于 300 条。\n"
            "2. 线上投放每周复盘，单条线索成本控制在 180 元以内，连续两周超标的渠道停投。\n"
            "3. 每周一向销售部移交合格线索并跟踪转化，线索转化率达到 12%。\n"
            "4. 季度最后两周完成品牌曝光复盘，提交下季度投放预算建议。"
        ),
        "highlights": (
            "华东工业自动化展有效留资 326 条；线上投放按周复盘后单条线索成本下降 15%；"
            "与销售部建立每周线索交接会，线索跟进及时率明显提高。"
        ),
        "difficulties": "行业展会档期集中在季度末，展后线索的转化要到下季度才能体现。",
        "manager_comment": (
            "展会执行到位，线索质量提升明显。下季度需要把投放预算向转化率高的渠道集中。"
        ),
        "manager_feedback": (
            "肯定：展会留资超出计划，线索成本下降。差距：社交媒体渠道转化偏低。建议：下季度把社交媒体"
            "预算的三成转到行业垂直媒体，每两周与销售复盘一次线索质量。"
        ),
        "employee_reply": "同意。下季度会按渠道拆分预算，并请销售部每两周反馈线索质量。",
    },
    "production_quarterly": {
        "plan_summary": "二号线换型提效：人均效率 42 件/人·时，合格率稳定在 98.5% 以上，零安全事故",
        "key_actions": (
            "1. 第 1 个月内在二号线推行快速换型（SMED），单次换型时间由 45 分钟降到 30 分钟以内。\n"
            "2. 每班开工前做首件检验，不合格品当班分析原因并记入质量台账。\n"
            "3. 每周五组织一次安全巡检，发现的隐患 3 个工作日内整改闭环。\n"
            "4. 第 2 个月完成两名新员工的上岗培训和技能考核。"
        ),
        "highlights": (
            "二号线换型时间缩短到 28 分钟，月度产出稳步提升；首件检验执行率 100%，季度内没有批量"
            "质量问题；两名新员工通过技能考核，本季度无可记录安全事故。"
        ),
        "difficulties": "三号线设备老化，月均停机 6 小时，需要安排大修。",
        "manager_comment": "换型改善效果明显，安全管理到位。下季度请把二号线的做法推广到三号线。",
        "manager_feedback": (
            "肯定：换型时间和合格率都达到计划。差距：三号线停机时间偏长，影响准时交付。建议：下季度"
            "会同设备科制定三号线大修计划，并把快速换型的标准作业推广到三号线。"
        ),
        "employee_reply": "认同。三号线大修需要设备科排期，希望能在下季度第 1 个月内确定。",
    },
    "service_quarterly": {
        "plan_summary": "首次响应 30 秒以内，一次解决率 80%，投诉率控制在 2‰ 以内",
        "key_actions": (
            "1. 第 1 个月底前把重复咨询最多的 10 类问题整理成标准答复，上线知识库。\n"
            "2. 9:00–11:00 高峰时段增加一名坐席，首次响应控制在 30 秒以内。\n"
            "3. 投诉工单 24 小时内首次回访，每月做一次投诉原因分析，反馈给产品和物流部门。\n"
            "4. 每月抽查 20 通录音并一对一辅导，重点提升一次解决率。"
        ),
        "highlights": (
            "上线 36 条常见问题标准答复，重复来电明显减少；高峰时段增派坐席后平均响应时间稳定在 "
            "30 秒以内；投诉工单全部在 24 小时内完成首次回访。"
        ),
        "difficulties": "新品上市期间咨询量比平时高三成，高峰时段排队时间偏长。",
        "manager_comment": "知识库建设扎实，响应及时。下季度需要继续压低二次来电。",
        "issue_analysis": (
            "二次来电主要集中在新品安装调试和发票开具两类问题：已整理成知识库标准答复，"
            "并与财务约定发票问题 2 个工作日内处理完毕。"
        ),
        "manager_feedback": (
            "肯定：知识库和高峰排班改善了响应速度。差距：安装调试类问题仍有二次来电。建议：下季度"
            "与技术支持共同录制安装视频，并在回访中确认问题已解决。"
        ),
        "employee_reply": "同意。希望技术支持每周抽出半天参与知识库更新。",
    },
    "*": {
        "incident_report": "本季度无可记录安全事故；完成两次消防演练和一次设备点检。",
    },
}

# Table rows the demo's people write, by form and table ("*": every form); date columns are
# days from the day the demo is seeded.
TABLES: dict[str, dict[str, list[dict[str, Any]]]] = {
    "sales_quarterly": {
        "key_deals": [
            {
                "customer": "华东精密机械有限公司",
                "amount": 86,
                "stage": "negotiation",
                "expected_close": 20,
            },
            {
                "customer": "苏州恒泰自动化设备有限公司",
                "amount": 42,
                "stage": "proposal",
                "expected_close": 35,
            },
            {
                "customer": "无锡宏达电气股份有限公司",
                "amount": 35,
                "stage": "lead",
                "expected_close": 50,
            },
        ],
        "checkins": [
            {
                "checkin_date": 0,
                "status": "on_track",
                "summary": (
                    "华东精密机械二期方案已提交，客户技术评审通过；应收账款按月核对，无新增逾期。"
                ),
                "next_step": "两周内进入商务谈判，同时约访无锡宏达电气采购负责人",
            },
        ],
        "improvement_plan": [
            {
                "action": "每月至少拜访 4 家无锡、常州的装备制造企业",
                "owner": "本人",
                "due_date": 60,
                "status": "planned",
            },
            {
                "action": "参加大客户谈判技巧培训并在团队内分享",
                "owner": "本人（HR 安排培训）",
                "due_date": 45,
                "status": "planned",
            },
        ],
    },
    "marketing_quarterly": {
        "campaigns": [
            {"campaign": "华东工业自动化展", "channel": "exhibition", "spend": 8.5, "leads": 326},
            {
                "campaign": "工业互联网公众号专题投放",
                "channel": "social",
                "spend": 3.2,
                "leads": 148,
            },
        ],
        "checkins": [
            {
                "checkin_date": 0,
                "status": "on_track",
                "summary": (
                    "展会物料和展位已确认，线上投放单条线索成本 172 元，低于 180 元的控制线。"
                ),
                "next_step": "展会结束后一周内把留资分级移交销售部",
            },
        ],
        "improvement_plan": [
            {
                "action": "社交媒体预算的三成转到行业垂直媒体",
                "owner": "本人",
                "due_date": 30,
                "status": "planned",
            },
            {
                "action": "与销售部每两周复盘一次线索质量",
                "owner": "本人、销售部",
                "due_date": 60,
                "status": "planned",
            },
        ],
    },
    "production_quarterly": {
        "checkins": [
            {
                "checkin_date": 0,
                "status": "on_track",
                "summary": "二号线换型时间降到 32 分钟，首件检验执行率 100%，本月无安全事故。",
                "next_step": "固化换型标准作业，下周起在夜班执行",
            },
        ],
        "improvement_plan": [
            {
                "action": "会同设备科制定三号线大修计划",
                "owner": "本人、设备科",
                "due_date": 30,
                "status": "planned",
            },
            {
                "action": "把快速换型标准作业推广到三号线",
                "owner": "班组长",
                "due_date": 60,
                "status": "planned",
            },
        ],
    },
    "service_quarterly": {
        "checkins": [
            {
                "checkin_date": 0,
                "status": "on_track",
                "summary": "知识库已上线 24 条标准答复，高峰时段平均响应 29 秒。",
                "next_step": "本月内补齐发票类问题的标准答复",
            },
        ],
        "improvement_plan": [
            {
                "action": "与技术支持共同录制新品安装调试视频",
                "owner": "本人、技术支持",
                "due_date": 45,
                "status": "planned",
            },
            {
                "action": "回访时确认安装调试问题已解决",
                "owner": "本人",
                "due_date": 30,
                "status": "planned",
            },
        ],
    },
    "*": {},
}


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
    _read_all(quarter_start)
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
        no = appraisal.employee.employee_no
        _walk(appraisal.id, WALKS.get(no, []), rng, today)
        if no not in LATE and _overdue(appraisal.id, today):
            # the quarter's last day, when monitoring is due: HR has started the assessment
            _walk(appraisal.id, ["start_assessment"], rng, today)
    _override_one(launched.cycle.appraisals, _user("c100"))
    _conversation(launched.cycle.appraisals, max(quarter_start, today - dt.timedelta(days=12)))


def _conversation(launched: list[Appraisal], signed: dt.date) -> None:
    """李娜's revenue row in feedback: 张伟 asks about a deal and mentions her, she answers,
    and HR is asked in; each of them finds it in their notifications."""
    from opsperf.services import comments

    lina = next((a for a in launched if a.employee.employee_no == "s101"), None)
    if lina is None or "kpis.revenue" not in comments.kpis_of(context(lina), ["manager"]):
        return
    boss, her, hr = _user("s100"), _user("s101"), _user("hr01")
    first = comments.post(
        lina.id,
        boss,
        f"@[{her.name}](u:{her.id}) 本季度收入完成得不错。华东精密机械有限公司的年度框架合同"
        f"是在 {signed.month} 月签的吗？下季度的目标里要不要把它的续约算进去？",
        kpi="kpis.revenue",
    )
    comments.post(
        lina.id,
        her,
        f"是 {signed.month} 月 {signed.day} 日签的，首批订单 86 万已到账。续约要看对方明年的"
        "扩产计划，我建议先按 60% 的把握算进下季度目标，面谈时再细说。",
        parent_id=first.comment.id,
    )
    comments.post(
        lina.id,
        boss,
        f"好的。@[{hr.name}](u:{hr.id}) 大客户续约能否计入季度目标，公司有统一口径吗？",
        parent_id=first.comment.id,
    )


def _read_all(before: dt.date) -> None:
    """Last quarter's notifications were read long ago, in the quarter itself."""
    moment = dt.datetime.combine(before, dt.time()) - dt.timedelta(days=1)
    db.session.execute(
        update(Notification)
        .where(Notification.read_at.is_(None))
        .values(read_at=moment, created_at=moment)
    )
    db.session.commit()


def _overdue(appraisal_id: int, today: dt.date) -> bool:
    """Whether the appraisal's step is past its deadline by the end of ``today``."""
    due = get_appraisal(appraisal_id).due_at
    return due is not None and due <= dt.datetime.combine(today, dt.time.max)


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
    of the periods begun by ``today`` (all of them when the walk goes on to assessment).

    With ``today`` the walk happens on that day: dates typed are of that day, and each state
    is entered that morning, so its deadline counts from it (the demo's clock)."""
    until = dt.date.max if today is None or "start_assessment" in steps else today
    for step in steps:
        if step == "@actuals":
            _fill_all(appraisal_id, rng, until, today)
            continue
        if step == "@manager":  # the manager fills in their part of the current step
            # (its own random numbers: the figures drawn for the others stay as they were)
            manager = get_appraisal(appraisal_id).manager
            _fill_all(appraisal_id, random.Random(appraisal_id), until, today, only=manager)
            continue
        if step == "@request_plan":
            _fill_all(appraisal_id, rng, until, today)
            _act(appraisal_id, "submit_plan", rng, approve=False)
            continue
        _fill_all(appraisal_id, rng, until, today)
        _act(appraisal_id, step, rng)
        if today is not None:
            _entered_on(appraisal_id, today)


def _entered_on(appraisal_id: int, today: dt.date) -> None:
    """The appraisal entered its current state on the morning of ``today`` (09:00 in China):
    its deadline counts from then, as the workflow says."""
    a = get_appraisal(appraisal_id)
    entered = dt.datetime.combine(today, dt.time(1, 0))
    if a.state_entered_at == entered:
        return
    a.state_entered_at = entered
    ctx = context(a)
    a.due_at = None if ctx.final else compute_due(ctx)
    steps.refresh(ctx)
    db.session.commit()


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


def _fill_all(
    appraisal_id: int,
    rng: random.Random,
    until: dt.date = dt.date.max,
    today: dt.date | None = None,
    only: User | None = None,
) -> None:
    """Everyone who may edit now (or ``only`` that person) fills in what they may, as on
    ``today``; check-ins for the periods begun by ``until``."""
    a = get_appraisal(appraisal_id)
    who = [only] if only is not None else [a.employee, *_everyone(a)]
    day = today or dt.date.today()
    dates = {
        "plan_agreed_on": min(day, a.cycle.period_start + dt.timedelta(days=9)),
        "next_checkin": day + dt.timedelta(days=30),
    }
    for user in who:
        a = get_appraisal(appraisal_id)
        ctx = context(a)
        rights = appraisals.editable(ctx, appraisals.roles_of(ctx, user))
        if not rights:
            continue
        data: MultiDict[str, str] = MultiDict()
        written = Written(ctx.form.id, day, dates)
        for f in ctx.form.fields():
            if rights.touches(f) and f.compute is None:
                _fill(f, data, rights, a.values or {}, rng, written)
        outcome = appraisals.save(appraisal_id, user, data, a.version)
        if outcome.errors:
            raise OpsperfError("demo values rejected: %(errors)s", errors=outcome.errors)
        _check_in(appraisal_id, user, rights, rng, until)


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
            if _counted(kpi):
                value = float(round(value))
            notes = CHECKIN_NOTES.get(kpi.id, [""])
            note = notes[index % len(notes)]
            months.setdefault(period.key, {})[f"{table.id}.{kpi.id}"] = (f"{value:.1f}", note)
    for month, typed in sorted(months.items()):
        done = checkins.record(a.id, user, month, typed, get_appraisal(a.id).version)
        if done.errors:
            raise OpsperfError("demo check-in rejected: %(errors)s", errors=done.errors)


def _counted(kpi: Any) -> bool:
    """A KPI that counts things (customers, incidents): its figures are whole numbers."""
    return kpi.unit in COUNT_UNITS


def _fill(
    f: AnyField,
    data: MultiDict[str, str],
    rights: Any,
    values: dict[str, Any],
    rng: random.Random,
    written: Written,
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
                actual = round(target * factor, 0 if _counted(kpi) else 1)
                data.add(f"{f.id}-{kpi.id}-actual", str(actual))
        return
    if isinstance(f, TableField):
        if f.id in rights.fields and not values.get(f.id):
            for column in f.columns:  # drawn, so later samples stay as they were
                _drawn(column, rng)
            rows = written.rows(f)
            data.add(f"{f.id}__rows", str(len(rows)))
            for index, row in enumerate(rows):
                for column in f.columns:
                    value = row.get(column.id)
                    if value is not None:
                        data.add(f"{f.id}-{index}-{column.id}", written.value(column, value))
        return
    current = values.get(f.id)
    if current not in (None, "", [], False) and (
        f.id not in FIGURES or current != getattr(f, "default", None)  # a default the demo sets
    ):
        return
    value = _sample(f, rng, written)
    if value is not None:
        data.add(f.id, value)


# Units of KPIs that count things: their actuals are whole numbers.
COUNT_UNITS = ("个", "起", "件", "人", "次", "家", "单", "场", "条")


# Fields whose random sample would read as nonsense (an efficiency of 1 unit an hour, a pass
# rate of 490 %): the demo gives them figures that fit the KPIs they check.
FIGURES = {
    "output_qty": "2380",
    "labor_hours": "56.5",
    "inspected_qty": "2400",
    "passed_qty": "2366",
    "tickets_handled": "1260",
    "complaint_tickets": "3",
    "pipeline_value": "360",
    # everyone names a difficulty and the support they need: the self-review reads as one
    "has_difficulties": "yes",
}


def _sample(f: AnyField | ColumnField, rng: random.Random, written: Written) -> str | None:
    drawn = _drawn(f, rng)  # drawn even where a figure is given, so later samples stay as they were
    if drawn is None:
        return None
    if f.id in FIGURES:
        return FIGURES[f.id]
    if isinstance(f, TextField):
        return written.text(f)
    if isinstance(f, DateField):
        return written.date(f.id)
    return drawn


def _drawn(f: AnyField | ColumnField, rng: random.Random) -> str | None:
    """A random value of the field's type (texts and dates are written, see ``Written``)."""
    if isinstance(f, TextField):
        return rng.choice(TEXTS)
    if isinstance(f, NumberField):
        low = f.min if f.min is not None else 0
        high = f.max if f.max is not None else low + 100
        if f.type == "integer":
            return str(rng.randint(int(low), int(high)))
        return str(round(rng.uniform(low, high), 1))
    if isinstance(f, DateField):
        return ""
    if isinstance(f, ChoiceField):
        positive = [c.value for c in f.choices if c.value not in ("disagree", "yes")]
        return (positive or [f.choices[0].value])[0]
    if isinstance(f, CheckboxField):
        return "y"
    if isinstance(f, RatingField):
        return str(rng.choice([3, 4, 4, 5]))
    return None


@dataclass
class Written:
    """What people of the demo company write in one form, on one day."""

    form: str
    today: dt.date
    dates: dict[str, dt.date]

    def text(self, f: AnyField | ColumnField) -> str:
        text = WRITTEN.get(self.form, {}).get(f.id) or WRITTEN["*"].get(f.id)
        if text is None:
            raise OpsperfError(
                "the demo has no text for %(field)s of %(form)s", field=f.id, form=self.form
            )
        limit = getattr(f, "max_length", None)
        return text[:limit] if limit else text

    def date(self, field_id: str) -> str:
        return self.dates.get(field_id, self.today).isoformat()

    def rows(self, f: TableField) -> list[dict[str, Any]]:
        rows = TABLES.get(self.form, {}).get(f.id) or TABLES["*"].get(f.id)
        if rows is None:
            raise OpsperfError(
                "the demo has no rows for %(field)s of %(form)s", field=f.id, form=self.form
            )
        return rows[: f.max_rows] if f.max_rows else rows

    def value(self, column: ColumnField, value: Any) -> str:
        """A cell: a date column holds days from today."""
        if isinstance(column, DateField) and isinstance(value, int):
            return (self.today + dt.timedelta(days=value)).isoformat()
        return str(value)

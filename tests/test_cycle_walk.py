"""The shipped quarterly cycle walked end to end through the HTTP layer by the right people."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import appraisal_of, events, fire, launch, problems, record_actuals, save

PLAN = {
    "plan_summary": "聚焦重点行业大客户",
    "key_actions": "每周拜访 3 家重点客户；每月复盘商机。",
}
SELF = {
    "highlights": "销售额完成 110%，新签 3 个年度框架合同，回款率 97%。",
    "self_rating": "4",
    "has_difficulties": "no",
}


def _walk(as_user: Any, employee: str, actuals: dict[str, float], rating: int) -> int:
    hr, manager, me = as_user("hr01"), as_user("s100"), as_user(employee)
    a = appraisal_of(employee)
    assert a.state == "plan"
    assert save(me, a.id, PLAN).status_code == 302
    assert fire(me, a.id, "submit_plan", "request").status_code == 302
    assert appraisal_of(employee).pending_trigger == "submit_plan"
    assert fire(manager, a.id, "submit_plan", "approve").status_code == 302
    assert appraisal_of(employee).state == "monitor"

    for response in record_actuals(me, a.id, actuals):
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert fire(hr, a.id, "start_assessment").status_code == 302
    assert appraisal_of(employee).state == "assess.self"

    assert save(me, a.id, SELF).status_code == 302
    assert fire(me, a.id, "submit_self").status_code == 302
    review = {
        "manager_rating": str(rating),
        "performance_trend": "stable",
        "manager_comment": "目标达成扎实。",
    }
    response = save(manager, a.id, review)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    assert fire(manager, a.id, "submit_review").status_code == 302
    assert appraisal_of(employee).state == "assess.calibration"

    assert fire(manager, a.id, "sign_off", "approve").status_code == 302
    assert appraisal_of(employee).state == "assess.calibration"  # HR has not signed yet
    assert fire(hr, a.id, "sign_off", "approve").status_code == 302
    assert appraisal_of(employee).state == "feedback"

    talk = {
        "feedback_date": "2026-12-28",
        "manager_feedback": "本季度目标达成扎实，继续保持；下季度重点加强新人带教和大客户覆盖。",
    }
    response = save(manager, a.id, talk)
    assert response.status_code == 302, problems(response)
    assert save(me, a.id, {"agreement": "agree", "acknowledged": "y"}).status_code == 302
    assert fire(me, a.id, "acknowledge").status_code == 302
    return a.id


@pytest.fixture
def cycle(as_user: Any, staff: dict[str, Any]) -> None:
    response = launch(as_user("hr01"), ["sales"])
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]


@pytest.mark.usefixtures("cycle")
def test_strong_quarter_ends_closed_with_grade_s_and_bonus(as_user: Any) -> None:
    actuals = {
        "revenue": 132,
        "revenue_growth": 20,
        "new_customers": 15,
        "collection_rate": 97,
        "customer_satisfaction": 92,
    }
    appraisal_id = _walk(as_user, "s101", actuals, rating=4)
    a = appraisal_of("s101")
    assert a.state == "closed"
    # KPI: 110×35% + 110×15% + 110×20% + 110×20% + 100×10% = 109.0; total 109×0.8 + 4×4
    assert a.score == pytest.approx(103.2)
    assert a.grade == "S"
    assert a.bonus == pytest.approx(6000 * 2.0 * 1.2)
    kpis = {k["kpi"]: k for k in a.result["kpis"][0]["kpis"]}
    assert kpis["revenue"]["formula"].startswith("min(132 ÷ 120, 1.2) × 100")
    assert a.result["definitions"]["form"]["id"] == "sales_quarterly"
    kinds = [e.kind for e in events(appraisal_id)]
    assert kinds.count("transition") == 6
    assert {"vote", "request", "save"} <= set(kinds)


@pytest.mark.usefixtures("cycle")
def test_weaker_quarter_gets_grade_b(as_user: Any) -> None:
    actuals = {
        "revenue": 96,
        "revenue_growth": 10,
        "new_customers": 9,
        "collection_rate": 93,
        "customer_satisfaction": 86,
    }
    _walk(as_user, "s102", actuals, rating=3)
    a = appraisal_of("s102")
    # KPI: 80×35% + 80×15% + 80×20% + 90×20% + 80×10% = 82.0; total 82×0.8 + 3×4 = 77.6
    assert (a.state, a.score, a.grade) == ("closed", pytest.approx(77.6), "B")
    assert a.bonus == pytest.approx(6000 * 1.0 * 1.2)


@pytest.mark.usefixtures("cycle")
def test_the_appraisal_page_explains_the_result(as_user: Any) -> None:
    actuals = {
        "revenue": 132,
        "revenue_growth": 20,
        "new_customers": 15,
        "collection_rate": 97,
        "customer_satisfaction": 92,
    }
    appraisal_id = _walk(as_user, "s101", actuals, rating=4)
    html = as_user("s101").get(f"/appraisals/{appraisal_id}").get_data(as_text=True)
    assert "min(132 ÷ 120, 1.2) × 100" in html
    assert "103.2" in html
    assert "14,400" in html
    # the total in words with the KPI table's name, then with the values used; the formula
    # as written only for HR
    assert "KPI 指标得分 × 0.8 + 上级评价等级（未填按 3） × 4，保留 1 位小数" in html
    assert "coalesce" not in html
    assert 'id="total-raw"' not in html
    hr = as_user("hr01").get(f"/appraisals/{appraisal_id}").get_data(as_text=True)
    assert 'id="total-raw"' in hr
    assert "coalesce(manager_rating, 3)" in hr


def test_under_all_one_person_with_two_roles_signs_for_one(
    app: Any, as_user: Any, staff: dict[str, int]
) -> None:
    """张伟 heads sales and is made HR too: sign-off needs dept_head and HR by two people."""
    import random

    from opsperf.persistence.models import User, db
    from opsperf.services import demo

    with app.app_context():
        db.session.get(User, staff["s100"]).roles = ["hr"]
        db.session.commit()
    assert launch(as_user("hr01"), ["sales"]).status_code == 302
    aid = appraisal_of("s101").id
    with app.app_context():
        steps = ["submit_plan", "start_assessment", "submit_self", "submit_review"]
        demo._walk(aid, steps, random.Random(5))
    version = appraisal_of("s101").version
    assert appraisal_of("s101").state == "assess.calibration"
    assert fire(as_user("s100"), aid, "sign_off", "approve").status_code == 302
    after = appraisal_of("s101")
    assert after.state == "assess.calibration"  # one vote, however many roles its voter holds
    assert after.version == version + 1  # and one new version for one step
    assert fire(as_user("hr01"), aid, "sign_off", "approve").status_code == 302
    assert appraisal_of("s101").state == "feedback"


def test_deemed_acknowledged_only_once_feedback_is_overdue(
    app: Any, staff: Any, as_user: Any
) -> None:
    """Guards read time: HR may close an unacknowledged review only after its deadline."""
    import datetime as dt
    import random

    from opsperf.persistence.models import Appraisal, db
    from opsperf.services import demo
    from tests.helpers import launch_quarter

    appraisal_id = launch_quarter(["sales"])["s101"]
    with app.app_context():
        steps = ["submit_plan", "start_assessment", "submit_self", "submit_review", "sign_off"]
        demo._walk(appraisal_id, steps, random.Random(4))
    assert appraisal_of("s101").state == "feedback"
    hr = as_user("hr01")
    api = hr.get(f"/api/v1/appraisals/{appraisal_id}").get_json()
    deem = next(a for a in api["actions"] if a["trigger"] == "deem_acknowledged")
    assert deem["enabled"] is False
    assert "overdue" in deem["reason"]["en"]
    refused = fire(hr, appraisal_id, "deem_acknowledged")
    assert refused.status_code == 403
    assert appraisal_of("s101").state == "feedback"
    with app.app_context():  # the feedback deadline passes
        a = db.session.get(Appraisal, appraisal_id)
        assert a is not None
        assert a.due_at is not None
        a.due_at = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=1)
        db.session.commit()
    assert fire(hr, appraisal_id, "deem_acknowledged").status_code == 302
    assert appraisal_of("s101").state == "closed"

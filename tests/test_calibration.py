"""Calibration over HTTP on both databases: the board of a department (HR: any, a head: their
subtree), quotas soft and hard with the small-team rule and their scopes, grade overrides with
a reason that never touch the scores, provisional results, the sign-off of a whole department
refused as a whole when a row is stale, and the payout sheet checked cell by cell."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from opsperf.persistence.models import Event, Vote, db
from tests import helpers
from tests.helpers import appraisal, appraisal_of, crew, fire, launch, save, write_pack

PASSWORD = "calibrate-123"

PACK = {
    "org/ops.yaml": """
kind: Department
id: ops
name: {zh: 运营中心, en: Operations}
head: director
positions:
  - {id: director, name: {zh: 运营总监, en: Director}, form: review, workflow: review}
""",
    "org/east.yaml": """
kind: Department
id: east
parent: ops
name: {zh: 华东区, en: East}
head: lead
bonus_coefficient: 1.2
positions:
  - {id: lead, name: {zh: 区域经理, en: Area lead}, form: review, workflow: review}
  - {id: agent, name: {zh: 专员, en: Agent}, form: review, workflow: review}
""",
    "org/west.yaml": """
kind: Department
id: west
parent: ops
name: {zh: 华西区, en: West}
head: lead
positions:
  - {id: lead, name: {zh: 区域经理, en: Area lead}, form: review, workflow: review}
  - {id: agent, name: {zh: 专员, en: Agent}, form: review, workflow: review}
""",
    "forms/review.yaml": """
kind: Form
id: review
title: {zh: 季度评价, en: Quarterly review}
sections:
  - id: rating
    title: {zh: 评价, en: Rating}
    fields:
      - {id: points, type: number, label: {zh: 综合得分, en: Points}, min: 0, max: 100}
      - {id: potential, type: rating, label: {zh: 发展潜力, en: Potential}, scale: 5}
score: "points"
""",
    "workflows/review.yaml": """
kind: Workflow
id: review
name: {zh: 季度评审, en: Quarterly review}
states:
  plan: {}
  monitor: {}
  assess:
    initial: review
    states:
      review: {edit: {manager: [rating]}}
      calibration:
        edit: {dept_head: [points]}
        calibration:
          override: [dept_head, hr]
          show: [points]
          nine_box:
            performance: {value: score, bands: [60, 80]}
            potential: {value: potential, bands: [3, 4]}
  feedback: {}
  done: {final: true}
  cancelled: {final: true}
transitions:
  - {trigger: submit, source: plan, dest: monitor, roles: [employee]}
  - {trigger: start, source: monitor, dest: assess, roles: [manager]}
  - {trigger: rate, source: assess.review, dest: assess.calibration, roles: [manager],
     actions: [compute_scores]}
  - {trigger: send_back, source: assess.calibration, dest: assess.review, roles: [dept_head, hr],
     comment: required, require_complete: false}
  - {trigger: sign_off, source: assess.calibration, dest: feedback,
     approval: {roles: [dept_head, hr], mode: all}, actions: [compute_scores]}
  - {trigger: appeal, source: feedback, dest: assess.calibration, roles: [employee],
     comment: required}
  - {trigger: close, source: feedback, dest: done, roles: [employee]}
  - {trigger: cancel, source: "*", dest: cancelled, roles: [hr], comment: required}
""",
    "workflows/bonus.yaml": """
kind: IncentivePolicy
id: bonus
name: {zh: 季度奖金, en: Quarterly bonus}
workflow: review
base_bonus: 1000
rounding: {unit: 1}
quotas: {scope: department, min_population: 5, enforce: soft}
grades:
  - {grade: S, min_score: 90, quota_max: 20%, quota_enforce: hard, bonus_multiplier: 2,
     actions: [promotion_nomination]}
  - {grade: A, min_score: 80, quota_max: 30%, bonus_multiplier: 1.5}
  - {grade: B, min_score: 60, bonus_multiplier: 1}
  - {grade: C, min_score: 0, quota_min: 10%, bonus_multiplier: 0.333,
     actions: [improvement_plan, mentoring]}
actions:
  - {id: mentoring, label: {zh: 导师带教, en: Mentoring}, owner: dept_head, days: 14}
""",
}

# east: a lead and five agents (six people); west: a lead and three agents (a small team)
PEOPLE = [
    {"employee_no": "d00", "name": "运营总监高远", "department": "ops", "position": "director"},
    {"employee_no": "h01", "name": "人事王芳", "department": "ops", "roles": "hr"},
    {"employee_no": "e00", "name": "华东经理陈晨", "department": "east", "position": "lead",
     "manager": "d00"},
    *[{"employee_no": f"e0{i}", "name": f"华东专员{i}", "department": "east",
       "position": "agent", "manager": "e00"} for i in range(1, 6)],
    {"employee_no": "w00", "name": "华西经理林立", "department": "west", "position": "lead",
     "manager": "d00"},
    *[{"employee_no": f"w0{i}", "name": f"华西专员{i}", "department": "west",
       "position": "agent", "manager": "w00"} for i in range(1, 4)],
]  # fmt: skip
EAST = ["e00", "e01", "e02", "e03", "e04", "e05"]
WEST = ["w00", "w01", "w02", "w03"]


@pytest.fixture
def pack(request: pytest.FixtureRequest) -> dict[str, str]:
    """The pack; a test may name another quota scope for the policy (indirect parameter)."""
    changed = getattr(request, "param", None)
    out = dict(PACK)
    policy = out["workflows/bonus.yaml"]
    if changed == "budget":
        out["workflows/bonus.yaml"] = policy + "budget: {factor: 1.0, fit: true}\n"
    elif changed:
        out["workflows/bonus.yaml"] = policy.replace("scope: department", f"scope: {changed}")
    return out


@pytest.fixture
def definition_roots(tmp_path: Path, pack: dict[str, str]) -> list[str]:
    return write_pack(tmp_path / "defs", pack)


@pytest.fixture
def login(app: Flask) -> Any:
    make = crew(app, PEOPLE, PASSWORD)
    assert launch(make("h01"), ["east", "west"], workflow="review").status_code == 302
    return make


def managers() -> dict[str, str]:
    return {"e00": "d00", "w00": "d00", **{f"e0{i}": "e00" for i in range(1, 6)},
            **{f"w0{i}": "w00" for i in range(1, 4)}}  # fmt: skip


def to_calibration(login: Any, points: dict[str, float], potential: int = 3) -> dict[str, int]:
    """Walk each person to calibration with these points (their score): ids by person."""
    ids = {}
    for who, value in points.items():
        boss = login(managers()[who])
        a = appraisal_of(who).id
        assert fire(login(who), a, "submit").status_code == 302
        assert fire(boss, a, "start").status_code == 302
        data = {"points": str(value), "potential": str(potential)}
        assert save(boss, a, data).status_code == 302
        assert fire(boss, a, "rate").status_code == 302
        assert appraisal(a).state == "assess.calibration"
        ids[who] = a
    return ids


def board(client: FlaskClient, department: str = "") -> Any:
    query = f"?department={department}" if department else ""
    return client.get(f"/cycles/{cycle_id()}/calibration{query}")


def board_json(client: FlaskClient, department: str = "") -> Any:
    query = f"?department={department}" if department else ""
    response = client.get(f"/api/v1/cycles/{cycle_id()}/calibration{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def cycle_id() -> int:
    return appraisal_of("e01").cycle_id


def as_of(client: FlaskClient, department: str = "") -> str:
    page = board(client, department).get_data(as_text=True)
    found = re.search(r'name="as_of" value="(\d+\.[0-9a-f]{20})"', page)
    assert found, "the board names the moment it was shown"
    return found.group(1)


def sign(client: FlaskClient, department: str, stamp: str, comment: str = "") -> Any:
    return client.post(
        f"/cycles/{cycle_id()}/calibration/sign-off",
        data={"department": department, "as_of": stamp, "comment": comment},
    )


def override(client: FlaskClient, who: str, grade: str, reason: str, dept: str = "") -> Any:
    a = appraisal_of(who)
    return client.post(
        f"/cycles/{a.cycle_id}/calibration/override",
        data={"appraisal": a.id, "grade": grade, "reason": reason, "version": a.version,
              "department": dept},
    )  # fmt: skip


def votes_cast() -> int:
    with helpers.APP.app_context():
        return db.session.query(Vote).count()


def event_kinds(appraisal_id: int) -> list[str]:
    with helpers.APP.app_context():
        found = db.session.query(Event).filter_by(appraisal_id=appraisal_id).order_by(Event.id)
        return [e.kind for e in found]


# --------------------------------------------------------------------------- the board


def test_a_soft_quota_warns_and_a_sign_off_then_needs_a_comment(login: Any) -> None:
    # S 1/6 is within 20 %; A 3/6 = 50 % is above 30 % (soft); C 1/6 meets its 10 % minimum
    to_calibration(login, dict(zip(EAST, [95, 85, 84, 82, 70, 50], strict=True)))
    hr, lead = login("h01"), login("e00")
    page = board(lead, "east")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "等级 A：6 人中有 3 人（50%），超过上限 30%" in text
    assert "签核时须填写说明" in text
    data = board_json(lead, "east")
    assert data["distribution"] == [{"policy": "bonus", "counts": {"S": 1, "A": 3, "B": 1, "C": 1}}]
    assert [(i["grade"], i["kind"], i["hard"]) for i in data["quota_issues"]] == [
        ("A", "above_max", False)
    ]
    # without a comment nothing is signed
    refused = sign(lead, "east", as_of(lead, "east"))
    assert refused.status_code == 422
    assert votes_cast() == 0
    # with one, the lead signs the five agents' (the lead's own is the director's to sign)
    done = sign(lead, "east", as_of(lead, "east"), "本季度华东区大客户项目集中落地，A 级比例合理。")
    assert done.status_code == 302
    assert votes_cast() == 5
    assert all(appraisal_of(w).state == "assess.calibration" for w in EAST)
    # HR completes the approval of those five; the lead's own still waits for the director
    assert sign(hr, "east", as_of(hr, "east"), "同意。").status_code == 302
    states = {w: appraisal_of(w).state for w in EAST}
    assert states == {"e00": "assess.calibration", **dict.fromkeys(EAST[1:], "feedback")}
    # each appraisal has its own vote events in the audit trail
    kinds = event_kinds(appraisal_of("e01").id)
    assert kinds.count("vote") == 2
    assert kinds[-1] == "transition"


def test_a_hard_quota_blocks_until_a_grade_is_changed(login: Any) -> None:
    # S 2/6 = 33 % is above 20 %, and S is hard
    ids = to_calibration(login, dict(zip(EAST, [95, 92, 70, 70, 70, 50], strict=True)))
    lead = login("e00")
    data = board_json(lead, "east")
    assert [(i["grade"], i["hard"]) for i in data["quota_issues"]] == [("S", True)]
    refused = sign(lead, "east", as_of(lead, "east"), "理由充分")
    assert refused.status_code == 422
    assert "等级分布超出硬性比例限制（S）" in refused.get_data(as_text=True)
    assert votes_cast() == 0
    # the lead moves e01 (92 points) from S to A, with a reason
    before = appraisal(ids["e01"])
    changed = override(lead, "e01", "A", "与经理陈晨相比贡献略低，按比例调整为 A。", "east")
    assert changed.status_code == 302
    after = appraisal(ids["e01"])
    assert (after.grade, after.score, after.values) == ("A", before.score, before.values)
    assert after.bonus == 1800.0  # 1000 × 1.5 × 1.2, rounded to the yuan
    assert after.override["original"] == "S"
    assert after.override["reason"].startswith("与经理陈晨")
    assert board_json(lead, "east")["quota_issues"] == []
    assert sign(lead, "east", as_of(lead, "east")).status_code == 302


def test_small_teams_have_no_quotas(login: Any) -> None:
    # west: four people, all S: below min_population 5, no quota applies
    to_calibration(login, dict(zip(WEST, [95, 96, 97, 98], strict=True)))
    data = board_json(login("h01"), "west")
    assert data["distribution"][0]["counts"] == {"S": 4}
    assert data["quota_issues"] == []
    page = board(login("h01"), "west").get_data(as_text=True)
    assert "华西区：4 人，不足 5 人，不适用等级比例限制。" in page


@pytest.mark.parametrize(
    ("pack", "expected"),
    [
        # each department alone: west (4) is too small, east's 2 S of 6 break the hard quota
        ("department", [("east", "S")]),
        # east and west together under ops: 3 S of 10 = 30 % > 20 %
        ("subtree", [("ops", "S")]),
        ("company", [(None, "S")]),
    ],
    indirect=["pack"],
)
def test_quota_scope(login: Any, expected: list[Any]) -> None:
    points = dict(zip(EAST, [95, 92, 70, 70, 70, 50], strict=True))
    points.update(zip(WEST, [95, 70, 70, 50], strict=True))
    to_calibration(login, points)
    data = board_json(login("h01"))
    found = [(i["department"], i["grade"]) for i in data["quota_issues"]]
    assert found == expected


def test_overrides_need_a_reason_and_the_right_role(login: Any, app: Flask) -> None:
    ids = to_calibration(login, {"e01": 95, "e02": 70, "w01": 70})
    lead, hr = login("e00"), login("h01")
    no_reason = override(lead, "e01", "A", "  ", "east")
    assert no_reason.status_code == 422
    assert "请写明调整等级的理由" in no_reason.get_data(as_text=True)
    assert appraisal(ids["e01"]).grade == "S"
    assert appraisal(ids["e01"]).override is None
    assert override(lead, "e01", "Z", "没有这个等级", "east").status_code == 422
    # an employee, and the lead of another department, may not
    assert override(login("e02"), "e01", "A", "我觉得", "east").status_code == 403
    assert override(login("w00"), "e01", "A", "跨部门", "west").status_code == 403
    assert override(lead, "w01", "S", "跨部门", "east").status_code == 403
    # HR may; the audit trail and the page show who, when, why and the original grade
    assert override(hr, "e01", "A", "校准会议决定：对标同级调整。").status_code == 302
    page = hr.get(f"/appraisals/{ids['e01']}").get_data(as_text=True)
    assert "校准会议决定：对标同级调整。" in page
    assert 'id="override"' in page
    assert 'id="provisional"' in page
    with app.app_context():
        event = db.session.query(Event).filter_by(appraisal_id=ids["e01"], kind="override").one()
        assert event.changes["grade"] == ["S", "A"]
        assert event.comment == "校准会议决定：对标同级调整。"
    # choosing the original grade again takes the override back
    assert override(hr, "e01", "S", "恢复原等级").status_code == 302
    assert appraisal(ids["e01"]).override is None
    assert appraisal(ids["e01"]).grade == "S"


def test_an_override_outside_calibration_is_refused(login: Any) -> None:
    ids = to_calibration(login, {"e01": 95})
    a = appraisal(ids["e01"])
    response = login("h01").post(
        f"/api/v1/appraisals/{a.id}/override",
        json={"grade": "A", "reason": "x", "version": a.version + 1},
    )
    assert response.status_code == 409  # stale version
    assert fire(login("e00"), a.id, "send_back", comment="重新评价").status_code == 302
    late = login("h01").post(
        f"/api/v1/appraisals/{a.id}/override",
        json={"grade": "A", "reason": "x", "version": appraisal(a.id).version},
    )
    assert late.status_code in (403, 409)
    assert late.get_json()["message"] == "只有在校准环节才能调整等级"


def test_a_stale_row_refuses_the_whole_batch(login: Any) -> None:
    to_calibration(login, dict(zip(EAST, [95, 85, 75, 72, 70, 50], strict=True)))
    lead = login("e00")
    stamp = as_of(lead, "east")
    # meanwhile HR changes a grade on one row
    assert override(login("h01"), "e03", "A", "HR 复核后上调").status_code == 302
    refused = sign(lead, "east", stamp, "同意")
    assert refused.status_code == 409
    text = refused.get_data(as_text=True)
    assert "华东专员3 (e03)" in text
    assert votes_cast() == 0


def test_results_are_provisional_until_signed_off(login: Any) -> None:
    ids = to_calibration(login, {"e01": 75})
    hr, lead, me = login("h01"), login("e00"), login("e01")
    a = ids["e01"]
    assert me.get(f"/api/v1/appraisals/{a}").get_json()["provisional"] is True
    assert 'id="provisional"' in me.get(f"/appraisals/{a}").get_data(as_text=True)
    cycle_page = hr.get(f"/cycles/{cycle_id()}").get_data(as_text=True)
    assert cycle_page.count("badge-provisional") == 1
    assert sign(lead, "east", as_of(lead, "east")).status_code == 302
    assert sign(hr, "east", as_of(hr, "east")).status_code == 302
    assert appraisal(a).state == "feedback"
    data = me.get(f"/api/v1/appraisals/{a}").get_json()
    assert data["provisional"] is False
    assert "badge-provisional" not in hr.get(f"/cycles/{cycle_id()}").get_data(as_text=True)
    assert 'id="provisional"' not in me.get(f"/appraisals/{a}").get_data(as_text=True)
    # an appeal sends it back to calibration: provisional again
    assert fire(me, a, "appeal", comment="不同意").status_code == 302
    assert me.get(f"/api/v1/appraisals/{a}").get_json()["provisional"] is True


def test_who_sees_which_board(login: Any) -> None:
    to_calibration(login, {"e01": 75, "w01": 75})
    assert board(login("e01")).status_code == 403  # an employee
    assert board(login("e00"), "west").status_code == 403  # another department's lead
    own = board(login("e00")).get_data(as_text=True)  # a lead: their own department
    assert "华东专员1" in own
    assert "华西专员1" not in own
    director = board(login("d00")).get_data(as_text=True)  # the director: the whole subtree
    assert "华东专员1" in director
    assert "华西专员1" in director
    everyone = board(login("h01")).get_data(as_text=True)  # HR: the company
    assert "华西专员1" in everyone
    # the director heads ops, but the sign-off of east's agents is the east lead's and HR's
    nothing = sign(login("d00"), "", as_of(login("d00")))
    assert nothing.status_code == 409
    assert votes_cast() == 0


def test_nine_box_counts(login: Any) -> None:
    points = {"e01": 95, "e02": 85, "e03": 70, "e04": 50}
    to_calibration(login, points, potential=5)
    cells = board_json(login("h01"))["nine_box"]
    # high potential (row 0): performance low (50), middle (70), high (85, 95)
    assert cells == [[1, 1, 2], [0, 0, 0], [0, 0, 0]]


# --------------------------------------------------------------------------- the payout sheet


def test_payout_sheet_cell_by_cell(login: Any, app: Flask) -> None:
    with app.app_context():
        from opsperf.persistence.models import User

        sneaky = db.session.query(User).filter_by(employee_no="e05").one()
        sneaky.name = '=HYPERLINK("http://evil.example","点我")'
        db.session.commit()
    to_calibration(login, dict(zip(EAST, [95, 85, 84, 70, 65, 50], strict=True)))
    hr, lead = login("h01"), login("e00")
    assert override(lead, "e02", "B", "项目延期，按 B 发放", "east").status_code == 302
    assert sign(lead, "east", as_of(lead, "east"), "同意，A 比例合理").status_code == 302
    assert sign(hr, "east", as_of(hr, "east"), "同意").status_code == 302
    response = hr.get(f"/cycles/{cycle_id()}/payout.xlsx?department=east")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:6] == ("工号", "姓名", "部门", "岗位", "得分", "最终等级")
    by_no = {r[0]: r for r in rows[1:]}
    assert set(by_no) == {"e01", "e02", "e03", "e04", "e05"}  # e00's own is not signed off yet
    e01 = by_no["e01"]
    assert e01[2:8] == ("华东区", "专员", 85, "A", None, None)
    assert (e01[8], e01[9], e01[10]) == (1.5, 1.2, 1800)
    assert "review v1" in e01[12]
    e02 = by_no["e02"]
    assert (e02[5], e02[6], e02[7], e02[10]) == ("B", "A", "项目延期，按 B 发放", 1200)
    assert by_no["e05"][1] == "'" + '=HYPERLINK("http://evil.example","点我")'
    assert by_no["e05"][10] == 400  # 1000 × 0.333 × 1.2 = 399.6, rounded to the yuan
    as_csv = hr.get(f"/cycles/{cycle_id()}/payout.csv?department=east")
    assert as_csv.status_code == 200
    lines = list(csv.reader(io.StringIO(as_csv.get_data(as_text=True).lstrip("\ufeff"))))
    assert lines[0][0] == "工号"
    assert {line[0] for line in lines[1:]} == set(by_no)
    assert any(line[1].startswith("'=HYPERLINK") for line in lines[1:])
    # the same rows through the API, amounts as decimal strings
    api = hr.get(f"/api/v1/cycles/{cycle_id()}/payout?department=east").get_json()
    assert {i["employee_no"]: i["bonus"] for i in api["items"]} == {
        "e01": "1800", "e02": "1200", "e03": "1200", "e04": "1200", "e05": "400"
    }  # fmt: skip
    assert api["items"][1]["original_grade"] == "A"
    assert api["more"] is False
    # a lead gets their department's sheet, another lead not, an employee never
    assert lead.get(f"/cycles/{cycle_id()}/payout.xlsx").status_code == 200
    assert login("w00").get(f"/cycles/{cycle_id()}/payout.csv?department=east").status_code == 403
    assert login("e01").get(f"/cycles/{cycle_id()}/payout.csv").status_code == 403


def test_checker_knows_calibration(tmp_path: Path) -> None:
    from tests.helpers import diagnostics_after

    said = diagnostics_after(
        tmp_path, PACK, "workflows/review.yaml", "override: [dept_head, hr]", "override: [boss]"
    )
    assert "unknown role 'boss'" in said
    said = diagnostics_after(
        tmp_path / "b", PACK, "workflows/review.yaml", "show: [points]", "show: [pionts]"
    )
    assert "unknown field of form 'review' 'pionts'" in said
    said = diagnostics_after(
        tmp_path / "c", PACK, "workflows/review.yaml", "value: potential", "value: nothing"
    )
    assert "'nothing'" in said
    said = diagnostics_after(
        tmp_path / "d",
        PACK,
        "workflows/review.yaml",
        "approval: {roles: [dept_head, hr], mode: all}",
        "roles: [hr]",
    )
    assert "say which transition signs calibration off" in said


# --------------------------------------------------------------------------- follow-ups


def follow_ups_of(who: str) -> dict[str, Any]:
    from opsperf.persistence.models import FollowUp

    with helpers.APP.app_context():
        found = db.session.query(FollowUp).filter_by(appraisal_id=appraisal_of(who).id)
        return {f.action_id: (f.owner_role, f.owner_id, (f.due_on - f.created_at.date()).days,
                              f.status) for f in found}  # fmt: skip


def person_id(employee_no: str) -> int:
    from opsperf.persistence.models import User

    with helpers.APP.app_context():
        return db.session.query(User).filter_by(employee_no=employee_no).one().id


def test_follow_ups_once_per_sign_off_for_the_right_people(login: Any) -> None:
    to_calibration(login, dict(zip(EAST, [85, 95, 84, 70, 65, 50], strict=True)))
    hr, lead = login("h01"), login("e00")
    assert follow_ups_of("e05") == {}  # nothing before the result is final
    assert sign(lead, "east", as_of(lead, "east"), "A 比例合理").status_code == 302
    assert sign(hr, "east", as_of(hr, "east"), "同意").status_code == 302
    lead_id = person_id("e00")
    assert follow_ups_of("e01") == {"promotion_nomination": ("hr", None, 30, "open")}
    assert follow_ups_of("e05") == {
        "improvement_plan": ("manager", lead_id, 90, "open"),
        "mentoring": ("dept_head", lead_id, 14, "open"),
    }
    # who sees them: the person, their manager, HR; not a colleague or another department
    mine = login("e05").get("/follow-ups/").get_data(as_text=True)
    assert "导师带教" in mine
    assert "华东专员1" not in mine
    assert "导师带教" not in login("e04").get("/follow-ups/").get_data(as_text=True)
    assert "导师带教" not in login("w00").get("/follow-ups/").get_data(as_text=True)
    assert "导师带教" in lead.get("/").get_data(as_text=True)  # the owner's home page
    everyone = hr.get("/api/v1/follow-ups").get_json()
    assert {i["action"] for i in everyone["items"]} == {
        "promotion_nomination", "improvement_plan", "mentoring"
    }  # fmt: skip
    # the owner closes one with a note; the employee may not; a stranger does not find it
    items = {i["action"]: i["id"] for i in everyone["items"]}
    done = lead.post(
        f"/follow-ups/{items['mentoring']}", data={"status": "done", "note": "已安排导师"}
    )
    assert done.status_code == 302
    assert follow_ups_of("e05")["mentoring"][3] == "done"
    assert (
        login("e05")
        .post(f"/api/v1/follow-ups/{items['improvement_plan']}", json={"status": "done"})
        .status_code
        == 403
    )
    assert (
        login("w01")
        .post(f"/api/v1/follow-ups/{items['improvement_plan']}", json={"status": "done"})
        .status_code
        == 404
    )
    assert (
        lead.post(
            f"/follow-ups/{items['improvement_plan']}", data={"status": "nonsense"}
        ).status_code
        == 422
    )
    # an appeal, a new grade and a second sign-off: what B no longer calls for is cancelled,
    # nothing is made twice
    e05 = appraisal_of("e05").id
    assert fire(login("e05"), e05, "appeal", comment="考勤数据有误").status_code == 302
    assert override(hr, "e05", "B", "考勤数据更正后复核", "east").status_code == 302
    assert sign(lead, "east", as_of(lead, "east"), "复核完成").status_code == 302
    assert sign(hr, "east", as_of(hr, "east"), "复核完成").status_code == 302
    assert follow_ups_of("e05") == {
        "improvement_plan": ("manager", lead_id, 90, "cancelled"),
        "mentoring": ("dept_head", lead_id, 14, "done"),
    }


def test_open_follow_ups_are_shown_beside_the_next_plan(login: Any) -> None:
    to_calibration(login, {"e05": 50})
    assert sign(login("e00"), "east", as_of(login("e00"), "east")).status_code == 302
    assert sign(login("h01"), "east", as_of(login("h01"), "east")).status_code == 302
    hr = login("h01")
    assert launch(hr, ["east"], workflow="review", name="2027 Q1").status_code == 302
    page = login("e05").get(f"/appraisals/{appraisal_of('e05').id}").get_data(as_text=True)
    assert appraisal_of("e05").state == "plan"
    assert "以往周期尚未完成的后续措施" in page
    assert "导师带教" in page


@pytest.mark.parametrize("pack", ["budget"], indirect=True)
def test_bonuses_are_scaled_pro_rata_to_the_pool(login: Any) -> None:
    # east's pool: base 1,000 × 6 people × 1.0 = 6,000. Bonuses (coefficient 1.2): S 2,400,
    # A 1,800, B 1,200 three times, C 400 (399.6 to the yuan): 8,200 allocated.
    ids = to_calibration(login, dict(zip(EAST, [95, 85, 70, 70, 65, 50], strict=True)))
    hr, lead = login("h01"), login("e00")
    page = board(hr, "east").get_data(as_text=True)
    assert 'id="budgets"' in page
    assert "8,200" in page
    assert "6,000" in page
    assert sign(lead, "east", as_of(lead, "east")).status_code == 302
    assert sign(hr, "east", as_of(hr, "east")).status_code == 302
    # signed off: each bonus × 6,000 / 8,200, down to the yuan (the pool is never overspent);
    # e00's own waits for the director
    bonuses = {who: appraisal(ids[who]).bonus for who in EAST}
    assert bonuses == {"e00": 2400, "e01": 1317, "e02": 878, "e03": 878, "e04": 878, "e05": 292}
    # the director signs e00 off last: the five signed before are fixed at 4,243; what is left
    # of the pool, 1,757, is all e00 can have (2,400 × 1,757 / 2,400)
    director = login("d00")
    assert sign(director, "east", as_of(director, "east")).status_code == 302
    assert appraisal(ids["e00"]).bonus == 1757
    assert sum(appraisal(ids[who]).bonus for who in EAST) <= 6000
    scaled = appraisal(ids["e01"]).result["bonus"]["budget"]
    assert (scaled["pool"], scaled["allocated"], scaled["unscaled"]) == (6000, 8200, 1800)
    text = login("e01").get(f"/appraisals/{ids['e01']}").get_data(as_text=True)
    assert "按部门奖金池同比例缩减：1,800 × 6,000 ÷ 8,200 = 1,317" in text


def test_a_large_payout_sheet_is_made_in_the_background(login: Any, app: Flask) -> None:
    to_calibration(login, dict(zip(EAST, [95, 85, 84, 70, 65, 50], strict=True)))
    hr, lead = login("h01"), login("e00")
    assert sign(lead, "east", as_of(lead, "east"), "同意").status_code == 302
    assert sign(hr, "east", as_of(hr, "east"), "同意").status_code == 302
    app.config["PAYOUT_INLINE_ROWS"] = 2  # five rows are "large" here
    response = lead.get(f"/cycles/{cycle_id()}/payout.xlsx")
    assert response.status_code == 302
    job_page = response.headers["Location"]
    assert "/jobs/" in job_page
    assert "共 5 行。" in lead.get(job_page).get_data(as_text=True)
    sheet = lead.get(job_page.rstrip("/") + "/file")
    assert sheet.status_code == 200
    rows = list(load_workbook(io.BytesIO(sheet.data)).active.iter_rows(values_only=True))
    assert {r[0] for r in rows[1:]} == {"e01", "e02", "e03", "e04", "e05"}
    # the job and its file are the asker's (and HR's), nobody else's
    assert login("w00").get(job_page).status_code == 403
    assert login("w00").get(job_page.rstrip("/") + "/file").status_code == 403


def test_nobody_changes_their_own_grade(login: Any, app: Flask) -> None:
    from opsperf.persistence.models import User

    to_calibration(login, {"e01": 95, "e02": 70})
    with app.app_context():  # e01 also works in HR
        db.session.query(User).filter_by(employee_no="e01").one().roles = ["hr"]
        db.session.commit()
    e01 = login("e01")
    assert override(e01, "e01", "A", "我想要 A").status_code == 403
    assert appraisal_of("e01").grade == "S"
    page = board(e01, "east").get_data(as_text=True)
    own, other = appraisal_of("e01").id, appraisal_of("e02").id
    assert f'name="appraisal" value="{own}"' not in page
    assert f'name="appraisal" value="{other}"' in page  # as HR, the others' grades


def test_a_board_that_changed_unseen_is_refused(login: Any, app: Flask) -> None:
    to_calibration(login, {"e01": 95, "e02": 70})
    lead = login("e00")
    token = as_of(lead, "east")
    with app.app_context():  # a change the audit trail does not name (still being written)
        from opsperf.persistence.models import Appraisal

        row = db.session.get(Appraisal, appraisal_of("e02").id)
        row.values = {**row.values, "potential": 5}
        db.session.commit()
    refused = sign(lead, "east", token)
    assert refused.status_code == 409
    assert "看板打开后内容发生了变化" in refused.get_data(as_text=True)
    assert votes_cast() == 0


@pytest.mark.parametrize("pack", ["subtree"], indirect=True)
def test_a_subtree_quota_counts_every_department_above(login: Any) -> None:
    # east alone: 1 S of 6 is within 20 %; with west under ops: 2 S of 10 = 20 % is within;
    # a third S in west makes ops 3 of 10 = 30 %, which east's board must show too
    points = dict(zip(EAST, [95, 70, 70, 70, 70, 50], strict=True))
    points.update(zip(WEST, [95, 96, 70, 70], strict=True))
    to_calibration(login, points)
    data = board_json(login("e00"), "east")
    assert [(i["department"], i["grade"], i["hard"]) for i in data["quota_issues"]] == [
        ("ops", "S", True)
    ]
    refused = sign(login("e00"), "east", as_of(login("e00"), "east"), "理由")
    assert refused.status_code == 422

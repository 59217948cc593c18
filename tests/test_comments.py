"""Comments on appraisals, over HTTP on both databases: threads and replies, KPI rows, private
notes kept from the employee everywhere (page, API, history, PDF), @mentions offered and
checked, the length limit, the audit trail, and the appeal that opens a thread with HR."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from opsperf.persistence.models import Comment, Event, User, db
from opsperf.services import demo
from tests.helpers import appraisal, launch_quarter
from tests.test_reports import text_of

URL = "/appraisals/{}/comments"


@pytest.fixture
def cycle(app: Flask, staff: dict[str, int]) -> dict[str, int]:
    return launch_quarter(["sales", "marketing"])


def _post(client: FlaskClient, appraisal_id: int, **data: Any) -> Any:
    return client.post(URL.format(appraisal_id), data=data)


def _api(client: FlaskClient, appraisal_id: int, **body: Any) -> Any:
    return client.post(f"/api/v1/appraisals/{appraisal_id}/comments", json=body)


def _stored(app: Flask) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(Comment)) or 0,
            db.session.scalar(select(func.count()).select_from(Event)) or 0,
        )


def _read(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    if response.is_json:
        return json.dumps(response.get_json(), ensure_ascii=False)
    return response.get_data(as_text=True)


def _mention(staff: dict[str, int], no: str, name: str) -> str:
    return f"@[{name}](u:{staff[no]})"


def test_threads_replies_and_kpi_rows(
    app: Flask, as_user: Any, cycle: dict[str, int], staff: dict[str, int]
) -> None:
    """An employee and their manager talk on the appraisal and on a KPI row; both read it all,
    each thread keeps its replies (a reply to a reply joins the thread), newest thread first."""
    a = cycle["s101"]
    me, boss, hr = as_user("s101"), as_user("s100"), as_user("hr01")
    assert _post(me, a, body="目标是否偏高？", next=f"/appraisals/{a}").status_code == 302
    r = _api(boss, a, body="收入目标可以再看一下。", kpi="kpis.revenue")
    assert r.status_code == 201, r.get_json()
    kpi_thread = r.get_json()["id"]
    reply = _api(me, a, body="好的，我改成 125。", reply_to=kpi_thread).get_json()
    assert reply["kpi"] == "kpis.revenue"
    assert reply["reply_to"] == kpi_thread
    again = _api(hr, a, body="HR 已知悉。", reply_to=reply["id"]).get_json()
    assert again["reply_to"] == kpi_thread  # one level of replies
    general = hr.get(f"/api/v1/appraisals/{a}/comments").get_json()
    assert [t["text"] for t in general["threads"]] == ["目标是否偏高？"]
    on_kpi = me.get(f"/api/v1/appraisals/{a}/comments?kpi=kpis.revenue").get_json()
    (thread,) = on_kpi["threads"]
    assert [r["text"] for r in thread["replies"]] == ["好的，我改成 125。", "HR 已知悉。"]
    # the page: the panel, and the KPI row's link with its count to its thread
    page = me.get(f"/appraisals/{a}").get_data(as_text=True)
    assert 'id="comments"' in page
    assert "目标是否偏高？" in page
    link = re.search(r'<a class="comment-link" id="comments-kpis-revenue" href="([^"]+)"', page)
    assert link is not None
    assert "kpi=kpis.revenue" in link.group(1)
    assert "3 comments" in page or "3 条评论" in page
    thread_page = me.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "好的，我改成 125。" in thread_page
    assert "目标是否偏高？" not in thread_page
    # HTMX: just the panel
    fragment = me.get(link.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"})
    assert fragment.get_data(as_text=True).lstrip().startswith('<div id="comments-panel"')
    # an outsider reads nothing, writes nothing
    outsider = as_user("m100")
    before = _stored(app)
    assert outsider.get(f"/api/v1/appraisals/{a}/comments").status_code == 403
    assert _post(outsider, a, body="路过").status_code == 403
    assert _api(outsider, a, body="路过").status_code == 403
    assert _stored(app) == before


def test_threads_are_paged_newest_first(app: Flask, as_user: Any, cycle: dict[str, int]) -> None:
    a = cycle["s101"]
    me = as_user("s101")
    for n in range(12):
        assert _api(me, a, body=f"第 {n} 条").status_code == 201
    first = me.get(f"/api/v1/appraisals/{a}/comments").get_json()
    assert [t["text"] for t in first["threads"]] == [f"第 {n} 条" for n in range(11, 1, -1)]
    rest = me.get(f"/api/v1/appraisals/{a}/comments?before={first['older']}").get_json()
    assert [t["text"] for t in rest["threads"]] == ["第 1 条", "第 0 条"]
    assert rest["older"] is None
    html = me.get(f"/appraisals/{a}").get_data(as_text=True)
    assert f"before={first['older']}" in html  # "older comments"


def test_private_notes_never_reach_the_employee(
    app: Flask, as_user: Any, cycle: dict[str, int], tmp_path: Path
) -> None:
    """A manager's private note: the head and HR read it (marked private); the employee sees
    no trace of it on the page, in the API, in the history or in the PDF, and may not write
    one; a reply to it is private too."""
    a = cycle["s101"]
    me, boss, hr = as_user("s101"), as_user("s100"), as_user("hr01")
    note = "私密：李娜的目标定得保守，校准时留意。"
    r = _api(boss, a, body=note, private=True)
    assert r.status_code == 201
    assert r.get_json()["visibility"] == "private"
    reply = _api(hr, a, body="收到，校准时看。", reply_to=r.get_json()["id"]).get_json()
    assert reply["visibility"] == "private"
    assert _api(me, a, body="我也想写私密备注", private=True).status_code == 403
    assert _api(me, a, body="偷看", reply_to=r.get_json()["id"]).status_code == 404
    hidden = ("保守", "收到，校准时看")
    for url in (f"/appraisals/{a}", f"/api/v1/appraisals/{a}/comments",
                f"/appraisals/{a}/history", URL.format(a), f"/api/v1/appraisals/{a}"):  # fmt: skip
        shown = _read(me, url)
        assert not any(text in shown for text in hidden), url
        assert "私密备注" not in shown, url
        assert "Private note" not in shown, url
        assert hidden[0] in _read(hr, url) or url == f"/api/v1/appraisals/{a}"
    page = boss.get(f"/appraisals/{a}").get_data(as_text=True)
    assert note in page
    assert "badge-private" in page
    # the printed appraisal: in the trail for HR, not for the employee
    assert hidden[0] in text_of(hr.get(f"/appraisals/{a}/report.pdf").data, tmp_path)
    assert hidden[0] not in text_of(me.get(f"/appraisals/{a}/report.pdf").data, tmp_path)


def test_mentions_offer_and_accept_only_readers(
    app: Flask, as_user: Any, cycle: dict[str, int], staff: dict[str, int]
) -> None:
    """The box offers the people who may read the appraisal (never others), a mention of
    someone else is refused with 422 naming only what was typed, and nothing is stored."""
    a = cycle["s101"]
    boss = as_user("s100")
    offered = boss.get(f"{URL.format(a)}/people?q=").get_data(as_text=True)
    for name in ("李娜", "王芳", "系统管理员"):  # the employee, HR, the administrator
        assert name in offered
    for name in ("刘洋", "赵敏", "吴刚", "张伟"):  # others of the company, and the reader
        assert name not in offered
    assert "李娜" in boss.get(f"{URL.format(a)}/people?q=s10").get_data(as_text=True)
    assert "王芳" in boss.get(f"{URL.format(a)}/people?q=王").get_data(as_text=True)
    assert "李娜" not in boss.get(f"{URL.format(a)}/people?q=王").get_data(as_text=True)
    # a private note is for the head and HR: the employee is not offered
    private = boss.get(f"{URL.format(a)}/people?q=&private=1").get_data(as_text=True)
    assert "王芳" in private
    assert "李娜" not in private
    # posting a mention: stored as the person, shown with their name
    r = _api(boss, a, body=f"{_mention(staff, 'hr01', '芳')} 请看一下目标", kpi="kpis.revenue")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["mentions"] == [{"id": staff["hr01"], "name": "王芳"}]
    assert r.get_json()["text"].startswith("@王芳 ")
    assert '<span class="mention">@王芳</span>' in boss.get(
        f"{URL.format(a)}?kpi=kpis.revenue"
    ).get_data(as_text=True)
    # someone who may not read it: refused, naming only what was typed
    before = _stored(app)
    for typed in (_mention(staff, "m100", "小赵"), "@[谁](u:999999)", "@[大数](u:9999999999)"):
        r = _api(boss, a, body=f"{typed} 你怎么看")
        assert r.status_code == 422, r.get_json()
        message = r.get_json()["message"]
        assert typed.split("]")[0][2:] in message
        assert "赵敏" not in message
        form = _post(boss, a, body=f"{typed} 你怎么看")
        assert form.status_code == 422
        assert "你怎么看" in form.get_data(as_text=True)
    # the employee in a private note: refused too
    r = _api(boss, a, body=f"{_mention(staff, 's101', '李娜')} 看看", private=True)
    assert r.status_code == 422
    assert _stored(app) == before


def test_text_is_checked(app: Flask, as_user: Any, cycle: dict[str, int]) -> None:
    a = cycle["s101"]
    me = as_user("s101")
    before = _stored(app)
    for body in ("", "   ", "x" * 4001, "a\x00b", "坏\x1b字"):
        assert _api(me, a, body=body).status_code == 422, body
        assert _post(me, a, body=body).status_code == 422, body
    assert _api(me, a, body="ok", kpi="kpis.nowhere").status_code == 422
    assert _api(me, a, body="ok", reply_to=999999).status_code == 404
    assert _api(me, a, body="ok", reply_to="1").status_code == 422
    assert _api(me, a, body=5).status_code == 422
    assert _stored(app) == before
    assert _api(me, a, body="x" * 4000).status_code == 201


def test_comments_are_in_the_audit_trail(
    app: Flask, as_user: Any, cycle: dict[str, int], tmp_path: Path
) -> None:
    a = cycle["s101"]
    me, boss = as_user("s101"), as_user("s100")
    _api(me, a, body="关于收入目标的说明", kpi="kpis.revenue")
    with app.app_context():
        (e,) = db.session.scalars(select(Event).where(Event.kind == "comment"))
        assert (e.comment, e.changes["kpi"], e.changes["visibility"]) == (
            "关于收入目标的说明",
            "kpis.revenue",
            "public",
        )
    history = boss.get(f"/appraisals/{a}/history").get_data(as_text=True)
    assert "关于收入目标的说明" in history
    assert "关于收入目标的说明" in text_of(boss.get(f"/appraisals/{a}/report.pdf").data, tmp_path)


def test_an_appeal_opens_a_thread_with_hr(
    app: Flask, as_user: Any, cycle: dict[str, int], staff: dict[str, int]
) -> None:
    a = cycle["s101"]
    steps = ["submit_plan", "start_assessment", "submit_self", "submit_review", "sign_off"]
    with app.app_context():
        demo._walk(a, steps, random.Random(3))
    assert appraisal(a).state == "feedback"
    me = as_user("s101")
    reason = "客户满意度数据未计入 12 月的调查，申请复核。"
    response = me.post(
        f"/appraisals/{a}/fire",
        data={"action": "appeal:fire", "comment:appeal:fire": reason, "agreement": "disagree",
              "version": appraisal(a).version},
    )  # fmt: skip
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert appraisal(a).state == "assess.calibration"
    with app.app_context():
        (c,) = db.session.scalars(select(Comment))
        assert (c.body, c.addressed_to, c.trigger, c.visibility) == (
            reason,
            ["hr"],
            "appeal",
            "public",
        )
        assert db.session.scalar(select(func.count()).where(Event.kind == "comment")) == 1
    for who in ("s101", "s100", "hr01"):
        threads = as_user(who).get(f"/api/v1/appraisals/{a}/comments").get_json()["threads"]
        assert [(t["text"], t["to"], t["step"]) for t in threads] == [(reason, ["hr"], "appeal")]
    hr = as_user("hr01")
    assert (
        _api(hr, a, body="已收到申诉，本周内复核。", reply_to=threads[0]["id"]).status_code == 201
    )
    assert "已收到申诉" in me.get(f"/appraisals/{a}").get_data(as_text=True)


def test_posting_returns_who_to_tell(
    app: Flask, cycle: dict[str, int], staff: dict[str, int]
) -> None:
    """The result of a post names the mentioned and the thread's other participants."""
    from opsperf.services import comments

    a = cycle["s101"]
    with app.app_context():
        people = {no: db.session.get(User, staff[no]) for no in ("s101", "s100", "hr01")}
        first = comments.post(a, people["s101"], "有个问题")
        second = comments.post(
            a,
            people["s100"],
            f"{_mention(staff, 'hr01', '王芳')} 一起看",
            parent_id=first.comment.id,
        )
        assert [u.employee_no for u in second.mentioned] == ["hr01"]
        assert [u.employee_no for u in second.participants] == ["s101"]
        third = comments.post(a, people["hr01"], "好", parent_id=first.comment.id)
        assert sorted(u.employee_no for u in third.participants) == ["s100", "s101"]
        assert third.mentioned == []
        assert third.addressed_to == ()

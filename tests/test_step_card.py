"""The step card asks for what a step's guard reads, next to its button: in feedback, the
employee's answer and the "I have read" box stand under the manager's side of the talk, and
acknowledge and appeal are taken from there."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from flask import Flask

from opsperf.services import demo
from tests.helpers import appraisal, launch_quarter, problems, save

TALK = {
    "feedback_date": "2026-12-28",
    "feedback_mode": "video",
    "manager_feedback": "本季度回款节奏明显改善，新客户开发达标；下季度重点提升大客户覆盖率。",
}


@pytest.fixture
def in_feedback(app: Flask, as_user: Any, staff: dict[str, int]) -> int:
    """李娜's appraisal signed off into feedback; her manager has written up the talk."""
    appraisal_id = launch_quarter(["sales"])["s101"]
    with app.app_context():
        steps = ["submit_plan", "start_assessment", "submit_self", "submit_review", "sign_off"]
        demo._walk(appraisal_id, steps, random.Random(7))
    assert appraisal(appraisal_id).state == "feedback"
    response = save(as_user("s100"), appraisal_id, TALK)
    assert response.status_code == 302, problems(response)
    return appraisal_id


def _card(html: str) -> str:
    """The step card's markup."""
    start = html.index('id="step-card"')
    end = html.index('id="result"', start)
    return html[start:end]


def _form(html: str) -> str:
    """The appraisal form element's markup."""
    start = html.index('<form id="appraisal-form"')
    return html[start : html.index("</form>", start)]


def _controls(markup: str) -> list[str]:
    return re.findall(r'<(?:input|textarea|select)[^>]*\bname="([^"]+)"', markup)


def test_the_answer_and_the_box_stand_in_the_step_card(as_user: Any, in_feedback: int) -> None:
    html = as_user("s101").get(f"/appraisals/{in_feedback}").get_data(as_text=True)
    card, form = _card(html), _form(html)
    # asked once, in the card, before the button they unlock; none left in the form
    for name in ("agreement", "acknowledged"):
        assert name in _controls(card)
        assert name not in _controls(form)
        assert html.count(f'id="field-{name}"') == 1
    assert card.index('name="agreement"') < card.index('value="acknowledge:fire"')
    assert card.index('name="acknowledged"') < card.index('value="acknowledge:fire"')
    # they stand outside the form element and belong to it
    for tag in re.findall(r'<input[^>]*name="(?:agreement|acknowledged)"[^>]*>', card):
        assert 'form="appraisal-form"' in tag
    # the manager's side of the talk, read-only, above them
    assert card.index(TALK["manager_feedback"]) < card.index('name="agreement"')
    assert "视频会议" in card  # how the talk was held
    assert 'name="manager_feedback"' not in html
    # the appeal's reason is asked right there too
    assert card.index('name="comment:appeal:fire"') < card.index('value="appeal:fire"')
    # what the employee may write besides stays in the form
    assert "employee_reply" in _controls(form)


def test_acknowledge_from_the_step_card(as_user: Any, in_feedback: int) -> None:
    me = as_user("s101")
    version = appraisal(in_feedback).version
    url = f"/appraisals/{in_feedback}/fire"
    # the button stays shut until the answer and the box are given; a post without them is
    # refused with the message beside the answer, in the card
    refused = me.post(url, data={"action": "acknowledge:fire", "version": version})
    assert refused.status_code in (403, 422)
    assert appraisal(in_feedback).state == "feedback"
    card = _card(refused.get_data(as_text=True))
    assert 'name="agreement"' in card
    assert problems(refused)

    taken = me.post(
        url,
        data={
            "action": "acknowledge:fire",
            "agreement": "agree",
            "acknowledged": "y",
            "acknowledged__shown": "1",
            "version": version,
        },
    )
    assert taken.status_code == 302, problems(taken)
    after = appraisal(in_feedback)
    assert after.state == "closed"
    assert (after.values["agreement"], after.values["acknowledged"]) == ("agree", True)


def test_the_live_preview_opens_the_button_once_the_box_is_ticked(
    as_user: Any, in_feedback: int
) -> None:
    me = as_user("s101")
    page = me.get(f"/appraisals/{in_feedback}").get_data(as_text=True)
    button = re.search(r'<button[^>]*value="acknowledge:fire"[^>]*>', page)
    assert button
    assert "disabled" in button.group(0)
    version = appraisal(in_feedback).version
    live = me.post(
        f"/appraisals/{in_feedback}/preview",
        data={"agreement": "partly", "acknowledged": "y", "version": version},
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    button = re.search(r'<button[^>]*value="acknowledge:fire"[^>]*>', live)
    assert button
    assert "disabled" not in button.group(0)
    assert 'id="actions" hx-swap-oob="true"' in live  # only the buttons are swapped
    assert 'id="step-card"' not in live


def test_appeal_from_the_step_card(as_user: Any, in_feedback: int) -> None:
    me = as_user("s101")
    version = appraisal(in_feedback).version
    url = f"/appraisals/{in_feedback}/fire"
    refused = me.post(url, data={"action": "appeal:fire", "version": version})
    assert refused.status_code == 422
    assert appraisal(in_feedback).state == "feedback"
    reason = "新客户数按 CRM 首单日期应为 13 个，而非 12 个，请复核。"
    taken = me.post(
        url,
        data={
            "action": "appeal:fire",
            "agreement": "disagree",
            "comment:appeal:fire": reason,
            "version": version,
        },
    )
    assert taken.status_code == 302, problems(taken)
    after = appraisal(in_feedback)
    assert after.state == "assess.calibration"
    assert after.values["agreement"] == "disagree"


def test_the_manager_sees_no_step_fields(as_user: Any, in_feedback: int) -> None:
    """The guard's fields are the employee's to fill: the manager's card has no fields, and
    the manager keeps editing the talk in the form."""
    html = as_user("s100").get(f"/appraisals/{in_feedback}").get_data(as_text=True)
    card, form = _card(html), _form(html)
    assert 'id="step-feedback"' not in card
    assert "manager_feedback" in _controls(form)
    assert "agreement" not in _controls(card)

"""Fields only some viewers see: a manager-only note, a field for the feedback step, a hint
shown to managers — withheld from pages, the API and the history, and never editable by
those who may not see them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.helpers import appraisal_of, diagnostics_after, save, write_pack
from tests.test_rights import PACK as RIGHTS_PACK
from tests.test_rights import login  # noqa: F401  (the fixture: people and a running cycle)

FORM = (
    RIGHTS_PACK["forms/agent_review.yaml"]
    + """\
  - id: private
    title: 上级备注
    fields:
      - {id: manager_note, type: textarea, label: 上级私下备注, visible_to: [manager, dept_head]}
      - {id: coach_tip, type: text, label: 辅导要点, visible_if: "'manager' in viewer_roles"}
      - {id: reflection, type: textarea, label: 反馈后的思考, visible_if: "state == 'feedback'"}
"""
)
WORKFLOW = RIGHTS_PACK["workflows/review.yaml"].replace(
    "      manager: [key_results.reviewed]",
    "      manager: [key_results.reviewed, manager_note, coach_tip]",
)
PACK = {**RIGHTS_PACK, "forms/agent_review.yaml": FORM, "workflows/review.yaml": WORKFLOW}
NOTE = "沟通方式需要调整，下月重点辅导"


@pytest.fixture
def definition_roots(tmp_path: Path) -> list[str]:
    return write_pack(tmp_path / "defs", PACK)


def test_a_manager_only_note_stays_with_managers(login: Any) -> None:  # noqa: F811
    lead, agent = login("l1"), login("a2")
    a = appraisal_of("a2").id
    assert save(lead, a, {"manager_note": NOTE, "coach_tip": "多倾听"}).status_code == 302
    assert NOTE in lead.get(f"/appraisals/{a}").get_data(as_text=True)
    page = agent.get(f"/appraisals/{a}").get_data(as_text=True)
    assert NOTE not in page
    assert "上级私下备注" not in page
    assert "多倾听" not in page  # visible_if reads the viewer's roles: no value in the page
    assert 'id="field-coach_tip" class="field readonly" hidden' in page
    assert 'id="field-reflection" class="field readonly" hidden' in page  # feedback only
    assert 'id="section-private" hidden' in page  # nothing in it for the employee now
    data = agent.get(f"/api/v1/appraisals/{a}").get_json()
    assert "manager_note" not in data["values"]
    assert data["values"]["coach_tip"] == "多倾听"  # conditional, not withheld: in the API
    history = agent.get(f"/appraisals/{a}/history").get_data(as_text=True)
    assert NOTE not in history
    assert "多倾听" not in history
    assert save(agent, a, {"manager_note": "改掉"}).status_code == 403
    peer = login("q1")  # another agent: not their manager either
    assert NOTE not in peer.get(f"/appraisals/{a}").get_data(as_text=True)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("visible_to: [manager, dept_head]", "visible_to: [manger]", "unknown role 'manger'"),
        ("{id: coach_tip,", "{id: state,", "'state' is what visible_if reads about the viewer"),
        ("'manager' in viewer_roles", "'manager' in viewer_role", "unknown name 'viewer_role'"),
        (
            "visible_to: [manager, dept_head]",
            "visible_to: [hr]",
            "role 'manager' may edit 'manager_note', but form 'agent_review' hides 'manager_note'",
        ),
    ],
    ids=["unknown role", "reserved id", "unknown viewer name", "edit what one cannot see"],
)
def test_the_checker_knows_audiences(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert message in diagnostics_after(tmp_path, PACK, "forms/agent_review.yaml", old, new)


def test_visibility_costs_nothing_without_a_viewer(app: Flask) -> None:
    with app.app_context():
        form = app.extensions["opsperf.registry"].current.forms["agent_review"]
    from opsperf.engine.forms import evaluate

    shown = evaluate(form, {"manager_note": NOTE})
    assert shown.fields["manager_note"].visible  # the server's own computations see all
    assert not shown.fields["coach_tip"].visible

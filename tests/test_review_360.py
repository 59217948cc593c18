"""A 360 review from examples/review_360: each peer reviewer adds, edits and removes only their
own row, never on their own appraisal; the person reviewed never sees the peer feedback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.helpers import appraisal, appraisal_of, crew, example, fire, launch, save, write_pack

PASSWORD = "review-360-1"
PACK = example("review_360")


@pytest.fixture
def definition_roots(tmp_path: Path) -> list[str]:
    return write_pack(tmp_path / "defs", PACK)


@pytest.fixture
def login(app: Flask) -> Any:
    rows = [
        {"employee_no": "p0", "name": "产品总监许岚", "department": "product",
         "position": "product_lead", "manager": "", "roles": "hr"},
        {"employee_no": "p1", "name": "产品经理丁一", "department": "product",
         "position": "product_manager", "manager": "p0", "roles": "peer_reviewer"},
        {"employee_no": "p2", "name": "产品经理钱二", "department": "product",
         "position": "product_manager", "manager": "p0", "roles": "peer_reviewer"},
        {"employee_no": "p3", "name": "产品经理孙三", "department": "product",
         "position": "product_manager", "manager": "p0", "roles": "peer_reviewer"},
    ]  # fmt: skip
    make = crew(app, rows, PASSWORD)
    assert launch(make("p0"), ["product"], workflow="review_360").status_code == 302
    return make


def _row(index: int, rating: str, comment: str) -> dict[str, str]:
    return {
        "peer_feedback__rows": "1",
        f"peer_feedback-{index}-rating": rating,
        f"peer_feedback-{index}-comment": comment,
    }


def test_peers_keep_to_their_own_rows(login: Any) -> None:
    reviewed, peer2, peer3, lead = login("p1"), login("p2"), login("p3"), login("p0")
    a = appraisal_of("p1").id
    assert (
        save(reviewed, a, {"self_rating": "4", "self_summary": "完成两个版本的上线。"}).status_code
        == 302
    )
    assert fire(reviewed, a, "submit_self").status_code == 302

    assert save(peer2, a, _row(0, "4", "需求文档清晰")).status_code == 302
    assert save(peer3, a, _row(1, "5", "跨部门推动有力")).status_code == 302
    stored = appraisal(a).values["peer_feedback"]
    assert [r["rating"] for r in stored] == [4, 5]
    assert stored[0]["_by"] != stored[1]["_by"]  # each row knows who added it
    assert save(peer3, a, _row(0, "1", "改掉别人的")).status_code == 403  # not their row
    page = peer3.get(f"/appraisals/{a}").get_data(as_text=True)
    assert 'name="peer_feedback-1-rating"' in page  # their own row
    assert 'name="peer_feedback-0-rating"' not in page  # another peer's: shown, not editable

    # peer 2 removes their row and writes it again: peer 3's row stays as it was
    emptied = _row(0, "", "")
    assert save(peer2, a, emptied).status_code == 302
    assert [r["comment"] for r in appraisal(a).values["peer_feedback"]] == ["跨部门推动有力"]
    assert save(peer2, a, _row(1, "3", "排期偶有延误")).status_code == 302

    # the person reviewed is a peer reviewer too, but never on their own appraisal
    assert save(reviewed, a, _row(2, "5", "自己给自己")).status_code == 403
    own_page = reviewed.get(f"/appraisals/{a}").get_data(as_text=True)
    assert "同事互评" not in own_page
    assert "排期偶有延误" not in own_page
    assert "peer_feedback" not in reviewed.get(f"/api/v1/appraisals/{a}").get_json()["values"]

    assert fire(lead, a, "close_peers").status_code == 302
    assert save(lead, a, {"manager_rating": "4"}).status_code == 302
    assert fire(lead, a, "rate").status_code == 302
    done = appraisal(a)
    # self 4 × 10 % + peers (5 + 3) / 2 × 30 % + manager 4 × 60 % = 4.0 → × 20 = 80 → A
    assert (done.score, done.grade, done.bonus) == (80.0, "A", 9600.0)

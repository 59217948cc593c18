"""Two people acting on one appraisal at the same moment: one wins, the other is told, no harm."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from opsperf.persistence.models import Vote, db
from tests.helpers import appraisal_of, events, fire, launch_quarter, problems, to_calibration


def _race(
    clients: list[FlaskClient], appraisal_id: int, trigger: str, kind: str, comment: str = ""
) -> list[int]:
    version = appraisal_of("s101").version
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def act(client: FlaskClient) -> None:
        barrier.wait()
        response = fire(client, appraisal_id, trigger, kind, comment, version=version)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=act, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(statuses)


def test_two_approvals_at_once(app: Flask, staff: Any, as_user: Any) -> None:
    appraisal_id = to_calibration(app)
    head, hr = as_user("s100"), as_user("hr01")

    assert _race([head, hr], appraisal_id, "sign_off", "approve") == [302, 409]
    with app.app_context():
        votes = db.session.query(Vote).filter_by(appraisal_id=appraisal_id, trigger="sign_off")
        assert votes.count() == 1
    assert appraisal_of("s101").state == "assess.calibration"
    assert [(e.kind, e.trigger) for e in events(appraisal_id)].count(("vote", "sign_off")) == 1

    # The one who was refused reloads and signs: now both have approved and the step is taken.
    voted = {
        e.actor_id for e in events(appraisal_id) if (e.kind, e.trigger) == ("vote", "sign_off")
    }
    late = hr if staff["hr01"] not in voted else head
    assert fire(late, appraisal_id, "sign_off", "approve").status_code == 302
    assert appraisal_of("s101").state == "feedback"


def test_the_same_step_twice_at_once_moves_once(app: Flask, staff: Any, as_user: Any) -> None:
    appraisal_id = to_calibration(app)
    manager_a, manager_b = as_user("s100"), as_user("s100")

    comment = "评语需要补充具体事例。"
    statuses = _race([manager_a, manager_b], appraisal_id, "return_to_manager", "fire", comment)
    assert statuses == [302, 409]
    assert appraisal_of("s101").state == "assess.manager"
    moves = [e for e in events(appraisal_id) if e.trigger == "return_to_manager"]
    assert len(moves) == 1


def test_a_stale_page_is_refused_and_changes_nothing(app: Flask, staff: Any, as_user: Any) -> None:
    appraisal_id = to_calibration(app)
    stale = appraisal_of("s101").version
    assert fire(as_user("s100"), appraisal_id, "sign_off", "approve").status_code == 302
    response = fire(as_user("hr01"), appraisal_id, "sign_off", "approve", version=stale)
    assert response.status_code == 409
    assert problems(response)  # the page says why, beside the form it keeps
    assert appraisal_of("s101").state == "assess.calibration"


def test_a_write_without_a_whole_version_is_refused_and_keeps_what_was_typed(
    app: Flask, staff: Any, as_user: Any
) -> None:
    """The stale-page check cannot be skipped: a save or step must name its version, in ASCII
    digits (page) or as a JSON whole number (API)."""
    appraisal_id = launch_quarter(["sales"], name="Q4")["s101"]
    me = as_user("s101")
    current = appraisal_of("s101").version
    history = len(events(appraisal_id))
    typed = "聚焦华东区重点客户续约"
    for version in (None, "", "abc", "²", "1" * 5_000, "-1", f"{current}.0"):
        data = {"plan_summary": typed}
        if version is not None:
            data["version"] = version
        response = me.post(f"/appraisals/{appraisal_id}", data=data)
        assert response.status_code == 422, version
        assert typed in response.get_data(as_text=True)  # shown again, not lost
        assert problems(response), version  # and says why
        step = {"action": "submit_plan:request", "plan_summary": typed}
        if version is not None:
            step["version"] = version
        assert me.post(f"/appraisals/{appraisal_id}/fire", data=step).status_code == 422
    url = f"/api/v1/appraisals/{appraisal_id}"
    for version in (None, str(current), float(current), True, [current], 10**30):
        body: dict[str, Any] = {"values": {"plan_summary": typed}}
        if version is not None:
            body["version"] = version
        expected = 409 if version == 10**30 else 422
        assert me.post(f"{url}/values", json=body).status_code == expected, version
        move = {"trigger": "submit_plan", "kind": "request", "version": version}
        assert me.post(f"{url}/transitions", json=move).status_code == expected, version
    a = appraisal_of("s101")
    assert a.version == current
    assert not (a.values or {}).get("plan_summary")
    assert len(events(appraisal_id)) == history
    saved = me.post(f"/appraisals/{appraisal_id}", data={"plan_summary": typed, "version": current})
    assert saved.status_code == 302

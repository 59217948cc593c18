"""Running appraisals keep their pinned definitions: snapshots written by earlier versions of
opsperf must still load and score after the definition language grows.

``tests/fixtures/snapshots/*.json`` hold the shipped pack exactly as the snapshots table stored
it at a release (``model_dump(mode="json", exclude_none=True)``). Add a file when the language
changes; never edit one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opsperf.definitions.schema import KINDS, Form
from opsperf.engine.forms import evaluate

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "snapshots").glob("*.json"))
SNAPSHOTS = [(f.stem, s) for f in FIXTURES for s in json.loads(f.read_text("utf-8"))]


@pytest.mark.parametrize(
    "snapshot", [s for _, s in SNAPSHOTS], ids=[f"{r}-{s['def_id']}" for r, s in SNAPSHOTS]
)
def test_an_old_snapshot_loads_and_evaluates(snapshot: dict) -> None:
    parsed = KINDS[snapshot["kind"]].model_validate(snapshot["body"])
    assert parsed.id == snapshot["def_id"]
    assert parsed.version == snapshot["version"]
    if isinstance(parsed, Form):
        evaluation = evaluate(parsed, {})
        assert evaluation.score.total is None  # nothing typed yet: waiting, not failing


def test_there_are_snapshots_of_every_kind_in_the_shipped_pack() -> None:
    assert {s["kind"] for _, s in SNAPSHOTS} >= {
        "Department",
        "Form",
        "Workflow",
        "IncentivePolicy",
    }

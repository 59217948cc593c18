"""The README's YAML examples are a working definition set (docs that cannot drift)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from opsperf.config import PROJECT_ROOT
from opsperf.definitions.loader import load

COMPANY = (
    "kind: Department\nid: company\nname: {zh: 公司, en: Company}\n"
    "goals:\n  - {id: revenue, name: {zh: 销售额, en: Revenue}, unit: 万元, rollup: sum}\n"
)


def test_readme_examples_load_without_errors(tmp_path: Path) -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", readme, re.S) if "kind:" in b]
    assert len(blocks) >= 4
    for index, block in enumerate([COMPANY, *blocks]):
        (tmp_path / f"{index}.yaml").write_text(block, encoding="utf-8")
    result = load([tmp_path])
    assert [d.format() for d in result.errors] == []
    kinds = {key[0] for key in result.definitions.located}
    assert kinds == {"Department", "Form", "Workflow", "IncentivePolicy", "PersonAttributes"}


def test_the_json_schema_knows_every_kind_and_construct() -> None:
    from opsperf.definitions.jsonschema import definitions_schema
    from opsperf.definitions.schema import KINDS

    schema = definitions_schema()
    assert set(KINDS) <= set(schema["$defs"])
    properties = {name: set(d.get("properties", {})) for name, d in schema["$defs"].items()}
    assert "actual_from" in properties["Kpi"]
    assert "adjustments" in properties["Form"]
    assert {"bonus_cap", "actions", "quotas", "budget", "rounding"} <= properties["IncentivePolicy"]
    assert "quota_enforce" in properties["Grade"]
    assert "calibration" in properties["State"]
    assert {"override", "show", "nine_box", "sign_off"} <= properties["Calibration"]
    assert {"id", "type", "label", "read"} <= properties["PersonAttribute"]
    assert {"aligns_to", "direction", "rollup", "weight", "target"} <= properties["Goal"]


@pytest.mark.parametrize(
    "name", ["call_center", "workshop_oee", "sales_commission", "rd_okr", "review_360"]
)
def test_every_example_pack_checks_strictly_clean(name: str) -> None:

    root = PROJECT_ROOT / "examples" / name
    result = load([root / part for part in ("org", "forms", "workflows")])
    assert [d.format() for d in result.diagnostics] == []
    assert len(result.definitions) >= 4

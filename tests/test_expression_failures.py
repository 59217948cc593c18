"""An expression that fails at run time with every value it reads present is a mistake in the
definition: it is kept (counted, with its inputs) and shown to HR on *Definitions*. One that
fails only because a value is still missing is a form being filled in, and is not."""

from __future__ import annotations

import html
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from opsperf.config import PROJECT_ROOT
from opsperf.persistence.models import Appraisal, ExpressionFailure, db
from opsperf.services import demo
from tests.helpers import appraisal_of, launch_quarter, record_actuals

GUARDED = """round(kpis.revenue.actual / kpis.revenue.target * 100, 1)
          if kpis.revenue.actual is not None and kpis.revenue.target else None"""
UNGUARDED = """round(kpis.revenue.actual / kpis.revenue.target * 100, 1)
          if kpis.revenue.actual is not None else None"""


@pytest.fixture
def definition_roots(tmp_path: Path) -> list[str]:
    """The shipped pack with the attainment formula no longer guarding against a zero target."""
    roots = []
    for name in ("org", "forms", "workflows"):
        shutil.copytree(PROJECT_ROOT / name, tmp_path / name)
        roots.append(str(tmp_path / name))
    form = tmp_path / "forms" / "sales_quarterly.yaml"
    text = form.read_text(encoding="utf-8")
    assert text.count(GUARDED) == 1
    form.write_text(text.replace(GUARDED, UNGUARDED), encoding="utf-8")
    return roots


def _failures(app: Flask) -> list[ExpressionFailure]:
    with app.app_context():
        return list(db.session.scalars(select(ExpressionFailure)))


def test_a_formula_that_fails_on_present_values_is_shown_to_hr(
    app: Flask, staff: Any, as_user: Any
) -> None:
    appraisal_id = launch_quarter(["sales"])["s101"]
    me = as_user("s101")
    with app.app_context():
        demo._walk(appraisal_id, ["submit_plan"], random.Random(2))
        a = db.session.get(Appraisal, appraisal_id)
        assert a is not None
        kpis = {**a.values["kpis"], "revenue": {**a.values["kpis"]["revenue"], "target": 0.0}}
        a.values = {**a.values, "kpis": kpis}  # a target of 0 was agreed
        db.session.commit()
    assert appraisal_of("s101").state == "monitor"
    assert me.get(f"/appraisals/{appraisal_id}").status_code == 200
    assert _failures(app) == []  # no actual yet: the formula is only waiting
    (checked_in,) = record_actuals(me, appraisal_id, {"revenue": 50})  # its first month
    assert checked_in.status_code == 302
    assert me.get(f"/appraisals/{appraisal_id}").status_code == 200
    (found,) = _failures(app)
    assert found.definition.startswith("form sales_quarterly v")
    assert found.location == "fields.revenue_attainment.compute"
    assert "division by zero" in found.error
    assert found.inputs == {"kpis.revenue.actual": "50.0", "kpis.revenue.target": "0.0"}
    assert me.get(f"/appraisals/{appraisal_id}").status_code == 200
    (again,) = _failures(app)
    assert again.count == found.count + 1  # counted, one row
    page = html.unescape(as_user("hr01").get("/admin/definitions").get_data(as_text=True))
    assert "revenue_attainment" in page
    assert "kpis.revenue.target = 0.0" in page
    assert "division by zero" in page
    assert "revenue_attainment" not in me.get("/admin/definitions").get_data(as_text=True)

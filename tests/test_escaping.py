"""YAML text HR edits (labels, help, names) is always escaped: it never becomes markup.

A module of its own because it runs on a poisoned copy of the shipped pack: the shared world of
``test_security`` is rebuilt here on that copy.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from markupsafe import escape

from opsperf.config import PROJECT_ROOT
from opsperf.persistence.models import Appraisal, db
from tests.helpers import appraisal_of
from tests.test_security import (  # fixtures (app, aid, staff) are found by name
    PACK_DIRS,
    SHOWN_ON_THE_APPRAISAL,
    P,
    _poison,
    aid,  # noqa: F401
    app,  # noqa: F401
    staff,  # noqa: F401
)
from tests.worlds import open_world


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    """The shared world of test_security, on a poisoned copy of the pack."""
    root = tmp_path_factory.mktemp("pack")
    for name in ("org", "forms", "workflows"):
        shutil.copytree(PROJECT_ROOT / name, root / name)
    _poison(root)
    yield from open_world(request, tmp_path_factory, [str(root / n) for n in PACK_DIRS])


class TestYamlTextIsEscaped:
    """Labels, help and names come from YAML that HR edits: they must never become markup."""

    @staticmethod
    def _clean(html: str, where: str) -> None:
        raw = re.findall(r"<script>alert\('([\w-]+)'\)</script>", html)
        assert not raw, f"unescaped YAML text on {where}: {raw}"

    def test_the_poisoned_pack_loads(self, defs: Any) -> None:
        assert defs.forms["sales_quarterly"].title.zh == P("form-title")

    def test_appraisal_page_escapes_labels(self, as_user: Any, aid: int) -> None:
        html = as_user("s101").get(f"/appraisals/{aid}").get_data(as_text=True)
        self._clean(html, "the appraisal page")
        missing = [t for t in SHOWN_ON_THE_APPRAISAL if str(escape(P(t))) not in html]
        assert not missing, f"labels not shown (escaped) on the page: {missing}"

    def test_other_pages_escape_labels(self, app: Flask, as_user: Any, aid: int) -> None:
        me, hr = as_user("s101"), as_user("hr01")
        with_cycle = appraisal_of("s101")
        with app.app_context():
            cycle_id = db.session.get(Appraisal, with_cycle.id).cycle_id
        pages = {
            "home (employee)": me.get("/"),
            "home (hr)": hr.get("/"),
            "cycle": hr.get(f"/cycles/{cycle_id}"),
            "cycles": hr.get("/cycles/"),
            "new cycle": hr.get("/cycles/new"),
            "people": hr.get("/admin/people"),
            "definitions": hr.get("/admin/definitions"),
            "appraisal (hr)": hr.get(f"/appraisals/{aid}"),
            "live preview": me.post(
                f"/appraisals/{aid}/preview",
                data={"plan_summary": "x"},
                headers={"HX-Request": "true"},
            ),
            "refused save": me.post(
                f"/appraisals/{aid}", data={"manager_rating": "5", "version": with_cycle.version}
            ),
        }
        for where, response in pages.items():
            assert response.status_code in (200, 403), (where, response.status_code)
            self._clean(response.get_data(as_text=True), where)
        assert str(escape(P("department"))) in pages["people"].get_data(as_text=True)
        assert str(escape(P("workflow"))) in pages["new cycle"].get_data(as_text=True)

    def test_definition_problems_are_escaped(self, app: Flask, as_user: Any) -> None:
        broken = Path(app.config["DEFINITION_ROOTS"][1]) / "broken.yaml"
        broken.write_text(
            "kind: Form\n"
            "id: \"<script>alert('diagnostic')</script>\"\n"
            "version: 1\n"
            "title: {zh: \"<script>alert('title')</script>\", en: x}\n"
            "sections: [{id: s, fields: [{id: f, type: \"<script>alert('type')</script>\"}]}]\n"
            "\"<script>alert('key')</script>\": 1\n",
            encoding="utf-8",
        )
        hr = as_user("hr01")
        try:
            assert hr.post("/admin/definitions/reload").status_code == 302
            response = hr.get("/admin/definitions")
            assert response.status_code == 200
            html = response.get_data(as_text=True)
            self._clean(html, "the definitions page")
            assert "&lt;script&gt;" in html  # the problems quote the text, as text
        finally:
            broken.unlink()
            assert hr.post("/admin/definitions/reload").status_code == 302

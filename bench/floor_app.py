"""The floor for bench/pages.py: opsperf itself, plus one route that does only what every
appraisal request must do before any work of its own.

GET /bench/floor/<id> authenticates the session (Flask-Login loads the user), reads the
appraisal row and sends the page bytes opsperf served (read from a file), rendering nothing.
No page of opsperf can be faster than this route, so its ratio against the bare app is the
ceiling for the page, save and preview ratios.

    OPSPERF_SQLALCHEMY_DATABASE_URI=… BARE_PAGE=page.html gunicorn -w 2 'floor_app:create_app()'
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask
from flask_login import login_required

from opsperf import create_app as create_opsperf
from opsperf.persistence.models import Appraisal, db


def create_app() -> Flask:
    app = create_opsperf()
    page = Path(os.environ["BARE_PAGE"]).read_bytes()

    @app.get("/bench/floor/<int:appraisal_id>")
    @login_required
    def floor(appraisal_id: int) -> bytes:
        db.session.get(Appraisal, appraisal_id)
        return page

    return app

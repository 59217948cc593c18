"""opsperf: operations performance management (运营体系绩效管理) from YAML definitions."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from opsperf.config import Defaults


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: configuration, extensions, blueprints — nothing else."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder="web/templates",
        static_folder="web/static",
    )
    app.config.from_object(Defaults)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("OPSPERF")
    if config:
        app.config.update(config)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        database = os.path.join(app.instance_path, "opsperf.sqlite")
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{database}"

    from opsperf import worker
    from opsperf.persistence import init_app as init_persistence
    from opsperf.web import init_app as init_web

    init_persistence(app)
    init_web(app)
    worker.init_app(app)
    return app

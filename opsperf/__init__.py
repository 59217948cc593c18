"""opsperf: operations performance management (运营体系绩效管理) from YAML definitions."""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

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
    if app.config.get("SECURE_COOKIES"):
        app.config.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        database = os.path.join(app.instance_path, "opsperf.sqlite")
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{database}"

    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]

    from opsperf import worker
    from opsperf.persistence import init_app as init_persistence
    from opsperf.web import init_app as init_web

    init_persistence(app)
    init_web(app)
    worker.init_app(app)
    return app


def _instance_secret(app: Flask) -> str:
    """The key kept in the instance folder, made (random, owner-only) on the first start.

    Created with O_EXCL, so workers starting together agree on one key."""
    path = Path(app.config.get("SECRET_KEY_FILE") or Path(app.instance_path) / "secret_key")
    log = logging.getLogger("opsperf")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another worker may be writing it right now
            key = path.read_text(encoding="ascii").strip()
            if key:
                log.info("signing sessions with the key in %s", path)
                return key
            time.sleep(0.02)
        raise RuntimeError(f"{path} is empty: delete it or set OPSPERF_SECRET_KEY") from None
    key = secrets.token_hex(32)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(key + "\n")
    log.warning(
        "OPSPERF_SECRET_KEY is not set: made a random key in %s. Every worker on this host "
        "shares it; with several hosts, set the same OPSPERF_SECRET_KEY on each.",
        path,
    )
    return key

"""The baseline for bench/pages.py: a bare Flask app doing the least each request needs.

GET /page and POST /preview return bytes read from files (the same bytes opsperf served);
POST /save and POST /step insert one row into SQLite (same pragmas as opsperf: WAL,
synchronous=NORMAL), commit, and redirect, as opsperf does after a save or a step.

    BARE_PAGE=page.html BARE_FRAGMENT=fragment.html BARE_DB=bare.sqlite \\
        gunicorn -w 2 'bare_app:create_app()'
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from flask import Flask, redirect, request

_local = threading.local()


def _db() -> sqlite3.Connection:
    connection = getattr(_local, "connection", None)
    if connection is None:
        connection = sqlite3.connect(os.environ["BARE_DB"], isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA busy_timeout=10000")
        connection.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT)")
        _local.connection = connection
    return connection


def create_app() -> Flask:
    app = Flask(__name__)
    page = Path(os.environ["BARE_PAGE"]).read_bytes()
    fragment = Path(os.environ["BARE_FRAGMENT"]).read_bytes()

    @app.get("/page")
    def show() -> bytes:
        return page

    @app.post("/preview")
    def preview() -> bytes:
        return fragment

    @app.post("/save")
    @app.post("/step")
    def write() -> object:
        connection = _db()
        connection.execute("BEGIN")
        connection.execute("INSERT INTO t (body) VALUES (?)", (request.get_data(as_text=True),))
        connection.execute("COMMIT")
        return redirect("/page")

    return app

"""Sessions: the key that signs them, how they end, what their cookies carry."""

from __future__ import annotations

import ast
import base64
import datetime as dt
import hashlib
import hmac
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.json.tag import TaggedJSONSerializer
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from opsperf import create_app
from opsperf.config import PROJECT_ROOT
from opsperf.persistence.models import LoginFailure, User, db
from opsperf.services import people
from tests.conftest import FAST_HASH, login
from tests.helpers import problems


@pytest.fixture
def app_config(tmp_path: Path) -> dict[str, Any]:
    """No key configured: the app makes its own, as on a fresh install."""
    return {"SECRET_KEY": None, "SECRET_KEY_FILE": str(tmp_path / "secret_key")}


def _constants() -> set[str]:
    """Every string literal in the source tree's Python files."""
    found: set[str] = set()
    for folder in ("opsperf", "bench", "tests"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    found.add(node.value)
    return {c for c in found if c.encode("utf-8", "replace").decode("utf-8") == c}  # keys: UTF-8


def _session_cookie(key: str, user_id: str) -> str:
    """A Flask session cookie for ``user_id``, signed with ``key`` the way Flask signs it."""
    signer = URLSafeTimedSerializer(
        key,
        salt="cookie-session",
        serializer=TaggedJSONSerializer(),
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
    )
    return signer.dumps({"_user_id": user_id, "_fresh": True})


def _remember_cookie(key: str, user_id: str) -> str:
    """Flask-Login's remember-me cookie for ``user_id``, signed with ``key``."""
    digest = hmac.new(key.encode(), user_id.encode(), hashlib.sha512).hexdigest()
    return f"{user_id}|{digest}"


def _opens_admin(app: Flask, name: str, value: str) -> bool:
    client = app.test_client()
    client.set_cookie(name, value)
    return client.get("/admin/people").status_code == 200


def test_a_key_is_made_on_first_start_and_kept(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    key = app.config["SECRET_KEY"]
    assert path.read_text().strip() == key
    assert len(key) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = create_app(
        {"SECRET_KEY": None, "SECRET_KEY_FILE": str(path), **_db(app), "TESTING": True}
    )
    assert again.config["SECRET_KEY"] == key
    other = tmp_path / "other" / "secret_key"
    third = create_app({"SECRET_KEY": None, "SECRET_KEY_FILE": str(other), **_db(app)})
    assert third.config["SECRET_KEY"] not in (key, None)


def _db(app: Flask) -> dict[str, Any]:
    return {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]}


def test_no_constant_of_the_source_tree_signs_a_session(app: Flask, staff: dict[str, int]) -> None:
    admin = f"{staff['admin']}.0"
    key = app.config["SECRET_KEY"]
    # The forgeries are made right: signed with the real key, they open the admin page.
    assert _opens_admin(app, "session", _session_cookie(key, admin))
    assert _opens_admin(app, "remember_token", _remember_cookie(key, admin))
    constants = _constants()
    assert "dev-only-change-me" in constants or len(constants) > 1000
    for constant in constants:
        if not constant:
            continue
        for user_id in (admin, str(staff["admin"])):
            assert not _opens_admin(app, "session", _session_cookie(constant, user_id)), constant
            assert not _opens_admin(app, "remember_token", _remember_cookie(constant, user_id)), (
                constant
            )


def _cookies(client: FlaskClient) -> dict[str, str]:
    return {
        name: cookie.value
        for name in ("session", "remember_token")
        if (cookie := client.get_cookie(name)) is not None
    }


def _replay(app: Flask, cookies: dict[str, str]) -> int:
    """Status of the home page opened with a copy of these cookies, on another client."""
    client = app.test_client()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client.get("/").status_code


def test_log_out_ends_every_session_of_the_person(app: Flask, staff: dict[str, int]) -> None:
    phone = app.test_client()
    phone.post("/login", data={"login": "s101", "password": "demo1234", "remember": "1"})
    laptop = login(app.test_client(), "s101")
    colleague = login(app.test_client(), "s102")
    stolen = _cookies(phone)
    assert set(stolen) == {"session", "remember_token"}
    assert _replay(app, stolen) == 200
    assert _replay(app, {"remember_token": stolen["remember_token"]}) == 200

    assert laptop.post("/logout").status_code == 302
    assert laptop.get("/").status_code == 302
    assert phone.get("/").status_code == 302
    assert _replay(app, stolen) == 302
    assert _replay(app, {"remember_token": stolen["remember_token"]}) == 302
    assert colleague.get("/").status_code == 200  # other people stay signed in
    assert login(app.test_client(), "s101").get("/").status_code == 200


def test_a_new_password_ends_every_session(app: Flask, defs: Any, staff: dict[str, int]) -> None:
    client = login(app.test_client(), "s101")
    with app.app_context():
        row = next(r for r in _rows() if r["employee_no"] == "s101")
        same = people.import_people(defs, [row], by_admin=True, password_method=FAST_HASH)
        assert not same.problems
    assert client.get("/").status_code == 200  # same file, same password: nothing ends
    with app.app_context():
        changed = {**row, "password": "a-new-secret-9"}
        assert not people.import_people(
            defs, [changed], by_admin=True, password_method=FAST_HASH
        ).problems
    assert client.get("/").status_code == 302
    login(app.test_client(), "s101", "a-new-secret-9")


def _rows() -> list[dict[str, str]]:
    from opsperf.services import demo

    return demo.people_rows()


def test_an_admin_signs_a_person_out_everywhere(app: Flask, staff: dict[str, int]) -> None:
    target = login(app.test_client(), "m101")
    admin = login(app.test_client(), "admin")
    hr = login(app.test_client(), "hr01")
    page = admin.get("/admin/people?q=m101").get_data(as_text=True)
    assert f"/admin/people/{staff['m101']}/sign-out" in page
    assert "/sign-out" not in hr.get("/admin/people?q=m101").get_data(as_text=True)

    assert hr.post(f"/admin/people/{staff['m101']}/sign-out").status_code == 403
    assert target.get("/").status_code == 200
    response = admin.post(f"/admin/people/{staff['m101']}/sign-out", follow_redirects=True)
    assert response.status_code == 200
    with app.app_context():
        name = db.session.get(User, staff["m101"]).name
    assert name in response.get_data(as_text=True)
    assert target.get("/").status_code == 302
    assert admin.get("/").status_code == 200
    assert admin.post("/admin/people/999999/sign-out").status_code == 404


def test_log_in_starts_a_new_session_and_csrf_token(app: Flask, staff: dict[str, int]) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        with client.session_transaction() as before:
            raw_before = before["csrf_token"]
            before["planted"] = "by someone else"
        response = client.post(
            "/login", data={"login": "s101", "password": "demo1234", "csrf_token": token}
        )
        assert response.status_code == 302
        client.get("/")
        with client.session_transaction() as after:
            assert "planted" not in after
            assert after.get("csrf_token") != raw_before
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_remember_cookie_flags(app: Flask, staff: dict[str, int]) -> None:
    client = app.test_client()
    response = client.post(
        "/login", data={"login": "s101", "password": "demo1234", "remember": "1"}
    )
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if "remember_token" in c)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie
    secure = create_app({**_db(app), "SECRET_KEY": "x", "SECURE_COOKIES": True})
    assert secure.config["SESSION_COOKIE_SECURE"]
    assert secure.config["REMEMBER_COOKIE_SECURE"]


@pytest.mark.parametrize(
    "url",
    [
        "/appraisals/99999999999999999999",
        "/appraisals/2147483648/history",
        "/cycles/99999999999999999999",
        "/jobs/99999999999999999999",
        "/api/v1/appraisals/99999999999999999999",
    ],
)
def test_ids_past_the_integer_column_are_404(app: Flask, staff: dict[str, int], url: str) -> None:
    assert login(app.test_client(), "hr01").get(url).status_code == 404


def test_session_ids_past_the_integer_column_are_signed_out(
    app: Flask, staff: dict[str, int]
) -> None:
    key = app.config["SECRET_KEY"]
    for user_id in ("99999999999999999999.0", f"{staff['admin']}.99999999999999999999", "1"):
        client = app.test_client()
        client.set_cookie("session", _session_cookie(key, user_id))
        assert client.get("/").status_code == 302


def test_every_response_carries_the_security_headers(app: Flask, staff: dict[str, int]) -> None:
    anonymous, hr = app.test_client(), login(app.test_client(), "hr01")
    responses = [
        anonymous.get("/login"),
        anonymous.get("/"),  # a redirect
        anonymous.get("/api/v1/tasks"),  # 401 JSON
        hr.get("/"),
        hr.get("/cycles/"),
        hr.get("/admin/people"),
        hr.get("/nowhere"),  # 404 page
        hr.get("/static/css/opsperf.css"),
    ]
    for response in responses:
        csp = response.headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in csp, response.request.path
        assert "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in response.headers
        response.close()
    for response in responses[:-1]:
        html = response.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), "an inline script"
        assert not re.search(r"\son[a-z]+\s*=", html), "an inline event handler"
    secure = create_app({**_db(app), "SECRET_KEY": "x", "SECURE_COOKIES": True})
    assert "max-age" in secure.test_client().get("/login").headers["Strict-Transport-Security"]


def _post_login(client: FlaskClient, login_name: str, password: str, address: str) -> Any:
    return client.post(
        "/login",
        data={"login": login_name, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def _end_windows(app: Flask) -> None:
    """As if the throttling window had passed."""
    with app.app_context():
        for row in db.session.scalars(select(LoginFailure)):
            row.window_start -= dt.timedelta(seconds=app.config["LOGIN_WINDOW"] + 1)
        db.session.commit()


def test_log_in_is_throttled_per_account_across_workers(app: Flask, staff: dict[str, int]) -> None:
    client = app.test_client()
    for n in range(app.config["LOGIN_MAX_FAILURES"]):
        address = f"10.0.0.{n}"  # from different places: the account counts
        assert _post_login(client, "S101", "wrong", address).status_code == 401
    refused = _post_login(client, "s101", "demo1234", "10.0.1.1")
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= app.config["LOGIN_WINDOW"] + 1
    assert "15" in " ".join(problems(refused))  # says when to try again
    # another worker, or another host, on the same database sees the same count
    other = create_app({**_db(app), "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False})
    again = _post_login(other.test_client(), "s101", "demo1234", "10.0.1.2")
    with other.app_context():
        db.engine.dispose()
    assert again.status_code == 429
    assert _post_login(client, "s102", "demo1234", "10.0.1.1").status_code == 302  # others can
    _end_windows(app)
    assert _post_login(app.test_client(), "s101", "demo1234", "10.0.1.1").status_code == 302
    with app.app_context():  # a right password clears the account's count
        assert db.session.get(LoginFailure, "account:s101") is None


def test_log_in_is_throttled_per_address(app: Flask, staff: dict[str, int]) -> None:
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 3
    client = app.test_client()
    for name in ("nobody1", "nobody2", "s103"):
        assert _post_login(client, name, "guess", "192.0.2.7").status_code == 401
    assert _post_login(client, "s101", "demo1234", "192.0.2.7").status_code == 429
    assert _post_login(client, "s101", "demo1234", "192.0.2.8").status_code == 302


def test_api_basic_auth_is_throttled(app: Flask, staff: dict[str, int]) -> None:
    client = app.test_client()
    wrong = {"Authorization": "Basic " + base64.b64encode(b"s101:wrong").decode()}
    right = {"Authorization": "Basic " + base64.b64encode(b"s101:demo1234").decode()}
    assert client.get("/api/v1/tasks", headers=right).status_code == 200
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert client.get("/api/v1/tasks", headers=wrong).status_code == 401
    refused = client.get("/api/v1/tasks", headers=right)
    assert refused.status_code == 429
    assert refused.get_json()["status"] == 429
    assert int(refused.headers["Retry-After"]) > 0


def test_unknown_accounts_cost_a_password_check_too(
    app: Flask, staff: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer for an unknown account takes as long as for a wrong password."""
    checked: list[str] = []
    real = people.check_password_hash

    def counting(stored: str, password: str) -> bool:
        checked.append(password)
        return real(stored, password)

    monkeypatch.setattr(people, "check_password_hash", counting)
    client = app.test_client()
    for name in ("s101", "nobody-at-all", "nobody@nowhere.example"):
        checked.clear()
        assert _post_login(client, name, "guess-1", "198.51.100.1").status_code == 401
        assert checked == ["guess-1"], name

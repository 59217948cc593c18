"""Log-in throttling: after repeated failures for an account, or from one client address, log-ins
are refused for the rest of the window, whatever the password. The counts live in the database,
so every worker and every host sees the same ones.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, delete, select

from opsperf.engine.text import printable
from opsperf.persistence.models import LoginFailure, User, db, upsert, utcnow
from opsperf.services import people


@dataclass(frozen=True)
class Limits:
    per_account: int = 5  # wrong passwords for one account within the window
    per_address: int = 50  # failures from one client address within the window
    window: int = 15 * 60  # seconds


def _keys(login: str, address: str | None) -> tuple[str, str | None]:
    account = "account:" + printable(login.strip().lower()[:200])  # no NUL for PostgreSQL
    return account, (f"address:{printable(address[:100])}" if address else None)


def retry_after(login: str, address: str | None, limits: Limits) -> int:
    """Seconds until this log-in may be tried again (0: now)."""
    account, by_address = _keys(login, address)
    now = utcnow()
    wait = 0
    rows = db.session.scalars(
        select(LoginFailure).where(LoginFailure.key.in_([k for k in (account, by_address) if k]))
    )
    for row in rows:
        limit = limits.per_account if row.key == account else limits.per_address
        left = (row.window_start + dt.timedelta(seconds=limits.window) - now).total_seconds()
        if row.failures >= limit and left > 0:
            wait = max(wait, int(left) + 1)
    return wait


def failed(login: str, address: str | None, limits: Limits) -> None:
    """Count a failure against the account and the address (a window that ended starts anew)."""
    now = utcnow()
    window_start = now - dt.timedelta(seconds=limits.window)
    table = LoginFailure.__table__
    expired = table.c.window_start < window_start
    for key in _keys(login, address):
        if key is None:
            continue
        statement = upsert(
            table,
            {"key": key, "failures": 1, "window_start": now},
            [table.c.key],
            {
                "failures": case((expired, 1), else_=table.c.failures + 1),
                "window_start": case((expired, now), else_=table.c.window_start),
            },
        )
        db.session.execute(statement)
    db.session.commit()


def succeeded(login: str) -> None:
    """A right password clears the account's failures (not the address's)."""
    account, _ = _keys(login, None)
    db.session.execute(delete(LoginFailure).where(LoginFailure.key == account))
    db.session.commit()


def authenticate(login: str, password: str, address: str | None, limits: Limits) -> User | None:
    """The person these credentials belong to, counting the attempt; throttling is checked by
    the caller first (``retry_after``)."""
    found = people.find_login(login)
    if people.verify(found, password):
        succeeded(login)
        return found
    failed(login, address, limits)
    return None

"""Passwords people choose themselves: set-password links and changing one's password.

An imported account needs no password: HR hands out (or, later, e-mails) a one-time link
instead, which costs microseconds to make where hashing an imported password costs 0.1 s.
A link is signed with the secret key and names the account and a fingerprint of its current
password and session epoch, so it stops working once used, once the person is signed out
everywhere, and after ``PASSWORD_LINK_DAYS``. Nothing about links is stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from opsperf.definitions.loader import DefinitionSet
from opsperf.engine.text import untypable
from opsperf.errors import N_, NotFound, PermissionDenied, ValidationFailed
from opsperf.persistence.models import Job, User, db, utcnow
from opsperf.services import exports, jobs
from opsperf.services.jobs import Progress
from opsperf.services.people import (
    count_without_password,
    hash_password,
    verify,
    without_password,
)

MIN_LENGTH = 8
MAX_LENGTH = 200
SALT = "opsperf.set-password"
LINKS_JOB = "password_links"
BATCH = 1000


class LinkExpired(NotFound):
    pass


class WrongPassword(ValidationFailed):
    """The current password given to change it is wrong (counted like a failed log-in)."""


def _fingerprint(user: User) -> str:
    seed = f"{user.password_hash or ''}|{user.session_epoch or 0}".encode()
    return hashlib.sha256(seed).hexdigest()[:16]


def token(user: User, secret: str) -> str:
    """The set-password token of ``user``, valid until used or signed out everywhere."""
    return URLSafeTimedSerializer(secret, salt=SALT).dumps([user.id, _fingerprint(user)])


def holder(value: str, secret: str, days: int) -> User:
    """The account a token sets the password of; :class:`LinkExpired` when it cannot."""
    try:
        user_id, fingerprint = URLSafeTimedSerializer(secret, salt=SALT).loads(
            value, max_age=days * 86400
        )
    except (BadSignature, ValueError, TypeError) as exc:
        raise LinkExpired("this link has expired or has been used; ask HR for a new one") from exc
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.active or _fingerprint(user) != fingerprint:
        raise LinkExpired("this link has expired or has been used; ask HR for a new one")
    return user


def may_link(actor: User, person: User) -> None:
    """HR hands out links to accounts without a password; resetting one that has a password
    is for administrators (HR could otherwise take over anyone's account)."""
    if not (actor.has_role("hr") or actor.has_role("admin")):
        raise PermissionDenied("only HR and administrators hand out set-password links")
    if person.password_hash and not actor.has_role("admin"):
        raise PermissionDenied("only an administrator can reset a password that is set")
    if not person.active:
        raise ValidationFailed("%(name)s's account is deactivated", name=person.name)


def _check_new(user: User, new: str, again: str) -> None:
    problem = None
    if untypable(new):
        problem = N_("the password holds characters that cannot be typed")
    elif len(new) < MIN_LENGTH:
        problem = N_("the password needs at least %(min)s characters")
    elif len(new) > MAX_LENGTH:
        problem = N_("the password may have at most %(max)s characters")
    elif new.strip().lower() in {(user.employee_no or "").lower(), (user.email or "").lower()}:
        problem = N_("the password may not be your employee number or e-mail")
    elif new != again:
        problem = N_("the two passwords differ")
    if problem:
        raise ValidationFailed(problem, min=MIN_LENGTH, max=MAX_LENGTH)


def set_password(user: User, new: str, again: str, method: str | None = None) -> None:
    """Store a new password and sign the person out everywhere (commits)."""
    _check_new(user, new, again)
    user.password_hash = hash_password(new, method)
    user.end_sessions()
    db.session.commit()


def change_password(user: User, current: str, new: str, again: str) -> None:
    if not verify(user, current):
        raise WrongPassword("the current password is wrong")
    set_password(user, new, again)


# --------------------------------------------------------------------------- links in bulk


def _rows(defs: DefinitionSet, params: dict[str, Any], secret: str) -> Iterator[list[Any]]:
    query = without_password(params.get("departments") or None).order_by(User.employee_no)
    base = str(params["base_url"]).rstrip("/")
    for user in db.session.scalars(query.execution_options(yield_per=BATCH)):
        dept = defs.departments.get(user.department_id or "")
        dept_name = dept.name.get(params.get("lang", "zh")) if dept else user.department_id
        yield [user.employee_no, user.name, dept_name or "", user.email or "",
               f"{base}/password/set/{token(user, secret)}"]  # fmt: skip


HEADERS = {
    "zh": ["工号", "姓名", "部门", "邮箱", "设置密码链接"],
    "en": ["Employee no.", "Name", "Department", "E-mail", "Set-password link"],
}


def links_job(defs: DefinitionSet, job: Job, progress: Progress, secret: str) -> dict[str, Any]:
    """The set-password links of every active account without a password, as a sheet."""
    params = job.params
    progress(0, count_without_password(params.get("departments") or None))
    rows = list(_rows(defs, params, secret))
    job.output = exports.xlsx("links", HEADERS.get(params.get("lang", "zh"), HEADERS["en"]), rows)
    days = int(params.get("days", 14))
    job.output_name = f"password-links-{utcnow():%Y%m%d}.xlsx"
    progress(len(rows), len(rows))
    valid_until = (utcnow() + dt.timedelta(days=days)).date().isoformat()
    return {"links": len(rows), "valid_until": valid_until}


def create_links_job(
    actor: User, base_url: str, lang: str, days: int, departments: list[str] | None = None
) -> Job:
    if not (actor.has_role("hr") or actor.has_role("admin")):
        raise PermissionDenied("only HR and administrators hand out set-password links")
    params = {"base_url": base_url, "lang": lang, "days": days, "departments": departments or []}
    return jobs.create(LINKS_JOB, actor, params=params)

"""API tokens: how a business system (CRM, ERP, MES) signs its requests to the API.

A token is shown once, when an administrator creates it; only its SHA-256 is stored (the token
is 256 random bits, so a fast hash is as good as a slow one and costs nothing per request).
It carries scopes — what it may do — and can be revoked; its last use is recorded, at most
once a minute, so a busy system does not write on every request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select

from opsperf.engine.text import untypable
from opsperf.errors import N_, NotFound, ValidationFailed
from opsperf.persistence.models import ApiToken, User, db, utcnow

PREFIX = "opk_"
SCOPES = {
    "actuals:write": N_("push KPI actuals (check-ins) of appraisals"),
    "actuals:read": N_("read the check-ins of a cycle"),
}
NAME_LIMIT = 100
TOUCH_EVERY = dt.timedelta(minutes=1)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create(name: str, scopes: list[str], by: User) -> tuple[ApiToken, str]:
    """A new token and its secret, which is not stored and cannot be shown again."""
    name = name.strip()
    if not name:
        raise ValidationFailed("give the token a name, e.g. the system that will use it")
    if len(name) > NAME_LIMIT or untypable(name):
        raise ValidationFailed(
            "a token's name is at most %(max)s characters of plain text", max=NAME_LIMIT
        )
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValidationFailed("unknown scopes: %(scopes)s", scopes=", ".join(unknown))
    if not scopes:
        raise ValidationFailed("choose at least one scope")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        prefix=secret[: len(PREFIX) + 6],
        token_hash=digest(secret),
        scopes=sorted(set(scopes)),
        created_by_id=by.id,
    )
    db.session.add(token)
    db.session.commit()
    return token, secret


def authenticate(secret: str) -> ApiToken | None:
    """The live token ``secret`` is, noting its use; None for an unknown or revoked one."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    token: ApiToken | None = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == digest(secret))
    )
    if token is None or token.revoked_at is not None:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
        token.last_used_at = now
        db.session.commit()
    return token


def revoke(token_id: int, by: User) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("API token %(id)s does not exist", id=token_id)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        token.revoked_by_id = by.id
        db.session.commit()
    return token


def all_tokens() -> list[ApiToken]:
    """Every token, newest first (a company has a handful: one per connected system)."""
    return list(db.session.scalars(select(ApiToken).order_by(ApiToken.id.desc()).limit(500)))

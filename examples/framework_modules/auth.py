"""Auth module: users and sessions. Depends on nothing; other modules build on its ``user``."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone
from typing import Any

from farmorm import Orm, belongs_to, define_schema, has_many, model
from farmorm import fields as f

schema = define_schema(
    user=model(
        table="fw_users",
        fields={
            "id": f.id(),
            "email": f.string().unique(),
            "name": f.string(),
            "created_at": f.datetime().default_now(),
        },
        relations={"sessions": has_many("session", foreign_key="user_id")},
    ),
    session=model(
        table="fw_sessions",
        fields={
            "id": f.id(),
            "user_id": f.string().references("user.id"),
            "token": f.string().unique(),
            "expires_at": f.datetime(),
        },
        relations={"user": belongs_to("user", foreign_key="user_id")},
        constraints={"indexes": [["user_id", "expires_at"]]},
    ),
)


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def sign_up(orm: Orm, email: str, name: str) -> dict[str, Any]:
    """A new user; a taken email raises UNIQUE_CONSTRAINT_VIOLATION (the framework answers 409)."""
    return await orm.user.create(data={"email": email.lower(), "name": name})


async def start_session(orm: Orm, user_id: str, ttl: timedelta = timedelta(days=7)) -> str:
    """A new session token for ``user_id``."""
    token = secrets.token_urlsafe(24)
    await orm.session.create(data={"user_id": user_id, "token": token, "expires_at": _now() + ttl})
    return token


async def authenticate(orm: Orm, token: str) -> dict[str, Any] | None:
    """The user behind a live session token, or None (unknown or expired)."""
    session = await orm.session.find_unique(
        where={"token": token}, select={"expires_at": True, "user": {"select": {"id": True, "email": True, "name": True}}})
    if session is None or session["expires_at"] <= _now():
        return None
    return session["user"]  # type: ignore[no-any-return]


async def sign_out_everywhere(orm: Orm, user_id: str) -> int:
    """Delete every session of ``user_id``; returns how many there were."""
    return await orm.session.delete_many(where={"user_id": user_id})

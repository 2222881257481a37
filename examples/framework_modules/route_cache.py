"""Route cache module: rendered payloads by path, with an expiry. Depends on nothing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from farmorm import Orm, define_schema, model
from farmorm import fields as f

schema = define_schema(
    route_cache_entry=model(
        table="fw_route_cache",
        fields={
            "id": f.id(),
            "path": f.string().unique(),
            "payload": f.json(),
            "expires_at": f.datetime(),
        },
        constraints={"indexes": [["expires_at"]]},
    ),
)


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def put(orm: Orm, path: str, payload: Any, ttl: timedelta) -> None:
    """Cache ``payload`` for ``path``: one upsert, so concurrent renders never duplicate a row."""
    expires = _now() + ttl
    await orm.route_cache_entry.upsert(
        where={"path": path},
        create={"path": path, "payload": payload, "expires_at": expires},
        update={"payload": payload, "expires_at": expires},
    )


async def get(orm: Orm, path: str) -> Any | None:
    """The cached payload, or None when missing or expired."""
    entry = await orm.route_cache_entry.find_first(
        where={"path": path, "expires_at": {"gt": _now()}}, select={"payload": True})
    return None if entry is None else entry["payload"]


async def purge_expired(orm: Orm) -> int:
    """Delete expired entries; returns how many."""
    return await orm.route_cache_entry.delete_many(where={"expires_at": {"lte": _now()}})

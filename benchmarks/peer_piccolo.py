"""Peer: Piccolo ORM on the same tables and workloads (PostgreSQL and SQLite; Piccolo has no MySQL).

Written the way Piccolo's documentation shows, not tuned: ``PostgresEngine`` with
``start_connection_pool(max_size=POOL_SIZE)`` (asyncpg), ``SQLiteEngine`` (aiosqlite; Piccolo opens
a connection per query outside a transaction, which is its design). Reads use ``select()`` and
return dicts, like farmorm; ``count()``; the include is Piccolo's two-query form (users, then
posts ``is_in`` their ids, stitched in Python): Piccolo has no reverse-foreign-key prefetch.

Writes return what Piccolo returns by default, which is what the floor returns: ``insert`` gives
the new row's id, ``update`` and a bulk ``insert`` of many rows return nothing the app uses
(Piccolo's bulk insert returns the ids). So Piccolo is compared with ``farmorm_lean`` on writes.

SQLite: the tables are farmorm's (``TEXT`` datetimes, ``INTEGER`` booleans), whose declared types
Piccolo's converters do not match, so each row gets the same conversion the raw floor applies
(``bool``, ``datetime.fromisoformat``), as an app on Piccolo would need. Its connections run
``synchronous=NORMAL`` like every other system's (the file is already in WAL).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from piccolo.columns import Boolean, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine
from piccolo.query import OrderByRaw
from piccolo.query.functions.aggregate import Avg, Count, Max, Min, Sum
from piccolo.table import Table

from .workloads import (BULK_ROWS, FETCH_ROWS, GROUP_MIN, GROUP_TAKE, INCLUDE_USERS, POOL_SIZE, USERS, Closer, Workload,
                        fan_out, new_user)

PEER_IDS = 40_000_000
BULK_PEER_IDS = 70_000_000
_UTC = dt.timezone.utc
_fromiso = dt.datetime.fromisoformat


class _SQLiteEngine(SQLiteEngine):  # type: ignore[misc]
    """Piccolo's SQLite engine with the durability every system gets (``synchronous=NORMAL``)."""

    async def get_connection(self) -> Any:
        conn = await super().get_connection()
        await conn.execute("PRAGMA synchronous = NORMAL")
        return conn


def tables(engine: Any) -> tuple[Any, Any]:
    """The benchmark's two tables bound to ``engine``."""

    class User(Table, tablename="bench_users", db=engine):  # type: ignore[call-arg,misc]
        id = Integer(primary_key=True)
        email = Varchar(length=191, unique=True)
        name = Text()
        age = Integer()
        active = Boolean()
        created_at = Timestamptz()

    class Post(Table, tablename="bench_posts", db=engine):  # type: ignore[call-arg,misc]
        id = Integer(primary_key=True)
        user_id = ForeignKey(User)
        title = Text()
        body = Text()

    return User, Post


def _sqlite_user(r: dict[str, Any]) -> dict[str, Any]:
    r["active"] = bool(r["active"])
    r["created_at"] = _fromiso(r["created_at"])
    return r


def _same(r: dict[str, Any]) -> dict[str, Any]:
    return r


def piccolo_workloads(User: Any, Post: Any, sqlite: bool, bulk_rows: int = BULK_ROWS) -> dict[str, Workload]:
    counter = {"next": PEER_IDS, "bulk": BULK_PEER_IDS, "upd": 0}
    conv = _sqlite_user if sqlite else _same

    def user_row(u: dict[str, Any]) -> Any:
        return User(**u) if not sqlite else User(**{**u, "created_at": u["created_at"].astimezone(_UTC)})

    async def get_by_pk(n: int) -> None:
        for i in range(n):
            row = await User.select().where(User.id == i % USERS + 1).first()
            conv(row)

    async def filter_page(n: int) -> None:
        for _ in range(n):
            rows = await User.select().where((User.active == True) & (User.age >= 30)).order_by(User.id).limit(50)  # noqa: E712
            [conv(r) for r in rows]

    async def fetch_1k(n: int) -> None:
        for _ in range(n):
            rows = await User.select().limit(FETCH_ROWS)
            [conv(r) for r in rows]

    async def include(n: int) -> None:
        for _ in range(n):
            users = [conv(r) for r in await User.select().where(User.id <= INCLUDE_USERS)]
            posts = await Post.select().where(Post.user_id.is_in([u["id"] for u in users]))
            by_user: dict[int, list[dict[str, Any]]] = {}
            for p in posts:
                by_user.setdefault(p["user_id"], []).append(p)
            for u in users:
                u["posts"] = by_user.get(u["id"], [])

    async def count(n: int) -> None:
        for _ in range(n):
            await User.count().where(User.active == True)  # noqa: E712

    def when(v: Any) -> Any:
        return _fromiso(v) if sqlite and isinstance(v, str) else v

    async def aggregate(n: int) -> None:
        for _ in range(n):
            row = await User.select(
                Count(alias="count"), Sum(User.age, alias="sum"), Avg(User.age, alias="avg"),
                Min(User.created_at, alias="min"), Max(User.created_at, alias="max"),
            ).where(User.active == True).first()  # noqa: E712
            row["min"], row["max"] = when(row["min"]), when(row["max"])

    async def group_by(n: int) -> None:
        # Piccolo has no HAVING: every group comes back and the app filters and cuts in Python
        for _ in range(n):
            rows = await User.select(User.age, Count(alias="n"), Max(User.created_at, alias="latest")).where(
                User.active == True).group_by(User.age).order_by(OrderByRaw("COUNT(*)"), ascending=False).order_by(User.age)  # noqa: E712
            kept = [r for r in rows if r["n"] >= GROUP_MIN][:GROUP_TAKE]
            for r in kept:
                r["latest"] = when(r["latest"])

    async def update_one(n: int) -> None:
        for _ in range(n):
            counter["upd"] += 1
            k = counter["upd"]
            await User.update({User.name: f"renamed {k}"}).where(User.id == k % USERS + 1)

    async def insert_one(n: int) -> None:
        for _ in range(n):
            counter["next"] += 1
            await User.insert(user_row(new_user(counter["next"], "p")))  # returns [{"id": …}]

    async def bulk_insert(n: int) -> None:
        for _ in range(n):
            start = counter["bulk"]
            counter["bulk"] += bulk_rows
            await User.insert(*[user_row(new_user(start + j, "pb")) for j in range(bulk_rows)])

    async def concurrent(n: int) -> None:
        async def lookup(pk: int) -> None:
            conv(await User.select().where(User.id == pk).first())

        await fan_out(n, lookup)

    return {"get_by_pk": get_by_pk, "filter_page": filter_page, "fetch_1k": fetch_1k, "include": include,
            "count": count, "aggregate": aggregate, "group_by": group_by, "update_one": update_one,
            "insert_one": insert_one, "bulk_insert": bulk_insert,
            "concurrent": concurrent}


async def open_system(backend: str, url: str, bulk_rows: int = BULK_ROWS) -> tuple[dict[str, Workload], Closer]:
    """Piccolo on ``url`` (PostgreSQL or SQLite), its workloads and its closer."""
    if backend == "postgres":
        engine: Any = PostgresEngine(config={"dsn": url}, log_queries=False)
        await engine.start_connection_pool(min_size=1, max_size=POOL_SIZE)

        async def close() -> None:
            await engine.close_connection_pool()
    elif backend == "sqlite":
        engine = _SQLiteEngine(path=url.split("sqlite:///", 1)[1])

        async def close() -> None:
            return None
    else:
        raise ValueError(f"Piccolo has no {backend} support")
    User, Post = tables(engine)
    return piccolo_workloads(User, Post, backend == "sqlite", bulk_rows), close

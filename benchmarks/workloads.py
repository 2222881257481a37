"""Benchmark workloads: the same operations through the raw driver (the floor) and through farmorm.

Each workload is an async callable ``run(n)`` doing ``n`` operations; ``runner.py`` times them
in one process, warmed up, median of several rounds, and reports ops/s and the ratio to raw.

The workloads (``OPS`` gives the operations per timed round):

- ``get_by_pk``   ``find_unique`` by id, sequential.
- ``filter_page`` where (two conditions) + order by + limit 50.
- ``fetch_1k``    1,000 rows of the users table as dicts (``take=1000`` / ``LIMIT 1000``).
- ``include``     20 users with their posts, about 5 each with a ``body`` text (the raw floor is the
  hand-written two-query version).
- ``count``       ``COUNT(*)`` with a filter.
- ``aggregate``   count, sum, avg, min and max over the active users, in one statement.
- ``group_by``    active users per age: count and latest ``created_at`` per group, groups with at
  least ``GROUP_MIN`` users, largest first, the first ``GROUP_TAKE`` (``GROUP BY … HAVING … ORDER BY
  … LIMIT``; one pipeline on MongoDB).
- ``update_one``  update one user's name by id (farmorm: ``update``, the record back; farmorm_lean:
  ``update(returning="count")``; the floor: the UPDATE alone).
- ``insert_one``  insert one user (farmorm: the record back; farmorm_lean: ``returning="id"``; the
  floor: its id).
- ``bulk_insert`` insert 1,000 users in one call (``create_many``; farmorm_lean:
  ``returning="count"``; the floor: one multi-row INSERT returning nothing).
- ``concurrent``  ``CONCURRENT_TASKS`` (50) tasks doing point lookups at once through the pool of
  ``POOL_SIZE`` (10); one operation = one lookup, so a full round is 50 tasks x 100 lookups.

Every system (raw floor, farmorm, the peers in ``peer_*.py``) gets its own freshly seeded
database. Reads run before writes (``OPS`` order), so every read sees the seeded 10,000 users and
50,000 posts whatever the round counts; writes only touch ids far above the seeded ones (and
``update_one`` only ``name``, which no read filters on).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any, Awaitable, Callable

from farmorm import Orm, create_orm, define_schema, has_many, belongs_to, model
from farmorm import fields as f
from farmorm.setup import push_schema

schema = define_schema(
    user=model(
        table="bench_users",
        fields={
            "id": f.id(type="integer"),
            "email": f.string().unique(),
            "name": f.string(),
            "age": f.integer(),
            "active": f.boolean(),
            "created_at": f.datetime(),
        },
        relations={"posts": has_many("post", foreign_key="user_id")},
    ),
    post=model(
        table="bench_posts",
        fields={
            "id": f.id(type="integer"),
            "user_id": f.integer().references("user.id"),
            "title": f.string(),
            "body": f.string(),
        },
        relations={"user": belongs_to("user", foreign_key="user_id")},
        constraints={"indexes": [["user_id"]]},  # as any real schema has: the include looks posts up by user
    ),
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
USERS = 10_000
POSTS_PER_USER = 5
FETCH_ROWS = 1000  # rows per fetch_1k operation
INCLUDE_USERS = 20  # users per include operation (ids 1..20), each with POSTS_PER_USER posts
#: the text of every post's ``body`` column (a paragraph, as an app's posts have)
BODY = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut "
        "labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris.")
BULK_ROWS = 1000  # rows per bulk_insert operation
POOL_SIZE = 10  # the pool size both farmorm and the raw floor use on server backends

#: operations per timed round (full mode), in run order: reads first, then writes
OPS = {
    "get_by_pk": 2000,
    "filter_page": 300,
    "fetch_1k": 40,
    "include": 300,
    "count": 500,
    "aggregate": 300,
    "group_by": 300,
    "concurrent": 5000,
    "update_one": 500,
    "insert_one": 500,
    "bulk_insert": 10,
}
#: group_by: the smallest group kept (HAVING COUNT(*) >= …) and how many groups are returned
GROUP_MIN = 2
GROUP_TAKE = 10
CONCURRENT_TASKS = 50  # tasks in the concurrent workload, sharing a pool of POOL_SIZE connections
#: smoke mode: enough to run every code path once or twice, not to measure anything
SMOKE_USERS = 60
SMOKE_OPS = {k: (1 if k == "bulk_insert" else CONCURRENT_TASKS if k == "concurrent" else 2) for k in OPS}

#: id ranges for rows the write workloads insert: one per system, so raw and farmorm never collide
FARMORM_IDS = 10_000_000
RAW_IDS = 20_000_000
BULK_FARMORM_IDS = 30_000_000
BULK_RAW_IDS = 60_000_000

Workload = Callable[[int], Awaitable[Any]]
Closer = Callable[[], Awaitable[None]]


async def fan_out(n: int, lookup: Callable[[int], Awaitable[Any]]) -> None:
    """``n`` point lookups spread over ``CONCURRENT_TASKS`` tasks running at once."""
    per = max(1, n // CONCURRENT_TASKS)

    async def task(t: int) -> None:
        for i in range(per):
            await lookup((t * per + i) % USERS + 1)

    await asyncio.gather(*(task(t) for t in range(CONCURRENT_TASKS)))


def new_user(i: int, prefix: str) -> dict[str, Any]:
    """The record an insert workload writes (``prefix`` keeps emails unique per system)."""
    return {"id": i, "email": f"{prefix}{i}@x.io", "name": "n", "age": 1, "active": True, "created_at": T0}


async def seed(orm: Orm, users: int = USERS) -> None:
    """The tables and their rows: ``users`` users (10,000; the smoke mode's ``SMOKE_USERS`` is enough
    for its lookups, which only touch ids up to ``CONCURRENT_TASKS``) with ``POSTS_PER_USER`` posts each."""
    await push_schema(schema, orm)
    await orm.user.create_many(data=[
        {"id": i, "email": f"u{i}@x.io", "name": f"User {i}", "age": 20 + i % 50, "active": i % 2 == 0,
         "created_at": T0 + dt.timedelta(seconds=i)} for i in range(1, users + 1)
    ])
    await orm.post.create_many(data=[
        {"id": (u - 1) * POSTS_PER_USER + k + 1, "user_id": u, "title": f"post {k} of {u}",
         "body": BODY}
        for u in range(1, users + 1) for k in range(POSTS_PER_USER)
    ])


def farmorm_workloads(orm: Orm, bulk_rows: int = BULK_ROWS, lean: bool = False) -> dict[str, Workload]:
    """farmorm's workloads; ``lean`` asks the writes for what the floor returns (the like-for-like
    variant): an id from ``create``, a count from ``update`` and ``create_many``."""
    counter = {"next": FARMORM_IDS, "bulk": BULK_FARMORM_IDS, "upd": 0}

    async def get_by_pk(n: int) -> None:
        for i in range(n):
            await orm.user.find_unique(where={"id": i % USERS + 1})

    async def filter_page(n: int) -> None:
        for _ in range(n):
            await orm.user.find_many(where={"active": True, "age": {"gte": 30}}, order_by={"id": "asc"}, take=50)

    async def fetch_1k(n: int) -> None:
        for _ in range(n):
            await orm.user.find_many(take=FETCH_ROWS)

    async def include(n: int) -> None:
        for _ in range(n):
            await orm.user.find_many(where={"id": {"lte": INCLUDE_USERS}}, include={"posts": True})

    async def count(n: int) -> None:
        for _ in range(n):
            await orm.user.count(where={"active": True})

    async def aggregate(n: int) -> None:
        for _ in range(n):
            await orm.user.aggregate(where={"active": True}, count=True, sum={"age": True}, avg={"age": True},
                                     min={"created_at": True}, max={"created_at": True})

    async def group_by(n: int) -> None:
        for _ in range(n):
            await orm.user.group_by(by=["age"], where={"active": True}, count=True, max={"created_at": True},
                                    having={"count": {"_all": {"gte": GROUP_MIN}}},
                                    order_by=[{"count": {"_all": "desc"}}, {"age": "asc"}], take=GROUP_TAKE)

    async def update_one(n: int) -> None:
        for _ in range(n):
            counter["upd"] += 1
            k = counter["upd"]
            if lean:
                await orm.user.update(where={"id": k % USERS + 1}, data={"name": f"renamed {k}"}, returning="count")
            else:
                await orm.user.update(where={"id": k % USERS + 1}, data={"name": f"renamed {k}"})

    async def insert_one(n: int) -> None:
        for _ in range(n):
            counter["next"] += 1
            if lean:
                await orm.user.create(data=new_user(counter["next"], "f"), returning="id")
            else:
                await orm.user.create(data=new_user(counter["next"], "f"))

    async def bulk_insert(n: int) -> None:
        for _ in range(n):
            start = counter["bulk"]
            counter["bulk"] += bulk_rows
            data = [new_user(start + j, "fb") for j in range(bulk_rows)]
            if lean:
                await orm.user.create_many(data=data, returning="count")
            else:
                await orm.user.create_many(data=data)

    async def concurrent(n: int) -> None:
        async def lookup(pk: int) -> None:
            await orm.user.find_unique(where={"id": pk})

        await fan_out(n, lookup)

    return {"get_by_pk": get_by_pk, "filter_page": filter_page, "fetch_1k": fetch_1k, "include": include,
            "count": count, "aggregate": aggregate, "group_by": group_by, "update_one": update_one,
            "insert_one": insert_one, "bulk_insert": bulk_insert,
            "concurrent": concurrent}


#: SQLite runs in WAL with synchronous=NORMAL on both sides: a commit then costs no fsync, so write
#: workloads measure the ORM and the driver rather than this machine's (very variable) disk flushes
SQLITE_PRAGMAS = ("PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL")


async def open_sqlite(url: str) -> Any:
    """An aiosqlite connection on a ``sqlite:///path`` URL, in autocommit, with ``SQLITE_PRAGMAS``."""
    import aiosqlite

    conn = await aiosqlite.connect(url.split("sqlite:///", 1)[1], isolation_level=None)
    for pragma in SQLITE_PRAGMAS:
        await conn.execute(pragma)
    return conn


async def open_farmorm(url: str, backend: str = "sqlite") -> tuple[Orm, Callable[[], Awaitable[None]]]:
    """farmorm on ``url`` and its closer; on server backends with a pool of ``POOL_SIZE`` (the raw
    floor's size), on SQLite on an app connection set up like the raw floor's."""
    if backend == "postgres":
        orm = await create_orm(schema, url, min_size=1, max_size=POOL_SIZE)
        return orm, orm.close
    if backend == "mysql":
        sep = "&" if "?" in url else "?"
        orm = await create_orm(schema, f"{url}{sep}minsize=1&maxsize={POOL_SIZE}")
        return orm, orm.close
    if backend == "mongo":  # a real server (FARMORM_MONGO_URL) or, in smoke runs, mongomock
        orm = await create_orm(schema, url)
        return orm, orm.close
    conn = await open_sqlite(url)
    orm = await create_orm(schema, conn)

    async def close() -> None:
        await orm.close()
        await conn.close()

    return orm, close

"""The floor on MongoDB: the same workloads written directly against pymongo's async API.

``pymongo.AsyncMongoClient`` (``tz_aware=True``, ``maxPoolSize`` = ``POOL_SIZE``) on the database
farmorm seeded: documents keep the logical field names (``id``, ``email``, …) plus Mongo's own
``_id``, which the floor projects away as farmorm does. Writes return what an app asks for:
``update_one`` (a count), ``insert_one`` / ``insert_many`` (the app already holds the records it
wrote), like ``farmorm_lean``.

The runner only measures MongoDB when ``FARMORM_MONGO_URL`` points at a real server. Without
one (this development machine has none), the smoke mode still runs this module on mongomock
(``mongomock://`` URLs from ``TestDatabase``) so the code cannot rot; those numbers mean nothing.
"""

from __future__ import annotations

from typing import Any

from .workloads import (BULK_RAW_IDS, BULK_ROWS, FETCH_ROWS, GROUP_MIN, GROUP_TAKE, INCLUDE_USERS, POOL_SIZE, RAW_IDS,
                        USERS, Workload, fan_out, new_user)

NO_ID = {"_id": 0}


def raw_workloads(db: Any, bulk_rows: int = BULK_ROWS) -> dict[str, Workload]:
    users, posts = db["bench_users"], db["bench_posts"]
    counter = {"next": RAW_IDS, "bulk": BULK_RAW_IDS, "upd": 0}

    async def get_by_pk(n: int) -> None:
        for i in range(n):
            await users.find_one({"id": i % USERS + 1}, NO_ID)

    async def filter_page(n: int) -> None:
        for _ in range(n):
            await users.find({"active": True, "age": {"$gte": 30}}, NO_ID, sort=[("id", 1)], limit=50).to_list()

    async def fetch_1k(n: int) -> None:
        for _ in range(n):
            await users.find({}, NO_ID, limit=FETCH_ROWS).to_list()

    async def include(n: int) -> None:
        for _ in range(n):
            found = await users.find({"id": {"$lte": INCLUDE_USERS}}, NO_ID).to_list()
            children = await posts.find({"user_id": {"$in": [u["id"] for u in found]}}, NO_ID).to_list()
            by_user: dict[int, list[dict[str, Any]]] = {}
            for p in children:
                by_user.setdefault(p["user_id"], []).append(p)
            for u in found:
                u["posts"] = by_user.get(u["id"], [])

    async def count(n: int) -> None:
        for _ in range(n):
            await users.count_documents({"active": True})

    async def aggregate(n: int) -> None:
        for _ in range(n):
            cursor = await users.aggregate([
                {"$match": {"active": True}},
                {"$group": {"_id": None, "count": {"$sum": 1}, "sum": {"$sum": "$age"}, "avg": {"$avg": "$age"},
                            "min": {"$min": "$created_at"}, "max": {"$max": "$created_at"}}},
            ])
            await cursor.to_list()

    async def group_by(n: int) -> None:
        for _ in range(n):
            cursor = await users.aggregate([
                {"$match": {"active": True}},
                {"$group": {"_id": "$age", "count": {"$sum": 1}, "latest": {"$max": "$created_at"}}},
                {"$match": {"count": {"$gte": GROUP_MIN}}},
                {"$sort": {"count": -1, "_id": 1}},
                {"$limit": GROUP_TAKE},
            ])
            await cursor.to_list()

    async def update_one(n: int) -> None:
        for _ in range(n):
            counter["upd"] += 1
            k = counter["upd"]
            await users.update_one({"id": k % USERS + 1}, {"$set": {"name": f"renamed {k}"}})

    async def insert_one(n: int) -> None:
        for _ in range(n):
            counter["next"] += 1
            await users.insert_one(new_user(counter["next"], "r"))  # the app already holds the record

    async def bulk_insert(n: int) -> None:
        for _ in range(n):
            start = counter["bulk"]
            counter["bulk"] += bulk_rows
            await users.insert_many([new_user(start + j, "rb") for j in range(bulk_rows)])

    async def concurrent(n: int) -> None:
        async def lookup(pk: int) -> None:
            await users.find_one({"id": pk}, NO_ID)

        await fan_out(n, lookup)

    return {"get_by_pk": get_by_pk, "filter_page": filter_page, "fetch_1k": fetch_1k, "include": include,
            "count": count, "aggregate": aggregate, "group_by": group_by, "update_one": update_one,
            "insert_one": insert_one, "bulk_insert": bulk_insert,
            "concurrent": concurrent}


async def open_raw(url: str) -> Any:
    """The database handle: pymongo on a real server, the mongomock adapter on ``mongomock://``."""
    if url.startswith("mongomock:"):
        from farmorm.testing.mongomock_async import open_url

        return open_url(url)
    from urllib.parse import urlsplit

    from pymongo import AsyncMongoClient

    client: Any = AsyncMongoClient(url, tz_aware=True, maxPoolSize=POOL_SIZE)
    return client[urlsplit(url).path.lstrip("/")]


async def close_raw(db: Any) -> None:
    client = getattr(db, "client", None)
    if client is not None and not type(db).__module__.startswith("farmorm"):
        await client.close()

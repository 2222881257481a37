"""Benchmark workloads: the same operations through the raw driver (the floor) and through farmorm.

Each workload is an async callable ``run(n)`` doing ``n`` operations; ``runner.py`` times them
in one process, warmed up, median of several rounds, and reports ops/s and the ratio to raw.
"""

from __future__ import annotations

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
        },
        relations={"user": belongs_to("user", foreign_key="user_id")},
    ),
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
USERS = 1000
POSTS_PER_USER = 3

Workload = Callable[[int], Awaitable[Any]]


async def seed(orm: Orm) -> None:
    await push_schema(schema, orm)
    await orm.user.create_many(data=[
        {"id": i, "email": f"u{i}@x.io", "name": f"User {i}", "age": 20 + i % 50, "active": i % 2 == 0,
         "created_at": T0 + dt.timedelta(seconds=i)} for i in range(1, USERS + 1)
    ])
    await orm.post.create_many(data=[
        {"id": (u - 1) * POSTS_PER_USER + k + 1, "user_id": u, "title": f"post {k} of {u}"}
        for u in range(1, USERS + 1) for k in range(POSTS_PER_USER)
    ])


def farmorm_workloads(orm: Orm) -> dict[str, Workload]:
    counter = {"next": 10_000_000}

    async def get_by_pk(n: int) -> None:
        for i in range(n):
            await orm.user.find_unique(where={"id": i % USERS + 1})

    async def filter_page(n: int) -> None:
        for _ in range(n):
            await orm.user.find_many(where={"active": True, "age": {"gte": 30}}, order_by={"id": "asc"}, take=50)

    async def fetch_1k(n: int) -> None:
        for _ in range(n):
            await orm.user.find_many()

    async def insert_one(n: int) -> None:
        for _ in range(n):
            counter["next"] += 1
            i = counter["next"]
            await orm.user.create(data={"id": i, "email": f"x{i}@x.io", "name": "n", "age": 1, "active": True,
                                        "created_at": T0})

    async def include(n: int) -> None:
        for _ in range(n):
            await orm.user.find_many(where={"id": {"lte": 20}}, include={"posts": True})

    async def count(n: int) -> None:
        for _ in range(n):
            await orm.user.count(where={"active": True})

    return {"get_by_pk": get_by_pk, "filter_page": filter_page, "fetch_1k": fetch_1k,
            "insert_one": insert_one, "include": include, "count": count}


async def open_farmorm(url: str) -> Orm:
    return await create_orm(schema, url)

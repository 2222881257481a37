"""Peer: Tortoise ORM on the same tables and workloads.

Written the way Tortoise's documentation shows, not tuned: ``Tortoise.init(db_url=…)`` with a pool
of ``POOL_SIZE`` on server backends (Tortoise picks its own drivers: asyncpg on PostgreSQL,
asyncmy on MySQL/MariaDB, aiosqlite on SQLite), ``use_tz=True`` so datetimes come back aware UTC.
Point lookups ``get_or_none``, ``filter().order_by().limit()``, ``prefetch_related("posts")`` for
the include, ``create`` / ``bulk_create`` for inserts, and get + ``save(update_fields=…)`` for the
update (Tortoise's way of changing one record and holding the result). Results are model
instances.

Tortoise keeps its configuration in process-wide state, one more reason the runner gives each
system its own process; the smoke mode runs it in-process and closes its connections after.
"""

from __future__ import annotations

from tortoise import Tortoise, fields
from tortoise.functions import Avg, Count, Max, Min, Sum
from tortoise.models import Model

from .workloads import (BULK_ROWS, FETCH_ROWS, GROUP_MIN, GROUP_TAKE, INCLUDE_USERS, POOL_SIZE, USERS, Closer, Workload,
                        fan_out, new_user)

PEER_IDS = 40_000_000
BULK_PEER_IDS = 70_000_000


class User(Model):
    id = fields.IntField(primary_key=True, generated=False)
    email = fields.CharField(max_length=191, unique=True)
    name = fields.TextField()
    age = fields.IntField()
    active = fields.BooleanField()
    created_at = fields.DatetimeField()

    posts: fields.ReverseRelation[Post]

    class Meta:
        table = "bench_users"


class Post(Model):
    id = fields.IntField(primary_key=True, generated=False)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="posts", source_field="user_id")
    title = fields.TextField()
    body = fields.TextField()

    class Meta:
        table = "bench_posts"


def tortoise_url(backend: str, url: str) -> str:
    """Tortoise's URL for the farmorm test database ``url``."""
    if backend == "sqlite":  # Tortoise applies URL options as PRAGMAs: the floor's WAL + synchronous=NORMAL
        return "sqlite://" + url.split("sqlite:///", 1)[1] + "?journal_mode=WAL&synchronous=NORMAL"
    scheme, rest = url.split("://", 1)
    sep = "&" if "?" in rest else "?"
    if backend == "postgres":
        return f"postgres://{rest}{sep}minsize=1&maxsize={POOL_SIZE}"
    if "@" in rest.split("/", 1)[0] and ":" not in rest.split("@", 1)[0]:
        rest = rest.replace("@", ":@", 1)  # Tortoise wants user:password@ even when it is empty
    return f"mysql://{rest}{sep}minsize=1&maxsize={POOL_SIZE}&charset=utf8mb4"


def tortoise_workloads(bulk_rows: int = BULK_ROWS) -> dict[str, Workload]:
    counter = {"next": PEER_IDS, "bulk": BULK_PEER_IDS, "upd": 0}

    async def get_by_pk(n: int) -> None:
        for i in range(n):
            await User.get_or_none(id=i % USERS + 1)

    async def filter_page(n: int) -> None:
        for _ in range(n):
            await User.filter(active=True, age__gte=30).order_by("id").limit(50)

    async def fetch_1k(n: int) -> None:
        for _ in range(n):
            await User.all().limit(FETCH_ROWS)

    async def include(n: int) -> None:
        for _ in range(n):
            await User.filter(id__lte=INCLUDE_USERS).prefetch_related("posts")

    async def count(n: int) -> None:
        for _ in range(n):
            await User.filter(active=True).count()

    async def aggregate(n: int) -> None:
        for _ in range(n):
            await User.filter(active=True).annotate(
                count=Count("id"), total=Sum("age"), mean=Avg("age"), first=Min("created_at"), last=Max("created_at"),
            ).first().values("count", "total", "mean", "first", "last")

    async def group_by(n: int) -> None:
        for _ in range(n):
            await (User.filter(active=True).annotate(n=Count("id"), latest=Max("created_at")).group_by("age")
                   .filter(n__gte=GROUP_MIN).order_by("-n", "age").limit(GROUP_TAKE).values("age", "n", "latest"))

    async def update_one(n: int) -> None:
        for _ in range(n):
            counter["upd"] += 1
            k = counter["upd"]
            user = await User.get(id=k % USERS + 1)
            user.name = f"renamed {k}"
            await user.save(update_fields=["name"])

    async def insert_one(n: int) -> None:
        for _ in range(n):
            counter["next"] += 1
            await User.create(**new_user(counter["next"], "t"))

    async def bulk_insert(n: int) -> None:
        for _ in range(n):
            start = counter["bulk"]
            counter["bulk"] += bulk_rows
            await User.bulk_create([User(**new_user(start + j, "tb")) for j in range(bulk_rows)])

    async def concurrent(n: int) -> None:
        async def lookup(pk: int) -> None:
            await User.get_or_none(id=pk)

        await fan_out(n, lookup)

    return {"get_by_pk": get_by_pk, "filter_page": filter_page, "fetch_1k": fetch_1k, "include": include,
            "count": count, "aggregate": aggregate, "group_by": group_by, "update_one": update_one,
            "insert_one": insert_one, "bulk_insert": bulk_insert,
            "concurrent": concurrent}


async def open_system(backend: str, url: str, bulk_rows: int = BULK_ROWS) -> tuple[dict[str, Workload], Closer]:
    """Tortoise initialised on ``url`` (this module's models), its workloads and its closer."""
    await Tortoise.init(db_url=tortoise_url(backend, url), modules={"models": [__name__]}, use_tz=True,
                        timezone="UTC", _enable_global_fallback=True)

    async def close() -> None:
        await Tortoise.close_connections()

    return tortoise_workloads(bulk_rows), close

"""Peer: SQLAlchemy 2 async, Core and ORM, on the same tables and workloads.

Written the way SQLAlchemy's documentation recommends, not tuned: an ``AsyncEngine`` on the same
driver as the floor (``postgresql+asyncpg``, ``mysql+aiomysql``, ``sqlite+aiosqlite``) with a
pool of ``POOL_SIZE`` (no overflow); Core reads in ``engine.connect()`` (SQLAlchemy begins a
transaction on first use and rolls it back on release), Core writes in ``engine.begin()``; the
ORM in one ``AsyncSession`` per operation (``expire_on_commit=False``), ``session.get`` for point
lookups, ``selectinload`` for the include, ``add``/``add_all`` + commit for inserts, and
get-modify-commit for the update (the ORM's unit of work). Core returns rows as mappings
(``result.mappings().all()``), the ORM returns mapped objects. Writes return the record
(``RETURNING`` where the backend has it; MySQL inserts, like the floor, do not re-read).

Datetimes: a ``TypeDecorator`` reads and writes the columns farmorm created (SQLite ISO text,
MySQL naive UTC ``DATETIME(6)``, PostgreSQL ``timestamptz``) as aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Table, Text, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload
from sqlalchemy.types import TypeDecorator

from .workloads import (BULK_ROWS, FETCH_ROWS, GROUP_MIN, GROUP_TAKE, INCLUDE_USERS, POOL_SIZE, USERS, Closer, Workload,
                        fan_out, new_user)

_UTC = dt.timezone.utc
#: the peers' insert workloads use their own id ranges (each system has its own database anyway)
PEER_IDS = 40_000_000
BULK_PEER_IDS = 70_000_000


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes over whatever column farmorm created for ``f.datetime()``."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String())
        return dialect.type_descriptor(DateTime(timezone=dialect.name == "postgresql"))

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> Any:
        if value is None:
            return None
        value = value.astimezone(_UTC)
        if dialect.name == "sqlite":
            return value.isoformat(timespec="microseconds")
        if dialect.name == "postgresql":
            return value
        return value.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        moment: dt.datetime = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
        return moment.replace(tzinfo=_UTC) if moment.tzinfo is None else moment


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "bench_users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    email: Mapped[str] = mapped_column(String(191), unique=True)
    name: Mapped[str] = mapped_column(Text)
    age: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    posts: Mapped[list[Post]] = relationship(back_populates="user")


class Post(Base):
    __tablename__ = "bench_posts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("bench_users.id"))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    user: Mapped[User] = relationship(back_populates="posts")


users = cast(Table, User.__table__)
#: aggregate / group_by, written once with SQLAlchemy's expression language (Core and ORM run the same)
AGGREGATE = select(func.count().label("count"), func.sum(users.c.age).label("sum"), func.avg(users.c.age).label("avg"),
                   func.min(users.c.created_at).label("min"), func.max(users.c.created_at).label("max")
                   ).where(users.c.active.is_(True))
_n = func.count().label("n")
GROUP_BY = (select(users.c.age, _n, func.max(users.c.created_at).label("latest")).where(users.c.active.is_(True))
            .group_by(users.c.age).having(func.count() >= GROUP_MIN).order_by(_n.desc(), users.c.age)
            .limit(GROUP_TAKE))
posts = cast(Table, Post.__table__)


def engine_url(backend: str, url: str) -> str:
    """SQLAlchemy's URL for the farmorm test database ``url``, on the floor's driver."""
    scheme, rest = url.split("://", 1)
    return {"sqlite": "sqlite+aiosqlite", "postgres": "postgresql+asyncpg", "mysql": "mysql+aiomysql"}[backend] + "://" + rest


async def open_engine(backend: str, url: str) -> AsyncEngine:
    if backend == "sqlite":
        # one connection, like the floor and farmorm, with the same pragmas
        from sqlalchemy import event
        from sqlalchemy.pool import StaticPool

        engine = create_async_engine(engine_url(backend, url), poolclass=StaticPool)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.close()

        return engine
    kw: dict[str, Any] = {}
    if backend == "mysql":
        kw["connect_args"] = {"charset": "utf8mb4", "init_command": "SET SESSION time_zone = '+00:00'"}
    return create_async_engine(engine_url(backend, url), pool_size=POOL_SIZE, max_overflow=0, **kw)


def core_workloads(engine: AsyncEngine, returning: bool, bulk_rows: int = BULK_ROWS) -> dict[str, Workload]:
    counter = {"next": PEER_IDS, "bulk": BULK_PEER_IDS, "upd": 0}
    by_pk = select(users)

    async def get_by_pk(n: int) -> None:
        for i in range(n):
            async with engine.connect() as conn:
                (await conn.execute(by_pk.where(users.c.id == i % USERS + 1))).mappings().all()

    async def filter_page(n: int) -> None:
        for _ in range(n):
            async with engine.connect() as conn:
                (await conn.execute(select(users).where(users.c.active.is_(True), users.c.age >= 30)
                                    .order_by(users.c.id).limit(50))).mappings().all()

    async def fetch_1k(n: int) -> None:
        for _ in range(n):
            async with engine.connect() as conn:
                (await conn.execute(select(users).limit(FETCH_ROWS))).mappings().all()

    async def include(n: int) -> None:
        for _ in range(n):
            async with engine.connect() as conn:
                found = [dict(r) for r in (await conn.execute(select(users).where(users.c.id <= INCLUDE_USERS))).mappings()]
                children = (await conn.execute(select(posts).where(posts.c.user_id.in_([u["id"] for u in found]))
                                               )).mappings().all()
            by_user: dict[int, list[dict[str, Any]]] = {}
            for p in children:
                by_user.setdefault(p["user_id"], []).append(dict(p))
            for u in found:
                u["posts"] = by_user.get(u["id"], [])

    async def count(n: int) -> None:
        for _ in range(n):
            async with engine.connect() as conn:
                await conn.scalar(select(func.count()).select_from(users).where(users.c.active.is_(True)))

    async def aggregate(n: int) -> None:
        for _ in range(n):
            async with engine.connect() as conn:
                (await conn.execute(AGGREGATE)).one()._asdict()

    async def group_by(n: int) -> None:
        for _ in range(n):
            async with engine.connect() as conn:
                [r._asdict() for r in await conn.execute(GROUP_BY)]

    async def update_one(n: int) -> None:
        for _ in range(n):
            counter["upd"] += 1
            k = counter["upd"]
            stmt = update(users).where(users.c.id == k % USERS + 1).values(name=f"renamed {k}")
            async with engine.begin() as conn:
                if returning:
                    (await conn.execute(stmt.returning(*users.c))).mappings().all()
                else:
                    await conn.execute(stmt)
                    (await conn.execute(select(users).where(users.c.id == k % USERS + 1))).mappings().all()

    async def insert_one(n: int) -> None:
        for _ in range(n):
            counter["next"] += 1
            stmt = insert(users).values(new_user(counter["next"], "c"))
            async with engine.begin() as conn:
                if returning:
                    (await conn.execute(stmt.returning(*users.c))).mappings().all()
                else:
                    await conn.execute(stmt)  # the app already holds the record

    async def bulk_insert(n: int) -> None:
        for _ in range(n):
            start = counter["bulk"]
            counter["bulk"] += bulk_rows
            rows = [new_user(start + j, "cb") for j in range(bulk_rows)]
            async with engine.begin() as conn:
                if returning:  # insertmanyvalues: batched multi-row INSERT … RETURNING
                    (await conn.execute(insert(users).returning(*users.c), rows)).mappings().all()
                else:
                    await conn.execute(insert(users), rows)

    async def concurrent(n: int) -> None:
        async def lookup(pk: int) -> None:
            async with engine.connect() as conn:
                (await conn.execute(by_pk.where(users.c.id == pk))).mappings().all()

        await fan_out(n, lookup)

    return {"get_by_pk": get_by_pk, "filter_page": filter_page, "fetch_1k": fetch_1k, "include": include,
            "count": count, "aggregate": aggregate, "group_by": group_by, "update_one": update_one,
            "insert_one": insert_one, "bulk_insert": bulk_insert,
            "concurrent": concurrent}


def orm_workloads(engine: AsyncEngine, bulk_rows: int = BULK_ROWS) -> dict[str, Workload]:
    Session = async_sessionmaker(engine, expire_on_commit=False)
    counter = {"next": PEER_IDS, "bulk": BULK_PEER_IDS, "upd": 0}

    async def get_by_pk(n: int) -> None:
        for i in range(n):
            async with Session() as s:
                await s.get(User, i % USERS + 1)

    async def filter_page(n: int) -> None:
        for _ in range(n):
            async with Session() as s:
                (await s.scalars(select(User).where(User.active.is_(True), User.age >= 30)
                                 .order_by(User.id).limit(50))).all()

    async def fetch_1k(n: int) -> None:
        for _ in range(n):
            async with Session() as s:
                (await s.scalars(select(User).limit(FETCH_ROWS))).all()

    async def include(n: int) -> None:
        for _ in range(n):
            async with Session() as s:
                (await s.scalars(select(User).where(User.id <= INCLUDE_USERS).options(selectinload(User.posts)))).all()

    async def count(n: int) -> None:
        for _ in range(n):
            async with Session() as s:
                await s.scalar(select(func.count()).select_from(User).where(User.active.is_(True)))

    async def aggregate(n: int) -> None:  # the ORM's way is the same select() in a session
        for _ in range(n):
            async with Session() as s:
                (await s.execute(AGGREGATE)).one()._asdict()

    async def group_by(n: int) -> None:
        for _ in range(n):
            async with Session() as s:
                [r._asdict() for r in await s.execute(GROUP_BY)]

    async def update_one(n: int) -> None:
        for _ in range(n):
            counter["upd"] += 1
            k = counter["upd"]
            async with Session.begin() as s:
                user = await s.get(User, k % USERS + 1)
                assert user is not None
                user.name = f"renamed {k}"

    async def insert_one(n: int) -> None:
        for _ in range(n):
            counter["next"] += 1
            async with Session.begin() as s:
                s.add(User(**new_user(counter["next"], "o")))

    async def bulk_insert(n: int) -> None:
        for _ in range(n):
            start = counter["bulk"]
            counter["bulk"] += bulk_rows
            async with Session.begin() as s:
                s.add_all([User(**new_user(start + j, "ob")) for j in range(bulk_rows)])

    async def concurrent(n: int) -> None:
        async def lookup(pk: int) -> None:
            async with Session() as s:
                await s.get(User, pk)

        await fan_out(n, lookup)

    return {"get_by_pk": get_by_pk, "filter_page": filter_page, "fetch_1k": fetch_1k, "include": include,
            "count": count, "aggregate": aggregate, "group_by": group_by, "update_one": update_one,
            "insert_one": insert_one, "bulk_insert": bulk_insert,
            "concurrent": concurrent}


async def open_system(backend: str, url: str, *, orm: bool, bulk_rows: int = BULK_ROWS) -> tuple[dict[str, Workload], Closer]:
    """SQLAlchemy Core (``orm=False``) or ORM workloads on ``url``, and the engine's closer."""
    engine = await open_engine(backend, url)
    workloads = (orm_workloads(engine, bulk_rows) if orm
                 else core_workloads(engine, returning=backend != "mysql", bulk_rows=bulk_rows))
    return workloads, engine.dispose

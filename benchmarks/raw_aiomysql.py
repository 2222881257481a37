"""The floor on MySQL / MariaDB: the same workloads written directly against aiomysql.

Hand-written SQL with ``%s`` parameters on an ``aiomysql.Pool`` of the same size as farmorm's,
autocommit, utf8mb4 and the same session settings farmorm applies (strict mode, UTC). Rows are
tuples from the default cursor; an app turns them into dicts with Python types (``TINYINT(1)``
-> bool, naive ``DATETIME(6)`` in UTC -> aware datetime).

Writes return what an app asks for, the fewest statements: an INSERT with every value supplied
(the app already holds the id), the bare UPDATE, and one ``executemany`` for a bulk insert
(PyMySQL rewrites it into one multi-row INSERT). ``farmorm_lean`` asks farmorm for the same;
``farmorm`` returns whole records, which on MariaDB costs a re-read (see docs/performance.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .workloads import (BULK_RAW_IDS, BULK_ROWS, FETCH_ROWS, GROUP_MIN, GROUP_TAKE, INCLUDE_USERS, POOL_SIZE, RAW_IDS,
                        USERS, Workload, fan_out, new_user)

COLS = "id, email, name, age, active, created_at"
_UTC = dt.timezone.utc
SESSION_SETUP = ("SET SESSION sql_mode = 'STRICT_ALL_TABLES,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
                 "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', SESSION time_zone = '+00:00'")


def _row(r: Any) -> dict[str, Any]:
    return {"id": r[0], "email": r[1], "name": r[2], "age": r[3], "active": bool(r[4]),
            "created_at": r[5].replace(tzinfo=_UTC)}


def _args(u: dict[str, Any]) -> tuple[Any, ...]:
    return (u["id"], u["email"], u["name"], u["age"], u["active"],
            u["created_at"].astimezone(_UTC).replace(tzinfo=None))


def raw_workloads(pool: Any, bulk_rows: int = BULK_ROWS) -> dict[str, Workload]:
    counter = {"next": RAW_IDS, "bulk": BULK_RAW_IDS, "upd": 0}
    insert_sql = f"INSERT INTO bench_users ({COLS}) VALUES (%s, %s, %s, %s, %s, %s)"

    async def rows_of(sql: str, args: Any = None) -> Any:
        async with pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute(sql, args)
            return await cur.fetchall()

    async def get_by_pk(n: int) -> None:
        for i in range(n):
            rows = await rows_of(f"SELECT {COLS} FROM bench_users WHERE id = %s", (i % USERS + 1,))
            [_row(r) for r in rows]

    async def filter_page(n: int) -> None:
        for _ in range(n):
            rows = await rows_of(
                f"SELECT {COLS} FROM bench_users WHERE active = %s AND age >= %s ORDER BY id LIMIT %s", (True, 30, 50))
            [_row(r) for r in rows]

    async def fetch_1k(n: int) -> None:
        for _ in range(n):
            rows = await rows_of(f"SELECT {COLS} FROM bench_users LIMIT %s", (FETCH_ROWS,))
            [_row(r) for r in rows]

    async def include(n: int) -> None:
        for _ in range(n):
            async with pool.acquire() as conn, conn.cursor() as cur:
                await cur.execute(f"SELECT {COLS} FROM bench_users WHERE id <= %s", (INCLUDE_USERS,))
                users = [_row(r) for r in await cur.fetchall()]
                ids = [u["id"] for u in users]
                await cur.execute("SELECT id, user_id, title, body FROM bench_posts WHERE user_id IN ("
                                  + ", ".join(["%s"] * len(ids)) + ")", ids)
                posts = await cur.fetchall()
            by_user: dict[int, list[dict[str, Any]]] = {}
            for p in posts:
                by_user.setdefault(p[1], []).append({"id": p[0], "user_id": p[1], "title": p[2], "body": p[3]})
            for u in users:
                u["posts"] = by_user.get(u["id"], [])

    async def count(n: int) -> None:
        for _ in range(n):
            await rows_of("SELECT COUNT(*) FROM bench_users WHERE active = %s", (True,))

    async def aggregate(n: int) -> None:
        for _ in range(n):
            ((c, s, a, lo, hi),) = await rows_of(
                "SELECT COUNT(*), SUM(age), AVG(age), MIN(created_at), MAX(created_at) FROM bench_users "
                "WHERE active = %s", (True,))
            {"count": c, "sum": int(s), "avg": float(a), "min": lo.replace(tzinfo=_UTC), "max": hi.replace(tzinfo=_UTC)}

    async def group_by(n: int) -> None:
        for _ in range(n):
            rows = await rows_of(
                "SELECT age, COUNT(*) AS n, MAX(created_at) FROM bench_users WHERE active = %s GROUP BY age "
                "HAVING COUNT(*) >= %s ORDER BY n DESC, age LIMIT %s", (True, GROUP_MIN, GROUP_TAKE))
            [{"age": r[0], "count": r[1], "latest": r[2].replace(tzinfo=_UTC)} for r in rows]

    async def update_one(n: int) -> None:
        for _ in range(n):
            counter["upd"] += 1
            k = counter["upd"]
            uid = k % USERS + 1
            async with pool.acquire() as conn, conn.cursor() as cur:
                await cur.execute("UPDATE bench_users SET name = %s WHERE id = %s", (f"renamed {k}", uid))

    async def insert_one(n: int) -> None:
        for _ in range(n):
            counter["next"] += 1
            user = new_user(counter["next"], "r")
            async with pool.acquire() as conn, conn.cursor() as cur:
                await cur.execute(insert_sql, _args(user))  # the app already holds the record

    async def bulk_insert(n: int) -> None:
        for _ in range(n):
            start = counter["bulk"]
            counter["bulk"] += bulk_rows
            users = [new_user(start + j, "rb") for j in range(bulk_rows)]
            async with pool.acquire() as conn, conn.cursor() as cur:
                await cur.executemany(insert_sql, [_args(u) for u in users])  # one multi-row INSERT

    async def concurrent(n: int) -> None:
        async def lookup(pk: int) -> None:
            rows = await rows_of(f"SELECT {COLS} FROM bench_users WHERE id = %s", (pk,))
            [_row(r) for r in rows]

        await fan_out(n, lookup)

    return {"get_by_pk": get_by_pk, "filter_page": filter_page, "fetch_1k": fetch_1k, "include": include,
            "count": count, "aggregate": aggregate, "group_by": group_by, "update_one": update_one,
            "insert_one": insert_one, "bulk_insert": bulk_insert,
            "concurrent": concurrent}


async def open_raw(url: str) -> Any:
    import aiomysql

    from farmorm.testing.databases import _mysql_args

    args = _mysql_args(url)
    return await aiomysql.create_pool(minsize=1, maxsize=POOL_SIZE, charset="utf8mb4",
                                      init_command=SESSION_SETUP, **args)


async def close_raw(pool: Any) -> None:
    pool.close()
    await pool.wait_closed()

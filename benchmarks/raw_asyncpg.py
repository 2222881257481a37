"""The floor on PostgreSQL: the same workloads written directly against asyncpg.

Hand-written SQL with ``$n`` parameters on an ``asyncpg.Pool`` of the same size as farmorm's,
in autocommit, one pool acquire per operation (``pool.fetch`` for one statement). Rows become
dicts the way an asyncpg app builds them (``dict(record)``); asyncpg already returns native
Python values (aware UTC datetimes for timestamptz, bools), so no conversion is needed.
Writes return what an app on asyncpg asks for: ``INSERT … RETURNING id`` for one row, the bare
``UPDATE``, and one multi-row ``INSERT`` returning nothing for a bulk insert (``farmorm_lean``
asks farmorm for the same; ``farmorm`` returns whole records, which costs more).
"""

from __future__ import annotations

from typing import Any

from .workloads import (BULK_RAW_IDS, BULK_ROWS, FETCH_ROWS, GROUP_MIN, GROUP_TAKE, INCLUDE_USERS, POOL_SIZE, RAW_IDS,
                        USERS, Workload, fan_out, new_user)

COLS = "id, email, name, age, active, created_at"


def _args(u: dict[str, Any]) -> tuple[Any, ...]:
    return (u["id"], u["email"], u["name"], u["age"], u["active"], u["created_at"])


def raw_workloads(pool: Any, bulk_rows: int = BULK_ROWS) -> dict[str, Workload]:
    counter = {"next": RAW_IDS, "bulk": BULK_RAW_IDS, "upd": 0}
    bulk_sql = (f"INSERT INTO bench_users ({COLS}) VALUES "
                + ", ".join(f"(${6 * j + 1}, ${6 * j + 2}, ${6 * j + 3}, ${6 * j + 4}, ${6 * j + 5}, ${6 * j + 6})"
                            for j in range(bulk_rows)))

    async def get_by_pk(n: int) -> None:
        for i in range(n):
            rows = await pool.fetch(f"SELECT {COLS} FROM bench_users WHERE id = $1", i % USERS + 1)
            [dict(r) for r in rows]

    async def filter_page(n: int) -> None:
        for _ in range(n):
            rows = await pool.fetch(
                f"SELECT {COLS} FROM bench_users WHERE active = $1 AND age >= $2 ORDER BY id LIMIT $3", True, 30, 50)
            [dict(r) for r in rows]

    async def fetch_1k(n: int) -> None:
        for _ in range(n):
            rows = await pool.fetch(f"SELECT {COLS} FROM bench_users LIMIT $1", FETCH_ROWS)
            [dict(r) for r in rows]

    async def include(n: int) -> None:
        for _ in range(n):
            async with pool.acquire() as conn:
                users = [dict(r) for r in await conn.fetch(f"SELECT {COLS} FROM bench_users WHERE id <= $1", INCLUDE_USERS)]
                ids = [u["id"] for u in users]
                posts = await conn.fetch("SELECT id, user_id, title, body FROM bench_posts WHERE user_id = ANY($1)", ids)
            by_user: dict[int, list[dict[str, Any]]] = {}
            for p in posts:
                by_user.setdefault(p["user_id"], []).append(dict(p))
            for u in users:
                u["posts"] = by_user.get(u["id"], [])

    async def count(n: int) -> None:
        for _ in range(n):
            await pool.fetchval("SELECT COUNT(*) FROM bench_users WHERE active = $1", True)

    async def aggregate(n: int) -> None:
        for _ in range(n):
            row = await pool.fetchrow("SELECT COUNT(*), SUM(age), AVG(age), MIN(created_at), MAX(created_at) "
                                      "FROM bench_users WHERE active = $1", True)
            dict(row)

    async def group_by(n: int) -> None:
        for _ in range(n):
            rows = await pool.fetch("SELECT age, COUNT(*) AS n, MAX(created_at) AS latest FROM bench_users "
                                    "WHERE active = $1 GROUP BY age HAVING COUNT(*) >= $2 ORDER BY n DESC, age "
                                    "LIMIT $3", True, GROUP_MIN, GROUP_TAKE)
            [dict(r) for r in rows]

    async def update_one(n: int) -> None:
        for _ in range(n):
            counter["upd"] += 1
            k = counter["upd"]
            await pool.execute("UPDATE bench_users SET name = $1 WHERE id = $2", f"renamed {k}", k % USERS + 1)

    async def insert_one(n: int) -> None:
        for _ in range(n):
            counter["next"] += 1
            await pool.fetchval(f"INSERT INTO bench_users ({COLS}) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                                *_args(new_user(counter["next"], "r")))

    async def bulk_insert(n: int) -> None:
        for _ in range(n):
            start = counter["bulk"]
            counter["bulk"] += bulk_rows
            args = [v for j in range(bulk_rows) for v in _args(new_user(start + j, "rb"))]
            await pool.execute(bulk_sql, *args)  # one multi-row statement: atomic in autocommit

    async def concurrent(n: int) -> None:
        async def lookup(pk: int) -> None:
            rows = await pool.fetch(f"SELECT {COLS} FROM bench_users WHERE id = $1", pk)
            [dict(r) for r in rows]

        await fan_out(n, lookup)

    return {"get_by_pk": get_by_pk, "filter_page": filter_page, "fetch_1k": fetch_1k, "include": include,
            "count": count, "aggregate": aggregate, "group_by": group_by, "update_one": update_one,
            "insert_one": insert_one, "bulk_insert": bulk_insert,
            "concurrent": concurrent}


async def open_raw(url: str) -> Any:
    import asyncpg

    return await asyncpg.create_pool(url, min_size=1, max_size=POOL_SIZE)


async def close_raw(pool: Any) -> None:
    await pool.close()

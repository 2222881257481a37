"""The floor on SQLite: the same workloads written directly against aiosqlite.

Hand-written SQL with ``?`` parameters on one connection in autocommit (farmorm's SQLite driver
also uses one connection), with the same pragmas as farmorm's connection (WAL, synchronous=NORMAL);
rows become dicts with Python types, as an app needs them. Writes return what an app asks for:
``INSERT … RETURNING id`` for one row, the bare ``UPDATE``, and one multi-row ``INSERT`` returning
nothing for a bulk insert (what ``farmorm_lean`` asks farmorm for).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .workloads import (BULK_RAW_IDS, BULK_ROWS, FETCH_ROWS, GROUP_MIN, GROUP_TAKE, INCLUDE_USERS, RAW_IDS, USERS,
                        Workload, fan_out, new_user, open_sqlite)

COLS = "id, email, name, age, active, created_at"
_fromiso = dt.datetime.fromisoformat


def _row(r: Any) -> dict[str, Any]:
    # what an app needs from the raw driver: a dict with Python types
    return {"id": r[0], "email": r[1], "name": r[2], "age": r[3], "active": bool(r[4]),
            "created_at": _fromiso(r[5])}


def _args(u: dict[str, Any]) -> tuple[Any, ...]:
    return (u["id"], u["email"], u["name"], u["age"], 1 if u["active"] else 0,
            u["created_at"].astimezone(dt.timezone.utc).isoformat(timespec="microseconds"))


def raw_workloads(conn: Any, bulk_rows: int = BULK_ROWS) -> dict[str, Workload]:
    counter = {"next": RAW_IDS, "bulk": BULK_RAW_IDS, "upd": 0}
    bulk_sql = (f"INSERT INTO bench_users ({COLS}) VALUES "
                + ", ".join(["(?, ?, ?, ?, ?, ?)"] * bulk_rows))

    async def get_by_pk(n: int) -> None:
        for i in range(n):
            rows = await conn.execute_fetchall(f"SELECT {COLS} FROM bench_users WHERE id = ?", (i % USERS + 1,))
            [_row(r) for r in rows]

    async def filter_page(n: int) -> None:
        for _ in range(n):
            rows = await conn.execute_fetchall(
                f"SELECT {COLS} FROM bench_users WHERE active = ? AND age >= ? ORDER BY id LIMIT ?", (1, 30, 50))
            [_row(r) for r in rows]

    async def fetch_1k(n: int) -> None:
        for _ in range(n):
            rows = await conn.execute_fetchall(f"SELECT {COLS} FROM bench_users LIMIT ?", (FETCH_ROWS,))
            [_row(r) for r in rows]

    async def include(n: int) -> None:
        for _ in range(n):
            users = [_row(r) for r in await conn.execute_fetchall(f"SELECT {COLS} FROM bench_users WHERE id <= ?", (INCLUDE_USERS,))]
            ids = [u["id"] for u in users]
            marks = ", ".join("?" * len(ids))
            posts = await conn.execute_fetchall(
                f"SELECT id, user_id, title, body FROM bench_posts WHERE user_id IN ({marks})", ids)
            by_user: dict[int, list[dict[str, Any]]] = {}
            for p in posts:
                by_user.setdefault(p[1], []).append({"id": p[0], "user_id": p[1], "title": p[2], "body": p[3]})
            for u in users:
                u["posts"] = by_user.get(u["id"], [])

    async def count(n: int) -> None:
        for _ in range(n):
            await conn.execute_fetchall("SELECT COUNT(*) FROM bench_users WHERE active = ?", (1,))

    async def aggregate(n: int) -> None:
        for _ in range(n):
            ((c, s, a, lo, hi),) = await conn.execute_fetchall(
                "SELECT COUNT(*), SUM(age), AVG(age), MIN(created_at), MAX(created_at) FROM bench_users "
                "WHERE active = ?", (1,))
            {"count": c, "sum": s, "avg": a, "min": _fromiso(lo), "max": _fromiso(hi)}

    async def group_by(n: int) -> None:
        for _ in range(n):
            rows = await conn.execute_fetchall(
                "SELECT age, COUNT(*) AS n, MAX(created_at) FROM bench_users WHERE active = ? GROUP BY age "
                "HAVING COUNT(*) >= ? ORDER BY n DESC, age LIMIT ?", (1, GROUP_MIN, GROUP_TAKE))
            [{"age": r[0], "count": r[1], "latest": _fromiso(r[2])} for r in rows]

    async def update_one(n: int) -> None:
        for _ in range(n):
            counter["upd"] += 1
            k = counter["upd"]
            await conn.execute_fetchall("UPDATE bench_users SET name = ? WHERE id = ?", (f"renamed {k}", k % USERS + 1))

    async def insert_one(n: int) -> None:
        for _ in range(n):
            counter["next"] += 1
            ((_id,),) = await conn.execute_fetchall(
                f"INSERT INTO bench_users ({COLS}) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                _args(new_user(counter["next"], "r")))

    async def bulk_insert(n: int) -> None:
        for _ in range(n):
            start = counter["bulk"]
            counter["bulk"] += bulk_rows
            args = [v for j in range(bulk_rows) for v in _args(new_user(start + j, "rb"))]
            await conn.execute_fetchall(bulk_sql, args)  # one statement: atomic in autocommit

    async def concurrent(n: int) -> None:
        # one SQLite connection (aiosqlite's worker thread) serves every task, as in farmorm
        async def lookup(pk: int) -> None:
            rows = await conn.execute_fetchall(f"SELECT {COLS} FROM bench_users WHERE id = ?", (pk,))
            [_row(r) for r in rows]

        await fan_out(n, lookup)

    return {"get_by_pk": get_by_pk, "filter_page": filter_page, "fetch_1k": fetch_1k, "include": include,
            "count": count, "aggregate": aggregate, "group_by": group_by, "update_one": update_one,
            "insert_one": insert_one, "bulk_insert": bulk_insert,
            "concurrent": concurrent}


async def open_raw(url: str) -> Any:
    return await open_sqlite(url)  # same pragmas as farmorm's connection


async def close_raw(conn: Any) -> None:
    await conn.close()

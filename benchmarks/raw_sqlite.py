"""The floor on SQLite: the same workloads written directly against aiosqlite."""

from __future__ import annotations

import datetime as dt
from typing import Any

from .workloads import T0, USERS, Workload

COLS = "id, email, name, age, active, created_at"


def _row(r: Any) -> dict[str, Any]:
    # what an app needs from the raw driver: a dict with Python types
    return {"id": r[0], "email": r[1], "name": r[2], "age": r[3], "active": bool(r[4]),
            "created_at": dt.datetime.fromisoformat(r[5])}


def raw_workloads(conn: Any) -> dict[str, Workload]:
    counter = {"next": 20_000_000}

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
            rows = await conn.execute_fetchall(f"SELECT {COLS} FROM bench_users")
            [_row(r) for r in rows]

    async def insert_one(n: int) -> None:
        for _ in range(n):
            counter["next"] += 1
            i = counter["next"]
            rows = await conn.execute_fetchall(
                f"INSERT INTO bench_users ({COLS}) VALUES (?, ?, ?, ?, ?, ?) RETURNING {COLS}",
                (i, f"r{i}@x.io", "n", 1, 1, T0.isoformat(timespec="microseconds")))
            [_row(r) for r in rows]

    async def include(n: int) -> None:
        for _ in range(n):
            users = [_row(r) for r in await conn.execute_fetchall(f"SELECT {COLS} FROM bench_users WHERE id <= ?", (20,))]
            ids = [u["id"] for u in users]
            marks = ", ".join("?" * len(ids))
            posts = await conn.execute_fetchall(
                f"SELECT id, user_id, title FROM bench_posts WHERE user_id IN ({marks})", ids)
            by_user: dict[int, list[dict[str, Any]]] = {}
            for p in posts:
                by_user.setdefault(p[1], []).append({"id": p[0], "user_id": p[1], "title": p[2]})
            for u in users:
                u["posts"] = by_user.get(u["id"], [])

    async def count(n: int) -> None:
        for _ in range(n):
            await conn.execute_fetchall("SELECT COUNT(*) FROM bench_users WHERE active = ?", (1,))

    return {"get_by_pk": get_by_pk, "filter_page": filter_page, "fetch_1k": fetch_1k,
            "insert_one": insert_one, "include": include, "count": count}

"""Issue #3's question, measured: on PostgreSQL, does loading relations in ONE statement (JSON
aggregation or a LATERAL join) beat one batched query per relation level?

``python -m benchmarks.pg_relation_strategies [--rounds N] [--no-fk-index] [--json out.json]``

All strategies use raw asyncpg on the same pool, the same database (the benchmark seed: 1,000
users x 3 posts) and produce the same Python result, checked before timing: a list of user dicts
(root ordered by id), each with ``posts`` (list of post dicts) and, in the nested case, each post
with ``user`` (a user dict, ``created_at`` an aware datetime).

Cases
  include_20    20 users with their posts                          (2 levels: 20 + 60 records)
  nested_200    200 users with posts and each post's user          (3 levels: 200 + 600 + 600 records)

Strategies
  batched       farmorm's plan: one query per level, children by ``= ANY($1)``, stitched in Python
  json_agg      one statement; each level a correlated ``json_agg(json_build_object(...))``
                subquery, decoded with msgspec (typed TypedDicts, so datetimes come back parsed)
  json_doc      one statement returning the whole tree as ONE json document, one msgspec decode
  lateral       one statement; ``LEFT JOIN LATERAL`` per level, flat rows regrouped in Python

The FK column ``bench_posts.user_id`` gets an index (as any real schema has; farmorm's push_schema
does not create one); ``--no-fk-index`` measures without it. Each round runs every strategy once,
rotating the order; the median round is reported, and the time relative to ``batched``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, TypedDict

import msgspec

from farmorm.testing.databases import TestDatabase, reachable

from .workloads import open_farmorm, seed

UCOLS = "id, email, name, age, active, created_at"
U = "u.id, u.email, u.name, u.age, u.active, u.created_at"


class PostTD(TypedDict):
    id: int
    user_id: int
    title: str


class UserTD(TypedDict):
    id: int
    email: str
    name: str
    age: int
    active: bool
    created_at: dt.datetime


class PostWithUserTD(TypedDict):
    id: int
    user_id: int
    title: str
    user: UserTD


class UserWithPostsTD(TypedDict):
    id: int
    email: str
    name: str
    age: int
    active: bool
    created_at: dt.datetime
    posts: list[PostWithUserTD]


_posts = msgspec.json.Decoder(list[PostTD])
_posts_with_user = msgspec.json.Decoder(list[PostWithUserTD])
_doc_nested = msgspec.json.Decoder(list[UserWithPostsTD])


class UserWithFlatPostsTD(TypedDict):
    id: int
    email: str
    name: str
    age: int
    active: bool
    created_at: dt.datetime
    posts: list[PostTD]


_doc_include = msgspec.json.Decoder(list[UserWithFlatPostsTD])

JSON_POST = "json_build_object('id', p.id, 'user_id', p.user_id, 'title', p.title)"
JSON_USER = ("json_build_object('id', {a}.id, 'email', {a}.email, 'name', {a}.name, 'age', {a}.age, "
             "'active', {a}.active, 'created_at', {a}.created_at)")

Strategy = Callable[[Any, int], Awaitable[list[dict[str, Any]]]]


# -- (a) batched: one query per level, = ANY($1), stitched in Python ------------------------------
async def batched_include(pool: Any, limit: int) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        users = [dict(r) for r in await conn.fetch(f"SELECT {UCOLS} FROM bench_users WHERE id <= $1 ORDER BY id", limit)]
        posts = await conn.fetch("SELECT id, user_id, title FROM bench_posts WHERE user_id = ANY($1)",
                                 [u["id"] for u in users])
    by_user: dict[int, list[dict[str, Any]]] = {}
    for p in posts:
        by_user.setdefault(p["user_id"], []).append(dict(p))
    for u in users:
        u["posts"] = by_user.get(u["id"], [])
    return users


async def batched_nested(pool: Any, limit: int) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        users = [dict(r) for r in await conn.fetch(f"SELECT {UCOLS} FROM bench_users WHERE id <= $1 ORDER BY id", limit)]
        posts = [dict(r) for r in await conn.fetch("SELECT id, user_id, title FROM bench_posts WHERE user_id = ANY($1)",
                                                   [u["id"] for u in users])]
        keys = list(dict.fromkeys(p["user_id"] for p in posts))
        owners = {r["id"]: dict(r) for r in await conn.fetch(f"SELECT {UCOLS} FROM bench_users WHERE id = ANY($1)", keys)}
    by_user: dict[int, list[dict[str, Any]]] = {}
    for p in posts:
        p["user"] = owners.get(p["user_id"])
        by_user.setdefault(p["user_id"], []).append(p)
    for u in users:
        u["posts"] = by_user.get(u["id"], [])
    return users


# -- (b) json_agg: one statement, a json column per relation, decoded by msgspec ------------------
SQL_JSON_INCLUDE = (
    f"SELECT {U}, COALESCE((SELECT json_agg({JSON_POST}) FROM bench_posts p WHERE p.user_id = u.id), '[]') AS posts "
    "FROM bench_users u WHERE u.id <= $1 ORDER BY u.id"
)
SQL_JSON_NESTED = (
    f"SELECT {U}, COALESCE((SELECT json_agg(json_build_object('id', p.id, 'user_id', p.user_id, 'title', p.title, "
    f"'user', (SELECT {JSON_USER.format(a='pu')} FROM bench_users pu WHERE pu.id = p.user_id))) "
    "FROM bench_posts p WHERE p.user_id = u.id), '[]') AS posts "
    "FROM bench_users u WHERE u.id <= $1 ORDER BY u.id"
)


async def json_agg_include(pool: Any, limit: int) -> list[dict[str, Any]]:
    out = []
    for r in await pool.fetch(SQL_JSON_INCLUDE, limit):
        u = dict(r)
        u["posts"] = _posts.decode(u["posts"])
        out.append(u)
    return out


async def json_agg_nested(pool: Any, limit: int) -> list[dict[str, Any]]:
    out = []
    for r in await pool.fetch(SQL_JSON_NESTED, limit):
        u = dict(r)
        u["posts"] = _posts_with_user.decode(u["posts"])
        out.append(u)
    return out


# -- (b') the whole tree as one json document -----------------------------------------------------
SQL_DOC_INCLUDE = (
    "SELECT COALESCE(json_agg(t ORDER BY t.id), '[]') FROM ("
    f"SELECT {U}, COALESCE((SELECT json_agg({JSON_POST}) FROM bench_posts p WHERE p.user_id = u.id), '[]') AS posts "
    "FROM bench_users u WHERE u.id <= $1) t"
)
SQL_DOC_NESTED = (
    "SELECT COALESCE(json_agg(t ORDER BY t.id), '[]') FROM ("
    f"SELECT {U}, COALESCE((SELECT json_agg(json_build_object('id', p.id, 'user_id', p.user_id, 'title', p.title, "
    f"'user', (SELECT {JSON_USER.format(a='pu')} FROM bench_users pu WHERE pu.id = p.user_id))) "
    "FROM bench_posts p WHERE p.user_id = u.id), '[]') AS posts "
    "FROM bench_users u WHERE u.id <= $1) t"
)


async def json_doc_include(pool: Any, limit: int) -> list[dict[str, Any]]:
    return _doc_include.decode(await pool.fetchval(SQL_DOC_INCLUDE, limit))  # type: ignore[return-value]


async def json_doc_nested(pool: Any, limit: int) -> list[dict[str, Any]]:
    return _doc_nested.decode(await pool.fetchval(SQL_DOC_NESTED, limit))  # type: ignore[return-value]


# -- (c) LATERAL: one statement, flat rows regrouped in Python ------------------------------------
SQL_LATERAL_INCLUDE = (
    f"SELECT {U}, p.id, p.user_id, p.title FROM bench_users u "
    "LEFT JOIN LATERAL (SELECT id, user_id, title FROM bench_posts WHERE user_id = u.id) p ON TRUE "
    "WHERE u.id <= $1 ORDER BY u.id"
)
SQL_LATERAL_NESTED = (
    f"SELECT {U}, p.id, p.user_id, p.title, pu.id, pu.email, pu.name, pu.age, pu.active, pu.created_at "
    "FROM bench_users u "
    "LEFT JOIN LATERAL (SELECT id, user_id, title FROM bench_posts WHERE user_id = u.id) p ON TRUE "
    f"LEFT JOIN LATERAL (SELECT {UCOLS} FROM bench_users WHERE id = p.user_id) pu ON TRUE "
    "WHERE u.id <= $1 ORDER BY u.id"
)


async def lateral_include(pool: Any, limit: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for r in await pool.fetch(SQL_LATERAL_INCLUDE, limit):
        if current is None or current["id"] != r[0]:
            current = {"id": r[0], "email": r[1], "name": r[2], "age": r[3], "active": r[4], "created_at": r[5],
                       "posts": []}
            out.append(current)
        if r[6] is not None:
            current["posts"].append({"id": r[6], "user_id": r[7], "title": r[8]})
    return out


async def lateral_nested(pool: Any, limit: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    owners: dict[int, dict[str, Any]] = {}  # one dict per distinct related user, as stitching gives
    current: dict[str, Any] | None = None
    for r in await pool.fetch(SQL_LATERAL_NESTED, limit):
        if current is None or current["id"] != r[0]:
            current = {"id": r[0], "email": r[1], "name": r[2], "age": r[3], "active": r[4], "created_at": r[5],
                       "posts": []}
            out.append(current)
        if r[6] is None:
            continue
        owner = None
        if r[9] is not None:
            owner = owners.get(r[9])
            if owner is None:
                owner = owners[r[9]] = {"id": r[9], "email": r[10], "name": r[11], "age": r[12], "active": r[13],
                                        "created_at": r[14]}
        current["posts"].append({"id": r[6], "user_id": r[7], "title": r[8], "user": owner})
    return out


CASES: dict[str, tuple[int, int, dict[str, Strategy]]] = {
    # name: (root users, operations per round, strategies)
    "include_20": (20, 200, {"batched": batched_include, "json_agg": json_agg_include,
                             "json_doc": json_doc_include, "lateral": lateral_include}),
    "nested_200": (200, 30, {"batched": batched_nested, "json_agg": json_agg_nested,
                             "json_doc": json_doc_nested, "lateral": lateral_nested}),
}


def _canonical(users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Order-insensitive for children (no strategy promises a child order), exact otherwise."""
    return [{**u, "posts": sorted(u["posts"], key=lambda p: p["id"])} for u in users]


async def _run(fn: Strategy, pool: Any, limit: int, n: int) -> float:
    gc.collect()
    t = time.perf_counter()
    for _ in range(n):
        await fn(pool, limit)
    return time.perf_counter() - t


async def run(rounds: int = 7, fk_index: bool = True, smoke: bool = False) -> dict[str, Any]:
    import asyncpg

    db = TestDatabase("postgres")
    url = await db.create()
    try:
        orm, close_orm = await open_farmorm(url, "postgres")
        await seed(orm)
        await close_orm()
        pool = await asyncpg.create_pool(url, min_size=1, max_size=10)
        try:
            if fk_index:
                await pool.execute("CREATE INDEX bench_posts_user_id ON bench_posts (user_id)")
            await pool.execute("ANALYZE")
            results: dict[str, Any] = {}
            for case, (limit, n, strategies) in CASES.items():
                n = 2 if smoke else n
                expected = _canonical(await batched_include(pool, limit) if case == "include_20"
                                      else await batched_nested(pool, limit))
                for name, fn in strategies.items():  # same answer, and warm (prepared statements)
                    got = await fn(pool, limit)
                    if _canonical(got) != expected:
                        raise AssertionError(f"{case}/{name} returns a different result than batched")
                    await fn(pool, limit)
                samples: dict[str, list[float]] = {name: [] for name in strategies}
                names = list(strategies)
                for k in range(1 if smoke else rounds):
                    order = names[k % len(names):] + names[:k % len(names)]
                    for name in order:
                        samples[name].append(await _run(strategies[name], pool, limit, n))
                base = statistics.median(samples["batched"]) / n
                results[case] = {
                    name: {"ms_per_op": statistics.median(s) / n * 1000,
                           "ops": n / statistics.median(s),
                           "vs_batched": (statistics.median(s) / n) / base}
                    for name, s in samples.items()
                }
            plans = {}
            for case, sql in (("json_agg nested_200", SQL_JSON_NESTED), ("lateral nested_200", SQL_LATERAL_NESTED)):
                plan = await pool.fetch("EXPLAIN " + sql, 200)
                plans[case] = [r[0] for r in plan]
            server = str(await pool.fetchval("SHOW server_version"))
        finally:
            await pool.close()
    finally:
        await db.drop()
    return {"server": f"PostgreSQL {server}", "fk_index": fk_index, "rounds": 1 if smoke else rounds,
            "results": results, "plans": plans}


def format_table(report: dict[str, Any]) -> str:
    lines = [f"relation loading on {report['server']}, raw asyncpg, FK index on bench_posts.user_id: "
             f"{'yes' if report['fk_index'] else 'no'}, median of {report['rounds']} rounds",
             f"{'case':<11} {'strategy':<9} {'ms/op':>8} {'ops/s':>8} {'time / batched':>15}"]
    for case, strategies in report["results"].items():
        for name, r in strategies.items():
            lines.append(f"{case:<11} {name:<9} {r['ms_per_op']:>8.3f} {r['ops']:>8.0f} {r['vs_batched']:>14.2f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--no-fk-index", action="store_true", help="measure without an index on bench_posts.user_id")
    ap.add_argument("--smoke", action="store_true", help="check every strategy runs and agrees; no timing value")
    ap.add_argument("--plans", action="store_true", help="also print the EXPLAIN of the nested one-statement forms")
    ap.add_argument("--if-reachable", action="store_true", help="skip (exit 0) when PostgreSQL is not usable")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    problem = asyncio.run(reachable("postgres"))
    if problem:
        print(f"{'skipping relation strategies: ' if args.if_reachable else ''}{problem}", file=sys.stderr)
        return 0 if args.if_reachable else 2
    report = asyncio.run(run(args.rounds, fk_index=not args.no_fk_index, smoke=args.smoke))
    print(format_table(report))
    if args.plans:
        for case, plan in report["plans"].items():
            print(f"\n{case}:\n  " + "\n  ".join(plan))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m benchmarks.micro [--smoke] [--json out.json]``: micro-benchmarks of farmorm's hot path.

No database: each bench times one step of ``call → parse → plan cache → compile → hydrate →
stitch`` on the benchmark schema (``workloads.schema``), in µs per operation (best of several
repeats of a timed loop, the usual ``timeit`` practice: the minimum is the least disturbed by
other work on the machine).

- ``parse_unique``: ``unique_lookup`` + ``parse_read`` for ``find_unique(where={"id": …})``.
- ``parse_filter_page``: ``parse_read`` for the ``filter_page`` workload's arguments.
- ``plan_cache_hit``: the plan-cache lookup of an already compiled node (hash + LRU bump).
- ``compile_miss_<dialect>``: a plan-cache miss: compiling the node and building its row function
  (``Plan``) for PostgreSQL, MySQL, SQLite and Mongo.
- ``hydrate_1k_identity``: 1,000 rows of 6 columns into dicts, no column needs a converter (asyncpg).
- ``hydrate_1k_converters``: the same with the converters SQLite needs (bool, ISO text → datetime).
- ``stitch_include_20`` / ``stitch_include_1k``: attaching 60 / 3,000 posts to 20 / 1,000 users.
- ``mongo_fill_filter``: filling a compiled Mongo filter template with this call's values.
- ``bind_insert_1k``: binding the params of a 1,000-row multi-row INSERT (SQLite encoders).
- ``decimal_read_1k``: reading back 1,000 ``numeric(65, 30)`` prices (``normalize_decimal``);
  ``decimal_read_1k_digitwise`` runs the digit-by-digit trailing-zero loop it replaced on the
  same values, so one run gives the before/after ratio; ``decimal_read_1k_scaled`` the
  ``decimal(10, 2)`` read on SQLite / Mongo (one ``quantize``; PostgreSQL and MySQL do nothing).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import timeit
from functools import partial
from pathlib import Path
from typing import Any, Callable

from farmorm.core.cache import PlanCache
from farmorm.query.parse import parse_read
from farmorm.query.plan import stitch
from farmorm.query.writes import unique_lookup
from farmorm.runtime.executor import Plan, row_builder

from .workloads import T0, schema

Bench = Callable[[], Any]


def _compilers() -> dict[str, Any]:
    from farmorm_drivers._sql.compiler import SqlCompiler
    from farmorm_drivers.mongo.compiler import MongoCompiler
    from farmorm_drivers.mysql.compiler import MysqlCompiler
    from farmorm_drivers.mysql.dialect import MysqlDialect
    from farmorm_drivers.postgres.dialect import PostgresDialect
    from farmorm_drivers.sqlite.dialect import SqliteDialect

    return {"postgres": SqlCompiler(schema, PostgresDialect()), "mysql": MysqlCompiler(schema, MysqlDialect(True)),
            "sqlite": SqlCompiler(schema, SqliteDialect()), "mongo": MongoCompiler(schema)}


def _users(count: int) -> list[dict[str, Any]]:
    return [{"id": i, "email": f"u{i}@x.io", "name": f"User {i}", "age": 20 + i % 50, "active": i % 2 == 0,
             "created_at": T0} for i in range(1, count + 1)]


def _posts(users: int) -> list[dict[str, Any]]:
    return [{"id": u * 3 + k, "user_id": u, "title": f"post {k} of {u}"} for u in range(1, users + 1) for k in range(3)]


def make_benches() -> list[tuple[str, int, Bench]]:
    """(name, operations per call, callable): a call of the callable does that many operations."""
    user = schema.models["user"]
    compilers = _compilers()
    benches: list[tuple[str, int, Bench]] = []

    def parse_unique() -> None:
        where = {"id": 42}
        unique_lookup(user, where, "FindUnique")
        parse_read(schema, user, where=where, take=1)

    benches.append(("parse_unique", 1, parse_unique))
    benches.append(("parse_filter_page", 1, lambda: parse_read(
        schema, user, where={"active": True, "age": {"gte": 30}}, order_by={"id": "asc"}, take=50)))

    cache = PlanCache()
    node = parse_read(schema, user, where={"id": 1}, take=1).node
    build = compilers["postgres"].compile
    cache.get(node, lambda k: Plan(build(k)))
    benches.append(("plan_cache_hit", 1, lambda: cache.get(node, lambda k: Plan(build(k)))))

    page = parse_read(schema, user, where={"active": True, "age": {"gte": 30}}, order_by={"id": "asc"}, take=50).node
    def compile_miss(compiler: Any) -> Bench:
        return lambda: Plan(compiler.compile(page))

    for dialect, compiler in compilers.items():
        benches.append((f"compile_miss_{dialect}", 1, compile_miss(compiler)))

    columns = ("id", "email", "name", "age", "active", "created_at")
    pg_rows = [(u["id"], u["email"], u["name"], u["age"], u["active"], u["created_at"]) for u in _users(1000)]
    plain = row_builder(columns, (None,) * 6)
    benches.append(("hydrate_1k_identity", 1, lambda: plain(pg_rows)))
    sqlite_stmt = compilers["sqlite"].compile(parse_read(schema, user).node)
    conv = row_builder(sqlite_stmt.columns, sqlite_stmt.decoders)
    iso = T0.isoformat(timespec="microseconds")
    sqlite_rows = [(r[0], r[1], r[2], r[3], int(r[4]), iso) for r in pg_rows]
    benches.append(("hydrate_1k_converters", 1, lambda: conv(sqlite_rows)))

    for label, count in (("20", 20), ("1k", 1000)):
        read = parse_read(schema, user, where={"id": {"lte": count}}, include={"posts": True})
        rel = read.relations[0]
        parents, children = _users(count), _posts(count)
        benches.append((f"stitch_include_{label}", 1, partial(stitch, parents, rel, children)))

    from farmorm_drivers.mongo.compiler import fill

    params: list[Any] = []
    mread = parse_read(schema, user, where={"active": True, "age": {"gte": 30}}, order_by={"id": "asc"}, take=50)
    cmd = compilers["mongo"].compile(mread.node)
    params = list(mread.params)
    benches.append(("mongo_fill_filter", 1, lambda: fill(cmd.filter, params)))

    from farmorm.query import nodes as n

    insert = compilers["sqlite"].compile(n.Insert("user", columns, 1000, columns))
    values = [v for u in _users(1000) for v in (u["id"], u["email"], u["name"], u["age"], u["active"],
                                                u["created_at"])]
    benches.append(("bind_insert_1k", 1, lambda: insert.bind(values)))

    import decimal

    from farmorm.query.values import normalize_decimal, scaled_decimal

    wide = decimal.Context(prec=100)
    pad = decimal.Decimal(1).scaleb(-30)
    prices = [wide.quantize(decimal.Decimal(f"{i % 2000}.{i % 100:02d}"), pad) for i in range(1000)]
    scaled = scaled_decimal(2)
    texts = [f"{i % 2000}.{i % 100:02d}" for i in range(1000)]
    benches.append(("decimal_read_1k", 1, lambda: [normalize_decimal(v) for v in prices]))
    benches.append(("decimal_read_1k_digitwise", 1, lambda: [_digitwise_normalize(v) for v in prices]))
    benches.append(("decimal_read_1k_scaled", 1, lambda: [scaled(v) for v in texts]))
    return benches


def _digitwise_normalize(d: Any) -> Any:
    """The read-back farmorm used before ``decimal(precision, scale)`` (kept here as the baseline):
    trailing zeros stripped one digit at a time from the digit tuple."""
    import decimal

    sign, digits, exp = d.as_tuple()
    if exp > 0:
        return decimal.Decimal((sign, tuple(digits) + (0,) * exp, 0))
    digits = tuple(digits)
    while exp < 0 and len(digits) > 1 and digits[-1] == 0:
        digits = digits[:-1]
        exp += 1
    if not any(digits):
        return decimal.Decimal((0, (0,), 0)) if exp < 0 else decimal.Decimal((0, digits, exp))
    return decimal.Decimal((sign, digits, exp))


BENCHES = [(name, ops) for name, ops, _ in make_benches()]


def measure(fn: Bench, *, smoke: bool) -> float:
    """µs per call: best of 5 repeats of a loop sized to ~0.1 s (smoke: one call)."""
    if smoke:
        return max(timeit.timeit(fn, number=1), 1e-9) * 1e6
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    number = max(1, number // 2)
    return min(timer.repeat(repeat=5, number=number)) / number * 1e6


def run(smoke: bool = False) -> list[dict[str, Any]]:
    """Every micro-benchmark: ``{"name", "per_op_us"}``."""
    return [{"name": name, "per_op_us": measure(fn, smoke=smoke) / ops} for name, ops, fn in make_benches()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="each bench once: check they run")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    report = run(smoke=args.smoke)
    print(f"farmorm hot-path micro-benchmarks ({dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"Python {sys.version.split()[0]}); µs per operation, best of 5")
    for r in report:
        print(f"  {r['name']:<26} {r['per_op_us']:>10.2f} µs")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                                         "benches": report}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

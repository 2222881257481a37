"""``python -m benchmarks.typed_client [--smoke] [--json out.json]``: the typed client's per-call cost.

``TypedClient(orm)`` hands out the Orm's own model clients (``client.user is orm.user``), so a call
through it should cost what the plain call costs. This measures it on SQLite in memory (the fastest
backend, where any overhead would show most) with the benchmark schema (``workloads.schema``):

- ``find_unique``: ``find_unique(where={"id": k})`` through ``orm.user`` and through ``client.user``.
- ``find_many_20``: ``find_many(where={"active": True}, take=20)`` through each.
- ``attribute``: reaching the model client (``orm.user`` / ``client.user``), no query.
- ``transaction_fn``: ``await orm.transaction(fn)`` / ``await client.transaction(fn)`` around one
  find_unique (the typed one hands ``fn`` a typed client over the transaction's Orm).

The plain and typed loops alternate, round after round; the report gives each one's best round in µs
per call (the least disturbed, as ``timeit`` does), the ratio typed / plain of those (1.00 = no
cost) and the ratio of the medians. A ratio, in one run, never a threshold.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

from farmorm import create_orm
from farmorm.generators.client import render_client
from farmorm.setup import push_schema

from .workloads import T0, schema

Call = Callable[[int], Awaitable[Any]]


def load_typed_module() -> Any:
    """The generated typed module of the benchmark schema, imported from a temporary file."""
    folder = Path(tempfile.mkdtemp(prefix="farmorm_bench_typed_"))
    path = folder / "bench_db_types.py"
    path.write_text(render_client(schema), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("bench_db_types", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def _time(call: Call, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        await call(i)
    return (time.perf_counter() - start) / n * 1e6


def _attribute_us(get: Callable[[], Any], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        get()
    return (time.perf_counter() - start) / n * 1e6


async def run(smoke: bool = False) -> dict[str, Any]:
    """``{"benches": [{"name", "plain_us", "typed_us", "ratio"}], "rounds", "calls"}``."""
    db = load_typed_module()
    orm = await create_orm(schema, "sqlite:///:memory:")
    try:
        await push_schema(schema, orm)
        users = 200
        await orm.user.create_many(data=[{"id": i, "email": f"u{i}@x.io", "name": f"U{i}", "age": 20 + i % 50,
                                          "active": i % 2 == 0, "created_at": T0} for i in range(1, users + 1)])
        client = db.TypedClient(orm)
        rounds, calls = (1, 2) if smoke else (61, 200)

        async def plain_tx(i: int) -> Any:
            return await orm.transaction(lambda tx: tx.user.find_unique(where={"id": i % users + 1}))

        async def typed_tx(i: int) -> Any:
            return await client.transaction(lambda tx: tx.user.find_unique(where={"id": i % users + 1}))

        pairs: dict[str, tuple[Call, Call]] = {
            "find_unique": (lambda i: orm.user.find_unique(where={"id": i % users + 1}),
                            lambda i: client.user.find_unique(where={"id": i % users + 1})),
            "find_many_20": (lambda i: orm.user.find_many(where={"active": True}, take=20),
                             lambda i: client.user.find_many(where={"active": True}, take=20)),
            "transaction_fn": (plain_tx, typed_tx),
        }
        out: list[dict[str, Any]] = []
        for name, (plain, typed) in pairs.items():
            n = max(1, calls // 4) if name == "transaction_fn" else calls
            await plain(0), await typed(0)  # warm the plan cache
            p_times: list[float] = []
            t_times: list[float] = []
            for r in range(rounds):  # alternate which goes first
                first, second = (plain, typed) if r % 2 == 0 else (typed, plain)
                a = await _time(first, n)
                b = await _time(second, n)
                p, t = (a, b) if first is plain else (b, a)
                p_times.append(p)
                t_times.append(t)
            out.append(_row(name, p_times, t_times))
        n_attr = 10 if smoke else 1_000_000
        p_attr = [_attribute_us(lambda: orm.user, n_attr) for _ in range(rounds)]
        t_attr = [_attribute_us(lambda: client.user, n_attr) for _ in range(rounds)]
        out.append(_row("attribute", p_attr, t_attr))
        return {"benches": out, "rounds": rounds, "calls": calls}
    finally:
        await orm.close()


def _row(name: str, plain: list[float], typed: list[float]) -> dict[str, Any]:
    # the best round of each is the one least disturbed by other work on the machine (timeit's practice);
    # the medians show the spread a shared machine adds
    p, t = min(plain), min(typed)
    return {"name": name, "plain_us": p, "typed_us": t, "ratio": t / p if p else float("nan"),
            "median_ratio": statistics.median(typed) / statistics.median(plain)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="a couple of calls each: check it runs")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    report = asyncio.run(run(smoke=args.smoke))
    print(f"typed client vs plain Orm on SQLite in memory ({dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"Python {sys.version.split()[0]}); best of {report['rounds']} alternating rounds")
    for r in report["benches"]:
        print(f"  {r['name']:<16} plain {r['plain_us']:>9.3f} µs   typed {r['typed_us']:>9.3f} µs   "
              f"typed/plain {r['ratio']:.3f} (medians {r['median_ratio']:.3f})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                                         **report}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

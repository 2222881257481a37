"""``python -m benchmarks.ab --baseline PATH [--runs 5]``: this checkout's hot path against another's.

A before/after check for a change to the runtime (issue 14): SQLite in memory, no server, so the
database costs as little as it can and the ORM's own work shows. Each run is a fresh interpreter,
alternating this checkout and the baseline (``git worktree add /tmp/base main`` or a ``git archive``
of it); in each, every operation is timed for several rounds and the best round kept. Printed per
operation: the median and the best over the runs of both, and their ratios (this ÷ baseline,
above 1 is slower). Times are CPU time of the process (``time.process_time``), so the load of
other processes on a shared machine counts far less than in wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROUNDS = 7
#: CPU time of the whole process (every thread: aiosqlite's included), not wall time: on a shared
#: machine another process's load does not count, only the work this one does
clock = time.process_time
OPS = {"find_unique": 1000, "count": 500, "create": 300, "update": 300, "transaction": 100}


async def measure() -> dict[str, float]:
    """Seconds of the best round of each operation, in this interpreter's farmorm."""
    from farmorm import create_orm, define_schema, fields as f, model
    from farmorm.setup import push_schema

    schema = define_schema(user=model(table="users", fields={
        "id": f.id(), "email": f.string().unique(), "name": f.string()}))
    orm = await create_orm(schema, "sqlite:///:memory:")
    best = dict.fromkeys(OPS, float("inf"))
    try:
        await push_schema(schema, orm)
        ids = [(await orm.user.create(data={"email": f"u{i}@x", "name": "n"}))["id"] for i in range(200)]
        for rnd in range(ROUNDS):
            t = clock()
            for i in range(OPS["find_unique"]):
                await orm.user.find_unique(where={"id": ids[i % 200]})
            best["find_unique"] = min(best["find_unique"], clock() - t)
            t = clock()
            for _ in range(OPS["count"]):
                await orm.user.count(where={"name": "n"})
            best["count"] = min(best["count"], clock() - t)
            t = clock()
            for i in range(OPS["create"]):
                await orm.user.create(data={"email": f"r{rnd}-{i}@x", "name": "c"})
            best["create"] = min(best["create"], clock() - t)
            t = clock()
            for i in range(OPS["update"]):
                await orm.user.update(where={"id": ids[i % 200]}, data={"name": "u"})
            best["update"] = min(best["update"], clock() - t)
            t = clock()
            for i in range(OPS["transaction"]):
                async with orm.transaction() as tx:
                    await tx.user.find_unique(where={"id": ids[i % 200]})
            best["transaction"] = min(best["transaction"], clock() - t)
    finally:
        await orm.close()
    return best


def _child(root: Path) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    # this file runs in the child (the baseline need not have it); its farmorm comes from ``root``
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child"], cwd=root, env=env,
                         capture_output=True, text=True, check=True).stdout
    return {k: float(v) for k, v in (item.split("=") for item in out.split())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=Path, help="a checkout of the other farmorm (e.g. main)")
    ap.add_argument("--runs", type=int, default=5, help="interpreters per side, alternating")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(" ".join(f"{k}={v}" for k, v in asyncio.run(measure()).items()))
        return 0
    if args.baseline is None:
        ap.error("--baseline PATH is required")
    here = Path(__file__).resolve().parent.parent
    runs: dict[str, list[dict[str, float]]] = {"this": [], "baseline": []}
    for _ in range(args.runs):
        runs["this"].append(_child(here))
        runs["baseline"].append(_child(args.baseline.resolve()))
    print(f"{'operation':<12} {'ops':>5} {'this median':>12} {'base median':>12} {'this best':>10} {'base best':>10}"
          f" {'median ratio':>13} {'best ratio':>11}")
    for op, n in OPS.items():
        mine = [r[op] for r in runs["this"]]
        base = [r[op] for r in runs["baseline"]]
        print(f"{op:<12} {n:>5} {statistics.median(mine) * 1e3:>10.1f}ms {statistics.median(base) * 1e3:>10.1f}ms"
              f" {min(mine) * 1e3:>8.1f}ms {min(base) * 1e3:>8.1f}ms"
              f" {statistics.median(mine) / statistics.median(base):>13.3f} {min(mine) / min(base):>11.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

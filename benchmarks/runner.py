"""``python -m benchmarks.runner [--smoke] [--json out.json]``: farmorm vs the raw driver, as ratios.

Both systems run in this one process on the same database file, warmed up, median of rounds.
Timings are noisy on a shared 2-core machine: read the ratios, never the absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .raw_sqlite import raw_workloads
from .workloads import farmorm_workloads, open_farmorm, seed

OPS = {"get_by_pk": 2000, "filter_page": 200, "fetch_1k": 20, "insert_one": 500, "include": 200, "count": 500}
SMOKE_OPS = {k: 3 for k in OPS}


async def _time(fn: Any, n: int, rounds: int) -> float:
    await fn(max(1, n // 10))  # warm-up: plan cache, statement caches
    samples = []
    for _ in range(rounds):
        t = time.perf_counter()
        await fn(n)
        samples.append(time.perf_counter() - t)
    return n / statistics.median(samples)


async def run(smoke: bool = False, rounds: int = 5) -> dict[str, dict[str, float]]:
    import aiosqlite

    ops = SMOKE_OPS if smoke else OPS
    rounds = 1 if smoke else rounds
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        orm = await open_farmorm(url)
        await seed(orm)
        raw = await aiosqlite.connect(str(Path(tmp) / "bench.db"), isolation_level=None)
        try:
            ours, floor = farmorm_workloads(orm), raw_workloads(raw)
            results: dict[str, dict[str, float]] = {}
            for name, n in ops.items():
                r = await _time(floor[name], n, rounds)
                o = await _time(ours[name], n, rounds)
                results[name] = {"raw_ops": r, "farmorm_ops": o, "time_ratio": r / o}
        finally:
            await raw.close()
            await orm.close()
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--smoke", action="store_true", help="tiny counts: check the runs work, not their speed")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    results = asyncio.run(run(smoke=args.smoke))
    print(f"{'workload':<12} {'raw ops/s':>12} {'farmorm ops/s':>14} {'time vs raw':>12}   (sqlite, aiosqlite)")
    for name, r in results.items():
        print(f"{name:<12} {r['raw_ops']:>12.0f} {r['farmorm_ops']:>14.0f} {r['time_ratio']:>11.2f}x")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"backend": "sqlite", "python": sys.version.split()[0], "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

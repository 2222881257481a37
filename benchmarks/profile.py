"""Profile one workload on one backend: where farmorm's time goes compared with the raw floor.

``python -m benchmarks.profile --backend postgres --workload get_by_pk [--n 4000] [--tool cprofile|pyinstrument]
[--system farmorm|farmorm_lean|raw|sqlalchemy_core|sqlalchemy_orm|tortoise|piccolo] [--top 25]``

Seeds a fresh database as the runner does, warms the workload up, then profiles ``n`` operations.
``cprofile`` (the default, always available) prints the functions with the most own time and the
most cumulative time; ``pyinstrument`` (``pip install pyinstrument``, not a project dependency)
prints its call tree. cProfile inflates the cost of many small calls: use it to rank, not to time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sys
from typing import Any

from farmorm.testing.databases import TestDatabase, reachable

from .runner import RAW, SYSTEMS, open_system
from .workloads import OPS, open_farmorm, seed


async def profile(backend: str, workload: str, n: int, tool: str, system: str, top: int) -> str:
    db = TestDatabase(backend)
    url = await db.create()
    try:
        orm, close_orm = await open_farmorm(url, backend)
        try:
            await seed(orm)
        finally:
            await close_orm()
        workloads, close = await open_system(system, backend, url)
        try:
            fn = workloads[workload]
            await fn(max(1, n // 5))  # warm-up
            if tool == "pyinstrument":
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.0002, async_mode="enabled")
                profiler.start()
                await fn(n)
                profiler.stop()
                return str(profiler.output_text(unicode=False, color=False, show_all=False))
            prof = cProfile.Profile()
            prof.enable()
            await fn(n)
            prof.disable()
            out = io.StringIO()
            stats = pstats.Stats(prof, stream=out).strip_dirs()
            out.write(f"--- {system} {workload} on {backend}: {n} operations, by own time ---\n")
            stats.sort_stats("tottime").print_stats(top)
            out.write(f"--- by cumulative time ---\n")
            stats.sort_stats("cumulative").print_stats(top)
            return out.getvalue()
        finally:
            await close()
    finally:
        await db.drop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=tuple(RAW), default="postgres")
    ap.add_argument("--workload", choices=tuple(OPS), default="get_by_pk")
    ap.add_argument("--n", type=int, help="operations to profile (default: the runner's full count)")
    ap.add_argument("--tool", choices=("cprofile", "pyinstrument"), default="cprofile")
    ap.add_argument("--system", choices=SYSTEMS, default="farmorm")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args(argv)
    problem = asyncio.run(reachable(args.backend))
    if problem:
        print(problem, file=sys.stderr)
        return 2
    n = args.n or OPS[args.workload]
    print(asyncio.run(profile(args.backend, args.workload, n, args.tool, args.system, args.top)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

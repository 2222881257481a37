"""``python -m benchmarks.runner [--backend sqlite|postgres|mysql|all] [--smoke] [--rounds N] [--json out.json]``

farmorm against the raw driver (the floor) on each backend, reported as ops/s and as farmorm's
time divided by the raw driver's time (1.00x = no overhead; 1.30x = 30% slower than raw).

Per backend: a fresh database (``farmorm.testing.databases.TestDatabase``, dropped afterwards)
seeded with 1,000 users and 3,000 posts; the raw floor and farmorm run in the same process on
the same database, each workload warmed up, then timed for ``--rounds`` rounds alternating
which system goes first (ABBA); ops/s come from each system's median round, the ratio is the
median of the per-round ratios (a round's two samples run back to back, so outside load mostly
cancels out), and the 1-minute load average before/after is recorded. With more than one backend
each backend runs in its own child process, one after the other (``--same-process`` to not).

``--backend all`` (the default) runs every backend that is reachable here and skips the others
with a note; naming an unreachable backend is an error. Timings are noisy on a shared 2-core
machine: read the ratios, not the absolute numbers, and compare runs of the same day.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from farmorm.testing.databases import TestDatabase, reachable

from .workloads import OPS, SMOKE_OPS, Workload, farmorm_workloads, open_farmorm, seed

BACKENDS = ("sqlite", "postgres", "mysql")
#: backend -> (raw floor module, driver distribution)
RAW = {
    "sqlite": ("benchmarks.raw_sqlite", "aiosqlite"),
    "postgres": ("benchmarks.raw_asyncpg", "asyncpg"),
    "mysql": ("benchmarks.raw_aiomysql", "aiomysql"),
}
DEFAULT_ROUNDS = 5


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment() -> dict[str, Any]:
    """Where and with what the numbers were taken."""
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "versions": {d: _version(d) for d in ("farmorm", "asyncpg", "aiomysql", "PyMySQL", "aiosqlite", "msgspec", "anyio")},
    }


async def _server_version(backend: str, raw: Any) -> str:
    if backend == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    if backend == "postgres":
        return "PostgreSQL " + str(await raw.fetchval("SHOW server_version"))
    async with raw.acquire() as conn, conn.cursor() as cur:
        await cur.execute("SELECT VERSION()")
        (version,) = await cur.fetchone()
    return ("MariaDB " if "mariadb" in version.lower() else "MySQL ") + version


async def _sample(fn: Workload, n: int) -> float:
    gc.collect()
    t = time.perf_counter()
    await fn(n)
    return time.perf_counter() - t


async def time_pair(raw: Workload, ours: Workload, n: int, rounds: int) -> tuple[float, float, float]:
    """(raw ops/s, farmorm ops/s, time ratio) after a warm-up and ``rounds`` alternating rounds.

    Ops/s are from each system's median round. The ratio is the median of the per-round ratios:
    both samples of a round run back to back, so load from outside this process (other jobs on
    a shared machine) tends to hit both and cancels out of the pair."""
    warm = max(1, n // 10)
    await raw(warm)  # warm-up: plan cache, prepared statements, pool connections
    await ours(warm)
    raw_s: list[float] = []
    our_s: list[float] = []
    for k in range(rounds):
        if k % 2 == 0:
            raw_s.append(await _sample(raw, n))
            our_s.append(await _sample(ours, n))
        else:
            our_s.append(await _sample(ours, n))
            raw_s.append(await _sample(raw, n))
    ratio = statistics.median(o / r for o, r in zip(our_s, raw_s))
    return n / statistics.median(raw_s), n / statistics.median(our_s), ratio


def load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # not available on this platform
        return None


async def run_backend(
    backend: str,
    *,
    smoke: bool = False,
    rounds: int = DEFAULT_ROUNDS,
    only: list[str] | None = None,
    progress: Callable[[str, dict[str, float]], None] | None = None,
) -> dict[str, Any]:
    """Benchmark one backend on a fresh database; returns its metadata and per-workload results.

    ``results[workload]`` = ``{"ops": n, "raw_ops": …, "farmorm_ops": …, "time_ratio": …}`` where
    ``time_ratio`` is farmorm's time per operation divided by the raw driver's (median of the
    per-round ratios). ``load_average`` is the machine's 1-minute load before and after: with 2
    CPUs, anything much above 1 means other work shared the machine during the run."""
    if backend not in RAW:
        raise ValueError(f"Unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    raw_mod = importlib.import_module(RAW[backend][0])
    ops = dict(SMOKE_OPS if smoke else OPS)
    if only:
        unknown = set(only) - set(ops)
        if unknown:
            raise ValueError(f"Unknown workloads: {', '.join(sorted(unknown))}")
        ops = {k: v for k, v in ops.items() if k in only}
    rounds = 1 if smoke else rounds
    db = TestDatabase(backend)
    url = await db.create()
    try:
        orm, close_orm = await open_farmorm(url, backend)
        try:
            await seed(orm)
            raw = await raw_mod.open_raw(url)
            try:
                server = await _server_version(backend, raw)
                ours, floor = farmorm_workloads(orm), raw_mod.raw_workloads(raw)
                results: dict[str, dict[str, float]] = {}
                load_before = load_average()
                for name, n in ops.items():
                    r, o, ratio = await time_pair(floor[name], ours[name], n, rounds)
                    results[name] = {"ops": n, "raw_ops": r, "farmorm_ops": o, "time_ratio": ratio}
                    if progress is not None:
                        progress(name, results[name])
            finally:
                await raw_mod.close_raw(raw)
        finally:
            await close_orm()
    finally:
        await db.drop()
    return {"backend": backend, "driver": RAW[backend][1], "driver_version": _version(RAW[backend][1]),
            "server": server, "mode": "smoke" if smoke else "full", "rounds": rounds,
            "load_average": [load_before, load_average()], "results": results}


async def reachable_backends(candidates: tuple[str, ...] = BACKENDS) -> dict[str, str | None]:
    """backend -> None when usable here, else why not."""
    return {b: await reachable(b) for b in candidates}


def format_table(report: dict[str, Any]) -> str:
    head = (f"{report['backend']}: {report['driver']} {report['driver_version']} on {report['server']} "
            f"({report['mode']}, median of {report['rounds']} round{'s' if report['rounds'] != 1 else ''})")
    load = report.get("load_average") or [None, None]
    if any(x is not None and x > 1.2 for x in load):
        head += f"\n  note: 1-minute load average {load[0]} -> {load[1]}: other work shared the CPUs, ratios are noisier"
    lines = [head, f"{'workload':<12} {'ops':>6} {'raw ops/s':>11} {'farmorm ops/s':>14} {'farmorm time / raw':>19}"]
    for name, r in report["results"].items():
        lines.append(f"{name:<12} {r['ops']:>6} {r['raw_ops']:>11.0f} {r['farmorm_ops']:>14.0f} {r['time_ratio']:>18.2f}x")
    return "\n".join(lines)


def _child(backend: str, args: argparse.Namespace) -> dict[str, Any] | None:
    """Run one backend in a fresh interpreter; its table goes straight to our stdout."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{backend}.json"
        cmd = [sys.executable, "-m", "benchmarks.runner", "--backend", backend, "--rounds", str(args.rounds),
               "--json", str(out), "--no-env"]
        if args.smoke:
            cmd.append("--smoke")
        if args.workloads:
            cmd += ["--workloads", args.workloads]
        root = Path(__file__).resolve().parent.parent
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
        done = subprocess.run(cmd, cwd=root, env=env)
        if done.returncode != 0 or not out.exists():
            return None
        return json.loads(out.read_text())["backends"][backend]  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=(*BACKENDS, "all"), default="all",
                    help="one backend, or every reachable one (default)")
    ap.add_argument("--smoke", action="store_true", help="tiny counts, one round: check the runs work, not their speed")
    ap.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="timed rounds per workload (median reported)")
    ap.add_argument("--workloads", help="comma-separated subset of workloads")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--same-process", action="store_true", help="run every backend in this process")
    ap.add_argument("--no-env", action="store_true", help=argparse.SUPPRESS)  # child mode: no header
    args = ap.parse_args(argv)
    only = [w.strip() for w in args.workloads.split(",") if w.strip()] if args.workloads else None

    env = environment()
    if args.backend == "all":
        status = asyncio.run(reachable_backends())
        backends = [b for b, problem in status.items() if problem is None]
        for b, problem in status.items():
            if problem is not None:
                print(f"skipping {b}: {problem}", file=sys.stderr)
    else:
        problem = asyncio.run(reachable(args.backend))
        if problem is not None:
            print(f"{args.backend} is not usable: {problem}", file=sys.stderr)
            return 2
        backends = [args.backend]
    if not backends:
        print("no backend is reachable", file=sys.stderr)
        return 2
    if not args.no_env:
        v = env["versions"]
        print(f"farmorm benchmarks, {env['date']}, Python {env['python']}, {env['cpus']} CPUs; "
              f"asyncpg {v['asyncpg']}, aiomysql {v['aiomysql']} (PyMySQL {v['PyMySQL']}), aiosqlite {v['aiosqlite']}, "
              f"msgspec {v['msgspec']}\n", flush=True)

    reports: dict[str, Any] = {}
    failed = []
    for backend in backends:
        if len(backends) > 1 and not args.same_process:
            report = _child(backend, args)
            if report is None:
                failed.append(backend)
                continue
        else:
            report = asyncio.run(run_backend(backend, smoke=args.smoke, rounds=args.rounds, only=only))
            print(format_table(report) + "\n", flush=True)
        reports[backend] = report
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**env, "backends": reports}, indent=2))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

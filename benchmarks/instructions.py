"""``python -m benchmarks.instructions [--backend postgres|sqlite|mysql] [--systems raw,farmorm,farmorm_lean]
[--workloads …] [--smoke] [--json out.json]``: instructions per operation, counted by Valgrind.

Wall-clock ratios on a shared machine move by ±0.3 from run to run; an instruction count does
not. Each system runs its workloads in its own interpreter under ``valgrind --tool=callgrind``:
the database is created and seeded beforehand by this (uninstrumented) process, the child turns
instrumentation on after its imports and set-up, runs a warm-up, then counts exactly the
instructions of ``n`` operations (Callgrind's client requests, through a 10-line C helper built
with the system's C compiler against ``<valgrind/callgrind.h>``) and reports instructions per
operation. Only the client process is counted: the database server's work is not in the figure.
Every thread of the client is: aiosqlite runs SQLite, and whatever a ``row_factory`` does, in a
worker thread, so the counter zeroes the totals of all threads before the ``n`` operations and
dumps them after (``CALLGRIND_ZERO_STATS``); toggling collection would switch it for the calling
thread only and leave the worker's instructions out.

``farmorm − raw`` is farmorm's Python overhead per operation: the figure to compare before and
after a change to the hot path (docs/performance.md records it). Counts repeat to within a few
hundred instructions per operation (event-loop iterations depend a little on how the replies
arrive); the time ratios of ``benchmarks.runner`` remain the measure of speed.

Before/after: ``--farmorm-from DIR`` runs the children on the ``farmorm`` and ``farmorm_drivers``
packages found in ``DIR`` (e.g. ``git archive main farmorm farmorm_drivers | tar -x -C DIR``), with
this checkout's benchmarks, so two versions are counted on the same workloads.

Needs ``valgrind`` and a C compiler; ``make bench-instructions`` runs it on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from farmorm.testing.databases import TestDatabase

from .workloads import BULK_ROWS, SMOKE_USERS, USERS, open_farmorm, seed

#: operations counted per workload (after a warm-up of a fifth of them), full and smoke mode
COUNTED = {"get_by_pk": 200, "filter_page": 50, "fetch_1k": 4, "include": 50, "count": 100,
           "update_one": 100, "insert_one": 100, "bulk_insert": 2,
           "concurrent": 500}
SMOKE_COUNTED = {k: 1 for k in COUNTED}
DEFAULT_SYSTEMS = ("raw", "farmorm", "farmorm_lean")

_HELPER_C = r"""
#include <valgrind/callgrind.h>
void cg_start_instrumentation(void) { CALLGRIND_START_INSTRUMENTATION; }
void cg_zero_stats(void) { CALLGRIND_ZERO_STATS; }
void cg_dump(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
int cg_on_valgrind(void) { return RUNNING_ON_VALGRIND; }
"""


def build_helper(directory: Path) -> Path:
    """The client-request helper as a shared library in ``directory`` (built once per run)."""
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if cc is None:
        raise SystemExit("benchmarks.instructions needs a C compiler (cc) for its Callgrind helper")
    if not Path("/usr/include/valgrind/callgrind.h").exists() and not os.environ.get("VALGRIND_INCLUDE"):
        raise SystemExit("benchmarks.instructions needs <valgrind/callgrind.h> (the valgrind package)")
    src = directory / "cg_helper.c"
    lib = directory / "cg_helper.so"
    src.write_text(_HELPER_C)
    flags = [f"-I{os.environ['VALGRIND_INCLUDE']}"] if os.environ.get("VALGRIND_INCLUDE") else []
    subprocess.run([cc, "-O1", "-shared", "-fPIC", *flags, "-o", str(lib), str(src)], check=True)
    return lib


async def _child(system: str, backend: str, url: str, workloads: list[str], counted: dict[str, int],
                 helper: Path, bulk_rows: int) -> None:
    """Under Callgrind: ``system``'s workloads, each warmed up, then counted and dumped by name."""
    from .runner import open_system

    cg = ctypes.CDLL(str(helper))
    cg.cg_dump.argtypes = [ctypes.c_char_p]
    fns, close = await open_system(system, backend, url, bulk_rows)
    try:
        cg.cg_start_instrumentation()
        for name in workloads:
            n = counted[name]
            await fns[name](max(1, n // 5))  # warm-up: plan caches, prepared statements, the pool
            cg.cg_zero_stats()  # every thread's count, not only this one's (see the module docstring)
            await fns[name](n)
            cg.cg_dump(f"{name} {n}".encode())
    finally:
        await close()


_TOTALS = re.compile(r"^(?:summary|totals):\s+(\d+)", re.M)
_TRIGGER = re.compile(r"^desc: Trigger: Client Request: (\S+) (\d+)$", re.M)


def read_dumps(directory: Path) -> dict[str, float]:
    """Instructions per operation, per workload, from the child's Callgrind dumps."""
    out: dict[str, float] = {}
    for path in sorted(directory.glob("cg.out*")):
        text = path.read_text(errors="replace")
        trigger = _TRIGGER.search(text)
        totals = _TOTALS.search(text)
        if trigger and totals:
            out[trigger.group(1)] = int(totals.group(1)) / int(trigger.group(2))
    return out


def count_system(system: str, backend: str, url: str, workloads: list[str], smoke: bool, helper: Path,
                 farmorm_from: Path | None = None) -> dict[str, float]:
    """Run ``system`` under Callgrind on the seeded database ``url``; instructions per operation."""
    with tempfile.TemporaryDirectory(prefix="farmorm-cg-") as tmp:
        root = Path(__file__).resolve().parent.parent
        path = [str(farmorm_from) if farmorm_from else None, str(root), os.environ.get("PYTHONPATH")]
        env = dict(os.environ, PYTHONHASHSEED="0", PYTHONPATH=os.pathsep.join(filter(None, path)))
        cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
               f"--callgrind-out-file={tmp}/cg.out", sys.executable, "-m", "benchmarks.instructions",
               "--child", system, "--backend", backend, "--url", url, "--helper", str(helper),
               "--workloads", ",".join(workloads)] + (["--smoke"] if smoke else [])
        # ``-m`` puts the working directory first on sys.path: it decides where farmorm comes from
        proc = subprocess.run(cmd, cwd=farmorm_from or root, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{system} on {backend} under callgrind failed:\n{proc.stderr[-3000:]}")
        return read_dumps(Path(tmp))


async def _prepare(backend: str, smoke: bool) -> tuple[TestDatabase, str]:
    from .runner import relax_durability

    db = TestDatabase(backend)
    url = await db.create()
    await relax_durability(backend, url)
    orm, close = await open_farmorm(url, backend)
    try:
        await seed(orm, SMOKE_USERS if smoke else USERS)
    finally:
        await close()
    return db, url


def run(backend: str = "postgres", systems: tuple[str, ...] = DEFAULT_SYSTEMS, workloads: list[str] | None = None,
        smoke: bool = False, farmorm_from: Path | None = None) -> dict[str, Any]:
    """Instructions per operation for each system and workload; ``overhead[variant][workload]`` is
    the variant's count minus the raw driver's."""
    if shutil.which("valgrind") is None:
        raise SystemExit("benchmarks.instructions needs valgrind (apt-get install valgrind)")
    chosen = workloads or list(COUNTED)
    counts: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="farmorm-cg-helper-") as tmp:
        helper = build_helper(Path(tmp))
        for system in systems:
            db, url = asyncio.run(_prepare(backend, smoke))  # each system on its own fresh database
            try:
                counts[system] = count_system(system, backend, url, chosen, smoke, helper, farmorm_from)
            finally:
                asyncio.run(db.drop())
    overhead = {s: {w: counts[s][w] - counts["raw"][w] for w in chosen if w in counts[s] and w in counts["raw"]}
                for s in systems if s != "raw" and "raw" in counts}
    return {"backend": backend, "python": sys.version.split()[0], "counted": SMOKE_COUNTED if smoke else COUNTED,
            "instructions_per_op": counts, "overhead_per_op": overhead}


def format_table(report: dict[str, Any]) -> str:
    counts = report["instructions_per_op"]
    systems = list(counts)
    workloads = [w for w in COUNTED if any(w in c for c in counts.values())]
    lines = [f"{report['backend']}: instructions per operation (Callgrind, client process only), Python {report['python']}",
             f"{'workload':<12} " + " ".join(f"{s:>14}" for s in systems)
             + "".join(f" {s + ' - raw':>20}" for s in report["overhead_per_op"])]
    for w in workloads:
        lines.append(f"{w:<12} " + " ".join(f"{counts[s].get(w, float('nan')):>14,.0f}" for s in systems)
                     + "".join(f" {o.get(w, float('nan')):>20,.0f}" for o in report["overhead_per_op"].values()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=("postgres", "sqlite", "mysql"), default="postgres")
    ap.add_argument("--systems", default=",".join(DEFAULT_SYSTEMS), help="comma-separated; include raw for overheads")
    ap.add_argument("--workloads", help=f"comma-separated subset of {', '.join(COUNTED)}")
    ap.add_argument("--smoke", action="store_true", help="tiny seed, one counted operation: checks the run works")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--farmorm-from", type=Path, help="run the children on the farmorm packages in this directory")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--helper", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()] if args.workloads else list(COUNTED)
    if unknown := set(workloads) - set(COUNTED):
        print(f"unknown workloads: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    if args.child:
        asyncio.run(_child(args.child, args.backend, args.url, workloads, SMOKE_COUNTED if args.smoke else COUNTED,
                           args.helper, 10 if args.smoke else BULK_ROWS))
        return 0
    report = run(args.backend, tuple(s.strip() for s in args.systems.split(",") if s.strip()), workloads, args.smoke,
                 args.farmorm_from.resolve() if args.farmorm_from else None)
    print(format_table(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

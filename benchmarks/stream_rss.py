"""``python -m benchmarks.stream_rss [--backend sqlite|postgres|mysql|all] [--rows N] [--smoke] [--json out.json]``

Peak memory of reading many rows: ``orm.<model>.stream`` (a server-side cursor, ``batch_size``
rows per round trip) against ``find_many`` (every record in one list), per SQL backend.

Per backend: a fresh database (``farmorm.testing.databases.TestDatabase``, dropped afterwards)
seeded with ``--rows`` rows (200,000 by default; ``--smoke``: 2,000), then each mode runs in a
fresh interpreter, so one mode's heap never inflates the other's peak. The child connects (a URL:
farmorm opens the pool), notes its RSS, reads every row (the stream keeps none; ``find_many``
keeps the list, as a caller of it must), and reports the peak RSS of its process
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, its mark reset just before the read through
``/proc/self/clear_refs`` so import-time peaks do not count) and the RSS it had before the read.
The table shows both and their difference: the memory the read itself took.

MongoDB is left out: the suite has no server here, and mongomock keeps the whole collection in
the reading process, which is exactly what a stream avoids. Timings are printed for orientation
only (a shared 2-core machine).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import resource
import subprocess
import sys
import time
from decimal import Decimal
from typing import Any

from farmorm import create_orm, define_schema, model
from farmorm import fields as f
from farmorm.setup import push_schema
from farmorm.testing.databases import TestDatabase, reachable

BACKENDS = ("sqlite", "postgres", "mysql")
MODES = ("stream", "find_many")
ROWS = 200_000
SMOKE_ROWS = 2_000
BATCH = 500
SEED_CHUNK = 2_000

schema = define_schema(
    event=model(
        table="bench_stream_events",
        fields={
            "id": f.numeric_id(),
            "account": f.string(),
            "kind": f.enumeration(["view", "click", "buy"]),
            "amount": f.decimal().nullable(),
            "payload": f.json().nullable(),
            "at": f.datetime(),
        },
    )
)


def _row(i: int) -> dict[str, Any]:
    return {
        "id": i + 1,
        "account": f"account-{i % 977:04d}@example.com",
        "kind": ("view", "click", "buy")[i % 3],
        "amount": Decimal(i % 10_000) / 100 if i % 3 == 2 else None,
        "payload": {"page": f"/products/{i % 5000}", "ref": "newsletter", "n": i},
        "at": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=i),
    }


def _rss_kb() -> int:
    """Current resident set size, in KiB (Linux /proc; psutil where available)."""
    try:
        import psutil

        return int(psutil.Process().memory_info().rss // 1024)
    except ImportError:  # pragma: no cover - psutil is a dev dependency
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize() // 1024


def _reset_peak() -> bool:
    """Reset the process's peak-RSS mark (Linux: ``5`` into ``/proc/self/clear_refs``), so the peak
    reported afterwards is the read's, not the imports'. False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


async def _child(mode: str, url: str, batch_size: int) -> dict[str, Any]:
    """Read every row in ``mode``; returns the counts and the memory figures of this process."""
    orm = await create_orm(schema, url)
    try:
        await orm.event.count()  # connect and warm up before the "before" figure
        reset = _reset_peak()
        before = _rss_kb()
        started = time.perf_counter()
        rows = 0
        if mode == "stream":
            async with orm.event.stream(batch_size=batch_size) as stream:
                async for batch in stream.batches():
                    rows += len(batch)
        else:
            records = await orm.event.find_many()
            rows = len(records)
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    finally:
        await orm.close()
    return {"mode": mode, "rows": rows, "rss_before_kb": before, "peak_rss_kb": peak,
            "read_kb": max(0, peak - before), "seconds": round(seconds, 3), "peak_reset": reset}


async def _seed(backend: str, rows: int) -> tuple[TestDatabase, str]:
    db = TestDatabase(backend)
    url = await db.create()
    orm = await create_orm(schema, url)
    try:
        await push_schema(schema, orm)
        for start in range(0, rows, SEED_CHUNK):
            await orm.event.create_many(data=[_row(i) for i in range(start, min(rows, start + SEED_CHUNK))])
    except BaseException:
        await orm.close()
        await db.drop()
        raise
    await orm.close()
    return db, url


def _run_child(mode: str, url: str, batch_size: int) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.stream_rss", "--child", mode, "--url", url, "--batch-size", str(batch_size)],
        capture_output=True, text=True, timeout=1800,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"stream_rss child ({mode}) failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


async def run_backend(backend: str, rows: int, batch_size: int = BATCH) -> dict[str, Any]:
    """Seed a fresh database on ``backend`` and measure every mode in its own interpreter."""
    db, url = await _seed(backend, rows)
    try:
        results = {mode: await asyncio.to_thread(_run_child, mode, url, batch_size) for mode in MODES}
    finally:
        await db.drop()
    for mode, r in results.items():
        if r["rows"] != rows:
            raise RuntimeError(f"{backend}/{mode} read {r['rows']} rows, expected {rows}")
    return {"backend": backend, "rows": rows, "batch_size": batch_size, "results": results}


def format_table(reports: list[dict[str, Any]]) -> str:
    """A Markdown table: one line per backend and mode, memory in MiB."""
    lines = ["| backend | rows | mode | RSS before read (MiB) | peak RSS (MiB) | taken by the read (MiB) | seconds |",
             "|---|---:|---|---:|---:|---:|---:|"]
    for rep in reports:
        for mode, r in rep["results"].items():
            label = f"stream (batch_size={rep['batch_size']})" if mode == "stream" else "find_many"
            lines.append(f"| {rep['backend']} | {rep['rows']:,} | {label} | {r['rss_before_kb'] / 1024:.1f} | "
                         f"{r['peak_rss_kb'] / 1024:.1f} | {r['read_kb'] / 1024:.1f} | {r['seconds']:.2f} |")
    return "\n".join(lines)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stream_rss", description=__doc__.split("\n\n")[1])
    parser.add_argument("--backend", default="all", choices=[*BACKENDS, "all"])
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=BATCH)
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_ROWS:,} rows: checks the code runs")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(await _child(args.child, args.url, args.batch_size)))
        return 0
    rows = args.rows or (SMOKE_ROWS if args.smoke else ROWS)
    reports = []
    for backend in BACKENDS if args.backend == "all" else (args.backend,):
        problem = await reachable(backend)
        if problem:
            print(f"skipping {backend}: {problem}", file=sys.stderr)
            continue
        reports.append(await run_backend(backend, rows, args.batch_size))
    print(format_table(reports))
    if args.json:
        from pathlib import Path

        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(reports, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))

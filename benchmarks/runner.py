"""``python -m benchmarks.runner [--backend sqlite|postgres|mysql|mongo|all] [--systems …] [--smoke] [--rounds N] [--json out.json]``

The same workloads through each *system* on each backend:

- ``raw``: the driver by hand (the floor): asyncpg, aiomysql, aiosqlite, pymongo;
- ``farmorm``;
- ``sqlalchemy_core`` and ``sqlalchemy_orm``: SQLAlchemy 2 async (``peer_sqlalchemy.py``);
- ``farmorm_lean``: farmorm asking its writes for what the floor returns (``returning="id"`` from
  ``create``, ``returning="count"`` from ``update`` and ``create_many``); its reads are farmorm's;
- ``tortoise``: Tortoise ORM (``peer_tortoise.py``);
- ``piccolo``: Piccolo (``peer_piccolo.py``; PostgreSQL and SQLite only).

No peer has MongoDB support, so on ``mongo`` only raw pymongo and the farmorm variants
run, and only against a real server named by ``FARMORM_MONGO_URL`` (without one, the full run
skips MongoDB and says so; the smoke mode runs the code on mongomock, where timings mean nothing).

Per backend, every system gets a fresh database (``farmorm.testing.databases.TestDatabase``,
dropped afterwards) seeded with 1,000 users and 3,000 posts. In a full run each system lives in
its own interpreter for the whole backend (no shared event loop, pool or global state such as
Tortoise's), and the parent drives them in turns: per workload, a warm-up (a tenth of a round)
in each, then ``--rounds`` rounds where every system runs the round once, in an order that
rotates from round to round. Samples of one round are taken back to back, so a burst of outside
load hits all systems alike. ops/s come from each system's median round; each ratio is the
median of the per-round ratios. The table shows ops/s and each system's ops/s divided by the raw
driver's (1.00x = no overhead), then the ops/s of the farmorm variant that returns what each peer
returns divided by the peer's, then the performance targets of issue #21 (met or not).

Timings are noisy on a shared 2-core machine: compare ratios within one run, and runs of the
same day. ``--smoke`` runs everything on tiny counts, in this process: it checks that the code
works, not its speed.
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
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from farmorm.testing.databases import TestDatabase, reachable

from .workloads import BULK_ROWS, OPS, SMOKE_OPS, SMOKE_USERS, USERS, Closer, Workload, open_farmorm, seed

SQL_BACKENDS = ("sqlite", "postgres", "mysql")
BACKENDS = (*SQL_BACKENDS, "mongo")
#: backend -> (raw floor module, driver distribution)
RAW = {
    "sqlite": ("benchmarks.raw_sqlite", "aiosqlite"),
    "postgres": ("benchmarks.raw_asyncpg", "asyncpg"),
    "mysql": ("benchmarks.raw_aiomysql", "aiomysql"),
    "mongo": ("benchmarks.raw_pymongo", "pymongo"),
}
#: farmorm asking its writes for what the floor returns: an id from create, a count from update
FARMORM_LEAN = "farmorm_lean"
SYSTEMS = ("raw", "farmorm", FARMORM_LEAN, "sqlalchemy_core", "sqlalchemy_orm", "tortoise", "piccolo")
PEERS = ("sqlalchemy_core", "sqlalchemy_orm", "tortoise", "piccolo")
#: MySQL only: farmorm on asyncmy, the driver Tortoise picks there (farmorm's own default is aiomysql)
FARMORM_ASYNCMY = "farmorm_asyncmy"
#: ``--baseline PATH``: farmorm from another checkout (e.g. ``git worktree add /tmp/base main``), run
#: beside this one in the same rounds, so a change is measured before/after as a paired ratio
BASELINE = "farmorm_baseline"
BASELINE_ENV = "FARMORM_BENCH_BASELINE"
LABELS = {"raw": "raw", "farmorm": "farmorm", FARMORM_LEAN: "farmorm lean", "sqlalchemy_core": "SA Core",
          "sqlalchemy_orm": "SA ORM", "tortoise": "Tortoise", "piccolo": "Piccolo", FARMORM_ASYNCMY: "farmorm/asyncmy",
          BASELINE: "farmorm (baseline)"}
#: the distribution whose version a system reports (raw: the backend's driver)
DISTS = {"farmorm": "farmorm", FARMORM_LEAN: "farmorm", FARMORM_ASYNCMY: "farmorm", BASELINE: "farmorm",
         "sqlalchemy_core": "SQLAlchemy",
         "sqlalchemy_orm": "SQLAlchemy", "tortoise": "tortoise-orm", "piccolo": "piccolo"}
#: the driver each peer runs on, per backend (Tortoise picks its own)
PEER_DRIVERS = {
    "sqlalchemy_core": {"sqlite": "aiosqlite", "postgres": "asyncpg", "mysql": "aiomysql"},
    "sqlalchemy_orm": {"sqlite": "aiosqlite", "postgres": "asyncpg", "mysql": "aiomysql"},
    "tortoise": {"sqlite": "aiosqlite", "postgres": "asyncpg", "mysql": "asyncmy"},
    "piccolo": {"sqlite": "aiosqlite", "postgres": "asyncpg"},
    FARMORM_ASYNCMY: {"mysql": "asyncmy"},
}
#: the backends each peer supports (Piccolo has no MySQL; no peer has MongoDB)
PEER_BACKENDS = {"sqlalchemy_core": SQL_BACKENDS, "sqlalchemy_orm": SQL_BACKENDS, "tortoise": SQL_BACKENDS,
                 "piccolo": ("sqlite", "postgres")}
DEFAULT_ROUNDS = 5
SMOKE_BULK_ROWS = 10  # rows per bulk_insert in smoke mode (mongomock's inserts are slow)
WRITES = ("update_one", "insert_one", "bulk_insert")


def returns_lean(system: str, backend: str, workload: str) -> bool:
    """Whether ``system``'s ``workload`` returns what the floor does (an id, a count, nothing)
    rather than the written records: such a peer is compared with ``farmorm_lean``."""
    if workload not in WRITES:
        return False
    if system in ("raw", FARMORM_LEAN, "piccolo"):
        return True
    # SQLAlchemy Core on MySQL (no RETURNING): inserts return nothing, the update re-reads its record
    return system == "sqlalchemy_core" and backend == "mysql" and workload != "update_one"


def comparable(peer: str, backend: str, workload: str, present: Any = (FARMORM_LEAN,)) -> str:
    """The farmorm variant that returns what ``peer`` returns on ``workload``."""
    return FARMORM_LEAN if returns_lean(peer, backend, workload) and FARMORM_LEAN in present else "farmorm"


#: issue #21's targets, farmorm's ops/s ÷ the raw driver's in one run: (backend, workload, variant, min).
#: Besides these, every farmorm variant must be ahead of every peer that returns the same things.
TARGETS: tuple[tuple[str, str, str, float], ...] = (
    ("postgres", "get_by_pk", "farmorm", 0.85),
    ("postgres", "fetch_1k", "farmorm", 0.75),
    ("postgres", "include", "farmorm", 0.75),
    ("postgres", "concurrent", "farmorm", 0.7),
    ("postgres", "bulk_insert", FARMORM_LEAN, 0.9),
    ("postgres", "insert_one", FARMORM_LEAN, 0.9),
    ("postgres", "update_one", FARMORM_LEAN, 0.9),
    ("mysql", "insert_one", FARMORM_LEAN, 0.8),
    ("mysql", "update_one", FARMORM_LEAN, 0.8),
)


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
        "versions": {d: _version(d) for d in ("farmorm", "asyncpg", "aiomysql", "PyMySQL", "asyncmy", "aiosqlite",
                                              "pymongo", "SQLAlchemy", "tortoise-orm", "piccolo", "msgspec",
                                              "anyio")},
    }


def systems_for(backend: str) -> tuple[str, ...]:
    """The systems that exist on ``backend`` (each peer on the backends it supports). On MySQL farmorm
    also runs on asyncmy, because Tortoise does: the Tortoise comparison is then like with like."""
    found = tuple(s for s in SYSTEMS if s not in PEERS or backend in PEER_BACKENDS[s])
    baseline = (BASELINE,) if os.environ.get(BASELINE_ENV) else ()
    return (*found, FARMORM_ASYNCMY, *baseline) if backend == "mysql" else (*found, *baseline)


async def server_version(backend: str, url: str) -> str:
    if backend == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    if backend == "postgres":
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            return "PostgreSQL " + str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()
    if backend == "mysql":
        import aiomysql

        from farmorm.testing.databases import _mysql_args

        conn = await aiomysql.connect(**_mysql_args(url))
        try:
            async with conn.cursor() as cur:
                await cur.execute("SELECT VERSION()")
                (version,) = await cur.fetchone()
        finally:
            conn.close()
        return ("MariaDB " if "mariadb" in str(version).lower() else "MySQL ") + str(version)
    if url.startswith("mongomock:"):
        return f"mongomock {_version('mongomock')} (no server: timings are meaningless)"
    from pymongo import AsyncMongoClient

    client: Any = AsyncMongoClient(url)
    try:
        info = await client.server_info()
    finally:
        await client.close()
    return f"MongoDB {info.get('version')}"


async def open_system(system: str, backend: str, url: str, bulk_rows: int = BULK_ROWS) -> tuple[dict[str, Workload], Closer]:
    """``system``'s workloads on the database at ``url`` and the function that closes what it opened."""
    if system == "raw":
        mod = importlib.import_module(RAW[backend][0])
        raw = await mod.open_raw(url)

        async def close_raw() -> None:
            await mod.close_raw(raw)

        return mod.raw_workloads(raw, bulk_rows), close_raw
    if system in ("farmorm", FARMORM_LEAN):
        from .workloads import farmorm_workloads

        orm, close = await open_farmorm(url, backend)
        return farmorm_workloads(orm, bulk_rows, lean=system == FARMORM_LEAN), close
    if system == FARMORM_ASYNCMY and backend == "mysql":
        from .workloads import farmorm_workloads

        orm, close = await open_farmorm("mysql+asyncmy://" + url.split("://", 1)[1], backend)
        return farmorm_workloads(orm, bulk_rows), close
    if backend not in SQL_BACKENDS:
        raise ValueError(f"{system} has no {backend} support")
    if system in ("sqlalchemy_core", "sqlalchemy_orm"):
        from . import peer_sqlalchemy

        return await peer_sqlalchemy.open_system(backend, url, orm=system == "sqlalchemy_orm", bulk_rows=bulk_rows)
    if system == "tortoise":
        from . import peer_tortoise

        return await peer_tortoise.open_system(backend, url, bulk_rows)
    if system == "piccolo":
        from . import peer_piccolo

        return await peer_piccolo.open_system(backend, url, bulk_rows)
    raise ValueError(f"Unknown system {system!r}; use one of {', '.join(SYSTEMS)}")


async def _sample(fn: Workload, n: int, collect: bool = True) -> float:
    if collect:  # not in smoke mode: a full collection costs ~0.1 s with every peer imported
        gc.collect()
    t = time.perf_counter()
    await fn(n)
    return time.perf_counter() - t


def load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # not available on this platform
        return None


def _ops(smoke: bool, only: list[str] | None) -> dict[str, int]:
    ops = dict(SMOKE_OPS if smoke else OPS)
    if only:
        unknown = set(only) - set(ops)
        if unknown:
            raise ValueError(f"Unknown workloads: {', '.join(sorted(unknown))}")
        ops = {k: v for k, v in ops.items() if k in only}
    return ops


async def relax_durability(backend: str, url: str) -> None:
    """PostgreSQL: ``synchronous_commit = off`` for the benchmark database, for every system alike.

    Like SQLite's ``synchronous=NORMAL`` (``SQLITE_PRAGMAS``): a commit then waits for no WAL
    flush, so write workloads measure the library and the driver, not this VM's shared disk
    (whose flush time swung from 0.5 to 5 ms while other jobs ran). MariaDB has no per-database
    equivalent (``innodb_flush_log_at_trx_commit`` is server-wide), so its writes include a flush."""
    if backend != "postgres":
        return
    import asyncpg

    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    finally:
        await conn.close()


class InProcessSystem:
    """One system in this interpreter, on its own freshly seeded database (smoke mode)."""

    def __init__(self, backend: str, system: str, smoke: bool) -> None:
        self.backend, self.system, self.smoke = backend, system, smoke
        self.meta: dict[str, Any] = {}
        self._db: TestDatabase | None = None
        self._workloads: dict[str, Workload] = {}
        self._close: Closer | None = None

    async def start(self) -> None:
        self._db = TestDatabase(self.backend)
        url = await self._db.create()
        try:
            await relax_durability(self.backend, url)
            orm, close_orm = await open_farmorm(url, self.backend)
            try:
                await seed(orm, SMOKE_USERS if self.smoke else USERS)
            finally:
                await close_orm()
            self.meta = system_meta(self.backend, self.system, await server_version(self.backend, url))
            self._workloads, self._close = await open_system(self.system, self.backend, url,
                                                             SMOKE_BULK_ROWS if self.smoke else BULK_ROWS)
        except BaseException:
            await self._db.drop()
            raise

    async def run(self, workload: str, n: int) -> float:
        return await _sample(self._workloads[workload], n, collect=not self.smoke)

    async def close(self) -> None:
        try:
            if self._close is not None:
                await self._close()
        finally:
            if self._db is not None:
                await self._db.drop()


class ChildSystem:
    """One system in its own interpreter (``--serve``), driven over its stdin/stdout one round at a time."""

    def __init__(self, backend: str, system: str, smoke: bool) -> None:
        self.backend, self.system, self.smoke = backend, system, smoke
        self.meta: dict[str, Any] = {}
        self._proc: subprocess.Popen[str] | None = None

    def _read(self) -> Any:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            if line.startswith(_MARK):
                reply = json.loads(line[len(_MARK):])
                if "error" in reply:
                    raise RuntimeError(f"{self.system} on {self.backend}: {reply['error']}")
                return reply
            sys.stderr.write(line)  # anything else the system printed
        raise RuntimeError(f"{self.system} on {self.backend} exited early (code {self._proc.wait()})")

    def _start(self) -> None:
        root = Path(__file__).resolve().parent.parent
        serve = self.system
        if serve == BASELINE:  # the other checkout's farmorm, and its own benchmark workloads
            root, serve = Path(os.environ[BASELINE_ENV]).resolve(), "farmorm"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
        cmd = [sys.executable, "-m", "benchmarks.runner", "--serve", serve, "--backend", self.backend]
        if self.smoke:
            cmd.append("--smoke")
        self._proc = subprocess.Popen(cmd, cwd=root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True, bufsize=1)
        self.meta = self._read()["meta"]

    def _call(self, request: dict[str, Any]) -> Any:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        return self._read()

    async def start(self) -> None:
        await asyncio.to_thread(self._start)

    async def run(self, workload: str, n: int) -> float:
        return float((await asyncio.to_thread(self._call, {"run": workload, "n": n}))["seconds"])

    async def close(self) -> None:
        if self._proc is None:
            return
        try:
            await asyncio.to_thread(self._call, {"quit": True})
        finally:
            await asyncio.to_thread(self._proc.wait, 60)


_MARK = "@@bench "


async def serve(backend: str, system: str, smoke: bool) -> int:
    """Child mode: set one system up, then run the rounds the parent asks for until it says quit."""
    target = InProcessSystem(backend, system, smoke)

    def reply(obj: Any) -> None:
        sys.stdout.write(_MARK + json.dumps(obj) + "\n")
        sys.stdout.flush()

    try:
        await target.start()
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        reply({"error": f"{type(exc).__name__}: {exc}"})
        return 1
    reply({"meta": target.meta})
    try:
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                return 1
            request = json.loads(line)
            if request.get("quit"):
                break
            try:
                reply({"seconds": await target.run(request["run"], int(request["n"]))})
            except Exception as exc:  # noqa: BLE001
                reply({"error": f"{request['run']}: {type(exc).__name__}: {exc}"})
                return 1
    finally:
        await target.close()
    reply({"bye": True})
    return 0


def system_meta(backend: str, system: str, server: str) -> dict[str, Any]:
    dist = RAW[backend][1] if system == "raw" else DISTS[system]
    driver = RAW[backend][1] if system in ("raw", "farmorm", FARMORM_LEAN, BASELINE) else PEER_DRIVERS[system][backend]
    return {"system": system, "backend": backend, "version": _version(dist), "dist": dist, "driver": driver,
            "driver_version": _version(driver), "server": server}


def _paired(numerators: list[float], denominators: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(numerators, denominators))


async def run_backend(
    backend: str,
    *,
    smoke: bool = False,
    rounds: int = DEFAULT_ROUNDS,
    only: list[str] | None = None,
    systems: tuple[str, ...] | None = None,
    isolate: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Every system (or ``systems``) on ``backend``, taking turns round by round.

    With ``isolate`` each system runs in its own interpreter (``ChildSystem``); without it, in
    this one, except Tortoise, whose models keep the compiled queries of the first backend they
    ran on. ``results[workload]``: ``ops`` per round, ``seconds[system]`` per round, ``ops_s``,
    ``vs_raw[system]`` (time per operation ÷ the raw driver's, median of per-round ratios) and
    ``farmorm_vs[peer]`` (farmorm's throughput ÷ the peer's, likewise)."""
    if backend not in RAW:
        raise ValueError(f"Unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    ops = _ops(smoke, only)
    rounds = 1 if smoke else rounds
    chosen = [s for s in (systems or systems_for(backend)) if s in systems_for(backend)]
    running: dict[str, InProcessSystem | ChildSystem] = {}
    results: dict[str, dict[str, Any]] = {}
    load_before = load_average()
    try:
        for system in chosen:
            child = isolate or system in ("tortoise", BASELINE)
            runner = (ChildSystem if child else InProcessSystem)(backend, system, smoke)
            await runner.start()
            running[system] = runner
            if progress is not None:
                progress(f"  {backend}: {system} {runner.meta['version']} ready")
        for name, n in ops.items():
            for system in chosen:
                await running[system].run(name, max(1, n // 10))  # warm-up
            seconds: dict[str, list[float]] = {s: [] for s in chosen}
            for k in range(rounds):
                turn = chosen[k % len(chosen):] + chosen[:k % len(chosen)]
                for system in turn:
                    seconds[system].append(await running[system].run(name, n))
            ops_s = {s: n / statistics.median(t) for s, t in seconds.items()}
            row: dict[str, Any] = {"ops": n, "seconds": seconds, "ops_s": ops_s}
            if "raw" in seconds:
                row["vs_raw"] = {s: _paired(t, seconds["raw"]) for s, t in seconds.items() if s != "raw"}
                # the figure: ops/s ÷ the raw driver's (1.00 = no overhead, higher is better)
                row["speed"] = {s: _paired(seconds["raw"], t) for s, t in seconds.items() if s != "raw"}
            for variant in ("farmorm", FARMORM_LEAN):
                if variant in seconds:
                    row[f"{variant}_vs"] = {s: _paired(seconds[s], seconds[variant]) for s in seconds if s in PEERS}
            row["comparable"] = {s: comparable(s, backend, name, seconds) for s in seconds if s in PEERS}
            if BASELINE in seconds and "farmorm" in seconds:  # time ÷ the baseline's: > 1 is slower
                row["farmorm_vs_baseline"] = _paired(seconds["farmorm"], seconds[BASELINE])
            if FARMORM_ASYNCMY in seconds and "tortoise" in seconds:  # same driver as Tortoise
                row["farmorm_asyncmy_vs"] = {"tortoise": _paired(seconds["tortoise"], seconds[FARMORM_ASYNCMY])}
            results[name] = row
            if progress is not None:
                progress(f"  {backend}: {name} " + ", ".join(f"{LABELS[s]} {v:.0f}/s" for s, v in ops_s.items()))
    finally:
        for runner in running.values():
            await runner.close()
    metas = {s: r.meta for s, r in running.items()}
    first = metas.get("raw") or next(iter(metas.values()), {})
    return {"backend": backend, "driver": RAW[backend][1], "driver_version": _version(RAW[backend][1]),
            "server": first.get("server", "?"), "mode": "smoke" if smoke else "full", "rounds": rounds,
            "isolated": isolate, "load_average": [load_before, load_average()], "systems": metas,
            "results": results}


def evaluate_targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue #21's targets against one backend's report: target, measured, met (None: not measured).

    ``kind`` "raw": a variant's ops/s ÷ the raw driver's at least ``bound``; "peer": the variant
    that returns what the peer returns has more ops/s than the peer (``bound`` 1.0)."""
    rows = []
    results = report["results"]
    backend = report["backend"]
    for where, what, variant, bound in TARGETS:
        if where != backend:
            continue
        r = results.get(what, {}).get("speed", {}).get(variant)
        rows.append({"target": f"{what}: {LABELS[variant]} ≥ {bound:g}× raw ops/s", "kind": "raw", "what": what,
                     "variant": variant, "bound": bound, "measured": r, "met": None if r is None else r >= bound})
    for name, row in results.items():
        for peer, variant in row.get("comparable", {}).items():
            v = row.get(f"{variant}_vs", {}).get(peer)
            ceiling = row.get("speed", {}).get(peer)  # the peer's own ops/s ÷ the raw driver's
            rows.append({"target": f"{name}: {LABELS[variant]} ahead of {LABELS[peer]}", "kind": "peer",
                         "what": peer, "variant": variant, "workload": name, "bound": 1.0, "measured": v,
                         "met": None if v is None else v >= 1.0, "ceiling": ceiling})
        same = row.get("farmorm_asyncmy_vs", {}).get("tortoise")
        if same is not None:  # MySQL: farmorm on asyncmy, the driver Tortoise runs on
            rows.append({"target": f"{name}: farmorm/asyncmy ahead of Tortoise (same driver)", "kind": "peer",
                         "what": "tortoise", "variant": FARMORM_ASYNCMY, "workload": name, "bound": 1.0,
                         "measured": same, "met": same >= 1.0, "ceiling": None})
    return rows


def format_table(report: dict[str, Any]) -> str:
    systems = list(report["systems"])
    head = (f"{report['backend']}: {report['driver']} {report['driver_version']} on {report['server']} "
            f"({report['mode']}, median of {report['rounds']} round{'s' if report['rounds'] != 1 else ''}, "
            f"each system on its own database)")
    load = report.get("load_average") or [None, None]
    if any(x is not None and x > 1.2 for x in load):
        head += f"\n  note: 1-minute load average {load[0]}–{load[1]}: other work shared the CPUs, ratios are noisier"
    others = [s for s in systems if s != "raw"]
    lines = [head, "ops/s, and in brackets ops/s ÷ the raw driver's (1.00 = the floor, higher is better):",
             f"{'workload':<12} {'ops':>5} " + " ".join(f"{LABELS[s]:>18}" for s in systems)]
    for name, r in report["results"].items():
        cells = []
        for s in systems:
            v = r["ops_s"].get(s)
            ratio = r.get("speed", {}).get(s)
            cells.append(f"{v:>18.0f}" if ratio is None or s == "raw" else f"{v:>9.0f} ({ratio:>5.2f}x)")
        lines.append(f"{name:<12} {r['ops']:>5} " + " ".join(cells))
    peers = [s for s in others if s in PEERS]
    if "farmorm" in systems and peers:
        lines.append("ops/s of the farmorm variant returning what the peer returns (* = lean) ÷ the peer's:")
        lines.append(f"{'workload':<12} " + " ".join(f"{LABELS[s]:>10}" for s in peers))
        for name, r in report["results"].items():
            cells = []
            for s in peers:
                variant = r.get("comparable", {}).get(s, "farmorm")
                value = r.get(f"{variant}_vs", {}).get(s, float("nan"))
                cells.append(f"{value:>9.2f}{'*' if variant == FARMORM_LEAN else 'x'}")
            lines.append(f"{name:<12} " + " ".join(cells))
    if "farmorm" in systems and BASELINE in systems:
        lines.append("farmorm time ÷ baseline time (paired per round; above 1 is slower):")
        for name, r in report["results"].items():
            lines.append(f"{name:<12} {r['farmorm_vs_baseline']:>9.3f}x")
    if report["mode"] == "full" and "farmorm" in systems:
        missed = [t for t in evaluate_targets(report) if t["met"] is False]
        checked = [t for t in evaluate_targets(report) if t["met"] is not None]
        lines.append(f"targets: {len(checked) - len(missed)} of {len(checked)} met"
                     + "".join(f"\n  missed: {t['target']} (measured {t['measured']:.2f}"
                               + (f"; the peer itself reaches {t['ceiling']:.2f}× raw" if t.get("ceiling") else "")
                               + ")" for t in missed))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=(*BACKENDS, "all"), default="all",
                    help="one backend, or every reachable one (default)")
    ap.add_argument("--systems", help=f"comma-separated subset of {', '.join(SYSTEMS)} (default: all)")
    ap.add_argument("--smoke", action="store_true", help="tiny counts, one round, in-process: check the runs work")
    ap.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="timed rounds per workload (median reported)")
    ap.add_argument("--workloads", help="comma-separated subset of workloads")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--baseline", type=Path,
                    help="a checkout of another farmorm version (e.g. main) run as system farmorm_baseline in the same "
                         "rounds: farmorm's time ÷ the baseline's is reported per workload")
    ap.add_argument("--same-process", action="store_true",
                    help="run every system in this process (Tortoise still gets its own)")
    ap.add_argument("--serve", help=argparse.SUPPRESS)  # child mode: one system, driven over stdin/stdout
    args = ap.parse_args(argv)
    only = [w.strip() for w in args.workloads.split(",") if w.strip()] if args.workloads else None

    if args.serve:
        return asyncio.run(serve(args.backend, args.serve, args.smoke))

    if args.baseline is not None:
        os.environ[BASELINE_ENV] = str(args.baseline.resolve())
    known = (*SYSTEMS, FARMORM_ASYNCMY, BASELINE) if os.environ.get(BASELINE_ENV) else (*SYSTEMS, FARMORM_ASYNCMY)
    systems = tuple(s.strip() for s in args.systems.split(",")) if args.systems else None
    if systems and (unknown := set(systems) - set(known)):
        print(f"unknown systems: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    if systems and "raw" not in systems:
        systems = ("raw", *systems)  # every ratio is to the floor
    env = environment()
    notes: list[str] = []
    candidates = BACKENDS if args.backend == "all" else (args.backend,)
    backends = []
    for b in candidates:
        if b == "mongo" and not args.smoke and not os.environ.get("FARMORM_MONGO_URL"):
            notes.append("mongo (pymongo): not measured: FARMORM_MONGO_URL is not set, and no MongoDB server "
                         "runs here (mongomock timings would mean nothing)")
            continue
        problem = asyncio.run(reachable(b))
        if problem is not None:
            notes.append(f"{b}: skipped: {problem}")
            continue
        backends.append(b)
    for note in notes:
        print(note, file=sys.stderr)
    if args.backend != "all" and not backends:
        return 2
    if not backends:
        print("no backend is reachable", file=sys.stderr)
        return 2
    v = env["versions"]
    print(f"farmorm benchmarks, {env['date']}, Python {env['python']}, {env['cpus']} CPUs; "
          f"asyncpg {v['asyncpg']}, aiomysql {v['aiomysql']}, asyncmy {v['asyncmy']}, aiosqlite {v['aiosqlite']}, "
          f"pymongo {v['pymongo']}; SQLAlchemy {v['SQLAlchemy']}, tortoise-orm {v['tortoise-orm']}, "
          f"piccolo {v['piccolo']}\n", flush=True)

    reports: dict[str, Any] = {}
    failed = []
    for backend in backends:
        try:
            report = asyncio.run(run_backend(backend, smoke=args.smoke, rounds=args.rounds, only=only, systems=systems,
                                             isolate=not (args.smoke or args.same_process),
                                             progress=lambda m: print(m, file=sys.stderr, flush=True)))
        except Exception as exc:  # noqa: BLE001 - report the backend as failed, go on with the others
            print(f"{backend} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            failed.append(backend)
            continue
        print(format_table(report) + "\n", flush=True)
        reports[backend] = report
    for note in notes:
        print(note)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**env, "notes": notes, "backends": reports}, indent=2))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""examples/outbox_worker as a real process on SQLite and PostgreSQL.

Orders are placed through the example's ``place_order`` (order + event in one transaction); the
worker runs as ``python -m examples.outbox_worker`` in a subprocess: ``--once`` drains and exits,
and the long-running mode delivers everything and exits 0 on SIGTERM. The sink file the handler
writes is the proof of delivery. Waits poll for a condition under a generous cap, never a time.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from examples.outbox_worker.__main__ import parse_args
from examples.outbox_worker.app import place_order, schema
from farmorm import create_orm
from farmorm.setup import push_schema
from farmorm.testing.databases import TestDatabase

from ..conftest import backend_problem

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ["sqlite", "postgres"]


async def worker(url: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "examples.outbox_worker", url, *args, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


def sink_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(params=BACKENDS)
async def url(request: pytest.FixtureRequest):
    problem = backend_problem(request.param)
    if problem:
        pytest.skip(problem)
    db = TestDatabase(request.param)
    yield await db.create()
    await db.drop()


def test_arguments() -> None:
    args = parse_args(["sqlite:///x.db", "--once", "--batch-size", "3"])
    assert (args.url, args.once, args.batch_size, args.lease) == ("sqlite:///x.db", True, 3, 30.0)
    with pytest.raises(SystemExit):
        parse_args([]) if "DATABASE_URL" not in os.environ else parse_args(["--batch-size", "x"])


async def test_once_drains_every_event_and_exits(url: str, tmp_path: Path) -> None:
    async with await create_orm(schema, url) as orm:
        await push_schema(schema, orm)
        orders = [await place_order(orm, f"N-{i}", f"c{i}@example.com", Decimal("9.90") + i) for i in range(7)]
        sink = tmp_path / "receipts.jsonl"
        proc = await worker(url, "--once", "--batch-size", "3", "--sink", str(sink))
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode == 0, err.decode()
        assert out.decode().strip().endswith("delivered=7 retried=0 dead=0")
        lines = sink_lines(sink)
        assert sorted(line["payload"]["order_id"] for line in lines) == sorted(o["id"] for o in orders)
        assert {line["type"] for line in lines} == {"order.placed"}
        assert await orm.outbox.counts() == {"pending": 0, "done": 7, "dead": 0}

        proc = await worker(url, "--once", "--sink", str(sink))  # nothing left: exits at once
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode == 0 and out.decode().strip().endswith("delivered=0 retried=0 dead=0"), err.decode()
        assert len(sink_lines(sink)) == 7


async def test_runs_until_sigterm(url: str, tmp_path: Path) -> None:
    async with await create_orm(schema, url) as orm:
        await push_schema(schema, orm)
        sink = tmp_path / "receipts.jsonl"
        proc = await worker(url, "--sink", str(sink), "--poll", "0.05", "--worker-id", "example-1")
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), 120)
            assert line.decode().startswith("worker example-1 running")
            # events written while the worker is already polling
            for i in range(4):
                await place_order(orm, f"L-{i}", "late@example.com", Decimal("1"))
            for _ in range(2400):  # poll the sink, at most ~120 s
                if len(sink_lines(sink)) >= 4:
                    break
                await asyncio.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 120)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == 0, err.decode()
        assert sorted(line["payload"]["number"] for line in sink_lines(sink)) == [f"L-{i}" for i in range(4)]
        rows = await orm.farmorm_outbox.find_many()
        assert {(r["status"], r["claimed_by"]) for r in rows} == {("done", "example-1")}

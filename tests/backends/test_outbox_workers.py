"""The outbox dispatcher against real servers: SKIP LOCKED between sessions, and a worker process
SIGKILLed mid-batch losing nothing.

Leases are expired by moving a dispatcher's ``clock`` forward, and waits poll for a condition
(a marker file) under a generous cap, so nothing depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from examples.outbox_worker.app import place_order, schema
from farmorm import create_orm
from farmorm.features.outbox import DispatchReport, Dispatcher, OutboxEvent, utcnow
from farmorm.query import nodes as n
from farmorm.query.parse import parse_where
from farmorm.runtime import engine_of
from farmorm.setup import push_schema
from farmorm.testing.databases import TestDatabase

from .conftest import require

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def db_url(request: pytest.FixtureRequest):
    require(request.param)
    db = TestDatabase(request.param)
    yield await db.create()
    await db.drop()


async def orders(orm, prefix: str, count: int) -> list[str]:
    """Place ``count`` orders; returns their numbers (their events come due in this order)."""
    numbers = [f"{prefix}-{i}" for i in range(count)]
    for number in numbers:
        await place_order(orm, number, "x@example.com", Decimal("1"))
    return numbers


class Shifted:
    """A dispatcher clock running ``offset`` seconds ahead (so leases look expired)."""

    def __init__(self, offset: float) -> None:
        self.offset = timedelta(seconds=offset)

    def __call__(self):
        return utcnow() + self.offset


@pytest.mark.parametrize("db_url", ["postgres", "mysql"], indirect=True)
async def test_skip_locked_claims_past_rows_another_session_holds(db_url: str) -> None:
    async with await create_orm(schema, db_url) as a, await create_orm(schema, db_url) as b:
        await push_schema(schema, a)
        numbers = await orders(a, "S", 6)
        statements: list[str] = []
        b.on_query(lambda e: statements.append(e.statement))
        handled: list[str] = []
        worker_b = Dispatcher(b, lambda e: handled.append(e.payload["number"]), batch_size=10, worker_id="b")

        model = a.schema.models["farmorm_outbox"]
        async with a.transaction() as tx:  # session A holds row locks on the three oldest events
            params: list = []
            cond = parse_where(a.schema, model, {"status": "pending"}, params)
            params.append(3)
            pick = n.Select("farmorm_outbox", ("id",), cond, order_by=(n.OrderItem("next_attempt_at"),
                            n.OrderItem("id")), take=n.Param(1), lock="update")
            state = engine_of(tx).state()
            assert state is not None
            locked = await engine_of(a).rows(state.conn, pick, params)
            assert len(locked) == 3
            with anyio.fail_after(60):  # FOR UPDATE without SKIP LOCKED would wait here for A
                report = await worker_b.run_once()
            assert report == DispatchReport(claimed=3, delivered=3)
            assert handled == numbers[3:]
        assert any(s.startswith("SELECT") and s.endswith("FOR UPDATE SKIP LOCKED") for s in statements), statements
        assert await worker_b.run_once() == DispatchReport(claimed=3, delivered=3)  # A let go
        assert handled == numbers[3:] + numbers[:3]


@pytest.mark.parametrize("db_url", ["postgres", "mysql"], indirect=True)
async def test_two_workers_on_two_sessions_never_share_an_event(db_url: str) -> None:
    async with await create_orm(schema, db_url) as a, await create_orm(schema, db_url) as b:
        await push_schema(schema, a)
        numbers = await orders(a, "T", 40)
        handled: list[tuple[str, str]] = []

        def make(orm, name: str) -> Dispatcher:
            async def handler(event: OutboxEvent) -> None:
                handled.append((name, event.payload["number"]))
                await asyncio.sleep(0)

            return Dispatcher(orm, handler, batch_size=3, worker_id=name)

        workers = [make(a, "a1"), make(a, "a2"), make(b, "b1"), make(b, "b2")]
        while True:
            reports = await asyncio.gather(*(w.run_once() for w in workers))
            assert all(r.lost == 0 for r in reports)
            if not any(r.claimed for r in reports):
                break
        got = [number for _, number in handled]
        assert sorted(got) == sorted(numbers)  # every event once: none twice, none lost
        assert await a.outbox.counts() == {"pending": 0, "done": 40, "dead": 0}


@pytest.mark.parametrize("db_url", ["postgres", "mysql", "sqlite"], indirect=True)
async def test_a_worker_killed_mid_batch_loses_nothing(db_url: str, tmp_path: Path) -> None:
    async with await create_orm(schema, db_url) as orm:
        await push_schema(schema, orm)
        numbers = await orders(orm, "K", 8)
        sink = tmp_path / "receipts.jsonl"
        env = {**os.environ, "OUTBOX_KILL_MARKERS": str(tmp_path), "OUTBOX_KILL_HANG": "K-2"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "examples.outbox_worker", db_url, "--sink", str(sink), "--batch-size", "5",
            "--lease", "60", "--worker-id", "doomed", "--handler", "tests.backends.outbox_kill_handler:handler",
            cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        try:
            for _ in range(2400):  # until the handler is inside K-2, at most ~120 s
                if (tmp_path / "started-K-2").exists() or proc.returncode is not None:
                    break
                await asyncio.sleep(0.05)
            assert (tmp_path / "started-K-2").exists(), "the worker never reached K-2"
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGKILL)
            _, err = await proc.communicate()
        assert proc.returncode == -signal.SIGKILL, err.decode()

        by_number = {r["payload"]["number"]: r for r in await orm.farmorm_outbox.find_many()}
        assert [by_number[k]["status"] for k in numbers] == ["done"] * 2 + ["pending"] * 6
        for k in numbers[2:5]:  # the rest of the killed worker's batch: still leased to it
            assert (by_number[k]["claimed_by"], by_number[k]["attempts"]) == ("doomed", 1)
            assert by_number[k]["locked_until"] > utcnow()
        for k in numbers[5:]:
            assert (by_number[k]["claimed_by"], by_number[k]["attempts"]) == (None, 0)

        delivered: list[str] = []
        rescue = Dispatcher(orm, lambda e: delivered.append(e.payload["number"]), worker_id="rescue")
        assert await rescue.run_once() == DispatchReport(claimed=3, delivered=3)  # leases still valid: skipped
        assert delivered == numbers[5:]
        late = Dispatcher(orm, lambda e: delivered.append(e.payload["number"]), worker_id="rescue", clock=Shifted(61))
        assert await late.run_once() == DispatchReport(claimed=3, delivered=3)  # the leases ran out
        assert delivered == numbers[5:] + numbers[2:5]

        by_child = {line.split('"number": "')[1].split('"')[0] for line in sink.read_text().splitlines()}
        assert by_child == {"K-0", "K-1"}
        assert by_child | set(delivered) == set(numbers)  # every event delivered at least once
        rows = await orm.farmorm_outbox.find_many()
        assert {r["status"] for r in rows} == {"done"}
        assert {r["payload"]["number"]: r["attempts"] for r in rows if r["attempts"] == 2} == {
            "K-2": 2, "K-3": 2, "K-4": 2}  # the crash counted as an attempt

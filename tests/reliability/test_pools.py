"""§B of RELIABILITY.md: pool exhaustion and lifecycle (T08–T10).

Every acquire is bounded (``create_orm(..., acquire_timeout=)``, 30 s by default): a caller that
cannot get a connection gets CONNECTION_ERROR with ``meta["reason"] == "pool_timeout"`` naming
the pool's size and the timeout, never an endless wait. Operations inside a transaction reuse
its connection (the transaction travels in a contextvar), so nested use cannot deadlock the
pool. ``orm.close(timeout=)`` bounds shutdown with operations in flight.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import time
from typing import Any

import pytest

from farmorm import Orm
from farmorm.core.errors import CONNECTION_ERROR, OrmError

from .conftest import Rig
from .harness import SEED_ACCOUNTS, SEED_BALANCE, balances, percentile, pool_status, raw, requires, slow_sql, within

# ------------------------------------------------------------------------------------------ T08


@pytest.mark.parametrize("pool", [1, 3])
async def test_t08_nested_use_inside_a_transaction_reuses_its_connection(rig: Rig, pool: int) -> None:
    """T08: pool max=N, N concurrent transactions, each calling the *client* (not its tx handle)
    inside the block: the ambient transaction is reused, nothing waits for a second connection,
    and the writes are part of the transaction (rolled back with it)."""
    requires(rig.backend, "pool")
    size = 1 if rig.backend == "sqlite" else pool
    orm = await rig.orm(pool=size, acquire_timeout=5)

    class Undo(Exception):
        pass

    async def one(n: int) -> None:
        try:
            async with orm.transaction():
                # no tx handle: the client finds the running transaction through its contextvar
                assert await orm.account.count() == SEED_ACCOUNTS
                await orm.account.update(where={"n": n}, data={"balance": 0})
                assert (await orm.account.find_unique(where={"n": n}))["balance"] == 0
                raise Undo
        except Undo:
            pass

    async with within(5 + 2, "nested use with a full pool"):
        await asyncio.gather(*(one(n) for n in range(1, size + 1)))
    assert await balances(orm) == {n: SEED_BALANCE for n in range(1, SEED_ACCOUNTS + 1)}


async def test_t08_an_operation_outside_the_transaction_context_times_out_instead_of_hanging(rig: Rig) -> None:
    """T08, the deadlock shape: inside a transaction on a pool of 1, an operation started in a
    *fresh* context (no ambient transaction) needs a second connection. It gets
    CONNECTION_ERROR (pool_timeout) after acquire_timeout instead of waiting forever."""
    requires(rig.backend, "pool")
    orm = await rig.orm(pool=1, acquire_timeout=0.5)
    async with within(0.5 + 2, "the nested acquire"):
        async with orm.transaction() as tx:
            await tx.account.update(where={"n": 1}, data={"balance": 1})
            outside = asyncio.get_running_loop().create_task(orm.account.count(), context=contextvars.Context())
            with pytest.raises(OrmError) as info:
                await outside
    assert info.value.code == CONNECTION_ERROR
    assert info.value.meta["reason"] == "pool_timeout"
    assert (await balances(orm))[1] == 1


# ------------------------------------------------------------------------------------------ T09


async def test_t09_acquire_timeout_names_the_pool(rig: Rig) -> None:
    """T09: with every connection held, an operation waits ``acquire_timeout`` and then fails with
    CONNECTION_ERROR whose message and meta name the pool size and the timeout."""
    requires(rig.backend, "pool")
    size = 1 if rig.backend == "sqlite" else 2
    orm = await rig.orm(pool=size, acquire_timeout=0.3)
    gate = asyncio.Event()
    holding = 0

    async def hold() -> None:
        nonlocal holding
        async with orm.transaction() as tx:
            await tx.account.count()
            holding += 1
            await gate.wait()

    holders = [asyncio.create_task(hold()) for _ in range(size)]
    while holding < size:
        await asyncio.sleep(0.01)
    started = time.monotonic()
    with pytest.raises(OrmError) as info:
        await orm.account.count()
    waited = time.monotonic() - started
    gate.set()
    await asyncio.gather(*holders)
    err = info.value
    assert err.code == CONNECTION_ERROR and err.retryable is False
    assert err.meta["reason"] == "pool_timeout"
    assert err.meta["acquire_timeout"] == 0.3 and err.meta["max_size"] == size and err.meta["in_use"] == size
    assert "acquire_timeout=0.3s" in err.message and f"all {size} connections" in err.message, err.message
    assert waited >= 0.3
    # and the pool is fine afterwards
    assert await orm.account.count() == SEED_ACCOUNTS


async def _contention(rig: Rig, workers: int, pool: int, hold: float, duration: float) -> dict[str, Any]:
    size = 1 if rig.backend == "sqlite" else pool
    orm = await rig.orm(pool=size, acquire_timeout=10)
    waits: list[float] = []
    errors: list[BaseException] = []
    deadline = time.monotonic() + duration

    async def worker(i: int) -> None:
        n = (i % SEED_ACCOUNTS) + 1
        while time.monotonic() < deadline:
            asked = time.monotonic()
            try:
                async with orm.transaction() as tx:
                    waits.append(time.monotonic() - asked)
                    await tx.account.find_unique(where={"n": n})
                    await asyncio.sleep(hold)
            except OrmError as exc:
                errors.append(exc)

    async with within(duration + 30, "the contention run"):
        await asyncio.gather(*(worker(i) for i in range(workers)))
    assert not errors, errors[:3]
    fair = workers * hold / size  # one round of every worker through the pool
    return {"acquires": len(waits), "p50": percentile(waits, 50), "p99": percentile(waits, 99), "max": max(waits),
            "fair_share": fair}


async def test_t09_contention_every_waiter_gets_a_connection(rig: Rig) -> None:
    """T09, CI size: 30 workers on a pool of 3 (SQLite: 1), each holding its connection 20 ms,
    for 1.5 s, acquire_timeout=10: no pool timeout; p50/p99 of the waits are reported."""
    requires(rig.backend, "pool")
    stats = await _contention(rig, workers=30, pool=3, hold=0.02, duration=1.5)
    print(f"T09 {rig.backend}: {stats}")
    assert stats["max"] < 10


@pytest.mark.soak
async def test_t09_contention_soak(rig: Rig) -> None:
    """T09 as written in the plan: 100 workers, pool 10, 200 ms holds, 30 s."""
    requires(rig.backend, "pool")
    stats = await _contention(rig, workers=100, pool=10, hold=0.2, duration=30.0)
    print(f"T09 soak {rig.backend}: {stats}")
    assert stats["max"] < 10


# ------------------------------------------------------------------------------------------ T10


async def _in_flight(orm: Orm, backend: str, seconds: float) -> Any:
    if backend == "mongo":
        await asyncio.sleep(seconds)
        return await orm.account.count()
    return await raw(orm, slow_sql(backend, seconds))


@pytest.mark.parametrize("work", ["short", "long"])
async def test_t10_close_with_operations_in_flight(rig: Rig, work: str) -> None:
    """T10: 20 operations in flight on a pool of 4, then ``close(timeout=2)``. Short ones (0.5 s)
    finish; long ones (20 s) fail with CONNECTION_ERROR once the timeout cuts them off. Either
    way close returns within the timeout (plus a bound), new operations fail at once with
    CONNECTION_ERROR (reason pool_closed), nothing leaks, and close is idempotent."""
    if work == "long":
        requires(rig.backend, "sql")  # mongomock runs every operation inline: none stays in flight
    orm = await rig.orm(pool=4)
    seconds = 0.5 if work == "short" else 20
    tasks = [asyncio.create_task(_in_flight(orm, rig.backend, seconds)) for _ in range(20)]
    await asyncio.sleep(0.2)
    started = time.monotonic()
    async with within(2 + 5, "close(timeout=2)"):
        await orm.close(timeout=2)
    closed_in = time.monotonic() - started
    async with within(5, "the in-flight operations after close"):
        results = await asyncio.gather(*tasks, return_exceptions=True)
    odd = [r for r in results if isinstance(r, BaseException) and not (isinstance(r, OrmError) and r.code == CONNECTION_ERROR)]
    assert not odd, odd[:3]
    if work == "long" and rig.backend != "mongo":
        assert all(isinstance(r, OrmError) for r in results), results
        assert closed_in >= 2
    finished = [r for r in results if not isinstance(r, BaseException)]
    print(f"T10 {rig.backend} {work}: closed in {closed_in:.2f}s, {len(finished)}/20 finished")
    # new operations: refused at once
    started = time.monotonic()
    with pytest.raises(OrmError) as info:
        await orm.account.count()
    assert info.value.code == CONNECTION_ERROR and info.value.meta["reason"] == "pool_closed"
    with pytest.raises(OrmError):
        async with orm.transaction():
            pass
    assert time.monotonic() - started < 1
    await orm.close()  # idempotent
    await rig.forget(orm)

"""§J of RELIABILITY.md: lifecycle and resource leaks (T49), and negative controls of the harness.

T49 runs a mixed load with cancellations, closes the client and checks that every thread,
socket and file descriptor it opened is gone, with no ResourceWarning and no "Task was destroyed
but it is pending". The negative controls show that the harness's checks do fail when the fault
they look for is there (a check that cannot fail would prove nothing).
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import pytest

from farmorm import Orm, create_orm
from farmorm.core.errors import OrmError

from .conftest import Rig
from .harness import ACCOUNTS, SEED_ACCOUNTS, LeakBaseline, assert_clean, balances, pool_status, requires, within


async def _mixed(orm: Orm, backend: str, ops: int, cancels: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    counts = {"ok": 0, "cancelled": 0, "failed": 0}
    cancel_at = set(rng.sample(range(ops), cancels))

    async def one(i: int) -> None:
        kind = i % 4
        if kind == 0:
            await orm.marker.create(data={"tag": f"l{i}"})
        elif kind == 1:
            await orm.account.find_many(where={"n": {"in": [1, 2, 3]}})
        elif kind == 2 and backend != "mongo":
            async with orm.transaction() as tx:
                await tx.account.update(where={"n": (i % SEED_ACCOUNTS) + 1}, data={"balance": 100})
        else:
            await orm.account.count()

    for start in range(0, ops, 20):
        tasks = {i: asyncio.create_task(one(i)) for i in range(start, min(ops, start + 20))}
        for i in tasks:
            if i in cancel_at:
                asyncio.get_running_loop().call_later(rng.choice([0, 0.001, 0.003, 0.01]), tasks[i].cancel)
        for r in await asyncio.gather(*tasks.values(), return_exceptions=True):
            if isinstance(r, asyncio.CancelledError):
                counts["cancelled"] += 1
            elif isinstance(r, BaseException):
                assert isinstance(r, OrmError), r
                counts["failed"] += 1
            else:
                counts["ok"] += 1
    return counts


async def test_t49_graceful_shutdown_leaves_nothing_behind(rig: Rig) -> None:
    """T49: 1,000 mixed operations with 50 cancellations, then ``close()``: threads and fds back
    to the baseline taken before the database existed, no ResourceWarning or pending-task report
    (checked by the rig), and a second ``close()`` is a no-op."""
    assert rig.baseline is not None
    orm = await rig.orm(pool=4)
    counts = await _mixed(orm, rig.backend, 1000, 50, seed=49)
    assert counts["failed"] == 0, counts
    assert sum(balances_ := (await balances(orm)).values()) > 0, balances_
    status = pool_status(orm)
    assert status is None or status.in_use == 0
    await rig.forget(orm)  # close()
    await orm.close()  # idempotent
    await rig.baseline.assert_restored()
    print(f"T49 {rig.backend}: {counts}")


async def test_t49_cancelled_while_connecting_leaves_nothing_open(rig: Rig) -> None:
    """T49: ``create_orm`` cancelled at several points while it opens its pool/connection
    (asyncpg #464, aiosqlite #259): nothing stays open."""
    assert rig.baseline is not None
    url = await rig.url()
    opened = 0
    for delay in (0, 0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05):
        task = asyncio.create_task(create_orm(ACCOUNTS, url, max_size=2, min_size=2)
                                   if rig.backend == "postgres" else create_orm(ACCOUNTS, url))
        await asyncio.sleep(delay)
        task.cancel()
        try:
            orm = await task
        except asyncio.CancelledError:
            continue
        opened += 1
        await orm.close()
    await asyncio.sleep(0.2)
    await rig.baseline.assert_restored()
    print(f"T49 connect-cancel {rig.backend}: {opened} of 8 finished before the cancel")


async def test_close_is_idempotent_and_refuses_new_work(rig: Rig) -> None:
    orm = await rig.orm(pool=2)
    await rig.forget(orm)
    await orm.close()
    with pytest.raises(OrmError) as info:
        await orm.account.count()
    assert info.value.meta["reason"] == "pool_closed"


# ------------------------------------------------------------------------------ negative controls


async def test_control_assert_clean_catches_a_leaked_checkout(rig: Rig) -> None:
    """A connection left checked out (and inside a transaction) fails ``assert_clean``."""
    requires(rig.backend, "pool")
    orm = await rig.orm(pool=2)
    admin = await rig.admin()
    cm = orm._driver.connection(write=True, transaction=True)
    conn = await cm.__aenter__()
    await conn.begin()
    await conn.execute("UPDATE accounts SET balance = 1 WHERE n = 1")
    try:
        with pytest.raises(pytest.fail.Exception) as info:
            await assert_clean(orm, admin, grace=0.2)
        assert "in_use=1" in str(info.value)
        if rig.backend in ("postgres", "mysql", "sqlite"):
            assert "transactions left open" in str(info.value), str(info.value)
    finally:
        await conn.rollback()
        await cm.__aexit__(None, None, None)
    await assert_clean(orm, admin)


async def test_control_leak_baseline_catches_a_leaked_socket_and_thread(rig: Rig) -> None:
    """A socket and a thread left open fail ``LeakBaseline.assert_restored``."""
    base = LeakBaseline.take()
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name="leaky")
    thread.start()
    sock = socket.socket()
    try:
        with pytest.raises(pytest.fail.Exception) as info:
            await base.assert_restored(grace=0.2)
        assert "leaky" in str(info.value)
    finally:
        sock.close()
        stop.set()
        thread.join()
        base.stop()


async def test_control_loop_reports_fail_the_test(rig: Rig) -> None:
    """An exception nobody retrieved (what a leaked task or future produces) fails the check."""
    base = LeakBaseline.take()
    try:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        fut.set_exception(RuntimeError("nobody looked"))
        del fut
        import gc

        gc.collect()
        with pytest.raises(pytest.fail.Exception) as info:
            await base.assert_restored(grace=0.2)
        assert "nobody looked" in str(info.value)
    finally:
        base.stop()


async def test_control_blackhole_really_blackholes(rig: Rig) -> None:
    """Through a blackholed FaultProxy a statement never completes (so T14 measures something)."""
    requires(rig.backend, "network")
    proxy = await rig.proxy()
    orm = await rig.orm(pool=1, via=proxy)
    proxy.blackhole()
    task = asyncio.create_task(orm.account.count())
    done, _ = await asyncio.wait({task}, timeout=1.0)
    assert not done, "a statement completed through a blackhole"
    proxy.restore()
    proxy.reset()  # the stalled connection's stream is out of sync: drop it
    try:
        async with within(10, "the stalled read after the reset"):
            assert await task == SEED_ACCOUNTS  # a read outside a transaction moves to a fresh connection
    except OrmError:
        pass
    async with within(10, "recovery"):
        while True:
            try:
                assert await orm.account.count() == SEED_ACCOUNTS
                break
            except OrmError:
                await asyncio.sleep(0.1)

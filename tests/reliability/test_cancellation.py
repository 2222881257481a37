"""§A of RELIABILITY.md: cancellation and pool hygiene (T01–T07).

A cancel that lands mid-protocol leaves the connection's state unknown: farmorm must propagate the
``CancelledError`` unchanged, stop the statement on the server, and never hand that connection to
the next caller dirty (inside a transaction, with an unread reply, holding locks). Every case ends
with ``assert_clean`` (the ``rig`` fixture) and follow-up operations that must return their own,
correct data.
"""

from __future__ import annotations

import asyncio
import os
import random
from typing import Any

import pytest

from farmorm import Orm
from farmorm.core.errors import OrmError

from .conftest import Rig
from .harness import (
    SEED_ACCOUNTS,
    SEED_BALANCE,
    History,
    balances,
    pool_status,
    raw,
    requires,
    slow_sql,
    within,
)

TOTAL = SEED_ACCOUNTS * SEED_BALANCE


async def wait_until(predicate: Any, timeout: float = 5.0, interval: float = 0.02, what: str = "condition") -> Any:
    """Poll ``await predicate()`` until truthy; fail after ``timeout`` seconds."""
    async with within(timeout, f"waiting for {what}"):
        while True:
            value = await predicate()
            if value:
                return value
            await asyncio.sleep(interval)


async def tagged_roundtrips(orm: Orm, n: int, backend: str) -> None:
    """``n`` operations whose replies carry the caller's own tag: a desynchronised connection
    (a previous reply still on the wire) would hand back someone else's (asyncmy #103)."""
    if backend == "mongo":
        for i in range(n):
            rows = await orm.account.find_many(where={"n": (i % SEED_ACCOUNTS) + 1})
            assert [r["n"] for r in rows] == [(i % SEED_ACCOUNTS) + 1]
        return
    for i in range(n):
        tag = f"tag-{i}-{random.random()}"
        rows = await raw(orm, f"SELECT '{tag}'")
        assert rows == [(tag,)], f"stale result: asked for {tag!r}, got {rows!r}"


async def in_transaction_after_checkout(orm: Orm, backend: str) -> bool:
    """Whether a fresh checkout finds its connection inside a transaction."""
    if backend == "postgres":
        # after BEGIN, now() is fixed; outside one, txid_current_if_assigned() is NULL and a
        # "SAVEPOINT" is refused: the cheapest reliable probe is pg_current_xact_id_if_assigned
        rows = await raw(orm, "SELECT pg_current_xact_id_if_assigned()::text, "
                              "(SELECT count(*) FROM pg_stat_activity WHERE pid = pg_backend_pid() "
                              "AND state LIKE 'idle in transaction%')")
        return rows[0][0] is not None
    if backend == "mysql":
        rows = await raw(orm, "SELECT COUNT(*) FROM information_schema.innodb_trx WHERE trx_mysql_thread_id = CONNECTION_ID()")
        return bool(rows[0][0])
    if backend == "sqlite":
        return bool(orm._driver.conn.in_transaction)
    return False


# ------------------------------------------------------------------------------------------ T01


async def test_t01_cancel_a_running_query_outside_a_transaction(rig: Rig) -> None:
    """T01: cancel a 5 s statement after it started: CancelledError within 2 s, the server stops
    running it, and 200 tagged follow-ups each get their own reply."""
    requires(rig.backend, "sql")
    orm = await rig.orm(pool=2)
    admin = await rig.admin()
    task = asyncio.create_task(raw(orm, slow_sql(rig.backend, 5)))
    if rig.backend in ("postgres", "mysql"):
        await wait_until(lambda: admin.running(), what="the slow statement to start on the server")
    else:
        await asyncio.sleep(0.05)
    task.cancel()
    async with within(2, "the cancelled query"):
        with pytest.raises(asyncio.CancelledError):
            await task
    # the statement no longer runs on the server (asyncpg's cancel request / KILL QUERY / interrupt())
    if rig.backend in ("postgres", "mysql"):
        await wait_until(lambda: _not(admin.running()), timeout=2, what="the server to stop the statement")
    else:
        async with within(2, "the SQLite statement to be interrupted"):
            assert await raw(orm, "SELECT 1") == [(1,)]
    await tagged_roundtrips(orm, 200, rig.backend)
    assert await balances(orm) == {n: SEED_BALANCE for n in range(1, SEED_ACCOUNTS + 1)}


async def awaited(aw: Any) -> Any:
    return await aw


async def _not(aw: Any) -> bool:
    return not await aw


async def test_t01_a_cancelled_write_blocked_on_a_lock_never_applies_later(rig: Rig) -> None:
    """T01 on a real ORM write: an update waiting on a row lock is cancelled. When the lock goes
    away the update must not run after all (the server kept executing it: aiomysql only closes
    its socket, MariaDB then keeps waiting for the lock and applies the write)."""
    requires(rig.backend, "server")
    orm = await rig.orm(pool=2)
    admin = await rig.admin()
    async with admin.hold_lock("accounts", 1):
        task = asyncio.create_task(orm.account.update(where={"n": 1}, data={"balance": 0}))
        await wait_until(lambda: admin.running(), what="the update to wait on the lock")
        task.cancel()
        async with within(2, "the cancelled update"):
            with pytest.raises(asyncio.CancelledError):
                await task
        await wait_until(lambda: _not(admin.running()), timeout=2, what="the server to abandon the update")
    await asyncio.sleep(0.3)  # room for a zombie update to land
    assert (await balances(orm))[1] == SEED_BALANCE
    await tagged_roundtrips(orm, 50, rig.backend)


# ------------------------------------------------------------------------------------------ T02


@pytest.mark.parametrize("where", ["sleep", "statement"])
async def test_t02_cancel_inside_a_transaction(rig: Rig, where: str) -> None:
    """T02: a transaction updates account 1 and is cancelled (between statements, or during its
    second statement): the update is rolled back, the row lock is free, and no pooled
    connection is left inside a transaction."""
    requires(rig.backend, "transactions")
    orm = await rig.orm(pool=2)
    admin = await rig.admin()
    started = asyncio.Event()

    async def body() -> None:
        async with orm.transaction() as tx:
            await tx.account.update(where={"n": 1}, data={"balance": 0})
            started.set()
            if where == "sleep":
                await asyncio.sleep(10)
            else:
                await raw(tx, slow_sql(rig.backend, 10))

    task = asyncio.create_task(body())
    await started.wait()
    await asyncio.sleep(0.05)
    task.cancel()
    async with within(3, "the cancelled transaction"):
        with pytest.raises(asyncio.CancelledError):
            await task
    # data: unchanged, seen from another session
    assert (await balances(orm))[1] == SEED_BALANCE
    # locks: another session can update the row at once
    assert await admin.can_update("accounts", [1], lock_timeout_s=1)
    # no connection of the pool is inside a transaction
    assert await admin.open_transactions() == []
    for _ in range(4):
        assert not await in_transaction_after_checkout(orm, rig.backend)
    await tagged_roundtrips(orm, 50, rig.backend)


# ------------------------------------------------------------------------------------------ T03


async def test_t03_cancel_during_commit(rig: Rig) -> None:
    """T03: cancel while COMMIT's reply is in flight: CancelledError propagates, the connection
    is not reused, the body is not re-run, and the row exists 0 or 1 times (never 2)."""
    requires(rig.backend, "transactions")
    marker = rig.tag
    runs = 0
    if rig.backend in ("postgres", "mysql"):
        proxy = await rig.proxy()
        orm = await rig.orm(pool=1, via=proxy)
        check = await rig.orm(seed=False, push=False, pool=1)

        async def body(tx: Orm) -> None:
            nonlocal runs
            runs += 1
            await tx.marker.create(data={"tag": marker})
            proxy.delay(800, "s2c")  # COMMIT's reply will take 0.8 s

        task = asyncio.create_task(awaited(orm.transaction(body)))
        await asyncio.sleep(0.3)
        task.cancel()
        async with within(3, "the cancelled commit"):
            with pytest.raises(asyncio.CancelledError):
                await task
        proxy.restore()
    else:  # SQLite: a reader holding SHARED makes COMMIT wait for the lock in the worker thread
        orm = await rig.orm()
        check = orm
        journal = (await raw(orm, "PRAGMA journal_mode"))[0][0]
        if journal.lower() == "wal":
            pytest.skip("sqlite in WAL mode: a reader cannot hold COMMIT back")
        import sqlite3

        assert rig.sqlite_path
        reader = sqlite3.connect(rig.sqlite_path, isolation_level=None, check_same_thread=False)
        reader.execute("BEGIN")
        reader.execute("SELECT * FROM accounts").fetchall()  # SHARED lock held

        async def body(tx: Orm) -> None:
            nonlocal runs
            runs += 1
            await tx.marker.create(data={"tag": marker})

        task = asyncio.create_task(awaited(orm.transaction(body)))
        await asyncio.sleep(0.3)
        task.cancel()
        await asyncio.sleep(0.05)
        reader.execute("ROLLBACK")  # the COMMIT still waiting in the worker thread can go on now
        reader.close()
        async with within(3, "the cancelled commit"):
            with pytest.raises(asyncio.CancelledError):
                await task
    await asyncio.sleep(0.5)  # let an in-flight commit settle
    count = await check.marker.count(where={"tag": marker})
    assert count in (0, 1), f"the marker row exists {count} times"
    assert runs == 1, "farmorm re-ran the transaction body"
    await tagged_roundtrips(orm, 50, rig.backend)


# ------------------------------------------------------------------------------------------ T04


async def test_t04_cancel_while_waiting_in_acquire(rig: Rig) -> None:
    """T04: pool max=2 held by two long transactions, 10 waiters: 4 cancelled at random points
    and one given up by ``asyncio.wait_for`` (asyncpg #467) leave no phantom checkout; when the
    holders finish the other 5 all get a connection."""
    requires(rig.backend, "pool")
    holders_n = 1 if rig.backend == "sqlite" else 2
    orm = await rig.orm(pool=2)
    gate = asyncio.Event()
    entered = 0

    async def holder(i: int) -> None:
        nonlocal entered
        async with orm.transaction() as tx:
            await tx.account.update(where={"n": i + 1}, data={"balance": SEED_BALANCE})
            entered += 1
            await gate.wait()

    holders = [asyncio.create_task(holder(i)) for i in range(holders_n)]
    await wait_until(lambda: _const(entered == holders_n), what="the holders to hold the pool")

    async def waiter(i: int) -> int:
        rows = await orm.account.find_many(where={"n": (i % SEED_ACCOUNTS) + 1})
        return int(rows[0]["n"])

    rng = random.Random(4)
    waiters = [asyncio.create_task(waiter(i)) for i in range(9)]
    timed = asyncio.create_task(asyncio.wait_for(waiter(9), 0.2))
    await asyncio.sleep(0.05)
    cancelled = rng.sample(range(9), 4)
    for i in cancelled:
        await asyncio.sleep(rng.uniform(0, 0.05))
        waiters[i].cancel()
    with pytest.raises(TimeoutError):
        await timed
    status = pool_status(orm)
    assert status is not None and status.in_use == holders_n, status
    gate.set()
    async with within(10, "the remaining waiters"):
        await asyncio.gather(*holders)
        results = await asyncio.gather(*waiters, return_exceptions=True)
    for i, r in enumerate(results):
        if i in cancelled:
            assert isinstance(r, asyncio.CancelledError), r
        else:
            assert r == (i % SEED_ACCOUNTS) + 1, r
    status = pool_status(orm)
    assert status is not None and status.size <= 2 and status.in_use == 0, status
    await tagged_roundtrips(orm, 50, rig.backend)


async def _const(value: Any) -> Any:
    return value


# ------------------------------------------------------------------------------------------ T05


STORM_CI = int(os.environ.get("FARMORM_STORM_CANCELS", "250"))
STORM_SOAK = 1000


async def _storm(rig: Rig, cancels: int, seed: int, orm: Orm | None = None) -> dict[str, int]:
    """``cancels`` random cancellations of a mixed load (transfers in transactions, inserts,
    reads, tagged round trips) on a pool of 4; then the invariants and 100 follow-ups."""
    has_tx = rig.backend != "mongo" or bool(os.environ.get("FARMORM_MONGO_URL"))
    if orm is None:
        orm = await rig.orm(pool=4)
    else:  # another round on the same database: count this round's inserts only
        await orm.marker.delete_many(where={"tag": {"starts_with": "storm-"}})
    rng = random.Random(seed)
    history = History()
    escaped: list[BaseException] = []
    done_cancels = 0

    async def transfer(a: int, b: int, amount: int) -> None:
        async def fn(tx: Orm) -> None:
            src = await tx.account.find_unique(where={"n": a})
            dst = await tx.account.find_unique(where={"n": b})
            assert src is not None and dst is not None
            await tx.account.update(where={"n": a}, data={"balance": src["balance"] - amount})
            await asyncio.sleep(0)
            await tx.account.update(where={"n": b}, data={"balance": dst["balance"] + amount})

        # serializable: the read-then-write below would lose updates under READ COMMITTED /
        # REPEATABLE READ (the negative control in test_t05_lost_update_control shows it)
        await orm.transaction(fn, isolation="serializable" if rig.backend in ("postgres", "mysql") else None,
                              retries=5)

    async def one(i: int) -> None:
        kind = rng.choice(["transfer", "insert", "read", "tag", "count"] if has_tx else ["insert", "read", "tag", "count"])
        if kind == "tag" and rig.backend == "mongo":
            kind = "read"
        async with history.op(kind, i) as rec:
            if kind == "transfer":
                a, b = rng.sample(range(1, SEED_ACCOUNTS + 1), 2)
                a, b = min(a, b), max(a, b)  # one lock order: no deadlocks to muddy the figures
                await transfer(a, b, rng.randint(1, 5))
            elif kind == "insert":
                rec.result = await orm.marker.create(data={"tag": f"storm-{i}"})
            elif kind == "read":
                rec.result = await orm.account.find_many(where={"n": {"in": [1, 2, 3]}}, order_by={"n": "asc"})
                assert [r["n"] for r in rec.result] == [1, 2, 3]
            elif kind == "tag":
                tag = f"s-{i}"
                rows = await raw(orm, f"SELECT '{tag}'")
                assert rows == [(tag,)], f"stale result {rows!r} for {tag!r}"
            else:
                rec.result = await orm.account.count()
                assert rec.result == SEED_ACCOUNTS

    async def guarded(i: int) -> None:
        try:
            await one(i)
        except (asyncio.CancelledError, OrmError):
            pass
        except BaseException as exc:  # noqa: BLE001 - collected: nothing else may escape
            escaped.append(exc)

    i = 0
    while done_cancels < cancels:
        batch = [asyncio.create_task(guarded(i + k)) for k in range(20)]
        i += len(batch)
        victims = rng.sample(batch, 10)
        for t in victims:
            delay = rng.choice([0, 0, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05])
            asyncio.get_running_loop().call_later(delay, t.cancel)
            done_cancels += 1
        done, pending = await asyncio.wait(batch, timeout=30)
        if pending:
            stacks = [t.get_stack(limit=8) for t in pending]
            sessions = await (await rig.admin()).sessions() if rig.backend in ("postgres", "mysql") else []
            for t in pending:
                t.cancel()
            pytest.fail(f"a storm batch hung: {len(pending)} tasks; stacks {stacks!r}; sessions {sessions!r}")

    assert not escaped, f"non-farmorm exceptions escaped: {escaped[:5]!r}"
    # invariants after quiesce
    if has_tx:
        total = sum((await balances(orm)).values())
        assert total == TOTAL, f"money was created or destroyed: total {total}"
    acked = len(history.ok("insert"))
    unknown = len(history.unknown("insert"))
    count = await orm.marker.count()
    assert acked <= count <= acked + unknown, (acked, unknown, count)
    await tagged_roundtrips(orm, 100, rig.backend)
    summary = history.summary()
    summary["cancels"] = done_cancels
    return summary


async def test_t05_cancellation_storm(rig: Rig) -> None:
    """T05: a CI-sized storm (``FARMORM_STORM_CANCELS``, default 250 cancellations per backend)."""
    summary = await _storm(rig, STORM_CI, seed=5)
    print(f"T05 {rig.backend}: {summary}")


@pytest.mark.soak
async def test_t05_cancellation_storm_soak(rig: Rig) -> None:
    """T05 soak: 1,000 cancellations per seed, three seeds."""
    orm = await rig.orm(pool=4)
    for seed in (50, 51, 52):
        summary = await _storm(rig, STORM_SOAK, seed=seed, orm=orm)
        print(f"T05 soak {rig.backend} seed {seed}: {summary}")


# ------------------------------------------------------------------------------------------ T06


async def test_t06_session_state_does_not_leak_across_checkouts(rig: Rig) -> None:
    """T06: checkout 1 changes session state (isolation level, SET LOCAL, session settings, a
    temp table, an advisory / user lock); checkout 2 reuses the same physical connection (pool
    max=1) and sees the defaults."""
    requires(rig.backend, "server")
    orm = await rig.orm(pool=1)
    if rig.backend == "postgres":
        pid1 = (await raw(orm, "SELECT pg_backend_pid()"))[0][0]

        async def dirty(tx: Orm) -> None:
            await raw(tx, "SET LOCAL lock_timeout = '1234ms'")
            assert (await raw(tx, "SHOW transaction_isolation"))[0][0] == "serializable"

        await orm.transaction(dirty, isolation="serializable")
        await raw(orm, "SET statement_timeout = '4321ms'")
        await raw(orm, "SET search_path = pg_catalog")
        await raw(orm, "CREATE TEMP TABLE t06_tmp (x int)")
        await raw(orm, "SELECT pg_advisory_lock(606)")
        assert (await raw(orm, "SELECT pg_backend_pid()"))[0][0] == pid1, "the pool did not reuse the connection"
        got = (await raw(orm, "SELECT current_setting('transaction_isolation'), current_setting('lock_timeout'), "
                              "current_setting('statement_timeout'), current_setting('search_path'), "
                              "to_regclass('t06_tmp') IS NULL, "
                              "(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid())"))[0]
        assert got == ("read committed", "0", "0", '"$user", public', True, 0), got
    else:
        tid1 = (await raw(orm, "SELECT CONNECTION_ID()"))[0][0]

        async def dirty(tx: Orm) -> None:
            # SET TRANSACTION ISOLATION LEVEL covers this transaction only (@@tx_isolation shows
            # the session's level, which must stay the default)
            await tx.account.update(where={"n": 1}, data={"balance": SEED_BALANCE})

        await orm.transaction(dirty, isolation="serializable")
        assert (await raw(orm, "SELECT CONNECTION_ID()"))[0][0] == tid1, "the pool did not reuse the connection"
        got = (await raw(orm, "SELECT @@tx_isolation, @@session.time_zone, @@session.sql_mode"))[0]
        assert got[0] == "REPEATABLE-READ" and got[1] == "+00:00" and "STRICT_TRANS_TABLES" in got[2], got
        # session state an app makes with raw SQL on farmorm's aiomysql pool (temp tables,
        # GET_LOCK, SET SESSION) is not reset on release: a reset costs two round trips per
        # operation. Documented in docs/reliability.md (§A, T06).
    # farmorm's own session setup survived the reset
    await orm.account.update(where={"n": 1}, data={"balance": 101})
    assert (await balances(orm))[1] == 101


async def test_t06_sqlite_pragmas_survive_a_cancelled_transaction(rig: Rig) -> None:
    """T06 on SQLite (one connection, no pool): the PRAGMAs farmorm set are still in force after a
    cancelled transaction, and the connection is out of the transaction."""
    if rig.backend != "sqlite":
        pytest.skip(f"{rig.backend}: the SQLite variant of T06")
    orm = await rig.orm()

    async def body() -> None:
        async with orm.transaction() as tx:
            await tx.account.update(where={"n": 1}, data={"balance": 0})
            await asyncio.sleep(10)

    task = asyncio.create_task(body())
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await raw(orm, "PRAGMA foreign_keys"))[0][0] == 1
    assert not orm._driver.conn.in_transaction
    assert (await balances(orm))[1] == SEED_BALANCE


# ------------------------------------------------------------------------------------------ T07


async def test_t07_one_transaction_used_from_several_tasks(rig: Rig) -> None:
    """T07: ``asyncio.gather`` of 10 updates on one transaction: they are serialized on its
    connection and all apply (never asyncpg's raw "another operation is in progress"); a task
    that outlives the block gets a farmorm error instead of running on a released connection."""
    orm = await rig.orm(pool=2)
    straggler_started = asyncio.Event()
    proceed = asyncio.Event()

    async def straggler(tx: Orm) -> Any:
        straggler_started.set()
        await proceed.wait()
        return await tx.account.update(where={"n": 10}, data={"balance": 0})

    async with orm.transaction() as tx:
        results = await asyncio.gather(
            *(tx.account.update(where={"n": n}, data={"balance": SEED_BALANCE + n}) for n in range(1, 10)),
            tx.marker.create(data={"tag": rig.tag}),
            return_exceptions=True,
        )
        late = asyncio.create_task(straggler(tx))
        await straggler_started.wait()
    bad = [r for r in results if isinstance(r, BaseException)]
    assert not bad, bad
    proceed.set()
    with pytest.raises(OrmError) as info:
        await late
    assert "already finished" in str(info.value)
    got = await balances(orm)
    assert got == {**{n: SEED_BALANCE + n for n in range(1, 10)}, 10: SEED_BALANCE}
    assert await orm.marker.count(where={"tag": rig.tag}) == 1


async def test_t07_tasks_in_a_transaction_with_reads_and_writes_interleaved(rig: Rig) -> None:
    """T07, heavier: 5 tasks each doing read-modify-write in a loop on one transaction (each
    read and write is one operation; the transaction serializes them on its connection)."""
    requires(rig.backend, "transactions")
    orm = await rig.orm(pool=2)

    async def worker(tx: Orm, n: int) -> None:
        for _ in range(10):
            row = await tx.account.find_unique(where={"n": n})
            assert row is not None
            await tx.account.update(where={"n": n}, data={"balance": row["balance"] + 1})

    async with orm.transaction() as tx:
        await asyncio.gather(*(worker(tx, n) for n in range(1, 6)))
    got = await balances(orm)
    assert [got[n] for n in range(1, 6)] == [SEED_BALANCE + 10] * 5

"""§C of RELIABILITY.md: connection loss and server restarts (T11–T16), and the ambiguous commit.

Faults come from the server side (``pg_terminate_backend`` / ``KILL CONNECTION`` through the
``Admin``), from the network (a ``FaultProxy`` between the ORM and the server: reset, blackhole,
drop after n bytes, swallowed COMMIT reply) and, under ``-m soak``, from a real server restart.
Expected every time: the error is a farmorm error (CONNECTION_ERROR, or COMMIT_UNKNOWN when the
connection died with COMMIT in flight), nothing half-applied, no lock left behind, and the pool
recovers: follow-up operations succeed and none fails with "connection closed".
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from typing import Any

import pytest

from farmorm import Orm
from farmorm.core.errors import COMMIT_UNKNOWN, CONNECTION_ERROR, OrmError

from .conftest import Rig
from .harness import SEED_ACCOUNTS, SEED_BALANCE, balances, pool_status, raw, requires, within

TOTAL = SEED_ACCOUNTS * SEED_BALANCE
ALL_100 = {n: SEED_BALANCE for n in range(1, SEED_ACCOUNTS + 1)}


async def awaited(aw: Any) -> Any:
    return await aw


async def follow_ups(orm: Orm, n: int = 200) -> None:
    """``n`` operations that must all succeed with correct data (asyncpg #385: after a kill the
    pool kept handing out dead connections)."""
    for i in range(n):
        k = (i % SEED_ACCOUNTS) + 1
        row = await orm.account.find_unique(where={"n": k})
        assert row is not None and row["n"] == k


async def move(tx: Orm, src: int, dst: int, amount: int) -> None:
    a = await tx.account.find_unique(where={"n": src})
    b = await tx.account.find_unique(where={"n": dst})
    assert a is not None and b is not None
    await tx.account.update(where={"n": src}, data={"balance": a["balance"] - amount})
    await tx.account.update(where={"n": dst}, data={"balance": b["balance"] + amount})


async def victim(admin: Any, tag: str) -> Any:
    """The server session of the ORM's open transaction."""
    async def find() -> Any:
        open_tx = await admin.open_transactions(tag if admin.backend == "postgres" else None)
        return open_tx[0]["id"] if open_tx else None

    async with within(5, "finding the victim session"):
        while (found := await find()) is None:
            await asyncio.sleep(0.02)
    return found


# ------------------------------------------------------------------------------------------ T11


@pytest.mark.parametrize("retries", [0, 3])
async def test_t11_backend_killed_in_the_middle_of_a_transaction(rig: Rig, retries: int) -> None:
    """T11: a transfer's session is killed between its statements. Without retries: the next
    statement raises CONNECTION_ERROR, nothing is applied, the row locks are gone and the pool
    is back to full strength. With ``retries=3``: the body re-runs from the start (nothing was
    committed) and the transfer is applied exactly once."""
    requires(rig.backend, "kill_session")
    orm = await rig.orm(pool=4)
    admin = await rig.admin()
    between = asyncio.Event()
    gate = asyncio.Event()
    attempts = 0

    async def body(tx: Orm) -> None:
        nonlocal attempts
        attempts += 1
        await move(tx, 1, 2, 10)
        if attempts == 1:
            between.set()
            await gate.wait()
        await move(tx, 3, 4, 5)

    task = asyncio.create_task(awaited(orm.transaction(body, retries=retries)))
    await asyncio.wait_for(between.wait(), 5)
    await admin.kill(await victim(admin, rig.tag))
    await asyncio.sleep(0.2)  # the kill reaches the client
    gate.set()
    if retries:
        async with within(10, "the retried transfer"):
            await task
        assert attempts == 2
        expected = {**ALL_100, 1: 90, 2: 110, 3: 95, 4: 105}
    else:
        async with within(10, "the killed transaction"):
            with pytest.raises(OrmError) as info:
                await task
        assert info.value.code == CONNECTION_ERROR, info.value
        assert attempts == 1
        expected = ALL_100
    got = await balances(orm)
    assert got == expected and sum(got.values()) == TOTAL
    assert await admin.can_update("accounts", [1, 2], lock_timeout_s=1)
    await follow_ups(orm)
    status = pool_status(orm)
    assert status is not None and status.in_use == 0 and status.size <= 4


@pytest.mark.parametrize("victims", ["one", "all"])
async def test_t11a_connections_killed_while_idle_in_the_pool(rig: Rig, victims: str) -> None:
    """T11 (a)/(b): idle pooled connections are killed on the server; the next operations (outside
    a transaction) succeed: the pool drops the dead connections instead of handing them out."""
    requires(rig.backend, "kill_session")
    orm = await rig.orm(pool=4)
    admin = await rig.admin()
    sessions = await admin.sessions()
    assert len(sessions) == 4, sessions
    for s in sessions if victims == "all" else sessions[:1]:
        await admin.kill(s["id"])
    await asyncio.sleep(0.2)
    await follow_ups(orm, 50)
    assert await balances(orm) == ALL_100


async def _kill_loop(rig: Rig, rounds: int) -> None:
    orm = await rig.orm(pool=4)
    admin = await rig.admin()
    for i in range(rounds):
        between = asyncio.Event()
        gate = asyncio.Event()

        async def body(tx: Orm) -> None:
            await tx.account.update(where={"n": 1}, data={"balance": 0})
            between.set()
            await gate.wait()
            await tx.account.update(where={"n": 2}, data={"balance": 0})

        task = asyncio.create_task(awaited(orm.transaction(body)))
        await asyncio.wait_for(between.wait(), 5)
        await admin.kill(await victim(admin, rig.tag))
        await asyncio.sleep(0.1)
        gate.set()
        with pytest.raises(OrmError) as info:
            await asyncio.wait_for(task, 10)
        assert info.value.code == CONNECTION_ERROR, (i, info.value)
        assert await balances(orm) == ALL_100
    await follow_ups(orm, 100)


async def test_t11d_kill_repeatedly(rig: Rig) -> None:
    """T11 (d): 3 kills in a row on one pool (20 under -m soak): no slow leak."""
    requires(rig.backend, "kill_session")
    await _kill_loop(rig, 3)


@pytest.mark.soak
async def test_t11d_kill_repeatedly_soak(rig: Rig) -> None:
    requires(rig.backend, "kill_session")
    await _kill_loop(rig, 20)


# ------------------------------------------------------------------------------------------ T12


async def test_t12_restart_simulated_by_resetting_every_connection(rig: Rig) -> None:
    """T12 in the default run: every connection of a warm pool of 5 is reset at once (what a
    restart looks like from the client), then 50 operations. Reads issued after the reset
    succeed; the pool is never left broken."""
    requires(rig.backend, "network")
    proxy = await rig.proxy()
    orm = await rig.orm(pool=5, via=proxy)
    await follow_ups(orm, 10)
    assert proxy.reset() == 5
    failed: list[BaseException] = []
    started = time.monotonic()
    for i in range(50):
        try:
            row = await orm.account.find_unique(where={"n": (i % SEED_ACCOUNTS) + 1})
            assert row is not None
        except OrmError as exc:
            assert exc.code == CONNECTION_ERROR, exc
            failed.append(exc)
    print(f"T12 {rig.backend}: {len(failed)} of 50 reads failed after the reset; {time.monotonic() - started:.2f}s")
    assert not failed, f"reads after the reset failed instead of reconnecting: {failed[:2]!r}"
    await follow_ups(orm, 50)


def _restart_server(backend: str) -> None:
    if backend == "postgres":
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "restart", "-m", "fast"],
                       check=True, timeout=60)
    else:
        subprocess.run(["mysqladmin", "-uroot", "-h127.0.0.1", "shutdown"], check=True, timeout=60)
        time.sleep(1)
        subprocess.run(["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"],
                       check=True, timeout=60)


async def _wait_server(backend: str, timeout: float = 60) -> None:
    from .harness import Admin

    deadline = time.monotonic() + timeout
    while True:
        try:
            admin = await Admin.open(backend, "x")
            await admin.close()
            return
        except Exception:  # noqa: BLE001 - not up yet
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


@pytest.mark.soak
async def test_t12_real_server_restart(rig: Rig) -> None:
    """T12 for real (``-m soak``: it disrupts everyone's tests on the server for a few seconds):
    restart the server under a warm pool; the first operations may fail with CONNECTION_ERROR,
    then everything works; the pool never stays broken."""
    requires(rig.backend, "server")
    if rig.backend == "mysql" and not os.environ.get("FARMORM_RESTART_MYSQL"):
        pytest.skip("mysql: set FARMORM_RESTART_MYSQL=1 to restart MariaDB for real")
    orm = await rig.orm(pool=5)
    await follow_ups(orm, 10)
    try:
        await asyncio.to_thread(_restart_server, rig.backend)
    finally:
        await _wait_server(rig.backend)
    failures = 0
    for i in range(50):
        try:
            await orm.account.find_unique(where={"n": (i % SEED_ACCOUNTS) + 1})
        except OrmError as exc:
            assert exc.code == CONNECTION_ERROR, exc
            failures += 1
    print(f"T12 real restart {rig.backend}: {failures} of 50 failed")
    assert failures <= 5
    await follow_ups(orm, 50)


# ------------------------------------------------------------------------------------------ T13


async def test_t13_server_idle_timeout_replaces_idle_connections(rig: Rig) -> None:
    """T13: the server closes idle connections (PG ``idle_session_timeout``, MariaDB
    ``wait_timeout``, both set for this test's sessions only); the next operations succeed on
    fresh connections and no raw driver error reaches the caller."""
    requires(rig.backend, "kill_session")
    admin = await rig.admin()
    if rig.backend == "postgres":
        await admin.execute(f'ALTER DATABASE "{rig.db.name}" SET idle_session_timeout = \'1s\'')
        orm = await rig.orm(pool=2)
    else:
        orm = await rig.orm(pool=1)
        await raw(orm, "SET SESSION wait_timeout = 1")
    await asyncio.sleep(2.0)
    await follow_ups(orm, 20)
    assert await balances(orm) == ALL_100


async def test_t13_idle_in_transaction_timeout_gives_connection_error(rig: Rig) -> None:
    """T13: PostgreSQL ends a transaction left idle past ``idle_in_transaction_session_timeout``:
    the next statement in it raises CONNECTION_ERROR, its writes are gone, the pool recovers."""
    if rig.backend != "postgres":
        pytest.skip(f"{rig.backend}: idle_in_transaction_session_timeout is PostgreSQL's")
    admin = await rig.admin()
    await admin.execute(f'ALTER DATABASE "{rig.db.name}" SET idle_in_transaction_session_timeout = \'1s\'')
    orm = await rig.orm(pool=2)
    with pytest.raises(OrmError) as info:
        async with orm.transaction() as tx:
            await tx.account.update(where={"n": 1}, data={"balance": 0})
            await asyncio.sleep(2)
            await tx.account.update(where={"n": 2}, data={"balance": 0})
    assert info.value.code == CONNECTION_ERROR, info.value
    assert await balances(orm) == ALL_100
    await follow_ups(orm, 20)


# ------------------------------------------------------------------------------------------ T14


async def test_t14_network_blackhole(rig: Rig) -> None:
    """T14: the network goes silent (no FIN, no RST) for 3 s under 9 workers on a pool of 3 with
    ``command_timeout=0.5`` and ``acquire_timeout=1``: every operation fails with a farmorm error
    within a bound instead of hanging, and after the network is back the pool works again."""
    requires(rig.backend, "network")
    proxy = await rig.proxy()
    orm = await rig.orm(pool=3, via=proxy, command_timeout=0.5, acquire_timeout=1)
    await follow_ups(orm, 10)
    proxy.blackhole()
    durations: list[float] = []
    outcomes: list[Any] = []

    async def worker(i: int) -> None:
        started = time.monotonic()
        try:
            outcomes.append(await orm.account.find_unique(where={"n": (i % SEED_ACCOUNTS) + 1}))
        except OrmError as exc:
            outcomes.append(exc)
        finally:
            durations.append(time.monotonic() - started)

    async with within(30, "operations during the blackhole"):
        await asyncio.gather(*(worker(i) for i in range(9)))
    proxy.restore()
    bad = [o for o in outcomes if not isinstance(o, OrmError)]
    assert not bad, f"operations succeeded through a blackhole? {bad!r}"
    assert {o.code for o in outcomes} <= {CONNECTION_ERROR, "QUERY_TIMEOUT"}, outcomes
    print(f"T14 {rig.backend}: 9 failed in max {max(durations):.2f}s; codes {sorted({o.code for o in outcomes})}")
    async with within(15, "recovery after the blackhole"):
        while True:
            try:
                await follow_ups(orm, 20)
                break
            except OrmError:
                await asyncio.sleep(0.2)


# ------------------------------------------------------------------------------------------ T15


async def test_t15_connection_reset_partway_through_a_large_result(rig: Rig) -> None:
    """T15: the connection is reset after some of a large result has arrived (a streamed read and
    a plain find_many): the caller gets CONNECTION_ERROR, never a short result that looks
    complete, and no half-read connection goes back to the pool."""
    requires(rig.backend, "network")
    proxy = await rig.proxy()
    orm = await rig.orm(pool=2, via=proxy)
    rows = 20_000
    for start in range(0, rows, 5000):
        await orm.marker.create_many(data=[{"tag": f"m{i}", "payload": "x" * 40} for i in range(start, start + 5000)])
    # plain read outside a transaction: farmorm re-runs a read whose connection died on its
    # first statement on another connection, so it returns every row (never a short result)
    proxy.drop_after(300_000, "s2c")
    got = await orm.marker.find_many()
    assert len(got) == rows
    assert any("dropped s2c" in e for _, e in proxy.events), proxy.events
    # inside a transaction a read is not re-run: the error reaches the caller
    proxy.drop_after(300_000, "s2c")
    with pytest.raises(OrmError) as info:
        async with orm.transaction() as tx:
            got = await tx.marker.find_many()
            pytest.fail(f"find_many returned {len(got)} rows through a reset connection")
    assert info.value.code == CONNECTION_ERROR, info.value
    # streamed read
    seen = 0
    proxy.drop_after(200_000, "s2c")
    with pytest.raises(OrmError) as info:
        async with orm.marker.stream(batch_size=500) as stream:
            async for _ in stream:
                seen += 1
        pytest.fail(f"the stream ended normally after {seen} of {rows} rows")
    assert info.value.code == CONNECTION_ERROR, info.value
    assert 0 < seen < rows
    assert await orm.marker.count() == rows
    await follow_ups(orm, 50)


# ---------------------------------------------------------------------------- ambiguous commit


async def test_commit_reply_lost_gives_commit_unknown_and_is_never_retried(rig: Rig) -> None:
    """The connection dies after COMMIT was sent, before its reply (FaultProxy swallows the reply
    and resets): COMMIT_UNKNOWN, not retryable, and ``transaction(retries=3)`` does not re-run
    the body. The row exists 0 or 1 times (here the server got COMMIT: once)."""
    requires(rig.backend, "network")
    proxy = await rig.proxy()
    orm = await rig.orm(pool=2, via=proxy)
    runs = 0

    async def body(tx: Orm) -> None:
        nonlocal runs
        runs += 1
        await tx.marker.create(data={"tag": rig.tag})
        proxy.drop_next_server_reply(b"COMMIT")

    with pytest.raises(OrmError) as info:
        async with within(10, "the commit"):
            await orm.transaction(body, retries=3)
    err = info.value
    assert err.code == COMMIT_UNKNOWN, err
    assert err.retryable is False and err.meta["commit_state"] == "unknown"
    assert isinstance(err.__cause__, OrmError) and err.__cause__.code == CONNECTION_ERROR
    assert runs == 1
    proxy.restore()
    await asyncio.sleep(0.3)
    assert await orm.marker.count(where={"tag": rig.tag}) == 1
    await follow_ups(orm, 50)


async def test_reply_lost_before_commit_is_retried_from_the_start(rig: Rig) -> None:
    """Control for the case above: the reply lost is a statement's *before* COMMIT, so nothing
    was committed: CONNECTION_ERROR, and ``retries=`` re-runs the body: the row exists once."""
    requires(rig.backend, "network")
    proxy = await rig.proxy()
    orm = await rig.orm(pool=2, via=proxy)
    runs = 0

    async def body(tx: Orm) -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            proxy.drop_next_server_reply(b"markers")  # the INSERT's reply
        await tx.marker.create(data={"tag": rig.tag})

    async with within(10, "the retried transaction"):
        await orm.transaction(body, retries=3)
    assert runs == 2
    assert await orm.marker.count(where={"tag": rig.tag}) == 1
    await follow_ups(orm, 20)


# ------------------------------------------------------------------------------------------ T16


async def test_t16_mongo_retryable_writes_under_injected_network_errors(rig: Rig) -> None:
    """T16: ``failCommand`` closes the connection on the first insert: the driver's single
    retryable-write retry makes ``create()`` succeed, with exactly one document."""
    requires(rig.backend, "mongo_server")
    orm = await rig.orm(pool=None)
    client = orm.driver.client
    admin_db = client.admin if hasattr(client, "admin") else client.client.admin
    await admin_db.command({"configureFailPoint": "failCommand", "mode": {"times": 1},
                            "data": {"failCommands": ["insert"], "closeConnection": True}})
    try:
        await orm.marker.create(data={"tag": rig.tag})
    finally:
        await admin_db.command({"configureFailPoint": "failCommand", "mode": "off"})
    assert await orm.marker.count(where={"tag": rig.tag}) == 1

"""MariaDB Galera, 3 nodes (scripts/scale_out.sh starts them: galera-4, rsync SST, own ports).

- certification conflicts are DEADLOCK (retryable): ``transaction(fn, retries=n)`` retries them,
  and ``write_retries=n`` retries a single write outside a transaction;
- a node outside the primary component raises a retryable CONNECTION_ERROR (reason
  ``wsrep_not_ready``), not pymysql's raw 1047;
- REPEATABLE READ read-modify-write loses updates on Galera as on one InnoDB server; atomic
  increments do not.
Figures for docs/scaling-out.md are printed.
"""

from __future__ import annotations

import asyncio
import collections
import secrets
import time
from typing import Any, AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from farmorm import OrmError, create_orm, define_schema, model
from farmorm import fields as f
from farmorm.setup import push_schema

from .conftest import component, load_seconds

schema = define_schema(
    counter=model(table="counters", fields={"id": f.id(), "name": f.string().unique(), "n": f.integer().default(0)}),
)
TASKS_PER_NODE = 8


async def _sql(url: str, sql: str) -> list[Any]:
    import aiomysql

    u = urlsplit(url)
    conn = await aiomysql.connect(host=u.hostname, port=u.port, user="root", autocommit=True)
    try:
        async with conn.cursor() as cur:
            await cur.execute(sql)
            return list(await cur.fetchall())
    finally:
        conn.close()


@pytest.fixture
async def nodes() -> AsyncIterator[list[str]]:
    """A fresh database on the cluster (DDL replicates to every node); its URL on each node."""
    env = component("galera")
    servers = env["FARMORM_GALERA_URLS"].split(",")
    name = f"so_{secrets.token_hex(4)}"
    await _sql(servers[0], f"CREATE DATABASE `{name}`")
    urls = [urlunsplit(("mysql", urlsplit(s).netloc, "/" + name, "", "")) for s in servers]
    try:
        await push_schema(schema, urls[0])
        yield urls
    finally:
        await _sql(servers[0], f"DROP DATABASE IF EXISTS `{name}`")


async def _hammer(orms: list[Any], op: Any, seconds: float) -> tuple[collections.Counter[str], int]:
    """``op(orm)`` in a loop from TASKS_PER_NODE tasks per node; (outcomes, successes)."""
    outcomes: collections.Counter[str] = collections.Counter()
    deadline = time.monotonic() + seconds

    async def worker(orm: Any) -> None:
        while time.monotonic() < deadline:
            try:
                await op(orm)
                outcomes["ok"] += 1
            except OrmError as exc:
                outcomes[exc.code] += 1
            except Exception as exc:  # noqa: BLE001 - a raw driver error is a finding
                outcomes[type(exc).__name__] += 1

    await asyncio.gather(*(worker(orm) for orm in orms for _ in range(TASKS_PER_NODE)))
    return outcomes, outcomes["ok"]


async def _counter(orm: Any) -> int:
    row = await orm.counter.find_unique(where={"name": "hot"})
    return int(row["n"])


async def test_certification_conflicts_are_retried_and_atomic_increments_lose_nothing(nodes: list[str]) -> None:
    seconds = min(load_seconds(), 4.0)
    plain = [await create_orm(schema, url) for url in nodes]
    retrying = [await create_orm(schema, url, write_retries=20) for url in nodes]
    deadlocks: collections.Counter[str] = collections.Counter()
    for orm in plain + retrying:
        orm.on_query(lambda e: deadlocks.update([e.error_code]) if e.error_code == "DEADLOCK" else None)
    try:
        await plain[0].counter.create(data={"name": "hot"})
        await asyncio.sleep(0.2)

        # 1. single writes outside a transaction, one hot row, all three nodes: without retries
        #    certification failures reach the caller as DEADLOCK (never a raw pymysql error)
        async def bump(orm: Any) -> None:
            await orm.counter.update(where={"name": "hot"}, data={"n": {"increment": 1}})

        start = await _counter(plain[0])
        without, ok_without = await _hammer(plain, bump, seconds)
        assert set(without) <= {"ok", "DEADLOCK"}, without
        await asyncio.sleep(0.5)
        assert await _counter(plain[0]) - start == ok_without  # every acknowledged increment landed
        # 2. the same with write_retries: no errors, nothing lost
        deadlocks.clear()
        start = await _counter(plain[0])
        with_retry, ok_with = await _hammer(retrying, bump, seconds)
        retried = deadlocks["DEADLOCK"]
        assert set(with_retry) == {"ok"}, with_retry
        await asyncio.sleep(0.5)
        assert await _counter(plain[0]) - start == ok_with

        # 3. read-modify-write in transaction(fn, retries=): conflicts across nodes are retried,
        #    but REPEATABLE READ on one node still loses updates (documented: use increments)
        async def read_modify_write(orm: Any) -> None:
            async def fn(tx: Any) -> None:
                row = await tx.counter.find_unique(where={"name": "hot"})
                await tx.counter.update(where={"name": "hot"}, data={"n": row["n"] + 1})
            await orm.transaction(fn, retries=20)

        deadlocks.clear()
        start = await _counter(plain[0])
        rmw, ok_rmw = await _hammer(plain, read_modify_write, seconds)
        assert set(rmw) <= {"ok", "DEADLOCK"}, rmw
        await asyncio.sleep(0.5)
        landed = await _counter(plain[0]) - start
        print(f"galera single writes: without write_retries {dict(without)}; with write_retries=20 "
              f"{dict(with_retry)} ({retried} certification conflicts retried); read-modify-write in "
              f"transaction(retries=20): {dict(rmw)}, {deadlocks['DEADLOCK']} conflicts retried, "
              f"{ok_rmw} committed, counter moved {landed} ({ok_rmw - landed} updates lost)")
        assert landed <= ok_rmw
    finally:
        for orm in plain + retrying:
            await orm.close()


async def test_a_node_without_quorum_is_a_retryable_connection_error(nodes: list[str]) -> None:
    env = component("galera")
    node = env["FARMORM_GALERA_URLS"].split(",")[2]
    orm = await create_orm(schema, nodes[2])
    patient = await create_orm(schema, nodes[2], write_retries=60)
    await orm.counter.create(data={"name": "before"})
    await _sql(node, "SET GLOBAL wsrep_provider_options='gmcast.isolate=1'")
    isolated = True
    try:
        deadline = time.monotonic() + 30
        while True:  # the node notices it lost the others (evs suspect timeout, ~5 s)
            try:
                await orm.counter.count()
            except OrmError as exc:
                err = exc
                break
            assert time.monotonic() < deadline, "the isolated node kept serving"
            await asyncio.sleep(0.3)
        assert err.code == "CONNECTION_ERROR" and err.retryable, err
        assert err.meta["reason"] == "wsrep_not_ready" and err.meta["original_code"] == 1047
        assert "WSREP" in err.message
        # a write with write_retries waits it out: it succeeds once the node has rejoined
        pending = asyncio.create_task(patient.counter.create(data={"name": "after-rejoin"}))
        await asyncio.sleep(1.0)
        assert not pending.done()
        await _sql(node, "SET GLOBAL wsrep_provider_options='gmcast.isolate=0'")
        isolated = False
        created = await asyncio.wait_for(pending, 60)
        assert created["name"] == "after-rejoin"
    finally:
        if isolated:
            await _sql(node, "SET GLOBAL wsrep_provider_options='gmcast.isolate=0'")
        deadline = time.monotonic() + 60
        while (await _sql(node, "SHOW STATUS LIKE 'wsrep_ready'"))[0][1] != "ON" and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        await orm.close()
        await patient.close()

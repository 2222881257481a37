"""Read replicas that really replicate: a PostgreSQL streaming standby and a MariaDB GTID replica,
both started by scripts/scale_out.sh (never the shared servers).

Figures for docs/scaling-out.md: stale reads after a write in the same context with replay paused
(0 with read-your-writes, every one without), reads served while the replica is down.
"""

from __future__ import annotations

import asyncio
import contextvars
import secrets
import time
from typing import Any, AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from farmorm import OrmError, ReplicaPolicy, create_orm, define_schema, model
from farmorm import fields as f
from farmorm.setup import push_schema

from .conftest import component, pg_ctl

schema = define_schema(
    note=model(table="notes", fields={"id": f.id(), "body": f.string().unique(), "n": f.integer().default(0)}),
)
N = 300


def _db(url: str, name: str, scheme: str | None = None) -> str:
    parts = urlsplit(url)
    return urlunsplit((scheme or parts.scheme, parts.netloc, "/" + name, "", ""))


@pytest.fixture
async def pg_pair() -> AsyncIterator[dict[str, str]]:
    """A fresh database on the harness's primary (the standby replays its creation)."""
    env = component("standby")
    name = f"so_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(env["FARMORM_PG_PRIMARY_URL"])
    await admin.execute(f'CREATE DATABASE "{name}"')
    primary, standby = _db(env["FARMORM_PG_PRIMARY_URL"], name), _db(env["FARMORM_PG_STANDBY_URL"], name)
    try:
        await push_schema(schema, primary)
        await _wait_replayed(primary, standby)
        yield {"primary": primary, "standby": standby, "standby_data": env["FARMORM_PG_STANDBY_DATA"]}
    finally:
        await _resume(standby)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _wait_replayed(primary: str, standby: str, timeout: float = 30) -> None:
    p = await asyncpg.connect(primary)
    try:
        target = await p.fetchval("SELECT pg_current_wal_insert_lsn()")
    finally:
        await p.close()
    deadline = time.monotonic() + timeout
    while True:
        try:
            s = await asyncpg.connect(standby)
            try:
                if await s.fetchval("SELECT pg_last_wal_replay_lsn() >= $1", target):
                    return
            finally:
                await s.close()
        except (OSError, asyncpg.PostgresError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("the standby did not catch up")
        await asyncio.sleep(0.05)


async def _pause(standby: str) -> None:
    s = await asyncpg.connect(standby)
    try:
        await s.execute("SELECT pg_wal_replay_pause()")
    finally:
        await s.close()


async def _resume(standby: str) -> None:
    try:
        s = await asyncpg.connect(standby)
    except (OSError, asyncpg.PostgresError):
        return
    try:
        await s.execute("SELECT pg_wal_replay_resume()")
    finally:
        await s.close()


async def _stale_reads(orm: Any, tag: str) -> int:
    """Write, then read it back at once, in the same context, ``N`` times: how many reads missed it."""
    stale = 0
    for i in range(N):
        await orm.note.create(data={"body": f"{tag}-{i}"})
        if await orm.note.find_unique(where={"body": f"{tag}-{i}"}) is None:
            stale += 1
    return stale


@pytest.mark.parametrize("scheme", ["postgresql", "postgresql+psycopg"])
async def test_read_your_writes_with_replay_paused(pg_pair: dict[str, str], scheme: str) -> None:
    primary, standby = _db(pg_pair["primary"], "", scheme), pg_pair["standby"]
    primary = primary[:-1] + urlsplit(pg_pair["primary"]).path
    standby_url = primary.replace(urlsplit(primary).netloc, urlsplit(standby).netloc)
    await _pause(standby)
    orm = await create_orm(schema, primary, replicas=[standby_url])
    blind = await create_orm(schema, primary, replicas=[standby_url],
                             replica_policy=ReplicaPolicy(read_your_writes=False))
    try:
        assert await _stale_reads(orm, "ryw") == 0
        reads = orm.replica_status()["reads"]
        assert reads["primary_read_your_writes"] == N and reads["replica"] == 0
        # a committed transaction counts as a write too
        await orm.transaction(lambda tx: tx.note.create(data={"body": "in-tx"}))
        assert await orm.note.find_unique(where={"body": "in-tx"}) is not None
        # without read-your-writes every read right after its write misses it (replay is paused)
        stale_without = await _stale_reads(blind, "blind")
        print(f"{scheme}: stale reads with replay paused: {N} writes, 0 stale with read_your_writes, "
              f"{stale_without} without")
        assert stale_without == N
        assert blind.replica_status()["reads"]["replica"] == N
        # a context that wrote nothing (another request) reads the lagging replica, as routed
        assert await asyncio.create_task(orm.note.count(), context=contextvars.Context()) == 0
    finally:
        await _resume(standby)
        await orm.close()
        await blind.close()


async def test_reads_go_back_to_the_replica_once_it_has_replayed_the_write(pg_pair: dict[str, str]) -> None:
    orm = await create_orm(schema, pg_pair["primary"], replicas=[pg_pair["standby"]])
    try:
        await orm.note.create(data={"body": "x"})
        await _wait_replayed(pg_pair["primary"], pg_pair["standby"])
        assert await orm.note.find_unique(where={"body": "x"}) is not None
        assert await orm.note.count() == 1
        reads = orm.replica_status()["reads"]
        assert reads["replica"] == 2 and reads["primary_read_your_writes"] == 0, reads
    finally:
        await orm.close()


async def test_max_lag_keeps_reads_off_a_replica_that_is_behind(pg_pair: dict[str, str]) -> None:
    policy = ReplicaPolicy(max_lag=0.5, lag_check_interval=0, read_your_writes=False)
    orm = await create_orm(schema, pg_pair["primary"], replicas=[pg_pair["standby"]], replica_policy=policy)
    try:
        await _pause(pg_pair["standby"])
        await orm.note.create(data={"body": "behind"})
        await asyncio.sleep(1.0)
        assert await orm.note.find_unique(where={"body": "behind"}) is not None  # served by the primary
        status = orm.replica_status()
        assert status["replicas"][0]["lag"] > 0.5 and status["reads"]["primary_fallback"] == 1
        await _resume(pg_pair["standby"])
        await _wait_replayed(pg_pair["primary"], pg_pair["standby"])
        assert await orm.note.find_unique(where={"body": "behind"}) is not None
        assert orm.replica_status()["reads"]["replica"] == 1
    finally:
        await _resume(pg_pair["standby"])
        await orm.close()


async def test_reads_are_served_while_the_replica_is_down(pg_pair: dict[str, str]) -> None:
    data = pg_pair["standby_data"]
    policy = ReplicaPolicy(retry_after=0.2, retry_after_max=0.5, read_your_writes=False)
    up = await create_orm(schema, pg_pair["primary"], replicas=[pg_pair["standby"]], replica_policy=policy)
    strict = None
    pg_ctl(data, "stop", "-m", "fast", "-w")
    try:
        # start-up with the replica down succeeds
        down = await create_orm(schema, pg_pair["primary"], replicas=[pg_pair["standby"]], replica_policy=policy)
        strict = await create_orm(schema, pg_pair["primary"], replicas=[pg_pair["standby"]],
                                  replica_policy=ReplicaPolicy(fallback=False))
        await up.note.create(data={"body": "while-down"})
        served = 0
        for orm in (up, down):
            for _ in range(20):
                assert await orm.note.find_unique(where={"body": "while-down"}) is not None
                served += 1
            status = orm.replica_status()
            assert status["reads"]["primary_fallback"] == 20, status
            assert status["replicas"][0]["failures"] >= 1 and status["replicas"][0]["last_error"]
        print(f"reads served while the replica was down: {served} of {served}")
        with pytest.raises(OrmError) as caught:
            await strict.note.count()
        assert caught.value.code == "CONNECTION_ERROR" and caught.value.meta["reason"] == "no_replica"
    finally:
        pg_ctl(data, "start", "-w", "-l", f"{data}/server.log")
    await _wait_replayed(pg_pair["primary"], pg_pair["standby"])
    try:
        for orm in (up, down):
            before = orm.replica_status()["reads"]["replica"]
            deadline = time.monotonic() + 15
            while orm.replica_status()["reads"]["replica"] == before:  # back-off over: tried again
                assert time.monotonic() < deadline, orm.replica_status()
                assert await orm.note.find_unique(where={"body": "while-down"}) is not None
                await asyncio.sleep(0.1)
            assert orm.replica_status()["replicas"][0]["healthy"]
    finally:
        await up.close()
        await down.close()
        if strict is not None:
            await strict.close()


async def test_a_recovery_conflict_is_a_retryable_conflict(pg_pair: dict[str, str]) -> None:
    """The standby ends a read whose snapshot blocks WAL replay (max_standby_streaming_delay=1s)."""
    url = pg_pair["primary"].replace("postgresql://", "postgresql+psycopg://")
    orm = await create_orm(schema, url, replicas=[pg_pair["standby"].replace("postgresql://", "postgresql+psycopg://")],
                           replica_policy=ReplicaPolicy(read_your_writes=False))
    primary = await asyncpg.connect(pg_pair["primary"])
    try:
        await orm.note.create_many(data=[{"body": f"c{i}"} for i in range(20)])
        await _wait_replayed(pg_pair["primary"], pg_pair["standby"])
        with pytest.raises(OrmError) as caught:
            async with orm.note.stream(batch_size=1) as rows:
                async for _ in rows:
                    await primary.execute("DELETE FROM notes")
                    await primary.execute("VACUUM notes")
                    await asyncio.sleep(3)
        err = caught.value
        assert err.code == "TRANSACTION_CONFLICT" and err.retryable, err
        assert err.meta["reason"] == "recovery_conflict" and "conflict with recovery" in err.message
    finally:
        await primary.close()
        await orm.close()


# -- MariaDB: a GTID replica of the harness's own primary ----------------------------------------

@pytest.fixture
async def mariadb_pair() -> AsyncIterator[dict[str, str]]:
    import aiomysql

    env = component("mariadb-replica")
    name = f"so_{secrets.token_hex(4)}"
    p = urlsplit(env["FARMORM_MARIADB_PRIMARY_URL"])
    admin = await aiomysql.connect(host=p.hostname, port=p.port, user="root", autocommit=True)
    async with admin.cursor() as cur:
        await cur.execute(f"CREATE DATABASE `{name}`")
    primary, replica = _db(env["FARMORM_MARIADB_PRIMARY_URL"], name), _db(env["FARMORM_MARIADB_REPLICA_URL"], name)
    try:
        await push_schema(schema, primary)
        yield {"primary": primary, "replica": replica}
    finally:
        await _replica_sql(replica, "START SLAVE SQL_THREAD")
        async with admin.cursor() as cur:
            await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


async def _replica_sql(url: str, sql: str) -> None:
    import aiomysql

    r = urlsplit(url)
    conn = await aiomysql.connect(host=r.hostname, port=r.port, user="root", autocommit=True)
    try:
        async with conn.cursor() as cur:
            await cur.execute(sql)
    finally:
        conn.close()


async def test_mariadb_read_your_writes_by_gtid(mariadb_pair: dict[str, str]) -> None:
    primary, replica = mariadb_pair["primary"], mariadb_pair["replica"]
    orm = await create_orm(schema, primary, replicas=[replica])
    blind = await create_orm(schema, primary, replicas=[replica], replica_policy=ReplicaPolicy(read_your_writes=False))
    try:
        await orm.note.create(data={"body": "warm"})
        deadline = time.monotonic() + 15
        while orm.replica_status()["reads"]["replica"] == 0:  # the replica applies it, then serves
            assert time.monotonic() < deadline
            await orm.note.count()
            await asyncio.sleep(0.05)
        await _replica_sql(replica, "STOP SLAVE SQL_THREAD")  # the replica receives, applies nothing
        assert await _stale_reads(orm, "ryw") == 0
        stale_without = await _stale_reads(blind, "blind")
        print(f"mariadb: stale reads with the replica's SQL thread stopped: {N} writes, 0 stale with "
              f"read_your_writes, {stale_without} without")
        assert stale_without == N
        assert orm.replica_status()["reads"]["primary_read_your_writes"] >= N
        await _replica_sql(replica, "START SLAVE SQL_THREAD")
        deadline = time.monotonic() + 15
        before = orm.replica_status()["reads"]["replica"]
        while orm.replica_status()["reads"]["replica"] == before:  # caught up: back on the replica
            assert time.monotonic() < deadline, orm.replica_status()
            assert await orm.note.find_unique(where={"body": f"ryw-{N - 1}"}) is not None
            await asyncio.sleep(0.05)
    finally:
        await orm.close()
        await blind.close()

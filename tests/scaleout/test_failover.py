"""Failover: the primary dies mid-load, the standby is promoted, writes resume without rebuilding
the ORM (a multi-host URL with ``target_session_attrs=read-write``), or after ``orm.reconnect(url)``.

Each test gets its own primary + standby (``scripts/scale_out.sh pg-pair failover sync``: synchronous
replication, so a commit is acknowledged only once the standby has it), and throws it away.
Figures for docs/scaling-out.md: acknowledged writes, lost writes (must be 0), how in-flight
operations ended.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import time
from typing import Any, Iterator
from urllib.parse import urlsplit

import asyncpg
import pytest

from farmorm import OrmError, create_orm, define_schema, model
from farmorm import fields as f
from farmorm.setup import push_schema

from .conftest import component, harness, load_env, pg_ctl

schema = define_schema(note=model(table="notes", fields={"id": f.id(), "body": f.string().unique()}))
IN_FLIGHT = {"CONNECTION_ERROR", "COMMIT_UNKNOWN"}


@pytest.fixture
def pair() -> Iterator[dict[str, str]]:
    component("standby")  # the harness is there; this test makes a pair of its own
    harness("pg-pair", "failover", "sync")
    env = load_env()
    try:
        yield {"primary": env["FARMORM_FAILOVER_PRIMARY_URL"], "standby": env["FARMORM_FAILOVER_STANDBY_URL"],
               "primary_data": env["FARMORM_FAILOVER_PRIMARY_DATA"], "standby_data": env["FARMORM_FAILOVER_STANDBY_DATA"]}
    finally:
        harness("drop-pg-pair", "failover")


def _multi_host(pair: dict[str, str], scheme: str) -> str:
    p, s = urlsplit(pair["primary"]), urlsplit(pair["standby"])
    return f"{scheme}://postgres@{p.hostname}:{p.port},{s.hostname}:{s.port}/postgres?target_session_attrs=read-write"


class Writers:
    """Tasks writing unique rows until told to stop: what was acknowledged, what ended how."""

    def __init__(self, orm: Any, tag: str) -> None:
        self.orm = orm
        self.tag = tag
        self.acked: set[str] = set()
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.stop = False
        self.first_ok_after: float | None = None
        self.mark: float | None = None
        self._ids = itertools.count()

    async def run(self, w: int) -> None:
        while not self.stop:
            body = f"{self.tag}-{w}-{next(self._ids)}"
            try:
                if w % 2:
                    await self.orm.note.create(data={"body": body})
                else:  # a transaction: two rows, all or nothing
                    async def two(tx: Any, body: str = body) -> None:
                        await tx.note.create(data={"body": body})
                        await tx.note.create(data={"body": body + "-b"})
                    await self.orm.transaction(two, retries=2)
                    self.acked.add(body + "-b")
                self.acked.add(body)
                self.outcomes["ok"] += 1
                if self.mark is not None and self.first_ok_after is None:
                    self.first_ok_after = time.monotonic() - self.mark
            except OrmError as exc:
                self.outcomes[exc.code] += 1
                await asyncio.sleep(0.02)
            except Exception as exc:  # noqa: BLE001 - an unmapped native error is a finding
                self.outcomes[type(exc).__name__] += 1
                await asyncio.sleep(0.02)


class CountingPool:
    """The driver's pool, recording each connection handed back while it was not out: a release
    of a connection the pool already holds (no acquire since its last release) is a double release.
    The same connection object may legitimately come out again (a pool reuses one it thinks is
    healthy), so identity alone proves nothing; what was acquired and not yet released does."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.out: list[Any] = []
        self.released: list[Any] = []
        self.twice: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pool, name)

    async def acquire(self, *args: Any, **kwargs: Any) -> Any:
        conn = await self.pool.acquire(*args, **kwargs)
        self.out.append(_driver_connection(conn))
        return conn

    async def release(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        raw = _driver_connection(conn)
        self.released.append(raw)
        if any(c is raw for c in self.out):
            self.out.remove(next(c for c in self.out if c is raw))
        else:
            self.twice.append(raw)
        return await self.pool.release(conn, *args, **kwargs)


async def _works_again(orm: Any, seconds: float = 120.0) -> None:
    """The client answers again once the server is back: psycopg's pool reconnects in the
    background with a growing back-off, so the first calls after a restart may still time out."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            assert await orm.note.count() == 0
            return
        except OrmError as exc:
            if exc.code != "CONNECTION_ERROR" or time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)


def _driver_connection(conn: Any) -> Any:
    """The library's connection behind farmorm's psycopg wrapper (asyncpg's is the connection)."""
    return getattr(conn, "raw", conn)


async def _bodies(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        return {r["body"] for r in await conn.fetch("SELECT body FROM notes")}
    finally:
        await conn.close()


@pytest.mark.parametrize("scheme", ["postgresql", "postgresql+psycopg"])
async def test_writes_resume_after_failover_and_no_acknowledged_write_is_lost(pair: dict[str, str], scheme: str) -> None:
    await push_schema(schema, pair["primary"])
    orm = await create_orm(schema, _multi_host(pair, scheme), max_size=10, acquire_timeout=10)
    # a client on the old primary's address only: re-pointed with orm.reconnect(url) afterwards
    single = await create_orm(schema, pair["primary"].replace("postgresql://", f"{scheme}://"), timeout=3,
                              acquire_timeout=5)  # a dead server fails fast (psycopg's pool waits 30 s by default)
    writers = Writers(orm, "multi")
    tasks = [asyncio.create_task(writers.run(w)) for w in range(10)]
    try:
        await asyncio.sleep(1.0)
        for _ in range(3):
            await single.note.count()  # idle pooled connections to the old primary
        before = writers.outcomes["ok"]
        pg_ctl(pair["primary_data"], "stop", "-m", "immediate", "-w")  # a crash, not a clean shutdown
        pg_ctl(pair["standby_data"], "promote", "-w")
        writers.mark = time.monotonic()
        deadline = time.monotonic() + 60
        while writers.outcomes["ok"] < before + 100:  # writes resume on the promoted standby
            assert time.monotonic() < deadline, writers.outcomes
            await asyncio.sleep(0.1)
    finally:
        writers.stop = True
        await asyncio.gather(*tasks)
    try:
        unexpected = {code for code in writers.outcomes if code != "ok" and code not in IN_FLIGHT}
        assert not unexpected, writers.outcomes
        on_new_primary = await _bodies(pair["standby"])
        lost = writers.acked - on_new_primary
        print(f"failover {scheme}: {len(writers.acked)} acknowledged writes, {len(lost)} lost, outcomes "
              f"{dict(writers.outcomes)}, first write on the new primary {writers.first_ok_after:.2f}s after promote")
        assert not lost

        # the single-host client: its reads and writes fail with CONNECTION_ERROR, never a wrong result
        with pytest.raises(OrmError) as caught:
            await single.note.count()
        assert caught.value.code == "CONNECTION_ERROR"
        with pytest.raises(OrmError) as caught:
            await single.note.create(data={"body": "nowhere"})
        assert caught.value.code == "CONNECTION_ERROR"
        await single.reconnect(pair["standby"].replace("postgresql://", f"{scheme}://"))
        await single.note.create(data={"body": "after-reconnect"})
        assert await single.note.find_unique(where={"body": "after-reconnect"}) is not None
    finally:
        await orm.close()
        await single.close()


async def test_a_dead_connection_is_handed_back_once_when_no_other_can_be_had(pair: dict[str, str]) -> None:
    """The stale-read retry releases the dead connection and asks for another; with the server
    down that fails, and the dead one must not be released a second time (asyncpg and psycopg)."""
    await push_schema(schema, pair["primary"])
    for scheme in ("postgresql", "postgresql+psycopg"):
        orm = await create_orm(schema, pair["primary"].replace("postgresql://", f"{scheme}://"))
        pool = orm._driver.target
        counting = CountingPool(pool)
        orm._driver.target = counting
        try:
            assert await orm.note.count() == 0  # one idle pooled connection now
            pg_ctl(pair["primary_data"], "stop", "-m", "immediate", "-w")
            try:
                with pytest.raises(OrmError) as caught:
                    await orm.note.count()
                assert caught.value.code == "CONNECTION_ERROR"
            finally:
                pg_ctl(pair["primary_data"], "start", "-w", "-l", f"{pair['primary_data']}/server.log")
            assert counting.released, f"{scheme}: the dead connection was never handed back"
            assert not counting.twice, f"{scheme}: a connection was released twice"
            await _works_again(orm)  # the pool works again
        finally:
            orm._driver.target = pool
            await orm.close()

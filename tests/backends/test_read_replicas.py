"""Read replicas: ``create_orm(schema, primary, replicas=[...])`` on two real PostgreSQL databases.

The "replica" is a second, independent database with the same schema (no replication), so a row
written straight into it, behind the ORM's back, is visible only to reads the ORM routes there.
That proves the routing: reads outside a transaction go to the replica; writes, every statement
inside a transaction and reads through ``orm.primary()`` go to the primary. Read-your-writes is
off here (``ROUTING_ONLY``): an independent database has no WAL position to compare, so after a
write the context would stay on the primary for the sticky window. tests/scaleout/test_replicas.py
runs replicas that really replicate.
"""

from __future__ import annotations

from typing import AsyncIterator

import asyncpg
import pytest

from farmorm import QueryEvent, ReplicaPolicy, create_orm, define_schema, model
from farmorm import fields as f
from farmorm.setup import push_schema
from farmorm.testing.databases import TestDatabase

ROUTING_ONLY = ReplicaPolicy(read_your_writes=False)

schema = define_schema(
    note=model(table="notes", fields={"id": f.id(), "body": f.string().unique()}),
)


@pytest.fixture
async def two_dbs(postgres: None) -> AsyncIterator[tuple[str, str]]:
    primary, replica = TestDatabase("postgres"), TestDatabase("postgres")
    await primary.create()
    try:
        await replica.create()
        try:
            yield primary.url, replica.url
        finally:
            await replica.drop()
    finally:
        await primary.drop()


async def _insert_directly(url: str, body: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("INSERT INTO notes (id, body) VALUES ($1, $2)", f"direct-{body}", body)
    finally:
        await conn.close()


async def _bodies(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [r["body"] for r in await conn.fetch("SELECT body FROM notes ORDER BY body")]
    finally:
        await conn.close()


async def test_reads_go_to_the_replica_and_transactions_to_the_primary(two_dbs: tuple[str, str]) -> None:
    primary_url, replica_url = two_dbs
    for url in two_dbs:
        await push_schema(schema, url)
    await _insert_directly(replica_url, "only-on-replica")

    orm = await create_orm(schema, primary_url, replicas=[replica_url], replica_policy=ROUTING_ONLY)
    try:
        # a write lands on the primary only
        await orm.note.create(data={"body": "written-through-orm"})
        assert await _bodies(primary_url) == ["written-through-orm"]
        assert await _bodies(replica_url) == ["only-on-replica"]

        # reads outside a transaction see the replica's rows, every read method alike
        assert [n["body"] for n in await orm.note.find_many()] == ["only-on-replica"]
        assert await orm.note.count() == 1
        assert (await orm.note.find_unique(where={"body": "only-on-replica"})) is not None
        assert (await orm.note.find_unique(where={"body": "written-through-orm"})) is None
        assert (await orm.note.find_first(where={"body": "only-on-replica"})) is not None

        # inside a transaction every read is on the primary, on the transaction's connection
        async with orm.transaction() as tx:
            assert [n["body"] for n in await tx.note.find_many()] == ["written-through-orm"]
            assert await tx.note.find_unique(where={"body": "only-on-replica"}) is None
        assert await orm.transaction(lambda tx: tx.note.count(where={"body": "written-through-orm"})) == 1

        # the escape hatch: orm.primary() reads from the primary outside a transaction
        pinned = orm.primary()
        assert [n["body"] for n in await pinned.note.find_many()] == ["written-through-orm"]
        assert await pinned.note.count(where={"body": "only-on-replica"}) == 0
        assert pinned.driver is orm.driver

        # update/delete by a where clause run on the primary too (the replica row is untouched)
        assert await orm.note.update_many(where={"body": {"starts_with": ""}}, data={"body": "renamed"}) == 1
        assert await _bodies(primary_url) == ["renamed"]
        assert await _bodies(replica_url) == ["only-on-replica"]
    finally:
        await orm.close()


async def test_replicas_take_turns_and_share_query_events(two_dbs: tuple[str, str], postgres: None) -> None:
    """Two replicas are used round robin; on_query sees statements from every server."""
    primary_url, replica_url = two_dbs
    third = TestDatabase("postgres")
    await third.create()
    try:
        for url in (*two_dbs, third.url):
            await push_schema(schema, url)
        await _insert_directly(replica_url, "from-replica-1")
        await _insert_directly(third.url, "from-replica-2")
        orm = await create_orm(schema, primary_url, replicas=[replica_url, third.url], replica_policy=ROUTING_ONLY)
        try:
            events: list[QueryEvent] = []
            stop = orm.on_query(events.append)
            seen = [(await orm.note.find_many())[0]["body"] for _ in range(4)]
            stop()
            assert seen == ["from-replica-1", "from-replica-2", "from-replica-1", "from-replica-2"]
            assert [e.operation for e in events] == ["SELECT"] * 4
        finally:
            await orm.close()
    finally:
        await third.drop()


async def test_a_replica_of_another_runtime_is_refused(two_dbs: tuple[str, str]) -> None:
    with pytest.raises(ValueError, match="must use the primary's runtime"):
        await create_orm(schema, two_dbs[0], replicas=["sqlite:///:memory:"])
    with pytest.raises(TypeError, match="list of clients"):
        await create_orm(schema, two_dbs[0], replicas=two_dbs[1])  # type: ignore[arg-type]

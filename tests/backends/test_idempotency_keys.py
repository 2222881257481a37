"""Idempotency keys racing for real on PostgreSQL and MariaDB, step by step.

Session A reserves a key and holds its transaction open; session B reserves the same key and must
wait on the unique index. The test observes B *waiting on a lock* in the server's own views
(pg_stat_activity / information_schema.innodb_trx), then lets A commit (B replays A's result) or
roll back (B takes the key). No sleeps decide anything: waits poll for a condition under a cap.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest

from farmorm import create_orm, define_schema, model, fields as f
from farmorm.setup import push_schema
from farmorm.testing.databases import TestDatabase, _mysql_args

from .conftest import require

schema = define_schema(
    payment=model(table="payments", fields={"id": f.id(), "amount": f.integer()}),
    idempotency=True,
)


class Boom(Exception):
    pass


@pytest.fixture
async def db(request: pytest.FixtureRequest):
    require(request.param)
    database = TestDatabase(request.param)
    await database.create()
    yield database
    await database.drop()


async def lock_waiters(database: TestDatabase) -> int:
    """How many sessions of this test's database are waiting for a row/index lock right now."""
    if database.backend == "postgres":
        import asyncpg

        conn = await asyncpg.connect(database.url)
        try:
            return int(await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"))
        finally:
            await conn.close()
    import aiomysql

    conn = await aiomysql.connect(**_mysql_args(database.url))
    try:
        async with conn.cursor() as cur:
            # a session of this database inside the reservation INSERT (an uncontended INSERT is never
            # caught in flight for long; information_schema.innodb_trx alone proved unreliable on
            # MariaDB under load), one InnoDB reports in LOCK WAIT, or one queued on the key's named
            # lock (GET_LOCK: processlist state "User lock"), where MySQL reservers wait
            await cur.execute(
                "SELECT COUNT(*) FROM information_schema.processlist p "
                "LEFT JOIN information_schema.innodb_trx t ON p.id = t.trx_mysql_thread_id "
                "WHERE p.db = %s AND p.id <> CONNECTION_ID() "
                "AND (t.trx_state = 'LOCK WAIT' OR p.info LIKE 'INSERT INTO `farmorm_idempotency`%%' "
                "OR p.state = 'User lock')",
                (urlsplit(database.url).path.lstrip("/"),))
            (count,) = await cur.fetchone()
            return int(count)
    finally:
        conn.close()


async def until_waiting(database: TestDatabase, task: asyncio.Task) -> None:
    for _ in range(1200):  # at most ~60 s
        if await lock_waiters(database) >= 1:
            return
        if task.done():
            import traceback

            exc = task.exception()
            raise AssertionError("the second reservation ended before it was seen waiting: "
                                 + ("".join(traceback.format_exception(exc)) if exc else repr(task.result())))
        await asyncio.sleep(0.05)
    raise AssertionError("the second reservation never waited on a lock")


async def second_request(orm) -> dict:
    async with orm.transaction() as tx:
        res = await tx.idempotency.reserve("order-42", "hash-1")
        if res.replayed:
            return {"replayed": True, "result": res.result}
        payment = await tx.payment.create(data={"amount": 2})
        await res.complete({"payment_id": payment["id"], "by": "b"})
        return {"replayed": False, "result": res.result}


@pytest.mark.parametrize("db", ["postgres", "mysql"], indirect=True)
@pytest.mark.parametrize("outcome", ["commit", "rollback"])
async def test_a_racing_reservation_waits_for_the_winner(db: TestDatabase, outcome: str) -> None:
    async with await create_orm(schema, db.url) as a, await create_orm(schema, db.url) as b:
        await push_schema(schema, a)
        task: asyncio.Task | None = None
        try:
            async with a.transaction() as tx:
                res = await tx.idempotency.reserve("order-42", "hash-1")
                assert res.replayed is False
                payment = await tx.payment.create(data={"amount": 1})
                task = asyncio.ensure_future(second_request(b))
                await until_waiting(db, task)  # B is blocked on A's uncommitted key
                assert not task.done()
                if outcome == "rollback":
                    raise Boom()
                await res.complete({"payment_id": payment["id"], "by": "a"})
        except Boom:
            pass
        assert task is not None
        got = await asyncio.wait_for(task, 60)
        payments = await a.payment.find_many()
        assert len(payments) == 1
        if outcome == "commit":  # B replays A's committed result, and pays nothing
            assert got == {"replayed": True, "result": {"payment_id": payment["id"], "by": "a"}}
        else:  # A rolled back: B's insert went through and B did the work
            assert got["replayed"] is False and got["result"]["by"] == "b"
            assert payments[0]["amount"] == 2
        row = await a.farmorm_idempotency.find_unique(where={"key": "order-42"})
        assert row["status"] == "completed" and row["result"] == got["result"]


async def request(orm, key: str, who: int) -> dict:
    async with orm.transaction() as tx:
        res = await tx.idempotency.reserve(key, "hash-1")
        if res.replayed:
            return {"replayed": True, "result": res.result}
        payment = await tx.payment.create(data={"amount": who})
        await asyncio.sleep(0.05)  # hold the key while the others pile up on it
        await res.complete({"payment_id": payment["id"], "by": who})
        return {"replayed": False, "result": res.result}


@pytest.mark.parametrize("db", ["postgres", "mysql"], indirect=True)
async def test_five_concurrent_requests_with_one_key_wait_and_replay(db: TestDatabase) -> None:
    # issue 15.6: on MariaDB the losers (each holding InnoDB's shared lock from the duplicate-key
    # check) asked for FOR UPDATE on the winner's row: 1-3 of 5 ended in DEADLOCK without retries=
    async with await create_orm(schema, db.url, max_size=5) if db.backend == "postgres" \
            else await create_orm(schema, db.url + "?maxsize=5") as orm:
        await push_schema(schema, orm)
        for round_ in range(6):
            key = f"order-{round_}"
            got = await asyncio.wait_for(
                asyncio.gather(*(request(orm, key, who) for who in range(5)), return_exceptions=True), 60)
            errors = [g for g in got if isinstance(g, BaseException)]
            assert not errors, f"round {round_}: {[getattr(e, 'code', repr(e)) for e in errors]}"
            winners = [g for g in got if not g["replayed"]]
            assert len(winners) == 1, got
            assert all(g["result"] == winners[0]["result"] for g in got)  # the others replayed it
        assert await orm.payment.count() == 6


@pytest.mark.parametrize("db", ["postgres", "mysql"], indirect=True)
async def test_when_the_winner_rolls_back_one_waiter_takes_the_key_and_the_rest_replay(db: TestDatabase) -> None:
    # the documented rule, which InnoDB broke: when the winner rolled back, the waiters' shared
    # locks on its (now gone) index entry turned into gap locks and their inserts deadlocked
    async with await create_orm(schema, db.url, max_size=5) if db.backend == "postgres" \
            else await create_orm(schema, db.url + "?maxsize=5") as orm:
        await push_schema(schema, orm)
        for round_ in range(5):
            key = f"order-{round_}"
            first_winner: list[int] = []

            async def attempt(who: int) -> str:
                async with orm.transaction() as tx:
                    res = await tx.idempotency.reserve(key, "hash-1")
                    if res.replayed:
                        return "replayed"
                    await tx.payment.create(data={"amount": who})
                    await asyncio.sleep(0.05)
                    if not first_winner:
                        first_winner.append(who)
                        raise Boom()  # the first request to hold the key fails and rolls back
                    await res.complete({"by": who})
                    return "won"

            got = await asyncio.wait_for(
                asyncio.gather(*(attempt(who) for who in range(5)), return_exceptions=True), 60)
            outcomes = sorted(g if isinstance(g, str) else getattr(g, "code", type(g).__name__) for g in got)
            assert outcomes == ["Boom", "replayed", "replayed", "replayed", "won"], f"round {round_}: {outcomes}"
        assert await orm.payment.count() == 5

"""One transaction (or savepoint) shared by several tasks: operations take turns on its
connection, and a savepoint's own tasks are not locked out by the savepoint itself."""

from __future__ import annotations

import asyncio

import pytest

from farmorm.runtime import engine_of

from tests.conformance.auth import ADA_EMAIL
from tests.conformance.test_transactions import SEEDED, emails, new_user, require_transactions


async def test_tasks_gathered_inside_a_transaction_all_run(auth_orm):
    async with auth_orm.transaction() as tx:
        made = await asyncio.wait_for(
            asyncio.gather(*(tx.user.create(data=new_user(f"t{i}")) for i in range(4)), tx.user.count()), 30
        )
    assert len(made) == 5
    assert len(await emails(auth_orm)) == len(SEEDED) + 4


async def test_tasks_gathered_inside_a_savepoint_all_run(auth_orm):
    # the savepoint holds the outer transaction's turn for its whole body; the tasks it starts
    # take turns on the savepoint's own level (this waited forever when the level shared one gate)
    async with auth_orm.transaction() as tx:
        async with tx.transaction() as sp:
            made = await asyncio.wait_for(
                asyncio.gather(sp.user.create(data=new_user("a")), sp.user.create(data=new_user("b")),
                               sp.user.find_unique(where={"email": ADA_EMAIL})),
                30,
            )
            async with sp.transaction() as inner:  # and one level deeper
                await asyncio.wait_for(
                    asyncio.gather(inner.user.create(data=new_user("c")), inner.user.count()), 30
                )
    assert made[2]["email"] == ADA_EMAIL
    assert len(await emails(auth_orm)) == len(SEEDED) + 3


async def test_a_failed_savepoint_shared_by_tasks_rolls_back_only_its_level(auth_orm):
    from farmorm import errors

    require_transactions(auth_orm)
    async with auth_orm.transaction() as tx:
        await tx.user.create(data=new_user("kept"))
        try:
            async with tx.transaction() as sp:
                await asyncio.wait_for(
                    asyncio.gather(sp.user.create(data=new_user("gone1")), sp.user.create(data=new_user("gone2"))),
                    30,
                )
                await sp.user.create(data={"email": ADA_EMAIL, "name": "dup"})
        except errors.OrmError as err:
            assert err.code == "UNIQUE_CONSTRAINT_VIOLATION"
    got = await emails(auth_orm)
    assert "kept@example.com" in got
    assert "gone1@example.com" not in got and "gone2@example.com" not in got


async def test_a_savepoint_the_server_already_dropped_reports_the_blocks_own_error(auth_orm, backend):
    # InnoDB rolls a deadlock victim's whole transaction back, savepoints included; leaving the
    # savepoint block must then raise the block's error, not "SAVEPOINT ... does not exist"
    import pytest

    if backend == "mongo":
        pytest.skip("a SQL savepoint case")

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with auth_orm.transaction() as tx:
            async with tx.transaction() as sp:
                await sp.user.create(data=new_user("gone"))
                async with engine_of(sp).scope(write=True) as conn:
                    await conn.execute("ROLLBACK", (), "count")  # what the server does to a victim
                raise Boom()
    assert "gone@example.com" not in await emails(auth_orm)


# ------------------------------------------------------- the function form is a real coroutine


async def test_transaction_fn_runs_under_create_task_gather_and_wait_for(auth_orm):
    # issue 15.1: create_task() refused the awaitable Transaction object ("a coroutine was expected")
    async def add(name):
        async def work(tx):
            return await tx.user.create(data=new_user(name))

        return work

    pending = auth_orm.transaction(await add("task"))
    assert asyncio.iscoroutine(pending)
    made = await asyncio.wait_for(asyncio.create_task(pending), 30)
    gathered = await asyncio.wait_for(
        asyncio.gather(auth_orm.transaction(await add("g1")), auth_orm.transaction(await add("g2"))), 30)
    waited = await asyncio.wait_for(auth_orm.transaction(await add("w"), retries=2, isolation="read_committed"), 30)
    assert [made["name"], *(g["name"] for g in gathered), waited["name"]] == ["task", "g1", "g2", "w"]
    assert await emails(auth_orm) == sorted(SEEDED + [f"{n}@example.com" for n in ("task", "g1", "g2", "w")])


async def test_transaction_fn_arguments_are_checked_before_it_is_awaited(auth_orm):
    from farmorm import errors

    async def work(tx):
        return None

    with pytest.raises(errors.OrmError) as bad_retries:
        auth_orm.transaction(work, retries=-1)  # raises here, not when awaited
    assert bad_retries.value.code == "VALIDATION_ERROR"
    with pytest.raises(errors.OrmError) as bad_fn:
        auth_orm.transaction("not a function")
    assert bad_fn.value.code == "VALIDATION_ERROR"
    async with auth_orm.transaction() as tx:  # the block form is unchanged
        await tx.user.create(data=new_user("block"))
    assert "block@example.com" in await emails(auth_orm)


# ---------------------------------------------------- a task that outlives its transaction block


async def test_a_task_outliving_its_transaction_falls_back_to_the_root_scope(auth_orm):
    # issue 15.2: the task inherited the finished transaction through the contextvar and the ORM
    # client itself raised UNSUPPORTED ("run further queries on the ORM client, not on its tx")
    from farmorm import errors

    go = asyncio.Event()

    async def late():
        await go.wait()
        made = await auth_orm.user.create(data=new_user("late"))
        async with auth_orm.transaction() as own:  # a new transaction of its own, not a savepoint
            await own.user.update(where={"email": "late@example.com"}, data={"name": "later"})
        return made, await auth_orm.user.count()

    async with auth_orm.transaction() as tx:
        await tx.user.create(data=new_user("inside"))
        task = asyncio.create_task(late())
    go.set()
    made, count = await asyncio.wait_for(task, 30)
    assert made["email"] == "late@example.com" and count == len(SEEDED) + 2
    assert (await auth_orm.user.find_unique(where={"email": "late@example.com"}))["name"] == "later"
    with pytest.raises(errors.OrmError) as finished:  # the finished tx handle still refuses
        await tx.user.count()
    assert finished.value.code == "UNSUPPORTED"


async def test_a_task_outliving_a_savepoint_joins_the_enclosing_transaction(auth_orm):
    require_transactions(auth_orm)
    go = asyncio.Event()

    async def late():
        await go.wait()
        return await auth_orm.user.create(data=new_user("late"))

    class Undo(Exception):
        pass

    with pytest.raises(Undo):
        async with auth_orm.transaction() as tx:
            async with tx.transaction():
                task = asyncio.create_task(late())
            go.set()
            await asyncio.wait_for(task, 30)  # ran in the outer transaction...
            assert "late@example.com" in await emails(tx)
            raise Undo()
    assert await emails(auth_orm) == SEEDED  # ...so it was rolled back with it

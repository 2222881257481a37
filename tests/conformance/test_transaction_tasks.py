"""One transaction (or savepoint) shared by several tasks: operations take turns on its
connection, and a savepoint's own tasks are not locked out by the savepoint itself."""

from __future__ import annotations

import asyncio

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
                async with sp._scope(write=True) as conn:
                    await conn.execute("ROLLBACK", (), "count")  # what the server does to a victim
                raise Boom()
    assert "gone@example.com" not in await emails(auth_orm)

"""After-commit hooks: ``tx.on_commit(callback)`` runs after the outermost commit, never after a rollback."""

from __future__ import annotations

import logging

import pytest

from farmorm import QueryValidationError, define_schema, model, fields as f

schema = define_schema(item=model(table="items", fields={"id": f.id(), "name": f.string()}))


class Boom(Exception):
    pass


def transactional(orm) -> bool:
    return orm.driver.capabilities.supports_transactions


async def test_hooks_run_after_commit_in_order(make_orm) -> None:
    orm = await make_orm(schema)
    calls: list[str] = []

    async def async_hook() -> None:
        calls.append(f"async saw {await orm.item.count()}")

    async with orm.transaction() as tx:
        await tx.item.create(data={"name": "a"})
        tx.on_commit(lambda: calls.append("sync"))
        tx.on_commit(async_hook)
        assert calls == []
    assert calls == ["sync", "async saw 1"]

    async def work(tx):
        tx.on_commit(lambda: calls.append("fn"))
        return 7

    assert await orm.transaction(work) == 7
    assert calls[-1] == "fn"


async def test_hooks_never_run_after_rollback(make_orm) -> None:
    orm = await make_orm(schema)
    calls: list[str] = []
    with pytest.raises(Boom):
        async with orm.transaction() as tx:
            tx.on_commit(lambda: calls.append("outer"))
            raise Boom()
    assert calls == []


async def test_savepoint_hooks(make_orm) -> None:
    orm = await make_orm(schema)
    calls: list[str] = []
    async with orm.transaction() as tx:
        tx.on_commit(lambda: calls.append("outer"))
        async with tx.transaction() as inner:
            inner.on_commit(lambda: calls.append("released"))
        assert calls == []
        with pytest.raises(Boom):
            async with tx.transaction() as inner:
                inner.on_commit(lambda: calls.append("rolled back"))
                raise Boom()
        tx.on_commit(lambda: calls.append("last"))
    assert calls == ["outer", "released", "last"]


async def test_hook_failure_is_logged_not_raised(make_orm, caplog) -> None:
    orm = await make_orm(schema)
    calls: list[str] = []

    def bad() -> None:
        raise RuntimeError("mailer down")

    with caplog.at_level(logging.ERROR, logger="farmorm"):
        async with orm.transaction() as tx:
            await tx.item.create(data={"name": "kept"})
            tx.on_commit(bad)
            tx.on_commit(lambda: calls.append("after bad"))
    assert calls == ["after bad"]
    assert await orm.item.count() == 1
    assert any("on_commit hook failed" in r.getMessage() for r in caplog.records)


async def test_on_commit_outside_a_transaction(make_orm) -> None:
    orm = await make_orm(schema)
    with pytest.raises(QueryValidationError) as e:
        orm.on_commit(lambda: None)
    assert str(e.value) == "on_commit() needs a running transaction."
    assert e.value.code == "VALIDATION_ERROR"
    async with orm.transaction() as tx:
        pass
    with pytest.raises(QueryValidationError):
        tx.on_commit(lambda: None)  # finished


async def test_rollback_drops_hooks_and_data(make_orm) -> None:
    orm = await make_orm(schema)
    if not transactional(orm):
        pytest.skip("no transactions on this backend (mongomock)")
    calls: list[str] = []
    with pytest.raises(Boom):
        async with orm.transaction() as tx:
            await tx.item.create(data={"name": "gone"})
            tx.on_commit(lambda: calls.append("x"))
            raise Boom()
    assert calls == [] and await orm.item.count() == 0

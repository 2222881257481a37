"""After-commit hooks: ``tx.on_commit(callback)`` runs after the outermost commit, never after a rollback."""

from __future__ import annotations

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


async def test_a_failing_hook_is_raised_after_the_commit_and_the_others_still_run(make_orm) -> None:
    # issue 15.14: a failing hook was logged and swallowed, so the caller never knew
    from farmorm import errors

    orm = await make_orm(schema)
    calls: list[str] = []

    def bad() -> None:
        raise RuntimeError("mailer down")

    async def worse() -> None:
        raise ValueError("queue full")

    with pytest.raises(errors.CommitHookFailed) as info:
        async with orm.transaction() as tx:
            await tx.item.create(data={"name": "kept"})
            tx.on_commit(bad)
            tx.on_commit(lambda: calls.append("after bad"))
            tx.on_commit(worse)
    err = info.value
    assert calls == ["after bad"]  # every hook ran
    assert await orm.item.count() == 1  # committed
    assert err.code == "COMMIT_HOOK_FAILED" and err.retryable is False and err.meta["committed"] is True
    assert str(err).startswith("The transaction committed; then 2 of its 3 on_commit hook(s) failed")
    assert [type(e) for e in err.exceptions] == [RuntimeError, ValueError]
    assert isinstance(err.__cause__, ExceptionGroup) and list(err.__cause__.exceptions) == list(err.exceptions)


async def test_a_failing_hook_is_not_retried_and_keeps_the_result(make_orm) -> None:
    from farmorm import errors

    orm = await make_orm(schema)
    runs: list[int] = []

    async def body(tx):
        runs.append(1)
        tx.on_commit(lambda: 1 / 0)
        return await tx.item.create(data={"name": "once"})

    with pytest.raises(errors.CommitHookFailed) as info:
        await orm.transaction(body, retries=3)
    assert runs == [1]  # the data is committed: never re-run
    assert info.value.result["name"] == "once"
    assert await orm.item.count() == 1


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

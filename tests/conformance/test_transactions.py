"""Transactions: commit, rollback, async-with, savepoints, batch, retries, the shared driver handle."""

from __future__ import annotations

import pytest

from farmorm import errors
from tests.conformance.auth import ADA_EMAIL, cap, pluck


class Boom(Exception):
    pass


def require_transactions(orm):
    if not cap(orm, "supports_transactions"):
        pytest.skip("backend has no real transactions (capabilities.supports_transactions is False)")


async def emails(orm):
    return pluck(await orm.user.find_many(order_by={"email": "asc"}), "email")


def new_user(n):
    return {"email": f"{n}@example.com", "name": n}


SEEDED = ["ada@example.com", "grace@example.com"]


# --------------------------------------------------------------------------------- commit


async def test_transaction_commits_and_returns_the_result(auth_orm):
    async def work(tx):
        await tx.user.create(data=new_user("cy"))
        return await tx.user.count()

    assert await auth_orm.transaction(work) == 3
    assert await emails(auth_orm) == sorted(SEEDED + ["cy@example.com"])


async def test_transaction_returns_none_result(auth_orm):
    async def work(tx):
        await tx.user.update(where={"email": ADA_EMAIL}, data={"login_count": 9})

    assert await auth_orm.transaction(work) is None
    assert (await auth_orm.user.find_unique(where={"email": ADA_EMAIL}))["login_count"] == 9


async def test_async_with_form_commits(auth_orm):
    async with auth_orm.transaction() as tx:
        await tx.user.create(data=new_user("cy"))
        await tx.session.delete_many(where={"token": "session-1"})
    assert await emails(auth_orm) == sorted(SEEDED + ["cy@example.com"])
    assert await auth_orm.session.count() == 2


async def test_reads_inside_a_transaction_see_its_writes(auth_orm):
    async def work(tx):
        await tx.user.create(data=new_user("cy"))
        return await tx.user.find_unique(where={"email": "cy@example.com"})

    row = await auth_orm.transaction(work)
    assert row["name"] == "cy"


async def test_tx_driver_is_orm_driver(auth_orm):
    seen = []

    async def work(tx):
        seen.append(tx.driver)
        return tx.driver is auth_orm.driver

    assert await auth_orm.transaction(work) is True
    async with auth_orm.transaction() as tx:
        assert tx.driver is auth_orm.driver
    assert seen == [auth_orm.driver]


async def test_isolation_option_is_accepted(auth_orm):
    async def work(tx):
        return await tx.user.create(data=new_user("cy"))

    row = await auth_orm.transaction(work, isolation="serializable")
    assert row["email"] == "cy@example.com"
    assert await auth_orm.user.count() == 3


# ------------------------------------------------------------------------------- rollback


async def test_exception_rolls_back_and_is_re_raised(auth_orm):
    require_transactions(auth_orm)
    error = Boom("stop")

    async def work(tx):
        await tx.user.create(data=new_user("cy"))
        assert await tx.user.count() == 3
        raise error

    with pytest.raises(Boom) as info:
        await auth_orm.transaction(work)
    assert info.value is error
    assert await emails(auth_orm) == SEEDED


async def test_rollback_undoes_creates_updates_and_deletes(auth_orm):
    require_transactions(auth_orm)
    before_sessions = await auth_orm.session.find_many(order_by={"token": "asc"})

    async def work(tx):
        await tx.user.create_many(data=[new_user("cy"), new_user("di")])
        await tx.user.update_many(where={"tier": "free"}, data={"tier": "enterprise"})
        await tx.session.delete_many(where={"token": {"in": ["session-1", "session-3"]}})
        await tx.account.update(where={"provider": "github"}, data={"metadata": None})
        raise Boom()

    with pytest.raises(Boom):
        await auth_orm.transaction(work)
    assert await emails(auth_orm) == SEEDED
    assert await auth_orm.user.count(where={"tier": "enterprise"}) == 0
    assert await auth_orm.session.find_many(order_by={"token": "asc"}) == before_sessions
    assert await auth_orm.account.count(where={"metadata": None}) == 0


async def test_async_with_form_rolls_back_on_exception(auth_orm):
    require_transactions(auth_orm)
    with pytest.raises(Boom):
        async with auth_orm.transaction() as tx:
            await tx.user.create(data=new_user("cy"))
            raise Boom()
    assert await emails(auth_orm) == SEEDED


async def test_database_error_inside_transaction_rolls_back_earlier_writes(auth_orm):
    require_transactions(auth_orm)

    async def work(tx):
        await tx.user.create(data=new_user("cy"))
        await tx.user.create(data={"email": ADA_EMAIL, "name": "dup"})

    with pytest.raises(errors.UniqueConstraintViolation) as info:
        await auth_orm.transaction(work)
    assert info.value.code == "UNIQUE_CONSTRAINT_VIOLATION"
    assert await emails(auth_orm) == SEEDED


async def test_orm_is_usable_after_a_rollback(auth_orm):
    require_transactions(auth_orm)
    with pytest.raises(Boom):
        async with auth_orm.transaction() as tx:
            await tx.user.create(data=new_user("cy"))
            raise Boom()
    await auth_orm.user.create(data=new_user("di"))
    async with auth_orm.transaction() as tx:
        await tx.user.create(data=new_user("ed"))
    assert await emails(auth_orm) == ["ada@example.com", "di@example.com", "ed@example.com", "grace@example.com"]


# ------------------------------------------------------------------------------- savepoints


async def test_inner_failure_caught_by_outer_rolls_back_only_the_inner_part(auth_orm):
    require_transactions(auth_orm)

    async def inner(tx):
        await tx.user.create(data=new_user("inner"))
        raise Boom()

    async def outer(tx):
        await tx.user.create(data=new_user("before"))
        with pytest.raises(Boom):
            await tx.transaction(inner)
        await tx.user.create(data=new_user("after"))
        return await tx.user.count()

    assert await auth_orm.transaction(outer) == 4
    assert await emails(auth_orm) == ["ada@example.com", "after@example.com", "before@example.com",
                                      "grace@example.com"]


async def test_nested_success_commits_with_the_outer_transaction(auth_orm):
    async def inner(tx):
        return await tx.user.create(data=new_user("inner"))

    async def outer(tx):
        row = await tx.transaction(inner)
        await tx.user.create(data=new_user("outer"))
        return row["email"]

    assert await auth_orm.transaction(outer) == "inner@example.com"
    assert await auth_orm.user.count() == 4


async def test_outer_failure_rolls_back_a_committed_inner_savepoint(auth_orm):
    require_transactions(auth_orm)

    async def outer(tx):
        async with tx.transaction() as inner:
            await inner.user.create(data=new_user("inner"))
        raise Boom()

    with pytest.raises(Boom):
        await auth_orm.transaction(outer)
    assert await emails(auth_orm) == SEEDED


async def test_nested_async_with_savepoint(auth_orm):
    require_transactions(auth_orm)
    async with auth_orm.transaction() as tx:
        await tx.user.create(data=new_user("kept"))
        with pytest.raises(Boom):
            async with tx.transaction() as inner:
                await inner.user.create(data=new_user("dropped"))
                raise Boom()
        assert await tx.user.count(where={"email": "dropped@example.com"}) == 0
    assert await emails(auth_orm) == SEEDED + ["kept@example.com"]


async def test_three_levels_of_savepoints(auth_orm):
    require_transactions(auth_orm)
    async with auth_orm.transaction() as t1:
        await t1.user.create(data=new_user("l1"))
        async with t1.transaction() as t2:
            await t2.user.create(data=new_user("l2"))
            with pytest.raises(Boom):
                async with t2.transaction() as t3:
                    await t3.user.create(data=new_user("l3"))
                    raise Boom()
            await t2.user.create(data=new_user("l2b"))
    assert await emails(auth_orm) == ["ada@example.com", "grace@example.com", "l1@example.com",
                                      "l2@example.com", "l2b@example.com"]


# ------------------------------------------------------------------------------------ batch


async def test_batch_runs_in_order_and_returns_results(auth_orm):
    results = await auth_orm.batch([
        lambda tx: tx.user.create(data=new_user("cy")),
        lambda tx: tx.user.count(),
        lambda tx: tx.user.delete(where={"email": "cy@example.com"}),
        lambda tx: tx.user.count(),
    ])
    assert isinstance(results, list) and len(results) == 4
    assert results[0]["email"] == "cy@example.com"
    assert results[1:] == [3, 1, 2]


async def test_batch_is_one_transaction(auth_orm):
    require_transactions(auth_orm)

    async def fail(tx):
        raise Boom()

    with pytest.raises(Boom):
        await auth_orm.batch([
            lambda tx: tx.user.create(data=new_user("cy")),
            lambda tx: tx.session.delete_many(where={"token": {"starts_with": "session"}}),
            fail,
        ])
    assert await emails(auth_orm) == SEEDED
    assert await auth_orm.session.count() == 3


async def test_batch_tasks_share_the_driver_handle(auth_orm):
    async def check(tx):
        return tx.driver is auth_orm.driver

    assert await auth_orm.batch([check, check]) == [True, True]


# ------------------------------------------------------------------------------------ retries


def flaky(code, failures, calls, result="done"):
    async def fn(tx):
        calls.append(len(calls))
        if len(calls) <= failures:
            raise errors.make_error(code, "x")
        return result

    return fn


@pytest.mark.parametrize("code", ["TRANSACTION_CONFLICT", "DEADLOCK"])
async def test_retryable_errors_re_run_the_function(auth_orm, code):
    calls = []
    assert await auth_orm.transaction(flaky(code, 2, calls), retries=2) == "done"
    assert len(calls) == 3


async def test_retries_exhausted_raise_the_last_error(auth_orm):
    calls = []
    with pytest.raises(errors.TransactionConflict) as info:
        await auth_orm.transaction(flaky("TRANSACTION_CONFLICT", 10, calls), retries=2)
    assert info.value.code == "TRANSACTION_CONFLICT" and info.value.retryable is True
    assert len(calls) == 3


async def test_no_retry_by_default(auth_orm):
    calls = []
    with pytest.raises(errors.TransactionConflict):
        await auth_orm.transaction(flaky("TRANSACTION_CONFLICT", 1, calls))
    assert len(calls) == 1


@pytest.mark.parametrize("code", ["UNIQUE_CONSTRAINT_VIOLATION", "VALIDATION_ERROR", "FOREIGN_KEY_VIOLATION"])
async def test_non_retryable_orm_errors_are_not_retried(auth_orm, code):
    calls = []
    with pytest.raises(errors.OrmError) as info:
        await auth_orm.transaction(flaky(code, 1, calls), retries=3)
    assert info.value.code == code
    assert len(calls) == 1


async def test_plain_exceptions_are_not_retried(auth_orm):
    calls = []

    async def fn(tx):
        calls.append(1)
        raise Boom()

    with pytest.raises(Boom):
        await auth_orm.transaction(fn, retries=3)
    assert len(calls) == 1


async def test_each_failed_attempt_is_rolled_back_before_the_retry(auth_orm):
    require_transactions(auth_orm)
    calls = []

    async def fn(tx):
        calls.append(1)
        await tx.user.create(data=new_user("cy"))  # would be a duplicate if attempt 1 had been kept
        if len(calls) < 3:
            raise errors.make_error("TRANSACTION_CONFLICT", "x")
        return await tx.user.count()

    assert await auth_orm.transaction(fn, retries=5) == 3
    assert len(calls) == 3
    assert await emails(auth_orm) == sorted(SEEDED + ["cy@example.com"])


async def test_tx_exposes_every_model_and_nested_helpers(auth_orm):
    async def work(tx):
        counts = [await getattr(tx, m).count() for m in
                  ("user", "profile", "session", "account", "organization", "member")]
        return counts, callable(tx.transaction), callable(tx.batch)

    counts, has_tx, has_batch = await auth_orm.transaction(work)
    assert counts == [2, 1, 3, 1, 2, 2] and has_tx and has_batch

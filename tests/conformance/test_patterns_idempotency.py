"""Idempotency keys: ``tx.idempotency.reserve(key, request_hash)`` reserves or replays, in the transaction."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from farmorm import OrmError, QueryValidationError, SchemaError, define_schema, model, fields as f
from farmorm.core.errors import IdempotencyConflict
from farmorm.features.idempotency import request_hash

schema = define_schema(
    payment=model(table="payments", fields={"id": f.id(), "amount": f.integer()}),
    idempotency=True,
)
plain = define_schema(payment=model(table="payments", fields={"id": f.id(), "amount": f.integer()}))


class Boom(Exception):
    pass


def transactional(orm) -> bool:
    return orm.driver.capabilities.supports_transactions


async def pay(orm, key: str, amount: int, *, fail: bool = False) -> dict:
    """The app-side pattern: reserve, replay or do the work and store its result."""

    async def work(tx):
        res = await tx.idempotency.reserve(key, request_hash({"amount": amount}))
        if res.replayed:
            return {**res.result, "replayed": True}
        payment = await tx.payment.create(data={"amount": amount})
        if fail:
            raise Boom()
        await asyncio.sleep(0)  # let concurrent requests run into the reservation
        result = {"payment_id": payment["id"], "amount": amount}
        await res.complete(result)
        return {**result, "replayed": False}

    return await orm.transaction(work, retries=3)


def test_schema_adds_the_idempotency_model() -> None:
    m = schema.models["farmorm_idempotency"]
    assert list(m.fields) == ["id", "key", "request_hash", "status", "result", "created_at", "completed_at"]
    assert [u.fields for u in m.uniques] == [("key",)] or m.fields["key"].unique
    assert "farmorm_idempotency" not in plain.models
    with pytest.raises(SchemaError, match='"farmorm_idempotency" is reserved'):
        define_schema(farmorm_idempotency=model(table="x", fields={"id": f.id()}), idempotency=True)
    assert request_hash({"b": 1, "a": [1, "x"]}) == request_hash({"a": [1, "x"], "b": 1})
    assert request_hash({"a": 1}) != request_hash({"a": 2})
    with pytest.raises(QueryValidationError):
        request_hash({"when": datetime.now(timezone.utc)})


async def test_first_call_reserves_a_replay_returns_the_stored_result(make_orm) -> None:
    orm = await make_orm(schema)
    first = await pay(orm, "key-1", 100)
    assert first["replayed"] is False and first["amount"] == 100
    again = await pay(orm, "key-1", 100)
    assert again == {**first, "replayed": True}
    assert await orm.payment.count() == 1
    row = await orm.farmorm_idempotency.find_unique(where={"key": "key-1"})
    assert row["status"] == "completed" and row["result"] == {"payment_id": first["payment_id"], "amount": 100}
    assert row["completed_at"] is not None

    async with orm.transaction() as tx:  # a result may be None, or any JSON
        res = await tx.idempotency.reserve("key-none", "h")
        assert (res.replayed, res.result) == (False, None)
        await res.complete(None)
    async with orm.transaction() as tx:
        res = await tx.idempotency.reserve("key-none", "h")
        assert (res.replayed, res.result, res.key, res.request_hash) == (True, None, "key-none", "h")


async def test_same_key_with_another_request_is_a_conflict(make_orm) -> None:
    orm = await make_orm(schema)
    await pay(orm, "key-1", 100)
    with pytest.raises(IdempotencyConflict) as err:
        await pay(orm, "key-1", 999)
    e = err.value
    assert e.code == "IDEMPOTENCY_CONFLICT" and isinstance(e, OrmError) and not e.retryable
    assert e.message == ('Idempotency key "key-1" on model "farmorm_idempotency" was already used for another '
                         "request (its request_hash differs).")
    assert (e.meta["key"], e.meta["reason"]) == ("key-1", "request_mismatch")
    assert await orm.payment.count() == 1
    assert await orm.farmorm_idempotency.count() == 1


async def test_reservation_rolls_back_with_the_change(make_orm) -> None:
    orm = await make_orm(schema)
    with pytest.raises(Boom):
        await pay(orm, "key-2", 50, fail=True)
    if transactional(orm):
        assert await orm.farmorm_idempotency.count() == 0 and await orm.payment.count() == 0
        retry = await pay(orm, "key-2", 50)  # the retry runs afresh
        assert retry["replayed"] is False
        assert await orm.payment.count() == 1
    else:
        # without transactions the reservation stayed behind, unfinished: a retry is told so
        with pytest.raises(IdempotencyConflict) as err:
            await pay(orm, "key-2", 50)
        assert err.value.meta["reason"] == "in_progress"
        assert await orm.idempotency.forget("key-2") is True
        assert (await pay(orm, "key-2", 50))["replayed"] is False
    assert await orm.idempotency.forget("never-used") is False


async def test_concurrent_reservations_of_one_key_have_one_winner(make_orm) -> None:
    orm = await make_orm(schema)

    async def attempt() -> dict | str:
        try:
            return await pay(orm, "shared", 7)
        except IdempotencyConflict as e:  # only without transactions: the winner had not completed yet
            return e.meta["reason"]

    outcomes = await asyncio.gather(*(attempt() for _ in range(6)))
    winners = [o for o in outcomes if isinstance(o, dict) and not o["replayed"]]
    assert len(winners) == 1
    assert await orm.payment.count() == 1
    for o in outcomes:
        if isinstance(o, dict):
            assert o["payment_id"] == winners[0]["payment_id"]
        else:
            assert not transactional(orm) and o == "in_progress"
    if transactional(orm):
        assert all(isinstance(o, dict) for o in outcomes)


async def test_bad_input_is_refused_before_any_write(make_orm, query_log) -> None:
    orm = await make_orm(schema)
    log = query_log(orm)
    cases = [
        (("", "h"), 'Invalid value for field "key" on model "farmorm_idempotency": expected a non-empty string, got \'\'.'),
        ((None, "h"), 'Invalid value for field "key" on model "farmorm_idempotency": expected a non-empty string, got None.'),
        (("k" * 192, "h"), 'Invalid value for field "key" on model "farmorm_idempotency": at most 191 characters, got 192.'),
        (("k", b"bytes"), 'Invalid value for field "request_hash" on model "farmorm_idempotency": expected a non-empty '
                          "string, got b'bytes'."),
        (("k", 12), 'Invalid value for field "request_hash" on model "farmorm_idempotency": expected a non-empty '
                    "string, got 12."),
    ]
    async with orm.transaction() as tx:
        log.clear()
        for args, message in cases:
            with pytest.raises(QueryValidationError) as err:
                await tx.idempotency.reserve(*args)
            assert err.value.code == "VALIDATION_ERROR" and err.value.message == message
        assert log == []  # refused before any I/O
        res = await tx.idempotency.reserve("k", "h")
        with pytest.raises(QueryValidationError) as err:
            await res.complete({"at": datetime.now(timezone.utc)})
        assert err.value.message == ('Invalid value for field "result" on model "farmorm_idempotency": expected JSON '
                                     "data (dict, list, str, int, float, bool or None), found a datetime.")
        await res.complete({"ok": True})
        with pytest.raises(QueryValidationError, match="already completed"):
            await res.complete({"ok": True})
    row = await orm.farmorm_idempotency.find_unique(where={"key": "k"})
    assert row["result"] == {"ok": True}

    with pytest.raises(QueryValidationError) as err:
        await orm.idempotency.reserve("k2", "h")
    assert err.value.message.startswith("idempotency.reserve() needs a running transaction")
    assert await orm.farmorm_idempotency.count() == 1

    async with orm.transaction() as tx:  # committed without complete(): the key stays in progress
        forgotten = await tx.idempotency.reserve("k3", "h")
    with pytest.raises(OrmError) as err:
        await forgotten.complete({"late": True})  # its transaction is over
    assert err.value.code == "UNSUPPORTED"
    with pytest.raises(IdempotencyConflict) as err:
        async with orm.transaction() as tx:
            await tx.idempotency.reserve("k3", "h")
    assert err.value.meta["reason"] == "in_progress"

    no_keys = await make_orm(plain)
    async with no_keys.transaction() as tx:
        with pytest.raises(QueryValidationError) as err:
            await tx.idempotency.reserve("k", "h")
    assert err.value.message == ('The idempotency needs define_schema(..., idempotency=True): model '
                                 '"farmorm_idempotency" is not in the schema.')

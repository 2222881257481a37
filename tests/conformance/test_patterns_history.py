"""Record history: ``model(history=True)`` appends farmorm_history rows in the change's transaction."""

from __future__ import annotations

from decimal import Decimal

import pytest

from farmorm import SchemaError, define_schema, model, fields as f
from farmorm.features.history import acting_as

schema = define_schema(
    account=model(
        table="accounts",
        fields={"id": f.id(), "name": f.string().unique(), "balance": f.decimal().default(Decimal("0")),
                "opened": f.datetime().nullable(), "rev": f.version()},
        history=True,
    ),
    note=model(table="notes", fields={"id": f.id(), "text": f.string()}, soft_delete=True, history=True),
    plain=model(table="plains", fields={"id": f.id(), "name": f.string()}),
)


class Boom(Exception):
    pass


async def rows(orm, **where):
    found = await orm.farmorm_history.find_many(where=where or None, order_by={"occurred_at": "asc"})
    return found


def ops(found) -> list[str]:
    return [r["operation"] for r in found]


async def test_schema_adds_one_history_model() -> None:
    m = schema.models["farmorm_history"]
    assert m.table == "farmorm_history"
    assert list(m.fields) == ["id", "model", "record_id", "operation", "before", "after", "actor", "occurred_at"]
    assert schema.models["account"].history and not schema.models["plain"].history
    assert "farmorm_history" not in define_schema(p=model(table="p", fields={"id": f.id()})).models
    with pytest.raises(SchemaError):
        define_schema(a=model(table="a", fields={"id": f.id()}, history=True),
                      farmorm_history=model(table="h", fields={"id": f.id()}))
    with pytest.raises(SchemaError):
        model(table="a", fields={"id": f.id()}, history="yes")


async def test_create_update_delete_write_history(make_orm) -> None:
    orm = await make_orm(schema)
    acc = await orm.account.create(data={"name": "ada", "balance": Decimal("10.50")})
    await orm.account.update(where={"id": acc["id"]}, data={"balance": Decimal("12")})
    await orm.account.update(where={"id": acc["id"]}, data={"name": "ada2"}, expected_version=2)
    assert await orm.account.update(where={"name": "nobody"}, data={"name": "x"}) is None
    await orm.plain.create(data={"name": "no history"})
    assert await orm.account.delete(where={"id": acc["id"]}) == 1
    found = await orm.farmorm_history.find_many(where={"record_id": str(acc["id"])})
    found.sort(key=lambda r: (r["occurred_at"], ["create", "update", "delete"].index(r["operation"]),
                              (r["after"] or {}).get("rev", 99)))
    assert ops(found) == ["create", "update", "update", "delete"]
    create, up1, up2, delete = found
    assert create["model"] == "account" and create["before"] is None
    assert create["after"]["name"] == "ada" and Decimal(create["after"]["balance"]) == Decimal("10.50")
    assert Decimal(up1["before"]["balance"]) == Decimal("10.50") and Decimal(up1["after"]["balance"]) == 12
    assert up2["before"]["name"] == "ada" and up2["after"]["name"] == "ada2" and up2["after"]["rev"] == 3
    assert delete["before"]["name"] == "ada2" and delete["after"] is None
    assert all(r["actor"] is None for r in found)
    assert await orm.farmorm_history.count() == 4


async def test_many_upsert_and_soft_delete(make_orm, query_log, backend) -> None:
    orm = await make_orm(schema)
    notes = await orm.note.create_many(data=[{"text": "a"}, {"text": "b"}, {"text": "c"}])
    assert [n["text"] for n in notes] == ["a", "b", "c"]
    assert await orm.farmorm_history.count(where={"model": "note", "operation": "create"}) == 3
    assert await orm.note.update_many(where={"text": {"in": ["a", "b"]}}, data={"text": "ab"}) == 2
    updates = await orm.farmorm_history.find_many(where={"model": "note", "operation": "update"})
    assert sorted(r["before"]["text"] for r in updates) == ["a", "b"]
    assert [r["after"]["text"] for r in updates] == ["ab", "ab"]
    log = query_log(orm)
    assert await orm.note.delete_many(where={"text": "ab"}) == 2  # soft delete
    if backend != "mongo":  # one read of the affected rows, one UPDATE, one re-read, one history INSERT
        work = [s.split()[0].upper() for s in log if s.split()[0].upper() in ("SELECT", "UPDATE", "INSERT")]
        assert work[:4] == ["SELECT", "UPDATE", "SELECT", "INSERT"]  # MySQL reads the inserts back
        assert sum(s.upper().startswith("INSERT") and "farmorm_history" in s for s in log) == 1
    deletes = await orm.farmorm_history.find_many(where={"model": "note", "operation": "delete"})
    assert len(deletes) == 2
    assert all(r["before"]["deleted_at"] is None and r["after"]["deleted_at"] is not None for r in deletes)
    assert isinstance(deletes[0]["after"]["deleted_at"], str)  # JSON-safe ISO string
    assert await orm.note.restore(where={"text": "ab"}) == 2
    assert await orm.farmorm_history.count(where={"model": "note", "operation": "update"}) == 4
    assert await orm.note.hard_delete_many(where={"text": "c"}) == 1
    assert await orm.farmorm_history.count(where={"model": "note", "operation": "delete"}) == 3

    await orm.account.upsert(where={"name": "bob"}, create={"name": "bob"}, update={"balance": Decimal("1")})
    await orm.account.upsert(where={"name": "bob"}, create={"name": "bob"}, update={"balance": Decimal("2")})
    acc = await orm.farmorm_history.find_many(where={"model": "account"})
    assert sorted(ops(acc)) == ["create", "update"]
    upd = next(r for r in acc if r["operation"] == "update")
    assert Decimal(upd["before"]["balance"]) == 0 and Decimal(upd["after"]["balance"]) == 2


async def test_actor_from_transaction_and_acting_as(make_orm) -> None:
    orm = await make_orm(schema)
    async with orm.transaction(actor="ada") as tx:
        await tx.plain.create(data={"name": "x"})
        await tx.note.create(data={"text": "by ada"})
    with acting_as("bob"):
        await orm.note.create(data={"text": "by bob"})
        async with orm.transaction(actor="cy") as tx:
            await tx.note.create(data={"text": "by cy"})
    await orm.note.create(data={"text": "anonymous"})
    found = await orm.farmorm_history.find_many()
    by_text = {r["after"]["text"]: r["actor"] for r in found}
    assert by_text == {"by ada": "ada", "by bob": "bob", "by cy": "cy", "anonymous": None}


async def test_history_rolls_back_with_the_change(make_orm) -> None:
    orm = await make_orm(schema)
    if not orm.driver.capabilities.supports_transactions:
        pytest.skip("no transactions on this backend (mongomock)")
    await orm.note.create(data={"text": "kept"})
    with pytest.raises(Boom):
        async with orm.transaction() as tx:
            await tx.note.create(data={"text": "gone"})
            await tx.note.update_many(where={"text": "kept"}, data={"text": "changed"})
            raise Boom()
    assert await orm.farmorm_history.count() == 1
    async with orm.transaction() as tx:
        with pytest.raises(Boom):
            async with tx.transaction() as inner:
                await inner.note.delete(where={"text": "kept"})
                raise Boom()
        await tx.note.create(data={"text": "second"})
    assert sorted(ops(await orm.farmorm_history.find_many())) == ["create", "create"]

"""The cheap path: writes that return only a count or the ids, and statements per write per backend."""

from __future__ import annotations

import pytest

from farmorm import QueryValidationError, define_schema, fields as f, model

schema = define_schema(
    user=model(table="users", fields={"id": f.id(), "email": f.string().unique(), "name": f.string(),
                                      "logins": f.integer().default(0)}),
    pair=model(table="pairs", fields={"a": f.string(), "b": f.string(), "v": f.integer()},
               constraints={"unique": [["a", "b"]]}),
    audited=model(table="audited", fields={"id": f.id(), "body": f.string()}, history=True),
)
#: ids the database generates (SQL backends)
generated = define_schema(note=model(table="notes", fields={"id": f.id(type="integer", generated="increment"),
                                                            "body": f.string()}))


async def test_create_returning_id_or_nothing(make_orm, query_log) -> None:
    orm = await make_orm(schema)
    log = query_log(orm)
    uid = await orm.user.create(data={"email": "a@x", "name": "A"}, returning="id")
    assert isinstance(uid, str) and len(uid) == 36
    assert len(log) == 1
    assert (await orm.user.find_unique(where={"id": uid}))["email"] == "a@x"
    assert await orm.user.create(data={"email": "b@x", "name": "B"}, returning="none") is None
    key = await orm.pair.create(data={"a": "1", "b": "2", "v": 3}, returning="id")
    assert key == {"a": "1", "b": "2"}


async def test_generated_ids_come_back(make_orm, query_log) -> None:
    if not (await make_orm(schema)).driver.capabilities.numeric_ids == "generated":
        pytest.skip("the backend does not generate integer ids")
    orm = await make_orm(generated)
    nid = await orm.note.create(data={"body": "x"}, returning="id")
    assert (await orm.note.find_unique(where={"id": nid}))["body"] == "x"
    nids = await orm.note.create_many(data=[{"body": b} for b in "cab"], returning="ids")
    assert [(await orm.note.find_unique(where={"id": i}))["body"] for i in nids] == ["c", "a", "b"]
    assert await orm.note.create_many(data=[], returning="count") == 0
    assert await orm.note.create_many(data=[], returning="ids") == []


async def test_create_many_returning_count_or_ids(make_orm) -> None:
    orm = await make_orm(schema)
    assert await orm.user.create_many(data=[{"email": f"{i}@x", "name": str(i)} for i in range(5)],
                                      returning="count") == 5
    ids = await orm.user.create_many(data=[{"email": f"n{i}@x", "name": f"n{i}"} for i in range(3)], returning="ids")
    found = {r["id"]: r["name"] for r in await orm.user.find_many(where={"id": {"in": ids}})}
    assert [found[i] for i in ids] == ["n0", "n1", "n2"]  # input order
    assert await orm.user.create_many(data=[], returning="count") == 0
    assert await orm.audited.create_many(data=[{"body": "h"}], returning="count") == 1


async def test_update_returning_count(make_orm, query_log) -> None:
    orm = await make_orm(schema)
    await orm.user.create_many(data=[{"email": "a@x", "name": "A"}, {"email": "b@x", "name": "B"}])
    log = query_log(orm)
    assert await orm.user.update(where={"email": "a@x"}, data={"logins": {"increment": 1}}, returning="count") == 1
    assert len(log) == 1  # one statement on every backend (MariaDB: UPDATE … LIMIT 1)
    assert await orm.user.update(where={"email": "zz"}, data={"name": "Z"}, returning="count") == 0
    # "first match" semantics: one row, even when the where matches two
    assert await orm.user.update(where={"email": {"in": ["a@x", "b@x"]}}, data={"name": "N"}, returning="count") == 1
    assert sorted(r["name"] for r in await orm.user.find_many()) in (["A", "N"], ["B", "N"])
    assert (await orm.user.find_unique(where={"email": "a@x"}))["logins"] == 1
    a = await orm.audited.create(data={"body": "x"})
    assert await orm.audited.update(where={"id": a["id"]}, data={"body": "y"}, returning="count") == 1


async def test_bad_returning_is_refused_before_io(make_orm, query_log) -> None:
    orm = await make_orm(schema)
    log = query_log(orm)
    cases = [
        (orm.user.create(data={"email": "a", "name": "A"}, returning="ids"),
         "Invalid returning for create on model \"user\": expected one of 'record', 'id', 'none', got 'ids'."),
        (orm.user.create_many(data=[], returning="records!"),
         "Invalid returning for create_many on model \"user\": expected one of 'records', 'ids', 'count', "
         "got 'records!'."),
        (orm.user.update(where={"id": "x"}, data={}, returning=None),
         "Invalid returning for update on model \"user\": expected one of 'record', 'count', got None."),
        (orm.user.create(data={"email": "a", "name": "A"}, returning="id", select={"id": True}),
         'create on model "user" with returning=\'id\' returns no records: drop select / include, or ask for '
         "the records."),
        (orm.user.update(where={"id": "x"}, data={"name": "n"}, returning="count", include={}),
         'update on model "user" with returning=\'count\' returns no records: drop select / include, or ask '
         "for the records."),
    ]
    for call, message in cases:
        with pytest.raises(QueryValidationError) as e:
            await call
        assert e.value.message == message
    assert log == []


#: statements per write on each backend (query events; BEGIN/COMMIT count): the figures in
#: docs/performance.md. MariaDB 10.5+ has INSERT/DELETE … RETURNING but no UPDATE … RETURNING: an
#: update is UPDATE … LIMIT 1 + SELECT by id, the id taken from the where or, for another where on
#: a model with an integer id, reported by the UPDATE itself (LAST_INSERT_ID(id)).
EXPECTED = {
    # op: {backend: statements}
    "create": {"sqlite": 1, "postgres": 1, "mysql": 1, "mongo": 1},
    "create id": {"sqlite": 1, "postgres": 1, "mysql": 1, "mongo": 1},
    "create_many 1000": {"sqlite": 1, "postgres": 1, "mysql": 1, "mongo": 1},
    "create_many 1000 count": {"sqlite": 1, "postgres": 1, "mysql": 1, "mongo": 1},
    "update by id": {"sqlite": 1, "postgres": 1, "mysql": 2, "mongo": 1},
    "update by email": {"sqlite": 1, "postgres": 1, "mysql": 2, "mongo": 1},
    "update count": {"sqlite": 1, "postgres": 1, "mysql": 1, "mongo": 1},
    "update_many": {"sqlite": 1, "postgres": 1, "mysql": 1, "mongo": 1},
    "delete": {"sqlite": 1, "postgres": 1, "mysql": 1, "mongo": 1},
    "delete select": {"sqlite": 1, "postgres": 1, "mysql": 1, "mongo": 1},
}


async def test_statements_per_write(make_orm, query_log, backend) -> None:
    orm = await make_orm(schema)
    if backend == "mysql" and not orm._driver.compiler.insert_returning:
        pytest.skip("MySQL 8 (no INSERT … RETURNING): the figures are MariaDB 10.5+'s")
    seen: dict[str, int] = {}
    log = query_log(orm)

    async def count(op, call):
        log.clear()
        await call
        seen[op] = len(log)

    await count("create", orm.user.create(data={"email": "c@x", "name": "C"}))
    await count("create id", orm.user.create(data={"email": "d@x", "name": "D"}, returning="id"))
    await count("create_many 1000", orm.user.create_many(data=[{"email": f"{i}@m", "name": "m"} for i in range(1000)]))
    await count("create_many 1000 count",
                orm.user.create_many(data=[{"email": f"{i}@n", "name": "n"} for i in range(1000)], returning="count"))
    c = await orm.user.find_unique_or_raise(where={"email": "c@x"})
    log.clear()
    await count("update by id", orm.user.update(where={"id": c["id"]}, data={"logins": {"increment": 1}}))
    await count("update by email", orm.user.update(where={"email": "c@x"}, data={"logins": {"increment": 1}}))
    await count("update count", orm.user.update(where={"email": "c@x"}, data={"name": "C2"}, returning="count"))
    await count("update_many", orm.user.update_many(where={"name": "m"}, data={"logins": 2}))
    await count("delete", orm.user.delete(where={"email": "c@x"}))
    await count("delete select", orm.user.delete(where={"email": "d@x"}, select={"id": True}))
    assert seen == {op: per[backend] for op, per in EXPECTED.items()}

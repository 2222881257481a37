"""find_unique_or_raise / find_first_or_raise / update_or_raise, and delete(select=) returning the record."""

from __future__ import annotations

import pytest

from farmorm import (
    QueryValidationError, RecordNotFound, belongs_to, define_schema, fields as f, has_many, model,
)

schema = define_schema(
    user=model(
        table="users",
        fields={"id": f.id(), "email": f.string().unique(), "name": f.string(), "age": f.integer().nullable()},
        relations={"posts": has_many("post", foreign_key="author_id")},
    ),
    post=model(
        table="posts",
        fields={"id": f.id(), "author_id": f.string().references("user.id"), "title": f.string()},
        relations={"author": belongs_to("user", foreign_key="author_id")},
    ),
    note=model(table="notes", fields={"id": f.id(), "body": f.string()}, soft_delete=True),
    audited=model(table="audited", fields={"id": f.id(), "body": f.string()}, history=True),
)


async def _seed(orm):
    ada = await orm.user.create(data={"email": "ada@x", "name": "Ada", "age": 36})
    await orm.post.create_many(data=[{"author_id": ada["id"], "title": "A"}, {"author_id": ada["id"], "title": "B"}])
    return ada


async def test_or_raise_reads(make_orm, backend) -> None:
    orm = await make_orm(schema)
    ada = await _seed(orm)
    assert (await orm.user.find_unique_or_raise(where={"email": "ada@x"}))["id"] == ada["id"]
    got = await orm.user.find_first_or_raise(where={"name": "Ada"}, select={"name": True})
    assert got == {"name": "Ada"}
    with pytest.raises(RecordNotFound) as e:
        await orm.user.find_unique_or_raise(where={"email": "nobody@x"})
    assert e.value.code == "NOT_FOUND"
    assert e.value.message == "FindUnique on model \"user\" found no record matching where {'email': 'nobody@x'}."
    assert e.value.meta["model"] == "user" and e.value.meta["where"] == {"email": "nobody@x"}
    assert e.value.backend_kind == orm.driver.kind
    with pytest.raises(RecordNotFound) as e:
        await orm.user.find_first_or_raise(where={"age": {"gt": 99}})
    assert e.value.message == "FindFirst on model \"user\" found no record matching where {'age': {'gt': 99}}."
    Struct = schema.struct("user")
    typed = await orm.user.find_unique_or_raise(where={"id": ada["id"]}, as_=Struct)
    assert typed.name == "Ada"


async def test_or_raise_validates_before_io(make_orm, query_log) -> None:
    orm = await make_orm(schema)
    log = query_log(orm)
    with pytest.raises(QueryValidationError) as e:
        await orm.user.find_unique_or_raise(where={"name": "Ada"})
    assert "FindUnique on model \"user\" requires" in e.value.message
    with pytest.raises(QueryValidationError):
        await orm.user.find_first_or_raise(where={"nope": 1})
    with pytest.raises(QueryValidationError):
        await orm.user.update_or_raise(where={"id": "x"}, data={"age": "old"})
    assert log == []


async def test_update_on_no_match(make_orm) -> None:
    orm = await make_orm(schema)
    await _seed(orm)
    # the rule: update returns None when nothing matches (as find_first does); update_or_raise raises
    assert await orm.user.update(where={"email": "nobody@x"}, data={"age": 1}) is None
    with pytest.raises(RecordNotFound) as e:
        await orm.user.update_or_raise(where={"email": "nobody@x"}, data={"age": {"increment": 1}})
    assert e.value.message == "Update on model \"user\" found no record matching where {'email': 'nobody@x'}."
    u = await orm.user.update_or_raise(where={"email": "ada@x"}, data={"age": {"increment": 1}},
                                       select={"age": True})
    assert u == {"age": 37}


async def test_delete_with_select_returns_the_deleted_record(make_orm, query_log, backend) -> None:
    orm = await make_orm(schema)
    ada = await _seed(orm)
    grace = await orm.user.create(data={"email": "grace@x", "name": "Grace"})
    log = query_log(orm)
    gone = await orm.user.delete(where={"email": "grace@x"}, select={"id": True, "name": True})
    assert gone == {"id": grace["id"], "name": "Grace"}
    if backend in ("postgres", "sqlite", "mysql"):
        assert len(log) == 1 and "RETURNING" in log[0]  # one statement (MariaDB: DELETE ... RETURNING)
    assert await orm.user.find_unique(where={"id": grace["id"]}) is None
    assert await orm.user.delete(where={"email": "grace@x"}, select={"id": True}) is None
    # include: the relations as they were before the delete
    post = await orm.post.find_first_or_raise(where={"title": "A"})
    deleted = await orm.post.delete(where={"id": post["id"]}, include={"author": True})
    assert deleted["title"] == "A" and deleted["author"]["name"] == "Ada"
    assert await orm.post.count() == 1
    # the whole record without select: every field
    await orm.post.delete_many(where={"author_id": ada["id"]})
    full = await orm.user.delete(where={"id": ada["id"]}, include={"posts": True})
    assert full == {**ada, "posts": []}


async def test_delete_select_on_soft_delete_and_history_models(make_orm) -> None:
    orm = await make_orm(schema)
    n = await orm.note.create(data={"body": "x"})
    got = await orm.note.delete(where={"id": n["id"]}, select={"body": True})
    assert got == {"body": "x"}
    assert await orm.note.find_unique(where={"id": n["id"]}) is None
    assert (await orm.note.find_unique(where={"id": n["id"]}, with_deleted=True))["deleted_at"] is not None
    assert await orm.note.delete(where={"id": n["id"]}, select={"body": True}) is None
    a = await orm.audited.create(data={"body": "y"})
    assert await orm.audited.delete(where={"id": a["id"]}, select={"body": True}) == {"body": "y"}
    assert await orm.audited.count() == 0


async def test_delete_select_is_validated_before_io(make_orm, query_log) -> None:
    orm = await make_orm(schema)
    log = query_log(orm)
    with pytest.raises(QueryValidationError) as e:
        await orm.user.delete(where={"id": "x"}, select={"nope": True})
    assert e.value.message == 'Unknown field "nope" on model "user".'
    with pytest.raises(QueryValidationError) as e:
        await orm.user.delete(where={"id": "x"}, select={"id": True}, include={"posts": True})
    assert e.value.message == 'Use either "select" or "include" on model "user", not both.'
    assert log == []

"""The generated typed client on every backend: ``TypedClient(orm)`` runs the Orm's own model
clients (same objects, same results), hands typed clients to transactions (block and function
form, commit and rollback), and its Structs read rows with ``as_=``."""

from __future__ import annotations

import importlib.util
import sys
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pytest

from farmorm import QueryValidationError, define_schema, model
from farmorm import fields as f
from farmorm.generators.client import render_client

from ..typing.schema import schema as typing_schema

# the type-checker fixture's schema with a string post id (MongoDB generates no integer ids)
_post = typing_schema.definitions["post"]
schema = define_schema(
    user=typing_schema.definitions["user"],
    post=model(table=_post.table, fields={**_post.fields, "id": f.id()}, relations=_post.relations,
               constraints=_post.constraints, archive=True),
    profile=typing_schema.definitions["profile"],
)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    path = tmp_path_factory.mktemp("typed") / "farmorm_conformance_db_types.py"
    path.write_text(render_client(schema), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("farmorm_conformance_db_types", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def client(make_orm: Any, db: ModuleType) -> Any:
    orm = await make_orm(schema)
    return db.TypedClient(orm)


async def test_queries_run_on_the_orms_own_model_clients(client: Any) -> None:
    orm = client.orm
    assert client.user is orm.user and client.post is orm.post
    ada = await client.user.create(data={"email": "ada@example.com", "name": "Ada", "balance": Decimal("2.50")})
    assert ada["tier"] == "free" and ada["version"] == 1 and ada["balance"] == Decimal("2.50")
    await client.post.create_many(data=[{"author_id": ada["id"], "title": f"Post {i}", "score": i} for i in range(3)])
    await client.profile.create(data={"user_id": ada["id"], "url": "https://ada.dev"})

    found = await client.user.find_many(where={"posts": {"some": {"score": {"gte": 2}}}},
                                        include={"posts": {"order_by": {"score": "asc"}}, "profile": True})
    assert found == await orm.user.find_many(where={"posts": {"some": {"score": {"gte": 2}}}},
                                             include={"posts": {"order_by": {"score": "asc"}}, "profile": True})
    assert [p["title"] for p in found[0]["posts"]] == ["Post 0", "Post 1", "Post 2"]
    assert found[0]["profile"]["url"] == "https://ada.dev"

    post = await client.post.find_unique(where={"author_id": ada["id"], "title": "Post 1"})
    assert post is not None and post["score"] == 1
    updated = await client.user.update(where={"id": ada["id"]}, data={"name": "Ada L."}, expected_version=1)
    assert updated is not None and updated["version"] == 2
    again = await client.post.upsert(where={"author_id": ada["id"], "title": "Post 1"},
                                     create={"author_id": ada["id"], "title": "Post 1"}, update={"score": 10})
    assert again["score"] == 10

    page = await client.post.find_page(first=2, order_by={"score": "desc"})
    assert [p["title"] for p in page["items"]] == ["Post 1", "Post 2"] and page["page"]["has_more"]

    await client.user.update(where={"id": ada["id"]}, data={"login_count": {"increment": 2}})
    stats = await client.post.aggregate(count=True, sum={"score": True}, max={"title": True})
    assert stats == {"count": 3, "sum": {"score": 12}, "max": {"title": "Post 2"}}
    groups = await client.post.group_by(by="author_id", count=True, having={"count": {"_all": {"gte": 2}}})
    assert groups == [{"author_id": ada["id"], "count": 3}]
    assert (await client.user.find_unique_or_raise(where={"id": ada["id"]}))["login_count"] == 2


async def test_structs_read_rows(client: Any, db: ModuleType) -> None:
    ada = await client.user.create(data={"email": "ada@example.com", "name": "Ada", "prefs": {"theme": "dark"}})
    await client.post.create(data={"author_id": ada["id"], "title": "Hello"})
    user = await client.user.find_unique(where={"email": "ada@example.com"}, as_=db.User)
    assert isinstance(user, db.User) and user.prefs == {"theme": "dark"} and user.mood is None
    async with client.post.stream(as_=db.Post, batch_size=1) as rows:
        posts = [p async for p in rows]
    assert [type(p) for p in posts] == [db.Post] and posts[0].title == "Hello"


async def test_transactions_hand_out_typed_clients(client: Any, db: ModuleType) -> None:
    async with client.transaction() as tx:
        assert isinstance(tx, db.TypedClient) and tx.orm is not client.orm
        await tx.user.create(data={"email": "ada@example.com", "name": "Ada"})
    assert await client.user.count() == 1

    with pytest.raises(RuntimeError, match="undo"):
        async with client.transaction() as tx:
            await tx.user.create(data={"email": "grace@example.com", "name": "Grace"})
            raise RuntimeError("undo")
    if client.driver.capabilities.supports_transactions:  # mongomock has none: the write stays
        assert await client.user.count() == 1
        await client.user.create(data={"email": "grace@example.com", "name": "Grace"})
    assert await client.user.count() == 2

    async def work(tx: Any) -> int:
        assert isinstance(tx, db.TypedClient)
        await tx.user.create(data={"email": "linus@example.com", "name": "Linus"})
        return int(await tx.user.count())

    assert await client.transaction(work) == 3
    assert await client.batch([lambda tx: tx.user.count(), lambda tx: tx.post.count()]) == [3, 0]


async def test_lifecycle_methods(client: Any) -> None:
    ada = await client.user.create(data={"email": "ada@example.com", "name": "Ada"})
    post = await client.post.create(data={"author_id": ada["id"], "title": "Hello"})
    assert await client.post.archive(where={"id": post["id"]}) == 1
    assert await client.post.count() == 0 and await client.post.count(with_archived=True) == 1
    assert await client.post.unarchive(where={"id": post["id"]}) == 1
    await client.post.hard_delete_many(where={"author_id": ada["id"]})
    assert await client.user.delete(where={"id": ada["id"]}) == 1
    assert await client.user.find_first() is None
    assert await client.user.restore(where={"id": ada["id"]}) == 1
    assert (await client.user.find_first()) is not None


class _Scores(msgspec.Struct):
    score: int | None


class _PerAuthor(msgspec.Struct):
    author_id: str
    count: int
    sum: _Scores


class _Stats(msgspec.Struct):
    count: int
    max: _Scores


async def test_aggregate_and_group_by_read_into_structs(client: Any, query_log: Any) -> None:
    ada = await client.user.create(data={"email": "ada@example.com", "name": "Ada"})
    await client.post.create_many(data=[{"author_id": ada["id"], "title": f"P{i}", "score": i} for i in range(1, 4)])
    stats = await client.post.aggregate(count=True, max={"score": True}, as_=_Stats)
    assert stats == _Stats(count=3, max=_Scores(score=3))
    rows = await client.post.group_by(by="author_id", count=True, sum={"score": True}, as_=_PerAuthor)
    assert rows == [_PerAuthor(author_id=ada["id"], count=3, sum=_Scores(score=6))]

    log = query_log(client.orm)
    with pytest.raises(QueryValidationError, match=r'as_=_Stats of aggregate on model "post": the Struct\'s required '
                                                   r'field "max" is not in the result \(count\)'):
        await client.post.aggregate(count=True, as_=_Stats)
    with pytest.raises(QueryValidationError, match=r'the Struct has no field "author_id", which the result holds'):
        await client.post.group_by(by="author_id", count=True, max={"score": True}, as_=_Stats)
    with pytest.raises(QueryValidationError, match="expects a msgspec.Struct class"):
        await client.post.aggregate(count=True, as_=dict)
    assert log == []  # refused before any I/O

    class WrongType(msgspec.Struct):
        count: str

    with pytest.raises(QueryValidationError, match="cannot hold the result"):
        await client.post.aggregate(count=True, as_=WrongType)


async def test_nested_writes_take_the_typed_shapes(client: Any) -> None:
    """The nested-write shapes the generated types accept run, and the ones they refuse are refused
    at run time too (before any I/O, VALIDATION_ERROR)."""
    ada = await client.user.create(data={"email": "ada@example.com", "name": "Ada",
                                         "posts": {"create": [{"title": "A"}, {"title": "B", "score": 3}]},
                                         "profile": {"create": {"url": "https://ada.dev"}}})
    assert await client.post.count(where={"author_id": ada["id"]}) == 2
    assert (await client.profile.find_unique(where={"user_id": ada["id"]})) is not None
    post = await client.post.create(data={"title": "T", "author": {"connect": {"email": "ada@example.com"}}})
    assert post["author_id"] == ada["id"]
    made = await client.post.create(data={"title": "U", "author": {"connect_or_create": {
        "where": {"email": "grace@example.com"}, "create": {"email": "grace@example.com", "name": "Grace"}}}})
    grace = await client.user.find_unique_or_raise(where={"email": "grace@example.com"})
    assert made["author_id"] == grace["id"]
    await client.user.update(where={"id": ada["id"]}, data={"name": "Ada L.", "posts": {
        "update_many": {"where": {"title": "A"}, "data": {"published": True}},
        "delete": {"author_id": ada["id"], "title": "B"}}})
    assert [p["title"] for p in await client.post.find_many(where={"author_id": ada["id"]}, order_by={"title": "asc"})] \
        == ["A", "T"]
    assert (await client.post.find_unique_or_raise(where={"author_id": ada["id"], "title": "A"}))["published"]

    refused = [
        (client.post.create, {"data": {"title": "X", "author_id": ada["id"], "author": {"connect": {"id": ada["id"]}}}}),
        (client.user.create, {"data": {"email": "e@example.com", "name": "E",
                                       "posts": {"create": [{"title": "A", "author_id": ada["id"]}]}}}),
        (client.user.update, {"where": {"id": ada["id"]}, "data": {"profile": {"create": {"url": "x"}}}}),
        (client.user.create, {"data": {"email": "f@example.com", "name": "F", "posts": {"connect": {"title": "A"}}}}),
        (client.user.create, {"data": {"email": "g@example.com", "name": "G", "posts": {"delete": {"id": post["id"]}}}}),
    ]
    for method, kwargs in refused:
        with pytest.raises(QueryValidationError):
            await method(**kwargs)
    assert await client.user.count() == 2

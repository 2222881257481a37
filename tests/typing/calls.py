"""Calls on the typed client that mypy --strict and basedpyright must judge right.

tests/typing/test_checkers.py generates ``db_types`` from tests/typing/schema.py next to a copy of
this file and runs both checkers once. A line ending in ``# E: <what>`` must be reported by each
checker (at that line); every other line must pass. Keep each incorrect call on one line. ``# E[pyright]: <what>`` marks what only pyright reports.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal, assert_type

import msgspec

from db_types import (
    Post,
    PostPartial,
    PostGroupRow,
    PostRecord,
    ProfileRecord,
    TypedClient,
    User,
    UserAggregateResult,
    UserCreate,
    UserPartial,
    UserRecord,
    UserWhere,
)

from farmorm import Orm
from farmorm.typed import Page

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


async def correct(orm: Orm) -> None:
    client = TypedClient(orm)

    # reads: the record type without select
    users = await client.user.find_many(where={"email": {"contains": "@example.com"}, "tier": "pro"},
                                        order_by=[{"name": "asc"}, {"joined_at": "desc"}], take=10, skip=0)
    assert_type(users, list[UserRecord])
    first = await client.user.find_first(where={"age": {"gte": 18, "lt": 65}}, order_by={"email": "asc"})
    assert_type(first, UserRecord | None)
    one = await client.user.find_one(where={"bio": None})
    assert_type(one, UserRecord | None)
    if first is not None:
        assert_type(first["age"], int | None)
        assert_type(first["tier"], Literal["free", "pro"])
        next_count: int = first["login_count"] + 1
        assert_type(first["balance"], Decimal)
        assert_type(first["joined_at"], dt.datetime)
        print(next_count, first["email"].upper(), first["prefs"])
        if first["age"] is not None:
            print(first["age"] + 1)

    # unique lookups: the id, a unique field, a compound unique
    by_id = await client.user.find_unique(where={"id": "u1"})
    assert_type(by_id, UserRecord | None)
    await client.user.find_unique(where={"email": "ada@example.com"})
    await client.post.find_unique(where={"author_id": "u1", "title": "Hello"})
    await client.post.find_unique(where={"id": 1})

    # where: operators per type, enum literals, nullable fields, relation filters, AND/OR/NOT
    where: UserWhere = {
        "OR": [{"email": {"starts_with": "ada", "mode": "insensitive"}}, {"NOT": {"tier": "free"}}],
        "AND": {"mood": {"in": ["calm", "busy"]}},
        "posts": {"some": {"published": True, "score": {"gt": 10}}},
        "profile": {"url": {"ends_with": ".dev"}},
        "joined_at": {"gte": NOW},
        "balance": {"lte": Decimal("10.5")},
        "mood": None,
        "age": {"not": None},
        "login_count": {"not": {"in": [0, 1]}},
    }
    await client.user.count(where=where)
    await client.post.find_many(where={"author": {"is": {"name": "Ada"}}, "published": {"not": True}})
    await client.post.find_many(where={"author": {"email": "ada@example.com"}})
    await client.profile.find_many(where={"user": None})
    await client.user.find_many(where={"prefs": {"theme": "dark"}})
    await client.user.find_many(where={"name": {"contains": "a", "gte": "A"}, "tier": {"in": ["pro"], "mode": "insensitive"}})

    # include: relations NotRequired on the record
    with_posts = await client.user.find_many(include={"posts": {"where": {"published": True}, "take": 3,
                                                                "order_by": {"id": "desc"}}, "profile": True})
    assert_type(with_posts, list[UserRecord])
    for u in with_posts:
        for p in u.get("posts", []):
            assert_type(p, PostRecord)
        prof = u.get("profile")
        assert_type(prof, ProfileRecord | None)

    # distinct
    await client.post.find_many(distinct=["author_id", "published"], order_by={"id": "asc"})
    await client.user.find_page(distinct="tier", first=5)

    # relation counts and ordering through relations, NULLs first or last
    counted = await client.user.find_many(select={"name": True, "_count": {"posts": {"where": {"published": True}}}},
                                          order_by=[{"posts": {"_count": "desc"}}, {"age": {"sort": "asc", "nulls": "last"}}])
    assert_type(counted[0].get("_count", {}).get("posts"), int | None)
    await client.user.find_many(include={"_count": {"posts": True}})
    await client.post.find_many(order_by={"author": {"name": "asc"}})

    # select: the partial record (Python cannot follow a select; the typed route is as_=)
    picked = await client.user.find_many(select={"email": True, "posts": {"select": {"title": True}}})
    assert_type(picked, list[UserPartial])
    assert_type(await client.post.find_first(select={"title": True}), PostPartial | None)

    # as_=: the Struct, on every read
    structs = await client.post.find_many(where={"published": True}, as_=Post)
    assert_type(structs, list[Post])
    title: str = structs[0].title
    assert_type(await client.user.find_first(as_=User), User | None)
    assert_type(await client.user.find_unique(where={"id": "u1"}, as_=User), User | None)
    page = await client.post.find_page(first=20, order_by={"score": "desc"}, after=None)
    assert_type(page, Page[PostRecord])
    typed_page = await client.post.find_page(as_=Post)
    assert_type(typed_page["items"], list[Post])
    cursor: str | None = page["page"]["next_cursor"]
    back = await client.post.find_page(last=10, before=page["page"]["start_cursor"], order_by={"score": "desc"})
    has_previous: bool = back["page"]["has_previous_page"]
    async with client.user.stream(where={"tier": "pro"}, batch_size=100) as rows:
        async for row in rows:
            assert_type(row, UserRecord)
    async with client.post.stream(as_=Post) as post_rows:
        async for post in post_rows:
            assert_type(post, Post)
        async for batch in post_rows.batches():
            assert_type(batch, list[Post])

    # writes: required create fields, optional ones (defaults, nullable, generated), update data
    ada = await client.user.create(data={"email": "ada@example.com", "name": "Ada"})
    assert_type(ada, UserRecord)
    data: UserCreate = {"email": "grace@example.com", "name": "Grace", "tier": "pro", "mood": None,
                        "age": 36, "balance": Decimal("2.50"), "prefs": {"a": [1, 2]}, "joined_at": NOW}
    await client.user.create(data=data, select={"id": True})
    await client.user.create_many(data=[data, {"email": "x@example.com", "name": "X", "balance": 3}])
    await client.post.create(data={"author_id": ada["id"], "title": "Hello"})
    new_id = await client.post.create(data={"author_id": ada["id"], "title": "Cheap"}, returning="id")
    assert_type(new_id, int)
    assert_type(await client.user.create_many(data=[{"email": "b@example.com", "name": "B"}], returning="ids"), list[str])
    assert_type(await client.user.create_many(data=[{"email": "c@example.com", "name": "C"}], returning="count"), int)
    assert_type(await client.post.create(data={"author_id": ada["id"], "title": "None"}, returning="none"), None)
    assert_type(await client.user.update(where={"id": ada["id"]}, data={"bio": "x"}, returning="count"), int)
    await client.post.create(data={"id": 7, "author_id": ada["id"], "title": "Seven", "score": 2**40})
    updated = await client.user.update(where={"id": ada["id"]}, data={"name": "Ada L.", "bio": None},
                                       expected_version=1)
    assert_type(updated, UserRecord | None)
    await client.user.update_many(where={"tier": "free"}, data={"login_count": 0})
    await client.user.upsert(where={"email": "ada@example.com"}, create={"email": "ada@example.com", "name": "Ada"},
                             update={"name": "Ada"})
    await client.user.delete(where={"id": ada["id"]})
    gone = await client.post.delete(where={"id": 7}, select={"title": True})
    assert_type(gone, PostPartial | None)
    gone_post = await client.post.delete(where={"id": 7}, include={"author": True})
    assert_type(gone_post, PostRecord | None)
    assert_type(await client.user.delete(where={"id": ada["id"]}), int)
    assert_type(await client.user.find_unique_or_raise(where={"id": ada["id"]}), UserRecord)
    assert_type(await client.post.find_first_or_raise(where={"published": True}, as_=Post), Post)
    assert_type(await client.user.update_or_raise(where={"id": ada["id"]}, data={"name": "A"}), UserRecord)
    await client.user.restore(where={"id": ada["id"]})
    await client.post.archive(where={"published": False})
    await client.post.unarchive(where={"id": 7})
    await client.user.delete_many(where={"tier": "free"})
    await client.post.hard_delete_many(where={"published": False})

    # nested writes: create related records, connect existing ones, change a to-many relation
    await client.user.create(data={"email": "n@example.com", "name": "N",
                                   "posts": {"create": [{"title": "A"}, {"title": "B", "score": 3}]},
                                   "profile": {"create": {"url": "https://n.dev"}}})
    await client.post.create(data={"title": "T", "author": {"connect": {"email": "ada@example.com"}}})
    await client.post.create(data={"title": "T", "author": {"connect_or_create": {
        "where": {"email": "x@example.com"}, "create": {"email": "x@example.com", "name": "X"}}}})
    await client.user.update(where={"id": "u1"}, data={"name": "N", "posts": {
        "update_many": {"where": {"published": False}, "data": {"published": True}},
        "delete": [{"id": 3}], "connect": {"author_id": "u2", "title": "Moved"},
        "upsert": {"where": {"id": 9}, "create": {"title": "Nine"}, "update": {"title": "Nine"}}}})

    # atomic updates on number fields
    await client.user.update(where={"id": "u1"}, data={"login_count": {"increment": 1}, "balance": {"multiply": 2},
                                                       "age": {"set": None}})
    await client.post.update_many(where={"published": True}, data={"score": {"decrement": 3}})

    # aggregate and group_by
    stats = await client.user.aggregate(where={"tier": "pro"}, count=True, sum={"balance": True},
                                        avg={"login_count": True}, min={"joined_at": True}, max={"email": True})
    assert_type(stats, UserAggregateResult)
    total_balance = stats.get("sum", {}).get("balance")
    assert_type(total_balance, Decimal | None)
    await client.user.aggregate(count={"_all": True, "age": True})
    groups = await client.post.group_by(by=["author_id", "published"], count=True, sum={"score": True},
                                        having={"sum": {"score": {"gt": 10}}, "published": True},
                                        order_by=[{"sum": {"score": "desc"}}, {"author_id": {"sort": "asc", "nulls": "last"}}],
                                        take=10)
    assert_type(groups, list[PostGroupRow])
    await client.user.group_by(by="tier", avg={"balance": True}, having={"avg": {"balance": {"gte": Decimal(1)}}})
    await client.user.group_by(by="tier", avg={"login_count": True}, having={"avg": {"login_count": {"gt": 2.5}}})

    # as_= types aggregate and group_by results exactly
    class Totals(msgspec.Struct):
        score: int | None

    class PerAuthor(msgspec.Struct):
        author_id: str
        sum: Totals

    per_author = await client.post.group_by(by="author_id", sum={"score": True}, as_=PerAuthor)
    assert_type(per_author, list[PerAuthor])
    best: int | None = per_author[0].sum.score

    class Stats(msgspec.Struct):
        count: int

    assert_type(await client.post.aggregate(count=True, as_=Stats), Stats)

    # transactions hand out typed clients
    async with client.transaction() as tx:
        assert_type(tx, TypedClient)
        await tx.post.count(where={"published": True})

    async def work(tx: TypedClient) -> int:
        return await tx.user.count()

    async with client.transaction() as tx:
        rows_raw = await tx.raw.fetch("SELECT count(*) AS n FROM {user}")
        print(rows_raw[0]["n"])

    total = await client.transaction(work, retries=2)
    assert_type(total, int)
    print(title, cursor, has_previous, total, best, client.orm, client.driver.kind)


async def incorrect(orm: Orm) -> None:
    client = TypedClient(orm)
    await client.usr.find_many()  # E: unknown model
    await client.user.find_many(where={"emial": "ada@example.com"})  # E: unknown field in where
    await client.user.find_many(where={"OR": [{"email": "a"}, {"nmae": "b"}]})  # E: unknown field in a nested where
    await client.user.find_many(where={"posts": {"some": {"titel": "x"}}})  # E: unknown field in a relation filter
    await client.user.create(data={"email": "a@example.com", "name": "A", "nickname": "a"})  # E: unknown field in data
    await client.user.update(where={"id": "u1"}, data={"nmae": "A"})  # E: unknown field in update data
    await client.user.find_many(order_by={"emial": "asc"})  # E: unknown field in order_by
    await client.user.find_many(order_by={"email": "up"})  # E: wrong sort direction
    await client.user.find_many(select={"emial": True})  # E: unknown field in select
    await client.user.find_many(include={"postz": True})  # E: unknown relation in include
    await client.user.find_many(where={"login_count": "3"})  # E: wrong value type in where
    await client.user.find_many(where={"joined_at": {"gt": "2026-01-01"}})  # E: wrong value type in an operator
    await client.user.create(data={"email": "a@example.com", "name": 7})  # E: wrong value type in data
    await client.user.update(where={"id": "u1"}, data={"age": "36"})  # E: wrong value type in update data
    await client.user.update(where={"id": "u1"}, data={"name": None})  # E: None for a non-nullable field
    await client.user.find_many(where={"tier": "gold"})  # E: wrong enum literal in where
    await client.user.create(data={"email": "a@example.com", "name": "A", "tier": "gold"})  # E: wrong enum literal in data
    await client.user.find_many(where={"mood": {"in": ["calm", "angry"]}})  # E: wrong enum literal in a list
    await client.user.create(data={"email": "a@example.com"})  # E: missing required create field
    await client.post.create(data={"title": "Hello"})  # E: missing required create field
    await client.user.find_many(where={"login_count": {"contains": "3"}})  # E: operator on the wrong type
    await client.post.find_many(where={"published": {"gt": True}})  # E: operator on the wrong type
    await client.user.find_many(where={"age": {"mode": "insensitive"}})  # E: operator on the wrong type
    await client.user.find_many(where={"posts": {"is": {"title": "x"}}})  # E: to-one filter on a to-many relation
    await client.user.find_unique(where={"name": "Ada"})  # E: find_unique on a field that is not unique
    await client.post.find_unique(where={"title": "Hello"})  # E: half of a compound unique
    await client.user.update(where={"id": "u1"}, data={"version": 2})  # E: the version field is managed
    await client.user.update(where={"id": "u1"}, data={"deleted_at": NOW})  # E: the soft-delete field is managed
    await client.user.update(where={"id": "u1"}, data={"id": "u2"})  # E: the identity cannot change
    await client.user.archive(where={"id": "u1"})  # E: archive on a model without archive=True
    await client.profile.restore(where={"id": "p1"})  # E: restore on a model without soft_delete=True
    await client.post.find_many(include={"author": True}, as_=Post)  # E: as_ reads scalar fields only
    await client.user.find_many(take="10")  # E: take is an int
    await client.post.create(data={"title": "T", "author_id": "u1", "author": {"connect": {"id": "u1"}}})  # E: unknown field in data (the foreign key beside its relation)
    await client.user.create(data={"email": "e", "name": "n", "posts": {"create": [{"title": "A", "author_id": "u2"}]}})  # E: unknown field in data (set by the nesting)
    await client.user.update(where={"id": "u1"}, data={"profile": {"create": {"url": "x"}}})  # E: nested writes in update take to-many relations
    await client.user.create(data={"email": "e", "name": "n", "posts": {"connect": {"title": "x"}}})  # E: connect takes a unique key
    await client.user.create(data={"email": "e", "name": "n", "posts": {"delete": {"id": 1}}})  # E: unknown nested operation in create data
    await client.user.create(data={"email": "a@example.com", "name": "A"}, returning="ids")  # E: create returns "id" or "none", not "ids"
    await client.user.find_many(where={"name": {"gt": "A", "mode": "insensitive"}})  # E: operator on the wrong type (mode beside a comparison)
    await client.user.find_many(where={"tier": {"lt": "pro", "mode": "insensitive"}})  # E: operator on the wrong type (mode beside a comparison, enum)
    await client.post.find_page(last="10")  # E: last is an int
    await client.user.find_many(distinct=["tierr"])  # E: unknown field in distinct
    await client.user.find_many(distinct="prefs")  # E: distinct on a JSON field
    await client.user.find_many(select={"_count": {"postz": True}})  # E: unknown relation in _count
    await client.post.find_many(select={"_count": {"author": True}})  # E: _count of a to-one relation
    await client.user.find_many(order_by={"posts": "desc"})  # E: a to-many relation sorts by its _count
    await client.user.find_many(order_by={"age": {"sort": "asc", "nulls": "middle"}})  # E: wrong nulls position
    await client.user.find_unique_or_raise(where={"name": "Ada"})  # E: find_unique_or_raise on a field that is not unique
    await client.user.update(where={"id": "u1"}, data={"login_count": {"increment": "1"}})  # E: wrong value type in an atomic update
    await client.user.update(where={"id": "u1"}, data={"name": {"increment": 1}})  # E: operator on the wrong type (atomic on text)
    await client.user.aggregate(sum={"email": True})  # E: operator on the wrong type (sum of a string)
    await client.user.aggregate(avg={"emial": True})  # E: unknown field in an aggregate
    await client.post.group_by(by=["autor_id"], count=True)  # E: unknown field in group_by
    await client.post.group_by(by="author_id", having={"sum": {"title": {"gt": 1}}})  # E: unknown field in having
    await client.post.group_by(by="author_id", order_by={"count": {"_all": "up"}})  # E: wrong sort direction in a group order
    user = await client.user.find_first()
    assert user is not None
    print(user["age"] + 1)  # E: arithmetic on a nullable field
    print(user["posts"])  # E[pyright]: a relation is NotRequired (mypy allows reading a NotRequired key)
    print(user["nickname"])  # E: unknown key on a record
    post = await client.post.find_first(as_=Post)
    assert post is not None
    print(post.body)  # E: unknown attribute on a Struct

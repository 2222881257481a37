"""Nested writes (Prisma's model): relation operations in create / update data, one transaction,
one multi-row statement per level."""

from __future__ import annotations

import asyncio

import pytest

from farmorm import (
    QueryValidationError, RecordNotFound, UniqueConstraintViolation, belongs_to, define_schema, fields as f,
    has_many, has_one, many_to_many, model,
)

schema = define_schema(
    user=model(
        table="n_users",
        fields={"id": f.id(), "email": f.string().unique(), "name": f.string()},
        relations={"profile": has_one("profile", foreign_key="user_id"),
                   "posts": has_many("post", foreign_key="author_id")},
    ),
    profile=model(
        table="n_profiles",
        fields={"id": f.id(), "user_id": f.string().unique().references("user.id"), "bio": f.string()},
        relations={"user": belongs_to("user", foreign_key="user_id")},
    ),
    post=model(
        table="n_posts",
        fields={"id": f.id(), "author_id": f.string().nullable().references("user.id"), "title": f.string().unique(),
                "views": f.integer().default(0)},
        relations={"author": belongs_to("user", foreign_key="author_id"),
                   "tags": many_to_many("tag", through="post_tag", from_="post_id", to="tag_id"),
                   "comments": has_many("comment", foreign_key="post_id")},
    ),
    comment=model(
        table="n_comments",
        fields={"id": f.id(), "post_id": f.string().references("post.id"), "body": f.string()},
    ),
    tag=model(table="n_tags", fields={"id": f.id(), "name": f.string().unique()}),
    post_tag=model(
        table="n_post_tags",
        fields={"id": f.id(), "post_id": f.string().references("post.id"), "tag_id": f.string().references("tag.id")},
        constraints={"unique": [["post_id", "tag_id"]]},
    ),
)

CONTROL = ("BEGIN", "START", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def writes(log: list[str]) -> list[str]:
    return [s for s in log if s.split()[0].upper() not in CONTROL]


async def titles(orm, user_id) -> list[str]:
    return sorted(p["title"] for p in await orm.post.find_many(where={"author_id": user_id}))


async def tag_names(orm, post_id) -> list[str]:
    post = await orm.post.find_unique(where={"id": post_id}, include={"tags": True})
    return sorted(t["name"] for t in post["tags"])


async def test_create_with_every_relation_kind(make_orm) -> None:
    orm = await make_orm(schema)
    await orm.tag.create(data={"name": "old"})
    ada = await orm.user.create(
        data={
            "email": "ada@x", "name": "Ada",
            "profile": {"create": {"bio": "first programmer"}},
            "posts": {"create": [
                {"title": "Engine", "tags": {"create": [{"name": "math"}], "connect": [{"name": "old"}]},
                 "comments": {"create": [{"body": "wow"}, {"body": "yes"}]}},
                {"title": "Notes", "tags": {"connect_or_create": [{"where": {"name": "math"}, "create": {"name": "x"}},
                                                                  {"where": {"name": "new"}, "create": {"name": "new"}}]}},
            ]},
        },
        include={"profile": True, "posts": {"include": {"tags": True, "comments": True},
                                            "order_by": {"title": "asc"}}},
    )
    assert ada["profile"]["bio"] == "first programmer" and ada["profile"]["user_id"] == ada["id"]
    engine, notes = ada["posts"]
    assert (engine["title"], notes["title"]) == ("Engine", "Notes")
    assert sorted(t["name"] for t in engine["tags"]) == ["math", "old"]
    assert sorted(t["name"] for t in notes["tags"]) == ["math", "new"]
    assert sorted(c["body"] for c in engine["comments"]) == ["wow", "yes"]
    assert await orm.tag.count() == 3
    # without select / include: the record's own fields
    grace = await orm.user.create(data={"email": "g@x", "name": "Grace", "posts": {"create": {"title": "COBOL"}}})
    assert set(grace) == {"id", "email", "name"}
    assert await titles(orm, grace["id"]) == ["COBOL"]


async def test_belongs_to_create_connect_connect_or_create(make_orm) -> None:
    orm = await make_orm(schema)
    ada = await orm.user.create(data={"email": "ada@x", "name": "Ada"})
    p1 = await orm.post.create(data={"title": "a", "author": {"connect": {"email": "ada@x"}}})
    assert p1["author_id"] == ada["id"]
    p2 = await orm.post.create(data={"title": "b", "author": {"create": {"email": "new@x", "name": "New"}}},
                               include={"author": True})
    assert p2["author"]["email"] == "new@x"
    p3 = await orm.post.create(data={"title": "c", "author": {"connect_or_create": {
        "where": {"email": "ada@x"}, "create": {"email": "ada@x", "name": "Other"}}}})
    assert p3["author_id"] == ada["id"]
    profile = await orm.profile.create(data={"bio": "b", "user": {"connect_or_create": {
        "where": {"email": "z@x"}, "create": {"email": "z@x", "name": "Z"}}}}, include={"user": True})
    assert profile["user"]["name"] == "Z"
    with pytest.raises(RecordNotFound) as e:
        await orm.post.create(data={"title": "d", "author": {"connect": {"email": "nobody@x"}}})
    assert e.value.code == "NOT_FOUND"
    assert await orm.post.find_unique(where={"title": "d"}) is None


async def test_a_thousand_children_are_two_statements(make_orm, query_log, backend) -> None:
    orm = await make_orm(schema)
    log = query_log(orm)
    ada = await orm.user.create(data={"email": "ada@x", "name": "Ada",
                                      "posts": {"create": [{"title": f"p{i}"} for i in range(1000)]}})
    assert len(writes(log)) == 2, writes(log)  # the parent's INSERT and one multi-row INSERT of the children
    if backend != "mongo":
        assert [s.split()[0].upper() for s in log if s.split()[0].upper() in CONTROL] in (["BEGIN", "COMMIT"], ["START", "COMMIT"])
    assert await orm.post.count(where={"author_id": ada["id"]}) == 1000


async def test_a_failing_nested_create_writes_nothing(make_orm, backend) -> None:
    if backend == "mongo":
        pytest.skip("no transactions on this backend (mongomock): a nested write is not atomic there")
    orm = await make_orm(schema)
    await orm.post.create(data={"title": "taken"})
    with pytest.raises(UniqueConstraintViolation):
        await orm.user.create(data={"email": "ada@x", "name": "Ada",
                                    "profile": {"create": {"bio": "b"}},
                                    "posts": {"create": [{"title": "fine"}, {"title": "taken"}]}})
    assert await orm.user.count() == 0 and await orm.profile.count() == 0
    assert await orm.post.count() == 1
    # inside a running transaction the nested write joins it (a savepoint), and rolls back with it
    with pytest.raises(RuntimeError):
        async with orm.transaction() as tx:
            await tx.user.create(data={"email": "b@x", "name": "B", "posts": {"create": [{"title": "t1"}]}})
            raise RuntimeError("undo")
    assert await orm.user.count() == 0


async def test_update_to_many_operations(make_orm) -> None:
    orm = await make_orm(schema)
    ada = await orm.user.create(data={"email": "ada@x", "name": "Ada",
                                      "posts": {"create": [{"title": "a"}, {"title": "b"}, {"title": "c"}]}})
    await orm.post.create_many(data=[{"title": "loose1"}, {"title": "loose2"}, {"title": "loose3"}])
    uid = ada["id"]
    u = await orm.user.update(where={"id": uid}, data={"name": "Ada L.", "posts": {
        "create": [{"title": "d"}], "connect": [{"title": "loose1"}], "disconnect": [{"title": "a"}]}})
    assert u["name"] == "Ada L."
    assert await titles(orm, uid) == ["b", "c", "d", "loose1"]
    await orm.user.update(where={"id": uid}, data={"posts": {"set": [{"title": "b"}, {"title": "loose2"}]}})
    assert await titles(orm, uid) == ["b", "loose2"]
    await orm.user.update(where={"id": uid}, data={"posts": {
        "update": [{"where": {"title": "b"}, "data": {"views": 5}}],
        "update_many": [{"where": {"views": 0}, "data": {"views": {"increment": 2}}}],
        "upsert": [{"where": {"title": "b"}, "create": {"title": "never"}, "update": {"views": {"multiply": 10}}},
                   {"where": {"title": "u"}, "create": {"title": "u"}, "update": {"views": 99}}],
    }})
    views = {p["title"]: p["views"] for p in await orm.post.find_many(where={"author_id": uid})}
    assert views == {"b": 50, "loose2": 2, "u": 0}
    await orm.user.update(where={"id": uid}, data={"posts": {"delete": [{"title": "u"}],
                                                             "delete_many": {"views": {"gt": 10}}}})
    assert await titles(orm, uid) == ["loose2"]
    assert await orm.post.find_unique(where={"title": "u"}) is None
    # another user's posts are out of reach of these operations
    other = await orm.user.create(data={"email": "o@x", "name": "O", "posts": {"create": [{"title": "theirs"}]}})
    with pytest.raises(RecordNotFound):
        await orm.user.update(where={"id": uid}, data={"posts": {"update": [{"where": {"title": "theirs"},
                                                                             "data": {"views": 1}}]}})
    assert await titles(orm, other["id"]) == ["theirs"]
    # no match: nothing runs, None (returning="count": 0)
    assert await orm.user.update(where={"email": "nobody"}, data={"posts": {"create": [{"title": "z"}]}}) is None
    assert await orm.post.find_unique(where={"title": "z"}) is None


async def test_update_many_to_many_operations(make_orm) -> None:
    orm = await make_orm(schema)
    await orm.tag.create_many(data=[{"name": n} for n in ("a", "b", "c", "d")])
    post = await orm.post.create(data={"title": "p", "tags": {"connect": [{"name": "a"}, {"name": "b"}]}})
    pid = post["id"]
    await orm.post.update(where={"id": pid}, data={"tags": {"connect": [{"name": "b"}, {"name": "c"}],
                                                            "create": [{"name": "e"}]}})
    assert await tag_names(orm, pid) == ["a", "b", "c", "e"]
    await orm.post.update(where={"id": pid}, data={"tags": {"disconnect": [{"name": "a"}]}})
    assert await tag_names(orm, pid) == ["b", "c", "e"]
    await orm.post.update(where={"id": pid}, data={"tags": {"set": [{"name": "d"}, {"name": "e"}]}})
    assert await tag_names(orm, pid) == ["d", "e"]
    await orm.post.update(where={"id": pid}, data={"tags": {
        "update": [{"where": {"name": "d"}, "data": {"name": "d2"}}], "delete": [{"name": "e"}]}})
    assert await tag_names(orm, pid) == ["d2"]
    assert sorted(t["name"] for t in await orm.tag.find_many()) == ["a", "b", "c", "d2"]
    with pytest.raises(RecordNotFound):  # "a" exists but is not linked to this post
        await orm.post.update(where={"id": pid}, data={"tags": {"update": [{"where": {"name": "a"},
                                                                            "data": {"name": "z"}}]}})


async def test_update_many_to_many_bulk_operations(make_orm) -> None:
    orm = await make_orm(schema)
    await orm.tag.create(data={"name": "free"})  # not linked: out of reach
    post = await orm.post.create(data={"title": "p", "tags": {"create": [{"name": "a1"}, {"name": "a2"}, {"name": "b1"}]}})
    pid = post["id"]
    await orm.post.update(where={"id": pid}, data={"tags": {
        "update_many": [{"where": {"name": {"in": ["a1", "free"]}}, "data": {"name": "a1!"}}],
        "upsert": [{"where": {"name": "b1"}, "create": {"name": "nope"}, "update": {"name": "b1!"}},
                   {"where": {"name": "free"}, "create": {"name": "c1"}, "update": {"name": "taken?"}}],
    }})
    # "free" exists but is not linked: the upsert creates (and links) a new tag instead of updating it
    assert await tag_names(orm, pid) == ["a1!", "a2", "b1!", "c1"]
    assert await orm.tag.find_unique(where={"name": "free"}) is not None
    await orm.post.update(where={"id": pid}, data={"tags": {"delete_many": {"name": {"ends_with": "!"}}}})
    assert await tag_names(orm, pid) == ["a2", "c1"]
    assert sorted(t["name"] for t in await orm.tag.find_many()) == ["a2", "c1", "free"]


async def test_concurrent_nested_update_many_with_an_atomic_op(make_orm) -> None:
    orm = await make_orm(schema)
    ada = await orm.user.create(data={"email": "ada@x", "name": "Ada",
                                      "posts": {"create": [{"title": "a"}, {"title": "b"}]}})

    async def bump() -> None:
        await orm.user.update(where={"id": ada["id"]}, data={"posts": {
            "update_many": [{"where": {"title": {"in": ["a", "b"]}}, "data": {"views": {"increment": 1}}}]}})

    await asyncio.gather(*(bump() for _ in range(50)))
    assert sorted(p["views"] for p in await orm.post.find_many()) == [50, 50]


async def test_nested_input_is_checked_before_io(make_orm, query_log) -> None:
    orm = await make_orm(schema)
    log = query_log(orm)
    cases = [
        (orm.user.create(data={"email": "a", "name": "A", "posts": {"upsert": []}}),
         'Unknown nested operation "upsert" for relation "posts" on model "user". Use one of: create, connect, '
         "connect_or_create."),
        (orm.user.create(data={"email": "a", "name": "A", "posts": []}),
         'Relation "posts" on model "user" takes nested operations (create, connect, connect_or_create), got [].'),
        (orm.user.create(data={"email": "a", "name": "A", "posts": {"create": [{"title": 1}]}}),
         'Invalid value for field "title" on model "post": expected str, got int.'),
        (orm.user.create(data={"email": "a", "name": "A", "posts": {"create": [{"title": "t", "author_id": "x"}]}}),
         'Field "author_id" on model "post" is set by the nested write; leave it out of data.'),
        (orm.post.create(data={"title": "t", "author_id": "x", "author": {"connect": {"email": "a"}}}),
         'Field "author_id" on model "post" is set by the nested write; leave it out of data.'),
        (orm.user.create(data={"email": "a", "name": "A", "posts": {"connect": [{"views": 1}]}}),
         'Nested connect of "posts" on model "post" requires the "where" clause to match an id field, unique '
         "field, or declared unique constraint using equality values only."),
        (orm.user.create(data={"email": "a", "name": "A", "profile": {"create": [{"bio": "x"}, {"bio": "y"}]}}),
         'Nested create of relation "profile" on model "user" takes one record: "profile" is has_one.'),
        (orm.user.update(where={"email": "a"}, data={"profile": {"create": {"bio": "x"}}}),
         'Nested writes in update on model "user" apply to to-many relations; "profile" is has_one. Write the '
         "profile record with its own model client."),
        (orm.post.update(where={"title": "a"}, data={"comments": {"disconnect": [{"id": "c"}]}}),
         'Cannot disconnect "comments" records on model "post": their field "post_id" on model "comment" cannot '
         "be null. Delete them instead."),
        (orm.user.update(where={"email": "a"}, data={"posts": {"update": [{"where": {"title": "t"}}]}}),
         'Nested update of relation "posts" on model "user" expects "where" and "data" in each item, got '
         "{'where': {'title': 't'}}."),
        (orm.user.update_many(where={"email": "a"}, data={"posts": {"create": []}}),
         'Relation "posts" on model "user" cannot be written here: nested writes go in the data of create() and '
         "update() (not create_many, update_many or upsert)."),
    ]
    for call, message in cases:
        with pytest.raises(QueryValidationError) as e:
            await call
        assert e.value.message == message
    assert log == []

"""Soft delete and archive: hidden by default on every read, restore, hard delete, archive."""

from __future__ import annotations

import pytest

from farmorm import (
    QueryValidationError, SchemaError, UniqueConstraintViolation, belongs_to, define_schema, has_many,
    many_to_many, model, fields as f,
)

schema = define_schema(
    author=model(
        table="authors",
        fields={"id": f.id(), "name": f.string().unique()},
        relations={"posts": has_many("post", foreign_key="author_id")},
        soft_delete=True,
    ),
    post=model(
        table="posts",
        fields={"id": f.id(), "title": f.string().unique(), "author_id": f.string().references("author.id"),
                "score": f.integer().nullable()},
        relations={"author": belongs_to("author", foreign_key="author_id"),
                   "tags": many_to_many("tag", through="post_tag", from_="post_id", to="tag_id")},
        soft_delete=True,
        archive=True,
    ),
    tag=model(table="tags", fields={"id": f.id(), "name": f.string()}, soft_delete=True),
    post_tag=model(
        table="post_tags",
        fields={"id": f.id(), "post_id": f.string().references("post.id"), "tag_id": f.string().references("tag.id")},
    ),
    plain=model(table="plains", fields={"id": f.id(), "name": f.string()}),
)


async def seed(orm):
    ada = await orm.author.create(data={"name": "ada"})
    bob = await orm.author.create(data={"name": "bob"})
    posts = {}
    for title, author, score in (("a1", ada, 1), ("a2", ada, 2), ("a3", ada, 3), ("b1", bob, 4)):
        posts[title] = await orm.post.create(data={"title": title, "author_id": author["id"], "score": score})
    t1 = await orm.tag.create(data={"name": "t1"})
    t2 = await orm.tag.create(data={"name": "t2"})
    for p, t in (("a1", t1), ("a1", t2), ("a2", t2)):
        await orm.post_tag.create(data={"post_id": posts[p]["id"], "tag_id": t["id"]})
    return ada, bob, posts, t1, t2


def titles(rows) -> list[str]:
    return sorted(r["title"] for r in rows)


async def test_schema_adds_lifecycle_fields() -> None:
    m = schema.models["post"]
    assert list(m.fields)[-2:] == ["deleted_at", "archived_at"]
    assert m.fields["deleted_at"].kind == "datetime" and m.fields["deleted_at"].nullable
    with pytest.raises(SchemaError) as e:
        define_schema(x=model(table="x", fields={"id": f.id(), "deleted_at": f.string()}, soft_delete=True))
    assert str(e.value) == ('Model "x" uses soft_delete=True, so its "deleted_at" field must be a plain nullable '
                            "datetime (f.datetime().nullable()); leave it out and farmorm adds it.")
    ok = define_schema(x=model(table="x", fields={"id": f.id(), "archived_at": f.datetime().nullable()}, archive=True))
    assert ok.models["x"].archive_field == "archived_at"


async def test_delete_soft_deletes_and_reads_skip(make_orm) -> None:
    orm = await make_orm(schema)
    ada, bob, posts, t1, t2 = await seed(orm)
    assert await orm.post.delete(where={"title": "a1"}) == 1
    assert await orm.post.delete(where={"title": "a1"}) == 0  # already deleted: not visible
    assert await orm.post.delete_many(where={"score": {"gte": 3}}) == 2
    assert titles(await orm.post.find_many()) == ["a2"]
    assert await orm.post.count() == 1
    assert await orm.post.count(with_deleted=True) == 4
    assert await orm.post.find_first(where={"title": "a1"}) is None
    assert await orm.post.find_unique(where={"title": "a1"}) is None
    gone = await orm.post.find_unique(where={"title": "a1"}, with_deleted=True)
    assert gone["deleted_at"] is not None
    assert titles(await orm.post.find_many(with_deleted=True)) == ["a1", "a2", "a3", "b1"]
    assert await orm.post.update(where={"title": "a1"}, data={"score": 9}) is None
    assert await orm.post.update_many(where={"author_id": ada["id"]}, data={"score": 9}) == 1
    assert (await orm.post.find_unique(where={"title": "a1"}, with_deleted=True))["score"] == 1


async def test_relation_levels_and_filters_skip_hidden(make_orm) -> None:
    orm = await make_orm(schema)
    ada, bob, posts, t1, t2 = await seed(orm)
    await orm.post.delete(where={"title": "a1"})
    await orm.post.archive(where={"title": "a2"})
    await orm.tag.delete(where={"name": "t1"})
    rows = await orm.author.find_many(include={"posts": {"include": {"tags": True}}}, order_by={"name": "asc"})
    assert [(a["name"], titles(a["posts"])) for a in rows] == [("ada", ["a3"]), ("bob", ["b1"])]
    a1 = await orm.post.find_unique(where={"title": "a1"}, include={"tags": True}, with_deleted=True)
    assert sorted(t["name"] for t in a1["tags"]) == ["t1", "t2"]  # with_deleted: the deleted tag too
    await orm.post.restore(where={"title": "a1"})
    a1 = await orm.post.find_unique(where={"title": "a1"}, include={"tags": True})
    assert [t["name"] for t in a1["tags"]] == ["t2"]
    await orm.post.delete(where={"title": "a1"})
    # with_deleted reaches every level; archived still hidden unless with_archived
    full = await orm.author.find_many(include={"posts": True}, where={"name": "ada"}, with_deleted=True)
    assert titles(full[0]["posts"]) == ["a1", "a3"]
    full = await orm.author.find_many(include={"posts": True}, where={"name": "ada"}, with_deleted=True,
                                      with_archived=True)
    assert titles(full[0]["posts"]) == ["a1", "a2", "a3"]
    # relation filters
    assert [a["name"] for a in await orm.author.find_many(where={"posts": {"some": {"score": 1}}})] == []
    assert [a["name"] for a in await orm.author.find_many(where={"posts": {"some": {"score": 1}}},
                                                          with_deleted=True)] == ["ada"]
    # every: hidden posts do not count against it (ada's only visible post is a3, score 3)
    assert [a["name"] for a in await orm.author.find_many(where={"posts": {"every": {"score": 3}}})] == ["ada"]
    assert [a["name"] for a in await orm.author.find_many(where={"posts": {"none": {"score": {"lt": 3}}}},
                                                          order_by={"name": "asc"})] == ["ada", "bob"]
    # to-one: a post whose author is soft-deleted has no visible author
    await orm.author.delete(where={"name": "bob"})
    b1 = await orm.post.find_unique(where={"title": "b1"}, include={"author": True})
    assert b1["author"] is None
    assert titles(await orm.post.find_many(where={"author": None})) == ["b1"]
    assert titles(await orm.post.find_many(where={"author": {"is": {"name": "bob"}}})) == []
    assert titles(await orm.post.find_many(where={"author": {"is": {"name": "bob"}}}, with_deleted=True)) == ["b1"]
    # many-to-many: a deleted tag is hidden from the level and from the filter
    assert titles(await orm.post.find_many(where={"tags": {"some": {"name": "t1"}}}, with_deleted=True)) == ["a1"]
    assert titles(await orm.post.find_many(where={"tags": {"some": {}}}, with_archived=True)) == ["a2"]


async def test_restore_and_hard_delete(make_orm) -> None:
    orm = await make_orm(schema)
    await seed(orm)
    assert await orm.post.delete_many(where={"title": {"in": ["a1", "a3"]}}) == 2
    assert await orm.post.restore(where={"title": "a1"}) == 1
    assert await orm.post.restore(where={"title": "a1"}) == 0  # not deleted any more
    restored = await orm.post.find_unique(where={"title": "a1"})
    assert restored["deleted_at"] is None
    assert await orm.post.hard_delete(where={"title": "a3"}) == 1  # erases a soft-deleted row too
    assert await orm.post.count(with_deleted=True) == 3
    await orm.post.archive(where={"title": "b1"})
    assert await orm.post.hard_delete_many(where={"title": {"in": ["a3", "b1"]}}) == 1  # archived b1
    assert titles(await orm.post.find_many(with_deleted=True, with_archived=True)) == ["a1", "a2"]
    # a model without soft_delete: delete erases
    await orm.plain.create(data={"name": "p"})
    assert await orm.plain.delete(where={"name": "p"}) == 1
    assert await orm.plain.count() == 0


async def test_archive_and_unarchive(make_orm) -> None:
    orm = await make_orm(schema)
    await seed(orm)
    assert await orm.post.archive(where={"score": {"lte": 2}}) == 2
    assert await orm.post.archive(where={"score": {"lte": 2}}) == 0
    assert titles(await orm.post.find_many()) == ["a3", "b1"]
    assert titles(await orm.post.find_many(with_archived=True)) == ["a1", "a2", "a3", "b1"]
    assert await orm.post.count(with_archived=True) == 4
    # deleting an archived record needs with_archived (it is hidden otherwise)
    assert await orm.post.delete(where={"title": "a1"}) == 0
    assert await orm.post.delete(where={"title": "a1"}, with_archived=True) == 1
    assert await orm.post.unarchive(where={"score": {"lte": 2}}) == 1  # a1 is deleted: left alone
    assert titles(await orm.post.find_many()) == ["a2", "a3", "b1"]


async def test_unique_constraints_cover_soft_deleted_rows(make_orm) -> None:
    orm = await make_orm(schema)
    await orm.author.create(data={"name": "ada"})
    await orm.author.delete(where={"name": "ada"})
    with pytest.raises(UniqueConstraintViolation):
        await orm.author.create(data={"name": "ada"})
    assert await orm.author.count(with_deleted=True) == 1


async def test_bad_input(make_orm) -> None:
    orm = await make_orm(schema)
    await seed(orm)
    cases = [
        (orm.plain.restore(where={"name": "x"}), 'restore() on model "plain" needs the model option soft_delete=True.'),
        (orm.author.archive(where={"name": "x"}), 'archive() on model "author" needs the model option archive=True.'),
        (orm.author.unarchive(where={"name": "x"}),
         'unarchive() on model "author" needs the model option archive=True.'),
        (orm.post.restore(where={}), 'Restore on model "post" requires a where clause.'),
        (orm.post.archive(where={}), 'Archive on model "post" requires a where clause.'),
        (orm.post.unarchive(where=None), 'Unarchive on model "post" requires a where clause.'),
        (orm.post.delete_many(where={}), 'Delete on model "post" requires a where clause.'),
        (orm.post.hard_delete_many(where={}), 'Delete on model "post" requires a where clause.'),
        (orm.post.find_many(with_deleted="yes"), '"with_deleted" on model "post" must be True or False, got \'yes\'.'),
        (orm.post.count(with_archived=1), '"with_archived" on model "post" must be True or False, got 1.'),
    ]
    for call, message in cases:
        with pytest.raises(QueryValidationError) as e:
            await call
        assert (e.value.code, e.value.message) == ("VALIDATION_ERROR", message)
    assert await orm.post.count() == 4
    assert await orm.post.count(where={"deleted_at": {"not": None}}, with_deleted=True) == 0

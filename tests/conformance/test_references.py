"""``references(..., on_delete=, on_update=)`` and ``string(max_length=)`` on every backend.

SQL backends enforce the actions in the database (the DDL carries ``ON DELETE ...``); MongoDB has
no foreign keys, so farmorm emulates ``on_delete`` in its delete path (inside the transaction when
there is one). ``on_update`` is SQL-only: farmorm's ids are not updated in place.
"""

from __future__ import annotations

import pytest

from farmorm import ForeignKeyViolation, QueryValidationError, define_schema, has_many, model
from farmorm import fields as f

blog = define_schema(
    author=model(
        table="authors",
        fields={"id": f.id(), "handle": f.string(max_length=12).unique()},
        relations={"posts": has_many("post", foreign_key="author_id")},
    ),
    post=model(
        table="posts",
        fields={
            "id": f.id(),
            "author_id": f.string().references("author.id", on_delete="cascade", on_update="cascade"),
            "editor_id": f.string().nullable().references("author.id", on_delete="set null"),
            "title": f.string(),
        },
    ),
    comment=model(
        table="comments",
        fields={"id": f.id(), "post_id": f.string().references("post.id", on_delete="cascade"), "body": f.string()},
    ),
    pin=model(
        table="pins",
        fields={"id": f.id(), "post_id": f.string().references("post.id", on_delete="restrict")},
    ),
)


async def seed(orm):
    ada = await orm.author.create(data={"handle": "ada"})
    bob = await orm.author.create(data={"handle": "bob"})
    post = await orm.post.create(data={"author_id": ada["id"], "editor_id": bob["id"], "title": "one"})
    other = await orm.post.create(data={"author_id": bob["id"], "editor_id": ada["id"], "title": "two"})
    await orm.comment.create(data={"post_id": post["id"], "body": "hi"})
    await orm.comment.create(data={"post_id": other["id"], "body": "yo"})
    return ada, bob, post, other


async def test_on_delete_cascade_and_set_null(make_orm):
    orm = await make_orm(blog)
    ada, bob, post, other = await seed(orm)
    await orm.author.delete(where={"id": ada["id"]})
    # cascade: ada's post and, through it, its comment are gone; set null: bob's post loses its editor
    assert [p["title"] for p in await orm.post.find_many()] == ["two"]
    assert [c["body"] for c in await orm.comment.find_many()] == ["yo"]
    assert (await orm.post.find_unique(where={"id": other["id"]}))["editor_id"] is None


async def test_on_delete_cascade_through_delete_many(make_orm):
    orm = await make_orm(blog)
    await seed(orm)
    assert await orm.author.delete_many(where={"handle": {"in": ["ada", "bob"]}}) == 2
    assert (await orm.post.count(), await orm.comment.count()) == (0, 0)


async def test_on_delete_restrict_refuses_and_keeps_everything(make_orm):
    orm = await make_orm(blog)
    ada, bob, post, other = await seed(orm)
    await orm.pin.create(data={"post_id": post["id"]})
    with pytest.raises(ForeignKeyViolation) as info:
        await orm.post.delete(where={"id": post["id"]})
    assert info.value.code == "FOREIGN_KEY_VIOLATION"
    assert await orm.post.count() == 2
    if orm.driver.capabilities.supports_transactions:
        # inside a transaction the refused delete leaves nothing half done
        with pytest.raises(ForeignKeyViolation):
            async with orm.transaction() as tx:
                await tx.author.delete(where={"id": ada["id"]})  # cascades to the pinned post
        assert (await orm.author.count(), await orm.post.count(), await orm.comment.count()) == (2, 2, 2)


async def test_string_max_length_is_checked_on_write(make_orm, query_log):
    orm = await make_orm(blog)
    await orm.author.create(data={"handle": "x" * 12})
    log = query_log(orm)
    with pytest.raises(QueryValidationError) as info:
        await orm.author.create(data={"handle": "x" * 13})
    assert str(info.value) == (
        'Invalid value for field "handle" on model "author": 13 characters, more than max_length=12.'
    )
    assert log == []  # refused before any I/O
    assert await orm.author.count(where={"handle": "x" * 13}) == 0  # filters take any string


def test_set_null_needs_a_nullable_field():
    from farmorm.core.errors import SchemaError

    with pytest.raises(SchemaError, match='"post.author_id" uses "set null" in references\\(\\) but is not nullable'):
        define_schema(
            author=model(table="a", fields={"id": f.id()}),
            post=model(table="p", fields={"id": f.id(), "author_id": f.string().references("author.id", on_delete="set null")}),
        )
    with pytest.raises(SchemaError, match='on_delete must be "cascade", "set null", "restrict" or "no action"'):
        f.string().references("author.id", on_delete="delete")  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match="max_length must be a positive integer"):
        f.string(max_length=0)

"""The schema the plugin's ``farmorm_orm`` uses in these tests, and the factories for it."""

from __future__ import annotations

import pytest

from farmorm import Schema, belongs_to, define_factory, define_schema, has_many, has_one, model
from farmorm import fields as f

schema = define_schema(
    user=model(
        table="fx_users",
        fields={"id": f.id(), "email": f.string().unique(), "name": f.string(),
                "tier": f.enumeration(["free", "pro"]).default("free")},
        relations={"posts": has_many("post", foreign_key="author_id"),
                   "profile": has_one("profile", foreign_key="user_id")},
    ),
    post=model(
        table="fx_posts",
        fields={"id": f.id(), "author_id": f.string().references("user.id"), "title": f.string().unique(),
                "editor_id": f.string().references("user.id").nullable()},
        relations={"author": belongs_to("user", foreign_key="author_id"),
                   "editor": belongs_to("user", foreign_key="editor_id")},
    ),
    profile=model(
        table="fx_profiles",
        fields={"id": f.id(), "user_id": f.string().references("user.id").unique(), "bio": f.string()},
        relations={"user": belongs_to("user", foreign_key="user_id")},
    ),
    # integer keys: the factory validates an integer foreign key before the parent exists
    shelf=model(
        table="fx_shelves",
        fields={"id": f.id(type="integer"), "label": f.string()},
        relations={"books": has_many("book", foreign_key="shelf_id")},
    ),
    book=model(
        table="fx_books",
        fields={"id": f.id(type="integer"), "shelf_id": f.integer().references("shelf.id"), "title": f.string()},
        relations={"shelf": belongs_to("shelf", foreign_key="shelf_id")},
    ),
)

users = define_factory(schema.models["user"],
                       defaults=lambda seq: {"email": f"user{seq}@example.com", "name": f"User {seq}"})
posts = define_factory(schema.models["post"], defaults=lambda seq: {"title": f"Post {seq}", "author": users})
profiles = define_factory(schema.models["profile"], defaults=lambda seq: {"bio": f"Bio {seq}", "user": users})
shelves = define_factory(schema.models["shelf"], defaults=lambda seq: {"id": seq, "label": f"Shelf {seq}"})
books = define_factory(schema.models["book"], defaults=lambda seq: {"id": 100 + seq, "title": f"Book {seq}", "shelf": shelves})


@pytest.fixture(scope="session")
def farmorm_schema() -> Schema:
    return schema

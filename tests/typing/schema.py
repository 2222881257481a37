"""The schema the typed-client tests generate a module from: every field kind, nullable and
defaulted fields, an enum (and a nullable one), to-many / to-one relations, a compound unique,
and the lifecycle options (soft delete, archive, version)."""

from __future__ import annotations

from farmorm import belongs_to, define_schema, has_many, has_one, model
from farmorm import fields as f

schema = define_schema(
    user=model(
        table="tc_users",
        fields={
            "id": f.id(),
            "email": f.string().unique(),
            "name": f.string(),
            "tier": f.enumeration(["free", "pro"]).default("free"),
            "mood": f.enumeration(["calm", "busy"]).nullable(),
            "age": f.integer().nullable(),
            "login_count": f.integer().default(0),
            "balance": f.decimal().default(0),
            "prefs": f.json().nullable(),
            "bio": f.string().nullable().describe("A few words about the user."),
            "joined_at": f.datetime().default_now(),
            "version": f.version(),
        },
        relations={"posts": has_many("post", foreign_key="author_id"),
                   "profile": has_one("profile", foreign_key="user_id")},
        soft_delete=True,
    ),
    post=model(
        table="tc_posts",
        fields={
            "id": f.id(type="integer", generated="increment"),
            "author_id": f.string().references("user.id"),
            "title": f.string(),
            "published": f.boolean().default(False),
            "score": f.bigint().default(0),
        },
        relations={"author": belongs_to("user", foreign_key="author_id")},
        constraints={"unique": [["author_id", "title"]]},
        archive=True,
    ),
    profile=model(
        table="tc_profiles",
        fields={"id": f.id(), "user_id": f.string().unique().references("user.id"), "url": f.string()},
        relations={"user": belongs_to("user", foreign_key="user_id")},
    ),
)

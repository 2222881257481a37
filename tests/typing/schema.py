"""The schema the typed-client tests generate a module from: every field kind, nullable and
defaulted fields, an enum (and a nullable one), to-many / to-one relations, a compound unique,
and the lifecycle options (soft delete, archive, version)."""

from __future__ import annotations

from farmorm import belongs_to, define_schema, has_many, has_one, many_to_many, model
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


#: relations the first schema lacks: many-to-many (through a join model with a compound unique) and
#: two required belongs_to foreign keys on one model (four create-data shapes); only generated and
#: checked for being clean, no calls
more = define_schema(
    article=model(
        table="tc_articles",
        fields={"id": f.id(), "title": f.string(), "owner_id": f.string().references("owner.id"),
                "editor_id": f.string().references("owner.id")},
        relations={"tags": many_to_many("tag", through="article_tag", from_="article_id", to="tag_id"),
                   "owner": belongs_to("owner", foreign_key="owner_id"),
                   "editor": belongs_to("owner", foreign_key="editor_id")},
    ),
    owner=model(table="tc_owners", fields={"id": f.id(type="integer"), "name": f.string()},
                relations={"articles": has_many("article", foreign_key="owner_id")}),
    tag=model(table="tc_tags", fields={"id": f.id(), "name": f.string().unique()}),
    article_tag=model(
        table="tc_article_tags",
        fields={"article_id": f.string().references("article.id"), "tag_id": f.string().references("tag.id")},
        constraints={"unique": [["article_id", "tag_id"]]},
    ),
)

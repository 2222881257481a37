"""The example's schema: authors and their articles. ``db_types.py`` beside it is generated from it
(``farmorm generate client``; tests/examples/test_fastapi_app.py fails when it is stale)."""

from __future__ import annotations

from farmorm import belongs_to, define_schema, has_many, model
from farmorm import fields as f

schema = define_schema(
    author=model(
        table="api_authors",
        fields={"id": f.id(), "email": f.string().unique(), "name": f.string(),
                "created_at": f.datetime().default_now()},
        relations={"articles": has_many("article", foreign_key="author_id")},
    ),
    article=model(
        table="api_articles",
        fields={
            "id": f.id(),
            "author_id": f.string().references("author.id"),
            "slug": f.string().unique(),
            "title": f.string(),
            "body": f.string(),
            "version": f.version(),
            "created_at": f.datetime().default_now(),
        },
        relations={"author": belongs_to("author", foreign_key="author_id")},
        constraints={"indexes": [["author_id", "created_at"]]},
    ),
)

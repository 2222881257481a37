"""A small FastAPI service on farmorm: authors and their articles, on PostgreSQL through asyncpg.

Run it with ``DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres uvicorn examples.fastapi_app.app:app``.

Built on farmorm's FastAPI integration (``farmorm.integrations.fastapi``, docs/fastapi.md):

- ``farmorm_lifespan`` opens an asyncpg pool, binds the schema to it with ``create_orm`` and pushes
  the schema (idempotent; a real deployment runs migrations instead), then closes the ORM and the
  pool on shutdown. The pool is the app's: ``orm.close()`` never closes it, the lifespan does.
- Routes take the ORM (``OrmDep``) or a per-request transaction (``TransactionDep``); no global state.
- ``install_error_handlers`` answers every error with one RFC 9457 problem shape: ``OrmError`` by
  code (409 conflicts, 404 ``NOT_FOUND``, 422 ``VALIDATION_ERROR``, 503 + ``Retry-After`` for
  retryable errors), and FastAPI's own request validation as the same 422.
"""

from __future__ import annotations

import os
from typing import Any

import asyncpg
from fastapi import FastAPI, Response
from pydantic import BaseModel

from farmorm import RecordNotFound, belongs_to, define_schema, has_many, model
from farmorm import fields as f
from farmorm.integrations.fastapi import OrmDep, TransactionDep, farmorm_lifespan, install_error_handlers

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

class AuthorIn(BaseModel):
    email: str
    name: str


class ArticleIn(BaseModel):
    author_id: str
    slug: str
    title: str
    body: str


class ArticlePatch(BaseModel):
    title: str | None = None
    body: str | None = None
    expected_version: int


def _json(record: dict[str, Any]) -> dict[str, Any]:
    """A record with its datetimes as ISO strings (records are plain dicts)."""
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in record.items()}


def create_app(database_url: str, *, pool_size: int = 5) -> FastAPI:
    """The app, bound to ``database_url`` when its lifespan starts."""

    app = FastAPI(title="farmorm example", lifespan=farmorm_lifespan(
        schema, lambda: asyncpg.create_pool(database_url, min_size=1, max_size=pool_size), push=True))
    install_error_handlers(app)

    @app.post("/authors", status_code=201)
    async def create_author(payload: AuthorIn, orm: OrmDep) -> dict[str, Any]:
        return _json(await orm.author.create(data=payload.model_dump()))

    @app.get("/authors/{author_id}")
    async def get_author(author_id: str, orm: OrmDep) -> dict[str, Any]:
        author = await orm.author.find_unique(
            where={"id": author_id},
            include={"articles": {"select": {"slug": True, "title": True}, "order_by": {"slug": "asc"}}},
        )
        if author is None:
            raise RecordNotFound(f'Author "{author_id}" not found.')
        return _json(author)

    @app.post("/articles", status_code=201)
    async def create_article(payload: ArticleIn, tx: TransactionDep) -> dict[str, Any]:
        return _json(await tx.article.create(data=payload.model_dump()))

    @app.get("/articles")
    async def list_articles(orm: OrmDep, author_id: str | None = None, first: int = 20,
                            after: str | None = None) -> dict[str, Any]:
        """Cursor pagination; ``first`` is checked by farmorm (a bad value is a 422 from the ORM)."""
        page = await orm.article.find_page(
            where={"author_id": author_id} if author_id else None,
            order_by={"created_at": "desc"}, first=first, after=after,
            select={"id": True, "slug": True, "title": True, "author": {"select": {"name": True}}},
        )
        return {"items": [_json(item) for item in page["items"]], "page": page["page"]}

    @app.get("/articles/{article_id}")
    async def get_article(article_id: str, orm: OrmDep) -> dict[str, Any]:
        article = await orm.article.find_unique(where={"id": article_id})
        if article is None:
            raise RecordNotFound(f'Article "{article_id}" not found.')
        return _json(article)

    @app.patch("/articles/{article_id}")
    async def update_article(article_id: str, payload: ArticlePatch, orm: OrmDep) -> dict[str, Any]:
        """Optimistic concurrency: the client sends the version it read; a stale one is a 409."""
        data = payload.model_dump(exclude_unset=True, exclude={"expected_version"})
        updated = await orm.article.update(
            where={"id": article_id}, data=data, expected_version=payload.expected_version)
        assert updated is not None  # with expected_version a miss raises NOT_FOUND / VERSION_CONFLICT
        return _json(updated)

    @app.delete("/articles/{article_id}", status_code=204)
    async def delete_article(article_id: str, orm: OrmDep) -> Response:
        if not await orm.article.delete(where={"id": article_id}):
            raise RecordNotFound(f'Article "{article_id}" not found.')
        return Response(status_code=204)

    @app.delete("/authors/{author_id}", status_code=204)
    async def delete_author(author_id: str, orm: OrmDep) -> Response:
        """An author with articles cannot go: the foreign key refuses, and that is a 409."""
        if not await orm.author.delete(where={"id": author_id}):
            raise RecordNotFound(f'Author "{author_id}" not found.')
        return Response(status_code=204)

    return app


app = create_app(os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))

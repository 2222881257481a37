"""A small FastAPI service on farmorm: authors and their articles, on PostgreSQL through asyncpg.

Run it with ``DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres uvicorn examples.fastapi_app.app:app``.

Built on farmorm's FastAPI integration (``farmorm.integrations.fastapi``, docs/fastapi.md):

- ``farmorm_lifespan`` opens an asyncpg pool, binds the schema to it with ``create_orm`` and pushes
  the schema (idempotent; a real deployment runs migrations instead), then closes the ORM and the
  pool on shutdown. The pool is the app's: ``orm.close()`` never closes it, the lifespan does.
- Routes take the typed client (``Client``: ``TypedClient(orm)`` over ``OrmDep``) or one bound to a
  per-request transaction (``TxClient`` over ``TransactionDep``); no global state. ``db_types.py`` is
  generated from ``schema.py`` by ``farmorm generate client`` (docs/typed-client.md), so a typo in a
  query is a type error, and the routes return farmorm records as they are: their record
  TypedDicts are the response models, so FastAPI validates them and OpenAPI describes them.
- ``install_error_handlers`` answers every error with one RFC 9457 problem shape: ``OrmError`` by
  code (409 conflicts, 404 ``NOT_FOUND``, 422 ``VALIDATION_ERROR``, 503 + ``Retry-After`` for
  retryable errors), and FastAPI's own request validation as the same 422.
"""

from __future__ import annotations

import os
from typing import Annotated, cast

import asyncpg
from fastapi import Depends, FastAPI, Response
from pydantic import BaseModel
from typing_extensions import TypedDict

from farmorm import RecordNotFound
from farmorm.integrations.fastapi import OrmDep, TransactionDep, farmorm_lifespan, install_error_handlers
from farmorm.typed import PageInfo

from .db_types import ArticleRecord, ArticleUpdate, AuthorRecord, TypedClient
from .schema import schema

__all__ = ["create_app", "schema"]


def _client(orm: OrmDep) -> TypedClient:
    return TypedClient(orm)


def _tx_client(tx: TransactionDep) -> TypedClient:
    return TypedClient(tx)


#: the typed client over the app's Orm / over the request's transaction
Client = Annotated[TypedClient, Depends(_client)]
TxClient = Annotated[TypedClient, Depends(_tx_client)]


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


# A read with `select` returns only what it selects, which Python's types cannot derive from the
# select dict: the route declares the shape it asks for (docs/typed-client.md#results-are-typed-by-what-you-ask).
class ArticleLink(TypedDict):
    slug: str
    title: str


class AuthorWithArticles(TypedDict):
    id: str
    email: str
    name: str
    articles: list[ArticleLink]


class AuthorName(TypedDict):
    name: str


class ArticleSummary(TypedDict):
    id: str
    slug: str
    title: str
    author: AuthorName


class ArticlePage(TypedDict):
    items: list[ArticleSummary]
    page: PageInfo


def create_app(database_url: str, *, pool_size: int = 5) -> FastAPI:
    """The app, bound to ``database_url`` when its lifespan starts."""

    app = FastAPI(title="farmorm example", lifespan=farmorm_lifespan(
        schema, lambda: asyncpg.create_pool(database_url, min_size=1, max_size=pool_size), push=True))
    install_error_handlers(app)

    @app.post("/authors", status_code=201)
    async def create_author(payload: AuthorIn, client: Client) -> AuthorRecord:
        return await client.author.create(data={"email": payload.email, "name": payload.name})

    @app.get("/authors/{author_id}")
    async def get_author(author_id: str, client: Client) -> AuthorWithArticles:
        author = await client.author.find_unique(
            where={"id": author_id},
            select={"id": True, "email": True, "name": True,
                    "articles": {"select": {"slug": True, "title": True}, "order_by": {"slug": "asc"}}},
        )
        if author is None:
            raise RecordNotFound(f'Author "{author_id}" not found.')
        return cast(AuthorWithArticles, author)

    @app.post("/articles", status_code=201)
    async def create_article(payload: ArticleIn, tx: TxClient) -> ArticleRecord:
        return await tx.article.create(data={"author_id": payload.author_id, "slug": payload.slug,
                                             "title": payload.title, "body": payload.body})

    @app.get("/articles")
    async def list_articles(client: Client, author_id: str | None = None, first: int = 20,
                            after: str | None = None) -> ArticlePage:
        """Cursor pagination; ``first`` is checked by farmorm (a bad value is a 422 from the ORM)."""
        page = await client.article.find_page(
            where={"author_id": author_id} if author_id else None,
            order_by={"created_at": "desc"}, first=first, after=after,
            select={"id": True, "slug": True, "title": True, "author": {"select": {"name": True}}},
        )
        return cast(ArticlePage, page)

    @app.get("/articles/{article_id}")
    async def get_article(article_id: str, client: Client) -> ArticleRecord:
        return await client.article.find_unique_or_raise(where={"id": article_id})

    @app.patch("/articles/{article_id}")
    async def update_article(article_id: str, payload: ArticlePatch, client: Client) -> ArticleRecord:
        """Optimistic concurrency: the client sends the version it read; a stale one is a 409."""
        data: ArticleUpdate = {}
        if payload.title is not None:
            data["title"] = payload.title
        if payload.body is not None:
            data["body"] = payload.body
        # with expected_version a miss raises NOT_FOUND / VERSION_CONFLICT
        return await client.article.update_or_raise(where={"id": article_id}, data=data,
                                                    expected_version=payload.expected_version)

    @app.delete("/articles/{article_id}", status_code=204)
    async def delete_article(article_id: str, client: Client) -> Response:
        if not await client.article.delete(where={"id": article_id}):
            raise RecordNotFound(f'Article "{article_id}" not found.')
        return Response(status_code=204)

    @app.delete("/authors/{author_id}", status_code=204)
    async def delete_author(author_id: str, client: Client) -> Response:
        """An author with articles cannot go: the foreign key refuses, and that is a 409."""
        if not await client.author.delete(where={"id": author_id}):
            raise RecordNotFound(f'Author "{author_id}" not found.')
        return Response(status_code=204)

    return app


app = create_app(os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))

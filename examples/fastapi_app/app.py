"""A small FastAPI service on farmorm: authors and their articles, on PostgreSQL through asyncpg.

Run it with ``DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres uvicorn examples.fastapi_app.app:app``.

- The lifespan opens an asyncpg pool, binds the schema to it with ``create_orm`` and pushes the
  schema (idempotent; a real deployment runs migrations instead), then closes both on shutdown.
  The pool is the app's: ``orm.close()`` never closes it, the lifespan does.
- Routes use ``request.app.state.orm``; no global state.
- One exception handler turns every ``OrmError`` into an RFC 9457 problem response, by code:
  409 for conflicts, 404 for ``NOT_FOUND``, 422 for ``VALIDATION_ERROR`` (what FastAPI itself
  answers for a request it cannot validate), 503 + ``Retry-After`` for retryable errors.
"""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import asyncpg
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from farmorm import Orm, OrmError, RecordNotFound, belongs_to, create_orm, define_schema, has_many, model
from farmorm import fields as f
from farmorm.setup import push_schema

log = logging.getLogger("examples.fastapi_app")

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

#: OrmError code -> HTTP status; anything else (MISSING_TABLE, ...) is a 500: a deployment bug.
HTTP_STATUS = {
    "UNIQUE_CONSTRAINT_VIOLATION": 409,
    "FOREIGN_KEY_VIOLATION": 409,
    "VERSION_CONFLICT": 409,
    "IDEMPOTENCY_CONFLICT": 409,
    "NOT_FOUND": 404,
    "VALIDATION_ERROR": 422,
    "NOT_NULL_VIOLATION": 422,
    "CHECK_VIOLATION": 422,
    "VALUE_TOO_LONG": 422,
    "NUMERIC_OUT_OF_RANGE": 422,
    "INVALID_VALUE": 422,
    "TRANSACTION_CONFLICT": 503,
    "DEADLOCK": 503,
    "LOCK_TIMEOUT": 503,
    "SCHEMA_CHANGED": 503,
    "CONNECTION_ERROR": 503,
    "QUERY_TIMEOUT": 504,
}
#: what a client may read; native messages (table and constraint names) stay in the logs
PUBLIC_DETAIL = {409: "The request conflicts with existing data.", 500: "Internal error.",
                 503: "The database is busy. Try again.", 504: "The database took too long. Try again."}


def problem(exc: OrmError) -> JSONResponse:
    """An OrmError as an RFC 9457 problem response."""
    status = HTTP_STATUS.get(exc.code, 500)
    if status >= 500:
        log.error("database error", exc_info=exc)
    detail = exc.message if status in (404, 422) else PUBLIC_DETAIL.get(status, PUBLIC_DETAIL[500])
    body: dict[str, Any] = {"type": "about:blank", "status": status, "code": exc.code, "detail": detail}
    if exc.code == "VERSION_CONFLICT":
        body["current_version"] = exc.meta.get("actual_version")
    headers = {"Retry-After": "1"} if exc.retryable or exc.code == "CONNECTION_ERROR" else None
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/problem+json")


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


def orm_of(request: Request) -> Orm:
    return request.app.state.orm  # type: ignore[no-any-return]


def create_app(database_url: str, *, pool_size: int = 5) -> FastAPI:
    """The app, bound to ``database_url`` when its lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=pool_size)
        try:
            orm = await create_orm(schema, pool)  # detected as asyncpg; the pool stays ours
            try:
                await push_schema(schema, orm)
                app.state.orm = orm
                yield
            finally:
                await orm.close()
        finally:
            await pool.close()

    app = FastAPI(title="farmorm example", lifespan=lifespan)

    @app.exception_handler(OrmError)
    async def orm_error(request: Request, exc: OrmError) -> JSONResponse:
        return problem(exc)

    @app.post("/authors", status_code=201)
    async def create_author(payload: AuthorIn, request: Request) -> dict[str, Any]:
        return _json(await orm_of(request).author.create(data=payload.model_dump()))

    @app.get("/authors/{author_id}")
    async def get_author(author_id: str, request: Request) -> dict[str, Any]:
        author = await orm_of(request).author.find_unique(
            where={"id": author_id},
            include={"articles": {"select": {"slug": True, "title": True}, "order_by": {"slug": "asc"}}},
        )
        if author is None:
            raise RecordNotFound(f'Author "{author_id}" not found.')
        return _json(author)

    @app.post("/articles", status_code=201)
    async def create_article(payload: ArticleIn, request: Request) -> dict[str, Any]:
        return _json(await orm_of(request).article.create(data=payload.model_dump()))

    @app.get("/articles")
    async def list_articles(request: Request, author_id: str | None = None, first: int = 20,
                            after: str | None = None) -> dict[str, Any]:
        """Cursor pagination; ``first`` is checked by farmorm (a bad value is a 422 from the ORM)."""
        page = await orm_of(request).article.find_page(
            where={"author_id": author_id} if author_id else None,
            order_by={"created_at": "desc"}, first=first, after=after,
            select={"id": True, "slug": True, "title": True, "author": {"select": {"name": True}}},
        )
        return {"items": [_json(item) for item in page["items"]], "page": page["page"]}

    @app.get("/articles/{article_id}")
    async def get_article(article_id: str, request: Request) -> dict[str, Any]:
        article = await orm_of(request).article.find_unique(where={"id": article_id})
        if article is None:
            raise RecordNotFound(f'Article "{article_id}" not found.')
        return _json(article)

    @app.patch("/articles/{article_id}")
    async def update_article(article_id: str, payload: ArticlePatch, request: Request) -> dict[str, Any]:
        """Optimistic concurrency: the client sends the version it read; a stale one is a 409."""
        data = payload.model_dump(exclude_unset=True, exclude={"expected_version"})
        updated = await orm_of(request).article.update(
            where={"id": article_id}, data=data, expected_version=payload.expected_version)
        assert updated is not None  # with expected_version a miss raises NOT_FOUND / VERSION_CONFLICT
        return _json(updated)

    @app.delete("/articles/{article_id}", status_code=204)
    async def delete_article(article_id: str, request: Request) -> Response:
        if not await orm_of(request).article.delete(where={"id": article_id}):
            raise RecordNotFound(f'Article "{article_id}" not found.')
        return Response(status_code=204)

    @app.delete("/authors/{author_id}", status_code=204)
    async def delete_author(author_id: str, request: Request) -> Response:
        """An author with articles cannot go: the foreign key refuses, and that is a 409."""
        if not await orm_of(request).author.delete(where={"id": author_id}):
            raise RecordNotFound(f'Author "{author_id}" not found.')
        return Response(status_code=204)

    return app


app = create_app(os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))

"""The same small API built twice, on FastAPI and on Litestar, with farmorm's integrations only:
authors and articles; a per-request transaction; errors as problem+json."""

import asyncio
from typing import Any

import msgspec
from fastapi import FastAPI
from litestar import Litestar, get, post
from pydantic import BaseModel

from farmorm.integrations.fastapi import OrmDep, TransactionDep, farmorm_lifespan, install_error_handlers
from farmorm.integrations.litestar import FarmormPlugin

from farmorm import Orm, RecordNotFound, belongs_to, define_schema, has_many, model
from farmorm import fields as f

schema = define_schema(
    author=model(table="int_authors", fields={"id": f.id(), "email": f.string().unique(), "name": f.string()},
                 relations={"articles": has_many("article", foreign_key="author_id")}),
    article=model(table="int_articles",
                  fields={"id": f.id(), "author_id": f.string().references("author.id"), "slug": f.string().unique(),
                          "title": f.string(), "version": f.version()},
                  relations={"author": belongs_to("author", foreign_key="author_id")}),
)


async def _author_with_article(tx: Orm, email: str, name: str, slug: str) -> dict[str, Any]:
    """Two writes in the request's transaction: a failing second one must undo the first."""
    author = await tx.author.create(data={"email": email, "name": name})
    await tx.article.create(data={"author_id": author["id"], "slug": slug, "title": f"By {name}"})
    return dict(author)


#: what the slow commit hook saw: set when the commit is done, which must be before the response
COMMITTED: list[str] = []


async def _slow_commit(tx: Orm, email: str) -> dict[str, Any]:
    """A write whose after-commit hook takes a while: the response must wait for the commit."""
    author = await tx.author.create(data={"email": email, "name": "Slow"})

    async def hook() -> None:
        await asyncio.sleep(0.3)
        COMMITTED.append(email)

    tx.on_commit(hook)
    return dict(author)


async def _get_author(orm: Orm, author_id: str) -> dict[str, Any]:
    author = await orm.author.find_unique(where={"id": author_id})
    if author is None:
        raise RecordNotFound(f'Author "{author_id}" not found.')
    return dict(author)


class AuthorIn(BaseModel):
    email: str
    name: str


class AuthorArticleIn(AuthorIn):
    slug: str


def fastapi_app(database: Any, *, push: bool = True) -> FastAPI:
    app = FastAPI(lifespan=farmorm_lifespan(schema, database, push=push))
    install_error_handlers(app)

    @app.post("/authors", status_code=201)
    async def create_author(payload: AuthorIn, orm: OrmDep) -> dict[str, Any]:
        return dict(await orm.author.create(data=payload.model_dump()))

    @app.post("/authors-with-article", status_code=201)
    async def create_with_article(payload: AuthorArticleIn, tx: TransactionDep) -> dict[str, Any]:
        return await _author_with_article(tx, payload.email, payload.name, payload.slug)

    @app.post("/slow-commit/{email}", status_code=201)
    async def slow_commit(email: str, tx: TransactionDep) -> dict[str, Any]:
        return await _slow_commit(tx, email)

    @app.get("/authors/{author_id}")
    async def get_author(author_id: str, orm: OrmDep) -> dict[str, Any]:
        return await _get_author(orm, author_id)

    @app.get("/count")
    async def count(orm: OrmDep) -> dict[str, int]:
        return {"authors": await orm.author.count(), "articles": await orm.article.count()}

    @app.get("/articles")
    async def articles(orm: OrmDep, first: int = 20) -> list[dict[str, Any]]:
        page = await orm.article.find_page(order_by={"slug": "asc"}, first=first)
        return [dict(a) for a in page["items"]]

    return app


class LAuthorIn(msgspec.Struct):
    email: str
    name: str


class LAuthorArticleIn(msgspec.Struct):
    email: str
    name: str
    slug: str


def litestar_app(database: Any, *, push: bool = True) -> Litestar:
    @post("/authors")
    async def create_author(data: LAuthorIn, orm: Orm) -> dict[str, Any]:
        return dict(await orm.author.create(data=msgspec.structs.asdict(data)))

    @post("/authors-with-article")
    async def create_with_article(data: LAuthorArticleIn, tx: Orm) -> dict[str, Any]:
        return await _author_with_article(tx, data.email, data.name, data.slug)

    @post("/slow-commit/{email:str}")
    async def slow_commit(email: str, tx: Orm) -> dict[str, Any]:
        return await _slow_commit(tx, email)

    @get("/authors/{author_id:str}")
    async def get_author(author_id: str, orm: Orm) -> dict[str, Any]:
        return await _get_author(orm, author_id)

    @get("/count")
    async def count(orm: Orm) -> dict[str, int]:
        return {"authors": await orm.author.count(), "articles": await orm.article.count()}

    @get("/articles")
    async def articles(orm: Orm, first: int = 20) -> list[dict[str, Any]]:
        page = await orm.article.find_page(order_by={"slug": "asc"}, first=first)
        return [dict(a) for a in page["items"]]

    return Litestar([create_author, create_with_article, slow_commit, get_author, count, articles],
                    plugins=[FarmormPlugin(schema, database, push=push)])

"""The ORM's life in a web app, shared by the FastAPI and Litestar integrations (public ``Orm`` API only)."""

from __future__ import annotations

import inspect
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, AsyncIterator

from farmorm.runtime import Orm, create_orm
from farmorm.schema.manifest import Schema
from farmorm.setup import push_schema

#: a URL, a client the app already has, or a zero-argument callable returning a client, an awaitable
#: of one, or an async context manager yielding one (``lambda: asyncpg.create_pool(url)``: closed at shutdown)
Database = Any


async def _client(stack: AsyncExitStack, database: Database) -> Any:
    if not callable(database) or isinstance(database, str):
        return database
    made = database()
    if hasattr(made, "__aenter__") and hasattr(made, "__aexit__"):
        return await stack.enter_async_context(made)
    if inspect.isawaitable(made):
        return await made
    return made


@asynccontextmanager
async def open_orm(schema: Schema, database: Database, *, push: bool = False,
                   **options: Any) -> AsyncIterator[Orm]:
    """The ORM for the app's life: made by ``create_orm(schema, client, **options)``, the schema pushed
    when ``push`` (development; deployments run migrations), closed on exit, then the client's own
    context (when ``database`` made one) exited."""
    async with AsyncExitStack() as stack:
        client = await _client(stack, database)
        orm = await create_orm(schema, client, **options)
        try:
            if push:
                await push_schema(schema, orm)
            yield orm
        finally:
            await orm.close()


def orm_from_state(state: Any, key: str) -> Orm:
    """``state.<key>``, or a clear error when the lifespan did not run (a test app without it)."""
    orm = getattr(state, key, None)
    if orm is None:
        raise RuntimeError(f"No ORM on the app state ({key!r}): is farmorm's lifespan installed on this app?")
    return orm  # type: ignore[no-any-return]

__all__ = ["open_orm", "orm_from_state", "Database"]

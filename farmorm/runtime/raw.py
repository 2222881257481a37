"""``orm.raw`` / ``tx.raw``: hand-written statements on the scope's connection, values bound only.

SQL backends: ``fetch`` (rows as dicts) and ``execute`` (a row count) take ``$1, $2, …``
placeholders on every dialect and ``{model}`` / ``{model.field}`` for schema names (see
``query/raw.py``). MongoDB: ``command`` and ``aggregate``. ``connection()`` lends the native
connection of the current scope (the transaction's, inside one) for what a statement cannot do.
Every statement runs like the ORM's own: query events, the ``farmorm.sql`` logger, native errors
mapped to ``OrmError`` codes, and inside ``orm.transaction()`` it commits or rolls back with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, AsyncContextManager, AsyncIterator, Callable

from ..core.driver import Connection, Driver
from ..core.errors import UnsupportedError, validation_error
from ..query.raw import parse_raw
from ..schema.manifest import Schema


class RawClient:
    """Raw statements on a client's scope (a ``tx``'s connection when reached as ``tx.raw``);
    ``scope()`` is the client's write scope: the running transaction's connection, or one
    from the driver."""

    __slots__ = ("_schema", "_driver", "_scope")

    def __init__(self, schema: Schema, driver: Driver, scope: Callable[[], AsyncContextManager[Connection]]) -> None:
        self._schema = schema
        self._driver = driver
        self._scope = scope

    def _need(self, sql: bool, method: str) -> None:
        handle = self._driver.handle
        if (handle.dialect is not None) != sql:
            other = "fetch() / execute()" if not sql else "command() / aggregate()"
            raise UnsupportedError(
                f"orm.raw.{method}() runs on {'SQL databases' if sql else 'MongoDB'}; this ORM is on "
                f"{handle.dialect or 'MongoDB'} ({handle.kind}): use orm.raw.{other}.",
                backend_kind=handle.kind, dialect=handle.dialect,
            )

    async def _run(self, sql: Any, args: Sequence[Any], fetch: bool) -> Any:
        self._need(True, "fetch" if fetch else "execute")
        node, params = parse_raw(self._schema, sql, args, fetch=fetch)
        compiled = self._driver.compile(node)
        async with self._scope() as conn:
            conn.app_sql()
            return await conn.run(compiled, params)

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Run ``sql`` with ``args`` bound to ``$1, $2, …``; returns the rows as dicts keyed by
        the result's column names (a name repeated in the select list keeps its last value)."""
        result = await self._run(sql, args, True)
        names = list(result.columns or ())
        return [dict(zip(names, row)) for row in result.rows]

    async def execute(self, sql: str, *args: Any) -> int:
        """Run ``sql`` with ``args`` bound to ``$1, $2, …``; returns the affected row count
        (-1 when the statement reports none, e.g. DDL on PostgreSQL)."""
        result = await self._run(sql, args, False)
        return int(result.rowcount)

    async def command(self, command: Mapping[str, Any]) -> dict[str, Any]:
        """Run a MongoDB command document (``{"ping": 1}``, ``{"collMod": ...}``) on the scope's session."""
        self._need(False, "command")
        if not isinstance(command, Mapping) or not command:
            raise validation_error(f"orm.raw.command() expects a non-empty command document, got {command!r}.")
        async with self._scope() as conn:
            return await conn.raw_command(command)

    async def aggregate(self, model: str, pipeline: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Run an aggregation ``pipeline`` on ``model``'s collection; returns the documents as they come."""
        self._need(False, "aggregate")
        meta = self._schema.models.get(model) if isinstance(model, str) else None
        if meta is None:
            raise validation_error(f"orm.raw.aggregate() expects a model name of the schema, got {model!r}.",
                                   model=str(model))
        if isinstance(pipeline, (str, bytes, Mapping)) or not isinstance(pipeline, Sequence) \
                or not all(isinstance(s, Mapping) for s in pipeline):
            raise validation_error(
                f'orm.raw.aggregate() on model "{model}" expects a list of stage documents, got {pipeline!r}.',
                model=model)
        async with self._scope() as conn:
            return await conn.raw_aggregate(meta.table, pipeline)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """Lend the native connection of the current scope (asyncpg / psycopg / aiosqlite / aiomysql
        connection; MongoDB: the database) for what statements cannot do (COPY, LISTEN). Inside a
        transaction it is the transaction's connection; it must not be kept after the block."""
        async with self._scope() as conn:
            conn.app_sql()
            yield conn.native()

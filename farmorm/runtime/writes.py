"""The steps ``orm.<model>``'s writes share, kept out of ``model.py`` (which holds the public methods).

``query/mutations.py`` turns a write's arguments into a node; these run the parts that are more
than "run the node on a write connection": the transaction a multi-statement write needs, the
read-back of relations and hidden fields, the compare-and-increment of a versioned update, the
read-then-delete of ``delete(select=...)``. ``Client`` says what they (and ``references.py`` and
``nested.py``) call on a model client; a feature's subclass (``features/history.py``) serves it too,
so its hooks run on every step.
"""

from __future__ import annotations

from typing import Any, AsyncContextManager, Awaitable, Callable, Protocol

from ..core.errors import validation_error
from ..query import mutations
from ..query.plan import Read, strip_hidden
from ..schema.manifest import ModelMeta, Schema
from .engine import Engine
from .transaction import transaction_scope

#: a public method of a model client (``find_many``, ``update``, ...): called with keywords
Method = Callable[..., Awaitable[Any]]


class Client(Protocol):
    """What the write steps call on ``orm.<model>`` (``model.py``'s ``ModelClient`` or a feature's
    subclass of it): its model, schema and engine, and its methods, so a feature's hooks run."""

    model: ModelMeta
    _schema: Schema
    _engine: Engine

    def _unchecked(self) -> Client: ...

    def _sibling(self, name: str) -> Client: ...

    async def _erase(self, where: Any, scope: frozenset[str], first: bool) -> int: ...

    @property
    def find_many(self) -> Method: ...

    @property
    def find_first(self) -> Method: ...

    @property
    def count(self) -> Method: ...

    @property
    def update(self) -> Method: ...

    @property
    def update_many(self) -> Method: ...

    @property
    def delete(self) -> Method: ...

    @property
    def hard_delete_many(self) -> Method: ...


def atomic(engine: Engine) -> AsyncContextManager[Any]:
    """A multi-statement write's transaction: its own, or a savepoint in the running one; a backend
    without savepoints (MongoDB) joins the running transaction as it is."""
    if engine.state() is not None and not engine.handle.capabilities.savepoints:
        return engine.scope(write=True)
    return transaction_scope(engine)


async def finish(engine: Engine, conn: Any, read: Read | None, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Load the relations a write's ``select``/``include`` asks for; hide what was read only to do so."""
    assert read is not None
    if read.relations and records:
        await engine.load_relations(conn, read, records)
    if read.hidden:
        strip_hidden(records, read.hidden)
    return records


async def count_written(engine: Engine, m: mutations.Mutation, first: bool) -> int:
    """Run a write that reports a row count (1 or 0 for a first-match write)."""
    async with engine.scope(write=True) as conn:
        count = await engine.rowcount(conn, m.node, m.params)
    return min(1, count) if first else count


async def update_versioned(engine: Engine, schema: Schema, model: ModelMeta, where: Any, values: dict[str, Any],
                           select: Any, include: Any, expected: Any, scope: frozenset[str]) -> dict[str, Any]:
    """``update(expected_version=n)``: compare-and-increment in one statement, then read back (or
    explain the miss: VERSION_CONFLICT, or NOT_FOUND when the record is gone)."""
    m = mutations.update_versioned(schema, model, where, values, select, include, expected, scope)
    async with transaction_scope(engine) as conn:
        if await engine.rowcount(conn, m.node, m.params):
            assert m.read is not None
            rows = await engine.read(conn, m.read)
            if rows:
                return rows[0]
        current = await engine.read(conn, mutations.version_read(schema, model, where, scope))
    raise mutations.version_miss(model, expected, current[0] if current else None, engine.handle)


async def delete_returning(client: Client, where: Any, scope: frozenset[str], select: Any,
                           include: Any) -> dict[str, Any] | None:
    """``delete(select=...)``: the deleted record as it was, or None; one ``DELETE … RETURNING``
    where nothing has to be read first."""
    model = client.model
    engine = client._engine
    m = mutations.delete_returning(client._schema, model, where, scope, select, include)
    assert m.read is not None
    if m.read.relations or model.history or model.soft_delete_field is not None:
        # relations are read before the delete (a cascade would take them), as is the record a
        # history row or a soft delete needs: read, then delete exactly that record, in one transaction
        async with transaction_scope(engine):
            ident = tuple(model.identity or ())
            extra = {f: True for f in ident}
            full = await client.find_first(where=where, select=({**select, **extra} if select else None),
                                           include=include if select is None else None,
                                           with_archived="archived" in scope)
            if full is None:
                return None
            await client.delete(where={f: full[f] for f in ident}, with_archived=True)
            hide = [f for f in ident if select is not None and not select.get(f)]
            return {k: v for k, v in full.items() if k not in hide}
    async with engine.scope(write=True) as conn:
        rows = await engine.rows(conn, m.node, m.params)
    if m.read.hidden:
        strip_hidden(rows, m.read.hidden)
    return rows[0] if rows else None


def lifecycle_field(model: ModelMeta, field: str | None, option: str, operation: str) -> str:
    """The model's ``deleted_at`` / ``archived_at`` field, or VALIDATION_ERROR naming the model
    option ``operation`` needs."""
    if field is None:
        raise validation_error(f'{operation}() on model "{model.name}" needs the model option {option}=True.',
                               model=model.name)
    return field

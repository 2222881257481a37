"""The engine layer and the extension point: what the runtime keeps to itself, how features attach.

SQLite in memory (no server); the behaviour suite covers the same paths on every backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from farmorm import create_orm, define_schema, fields as f, model
from farmorm.core.driver import DEFAULT_MAX_BIND_PARAMS, Driver
from farmorm.features.history import HistoryModelClient
from farmorm.features.idempotency import IdempotencyClient
from farmorm.features.outbox import OutboxClient
from farmorm.runtime import ModelClient, engine_of
from farmorm.runtime import extension as ext
from farmorm.runtime.engine import Engine
from farmorm.setup import push_schema

SCHEMA = define_schema(
    note=model(table="notes", fields={"id": f.id(), "body": f.string()}),
    page=model(table="pages", fields={"id": f.id(), "title": f.string()}, history=True),
    outbox=True,
    idempotency=True,
)

#: what the core used to write onto driver objects; the engine keeps all of it itself now
RUNTIME_STATE = {"closed", "acquire_timeout", "_farmorm_waiting", "_farmorm_stopped", "command_timeout"}


def _own_attributes(driver: Driver) -> set[str]:
    return set(vars(driver))


async def test_create_orm_and_close_store_nothing_on_the_driver() -> None:
    orm = await create_orm(SCHEMA, "sqlite:///:memory:", acquire_timeout=3)
    driver = engine_of(orm).driver
    before = _own_attributes(driver)
    assert not before & RUNTIME_STATE
    await push_schema(SCHEMA, orm)
    async with orm.transaction() as tx:
        await tx.note.create(data={"body": "x"})
    unsubscribe = orm.on_query(lambda event: None)
    unsubscribe()
    await orm.close()
    assert _own_attributes(driver) == before
    assert engine_of(orm).primary.closed and engine_of(orm).primary.acquire_timeout == 3


async def test_on_query_subscribes_on_every_server(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'replicated.db'}"
    orm = await create_orm(SCHEMA, url, replicas=[url])
    try:
        await push_schema(SCHEMA, orm)
        engine = engine_of(orm)
        seen: list[str] = []
        unsubscribe = orm.on_query(lambda event: seen.append(event.operation))
        assert engine.router is not None
        servers = [engine.primary, *engine.router.servers()]
        assert len(servers) == 2 and all(len(s.driver.listeners) == 1 for s in servers)
        await orm.note.create(data={"body": "on the primary"})
        await orm.note.find_many()  # on the replica
        assert "INSERT" in seen and "SELECT" in seen
        unsubscribe()
        assert all(len(s.driver.listeners) == 0 for s in servers)
    finally:
        await orm.close()


async def test_engine_variants_share_the_cache_and_context() -> None:
    orm = await create_orm(SCHEMA, "sqlite:///:memory:")
    try:
        await push_schema(SCHEMA, orm)
        engine = engine_of(orm)
        async with orm.transaction() as tx:
            bound = engine_of(tx)
            assert isinstance(bound, Engine) and bound is not engine
            assert bound.plan_cache is engine.plan_cache and bound.var is engine.var
            assert bound.state() is engine.state() is not None  # the block's context binds the client too
        assert engine.state() is None and bound.state() is not None and not bound.state().active
        assert orm.primary() is orm  # no replicas: no variant
    finally:
        await orm.close()


def test_max_bind_params_is_declared_by_every_driver() -> None:
    assert Driver.max_bind_params == DEFAULT_MAX_BIND_PARAMS
    assert Driver.command_timeout is None


async def test_features_attach_through_the_extension_point() -> None:
    orm = await create_orm(SCHEMA, "sqlite:///:memory:")
    try:
        assert isinstance(orm.outbox, OutboxClient)
        assert isinstance(orm.idempotency, IdempotencyClient)
        assert type(orm.page) is HistoryModelClient  # history=True
        assert type(orm.note) is ModelClient
        assert {type(e).__name__ for e in ext.extensions()} >= {"History", "Outbox", "Idempotency"}
        with pytest.raises(AttributeError, match="no model or attribute 'nothing'"):
            orm.nothing  # noqa: B018
    finally:
        await orm.close()


class _Audit(ext.Extension):
    """A third-party feature: ``orm.audit`` and a client of its own for the ``note`` model."""

    attribute = "audit"

    def client(self, orm: Any) -> Any:
        return ("audit client of", orm)

    def model_client(self, model: Any) -> type[ModelClient] | None:
        return _CountingClient if model.name == "note" else None


class _CountingClient(ModelClient):
    __slots__ = ()
    created = 0

    async def create(self, *, data: Any, select: Any = None, include: Any = None) -> dict[str, Any]:
        type(self).created += 1
        return await super().create(data=data, select=select, include=include)


async def test_a_new_feature_is_one_registered_extension() -> None:
    audit = ext.register(_Audit())
    try:
        orm = await create_orm(SCHEMA, "sqlite:///:memory:")
        try:
            await push_schema(SCHEMA, orm)
            assert orm.audit == ("audit client of", orm)
            async with orm.transaction() as tx:
                assert tx.audit[1] is tx  # bound to the transaction's client
                await tx.note.create(data={"body": "counted"})
            assert _CountingClient.created == 1
            assert type(orm.page) is HistoryModelClient  # the other models keep their client
        finally:
            await orm.close()
    finally:
        ext.unregister(audit)
    assert "_Audit" not in {type(e).__name__ for e in ext.extensions()}

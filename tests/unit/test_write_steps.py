"""The write steps of ``runtime/writes.py`` on the fake driver: which statements, in which transaction.

``model.py`` holds the public write methods; the steps several of them share live in
``runtime/writes.py`` (a savepoint only where the backend has them, a versioned update's
compare-and-increment and read-back in one transaction, ``delete(select=...)`` as one statement).
"""

from __future__ import annotations

from typing import Any, Sequence

import msgspec
import pytest

from farmorm import define_schema, fields as f, model
from farmorm.core.driver import DriverHandle, Result
from farmorm.core.errors import RecordNotFound, VersionConflict
from farmorm.query import nodes as n
from farmorm.runtime import Orm, engine_of
from farmorm.runtime.writes import atomic

from ..fake_driver import FakeDriver

SCHEMA = define_schema(
    doc=model(table="docs", fields={"id": f.id(), "title": f.string(), "v": f.version()}),
)


def ops(driver: FakeDriver) -> list[str]:
    return [str(entry[0]) for entry in driver.log]


def docs_at(version: int, updated: int) -> Any:
    """A database holding one doc at ``version``; an UPDATE reports ``updated`` rows."""
    def handle(node: Any, params: Sequence[Any]) -> Any:
        if isinstance(node, n.Update):
            return Result([], updated)
        if isinstance(node, n.Select):
            row = {"id": "d1", "title": "after", "v": version}
            return [[row[c] for c in node.columns]]
        if isinstance(node, n.Count):
            return [[1]]
        return Result([], 0)
    return handle


@pytest.mark.parametrize("savepoints", [True, False])
async def test_a_multi_statement_write_takes_a_savepoint_only_where_the_backend_has_them(savepoints: bool) -> None:
    driver = FakeDriver(SCHEMA, docs_at(1, 1))
    caps = msgspec.structs.replace(driver.handle.capabilities, savepoints=savepoints)
    driver.handle = DriverHandle("fake", "fake", driver.handle.client, caps)
    orm = Orm(SCHEMA, driver)
    async with orm.transaction():
        async with atomic(engine_of(orm)):
            await orm.doc.count()
    inner = ["savepoint", "run", "release_savepoint"] if savepoints else ["run"]
    assert ops(driver) == ["connect", "begin", *inner, "commit", "release"]


async def test_a_versioned_update_compares_and_reads_back_in_one_transaction() -> None:
    driver = FakeDriver(SCHEMA, docs_at(2, 1))
    orm = Orm(SCHEMA, driver)
    doc = await orm.doc.update(where={"id": "d1"}, data={"title": "after"}, expected_version=1)
    assert doc == {"id": "d1", "title": "after", "v": 2}
    assert ops(driver) == ["connect", "begin", "run", "run", "commit", "release"]
    update, read = driver.statements()
    assert isinstance(update, n.Update) and isinstance(read, n.Select)


async def test_a_versioned_update_that_misses_says_why() -> None:
    orm = Orm(SCHEMA, FakeDriver(SCHEMA, docs_at(5, 0)))
    with pytest.raises(VersionConflict):
        await orm.doc.update(where={"id": "d1"}, data={"title": "late"}, expected_version=1)

    def gone(node: Any, params: Sequence[Any]) -> Any:
        return [] if isinstance(node, n.Select) else Result([], 0)

    orm = Orm(SCHEMA, FakeDriver(SCHEMA, gone))
    with pytest.raises(RecordNotFound):
        await orm.doc.update(where={"id": "d1"}, data={"title": "late"}, expected_version=1)


async def test_a_lifecycle_method_names_the_model_option_it_needs() -> None:
    driver = FakeDriver(SCHEMA, docs_at(1, 1))
    orm = Orm(SCHEMA, driver)
    with pytest.raises(Exception, match=r'restore\(\) on model "doc" needs the model option soft_delete=True'):
        await orm.doc.restore(where={"id": "d1"})
    assert driver.log == []


def test_the_default_check_schema_refuses_namespaces_where_the_backend_has_none() -> None:
    from farmorm import table_name
    from farmorm.core.errors import UnsupportedError

    namespaced = define_schema(event=model(table=table_name("events", schema="audit"), fields={"id": f.id()}))
    driver = FakeDriver(namespaced)
    driver.check_schema(SCHEMA)  # no namespace: nothing to refuse
    with pytest.raises(UnsupportedError, match="The SQL fake runtime does not support schema-qualified tables"):
        driver.check_schema(namespaced)
    caps = msgspec.structs.replace(driver.handle.capabilities, supports_schema_namespaces=True)
    driver.handle = DriverHandle("fake", "fake", driver.handle.client, caps)
    driver.check_schema(namespaced)

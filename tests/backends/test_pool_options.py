"""Pool options reach every runtime farmorm opens from a URL: as ``create_orm`` options or in the
URL's query (``?max_size=3``), with the same names on asyncpg, psycopg and aiomysql / asyncmy."""

from __future__ import annotations

from typing import Any

import pytest

from farmorm import create_orm, define_schema, model
from farmorm import fields as f
from farmorm.testing.databases import server_url

from .conftest import require

schema = define_schema(note=model(table="pool_notes", fields={"id": f.id()}))


def _max_size(orm: Any) -> int:
    target = orm._driver.target if hasattr(orm._driver, "target") else orm._driver.client
    if hasattr(target, "get_max_size"):
        return int(target.get_max_size())  # asyncpg
    if hasattr(target, "pool"):
        return int(target.pool.max_size)  # psycopg_pool
    return int(target.maxsize)  # aiomysql / asyncmy


@pytest.mark.parametrize("scheme", ["postgresql", "postgresql+psycopg"])
@pytest.mark.parametrize("how", ["option", "url"])
async def test_postgres_pool_options(scheme: str, how: str) -> None:
    require("postgres")
    url = server_url("postgres").replace("postgresql://", f"{scheme}://")
    orm = await (create_orm(schema, url, max_size=3) if how == "option" else create_orm(schema, url + "?max_size=3"))
    try:
        assert _max_size(orm) == 3
    finally:
        await orm.close()


@pytest.mark.parametrize("scheme", ["mysql", "mysql+asyncmy"])
@pytest.mark.parametrize("how", ["option", "url"])
async def test_mysql_pool_options(scheme: str, how: str) -> None:
    require("mysql")
    url = server_url("mysql").replace("mysql://", f"{scheme}://") + "test"
    orm = await (create_orm(schema, url, max_size=3) if how == "option" else create_orm(schema, url + "?max_size=3"))
    try:
        assert _max_size(orm) == 3
    finally:
        await orm.close()

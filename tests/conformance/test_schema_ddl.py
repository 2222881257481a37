"""What ``push_schema`` builds, read back from the database's own catalog on every SQL backend:
constraint and index names (the manifest's), foreign-key column types and foreign-key indexes.

The catalog is read through SQLAlchemy's inspector (the same reflection Alembic and ``db doctor``
use), so a name or type the database chose on its own shows up here as it does there.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from farmorm import define_schema, model
from farmorm import fields as f

from .conftest import database_url

pytest.importorskip("sqlalchemy")

shop = define_schema(
    customer=model(
        table="customers",
        fields={"id": f.numeric_id(), "email": f.string().unique()},  # 64-bit ids
    ),
    account=model(
        table="accounts",
        fields={
            "id": f.id(),
            "customer_id": f.integer().references("customer.id"),
            "provider": f.string(),
            "account_id": f.string(),
        },
        constraints={"unique": [["provider", "account_id"]]},
    ),
    order=model(
        table="orders",
        fields={
            "id": f.id(),
            "customer_id": f.integer().references("customer.id"),
            "account_id": f.string().references("account.id").nullable(),
            "placed": f.integer(),
        },
        # customer_id leads a declared index: no second index is added for its foreign key
        constraints={"indexes": [["customer_id", "placed"]]},
    ),
)


async def inspect(orm: Any, read: Callable[[Any], Any]) -> Any:
    """``read(inspector)`` on the database behind ``orm`` (SQLAlchemy's reflection, as Alembic uses)."""
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    from farmorm.migrations.urls import sqlalchemy_url

    engine = create_async_engine(sqlalchemy_url(database_url(orm)), poolclass=sa.NullPool)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda sync: read(sa.inspect(sync)))
    finally:
        await engine.dispose()


def require_sql(orm: Any) -> None:
    if orm.driver.dialect is None:
        pytest.skip("schemaless backend: its index names are checked in tests/backends/test_mongo.py")


def unique_names(insp: Any, table: str) -> dict[str, list[str]]:
    """Unique keys by name, whether the backend reports them as constraints or unique indexes."""
    out = {c["name"]: list(c["column_names"]) for c in insp.get_unique_constraints(table)}
    out.update({i["name"]: list(i["column_names"]) for i in insp.get_indexes(table) if i["unique"]})
    return out


async def test_unique_keys_carry_the_manifest_names(make_orm):
    orm = await make_orm(shop)
    require_sql(orm)
    got = await inspect(orm, lambda insp: {t: unique_names(insp, t) for t in ("customers", "accounts")})
    assert got["customers"] == {"customers_email_unique": ["email"]}
    assert got["accounts"] == {"accounts_provider_account_id_unique": ["provider", "account_id"]}
    assert shop.models["customer"].field_uniques[0].name == "customers_email_unique"
    assert not any(name.startswith("sqlite_autoindex") for names in got.values() for name in names)


async def test_a_unique_violation_names_the_manifest_constraint(make_orm):
    orm = await make_orm(shop)
    await orm.customer.create(data={"id": 1, "email": "a@x.dev"})
    with pytest.raises(Exception) as info:
        await orm.customer.create(data={"id": 2, "email": "a@x.dev"})
    err = info.value
    assert err.code == "UNIQUE_CONSTRAINT_VIOLATION"
    assert list(err.meta["target"]) == ["email"]
    if "constraint" in err.meta:  # SQLite's message names the columns, not the key
        assert err.meta["constraint"] == "customers_email_unique"


async def test_foreign_key_columns_have_the_referenced_columns_type(make_orm):
    orm = await make_orm(shop)
    require_sql(orm)

    def types(insp: Any) -> dict[str, str]:
        cols = {c["name"]: c["type"] for c in insp.get_columns("customers")}
        refs = {c["name"]: c["type"] for c in insp.get_columns("orders")}
        return {"id": str(cols["id"]).lower(), "customer_id": str(refs["customer_id"]).lower()}

    got = await inspect(orm, types)
    assert got["customer_id"] == got["id"]
    if orm.driver.dialect != "sqlite":
        assert got["id"] == "bigint"
    customer = await orm.customer.create(data={"id": 2**40, "email": "c@x.dev"})  # beyond 32 bits
    await orm.order.create(data={"customer_id": customer["id"], "placed": 1})
    assert await orm.order.count(where={"customer_id": customer["id"]}) == 1


async def test_foreign_key_columns_are_indexed_by_the_manifest_rule(make_orm):
    orm = await make_orm(shop)
    require_sql(orm)

    def indexes(insp: Any) -> dict[str, dict[str, list[str]]]:
        return {t: {i["name"]: list(i["column_names"]) for i in insp.get_indexes(t) if not i["unique"]}
                for t in ("accounts", "orders")}

    got = await inspect(orm, indexes)
    assert got["accounts"]["accounts_customer_id_idx"] == ["customer_id"]
    assert got["orders"]["orders_account_id_idx"] == ["account_id"]
    assert got["orders"]["orders_customer_id_placed_idx"] == ["customer_id", "placed"]
    # the declared index leads with customer_id, so no extra index on it
    assert "orders_customer_id_idx" not in got["orders"]
    assert [c.name for c in shop.models["order"].foreign_key_indexes] == ["orders_account_id_idx"]
    if orm.driver.dialect == "mysql":  # InnoDB uses the named index for the key: no index of its own
        assert set(got["accounts"]) == {"accounts_customer_id_idx"}

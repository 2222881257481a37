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


# ------------------------------------------------------------------------------- decimal(p, s)

prices = define_schema(
    price=model(
        table="prices",
        fields={"id": f.id(), "amount": f.decimal(10, 2), "rate": f.decimal(5), "raw": f.decimal().nullable()},
    )
)


async def test_decimal_precision_and_scale_are_the_column_type(make_orm):
    orm = await make_orm(prices)
    require_sql(orm)

    def numeric(insp: Any) -> dict[str, tuple[Any, Any]]:
        cols = {c["name"]: c["type"] for c in insp.get_columns("prices")}
        return {k: (getattr(cols[k], "precision", None), getattr(cols[k], "scale", None)) for k in ("amount", "rate", "raw")}

    got = await inspect(orm, numeric)
    if orm.driver.dialect == "sqlite":  # exact digits as text; the scale is applied by farmorm
        return
    assert got == {"amount": (10, 2), "rate": (5, 0), "raw": (65, 30)}


async def test_decimal_reads_back_with_exactly_its_scale(make_orm):
    from decimal import Decimal

    orm = await make_orm(prices)
    made = await orm.price.create(data={"amount": Decimal("12.5"), "rate": 7, "raw": Decimal("12.50")})
    assert str(made["amount"]) == "12.50"
    row = await orm.price.find_unique(where={"id": made["id"]})
    assert (str(row["amount"]), str(row["rate"]), str(row["raw"])) == ("12.50", "7", "12.5")
    await orm.price.create_many(data=[{"amount": "0.1", "rate": 1}, {"amount": Decimal("99999999.99"), "rate": 99999}])
    rows = await orm.price.find_many(order_by={"amount": "asc"})
    assert [str(r["amount"]) for r in rows] == ["0.10", "12.50", "99999999.99"]
    assert await orm.price.count(where={"amount": {"gt": Decimal("12.499")}}) == 2
    await orm.price.update(where={"id": made["id"]}, data={"amount": Decimal("3.000")})  # zeros beyond the scale are fine
    assert str((await orm.price.find_unique(where={"id": made["id"]}))["amount"]) == "3.00"


@pytest.mark.parametrize("value, why", [("1.234", "2 fractional digits"), ("123456789.5", "8 integer")])
async def test_a_decimal_that_does_not_fit_is_refused_not_rounded(make_orm, query_log, value, why):
    from decimal import Decimal

    orm = await make_orm(prices)
    log = query_log(orm)
    with pytest.raises(Exception) as info:
        await orm.price.create(data={"amount": Decimal(value), "rate": 1})
    err = info.value
    assert err.code == "VALIDATION_ERROR"
    assert why in str(err) and "decimal(10, 2)" in str(err) and '"amount"' in str(err) and '"price"' in str(err)
    assert log == []  # refused before any I/O

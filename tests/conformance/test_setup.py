"""Setup helpers on every backend: idempotent push, escaped DB defaults, bootstrap, setup errors."""

from __future__ import annotations

import pytest

from farmorm import UnsupportedError, create_orm, define_schema, model, table_name
from farmorm import fields as f
from farmorm.setup import RuntimeSetupError, apply_schema, bootstrap_database, push_schema

from .conftest import database_url

TRICKY = "it's; DROP TABLE notes; --"

notes = define_schema(
    note=model(
        table="notes",
        fields={
            "id": f.id(),
            "title": f.string(),
            "tag": f.string().default(TRICKY),
            "stars": f.integer().default(0),
            "pinned": f.boolean().default(False),
        },
        constraints={"unique": [["title", "tag"]], "indexes": [["stars"]]},
    )
)

# the same table seen by an app that does not know the defaulted columns: the DATABASE fills them
notes_without_defaults = define_schema(
    note=model(table="notes", fields={"id": f.id(), "title": f.string()})
)


async def test_push_twice_is_a_no_op_and_keeps_data(make_orm):
    orm = await make_orm(notes)
    await orm.note.create(data={"title": "a"})
    await push_schema(notes, orm)
    await apply_schema(notes, orm)
    assert await orm.note.count() == 1


def require_sql(orm):
    # No capability names this: MongoDB has no column defaults and indexes any field of a schemaless
    # collection, so neither a database-side default nor a failing index exists there.
    if orm.driver.dialect is None:
        pytest.skip("schemaless backend: no database-side defaults, no failing index creation")


async def test_string_default_with_quote_and_semicolon_is_a_real_db_default(make_orm):
    orm = await make_orm(notes)
    require_sql(orm)
    created = await orm.note.create(data={"title": "client"})
    assert created["tag"] == TRICKY  # applied client-side
    other = await create_orm(notes_without_defaults, orm.driver.client)
    try:
        await other.note.create(data={"title": "server"})
    finally:
        await other.close()
    row = await orm.note.find_unique(where={"title": "server", "tag": TRICKY})
    assert row is not None
    assert (row["tag"], row["stars"], row["pinned"]) == (TRICKY, 0, False)
    assert await orm.note.count() == 2  # nothing was dropped by the default's text


async def test_bootstrap_database_pushes_and_returns_a_ready_client(make_orm):
    orm = await make_orm(notes)
    ready = await bootstrap_database(notes, orm.driver.client)
    try:
        made = await ready.note.create(data={"title": "boot"})
        assert (await orm.note.find_unique(where={"id": made["id"]}))["title"] == "boot"
    finally:
        await ready.close()


async def test_a_failing_push_raises_runtime_setup_error(make_orm):
    orm = await make_orm(notes_without_defaults)
    require_sql(orm)
    # the table exists without "stars": creating the index on it must fail, with context
    with pytest.raises(RuntimeSetupError) as info:
        await push_schema(notes, orm)
    err = info.value
    assert err.stage == "push"
    assert err.runtime_kind == orm.driver.kind
    assert err.dialect == orm.driver.dialect
    where = f"{orm.driver.kind} ({orm.driver.dialect})"
    assert str(err).startswith(f"push_schema() failed for {where} runtime. ")
    assert err.__cause__ is not None


audit = define_schema(
    event=model(table=table_name("events", schema="audit"), fields={"id": f.id(), "kind": f.string()})
)


@pytest.mark.parametrize("stage", ["push", "apply", "bootstrap"])
async def test_a_namespaced_table_where_namespaces_are_missing_is_a_setup_error(make_orm, stage):
    orm = await make_orm(notes)
    if orm.driver.capabilities.supports_schema_namespaces:
        pytest.skip("the backend has schema namespaces: the namespaced table is created")
    helper = {"push": push_schema, "apply": apply_schema, "bootstrap": bootstrap_database}[stage]
    # through the ORM client and through a URL (where create_orm itself refuses the schema)
    clients = [database_url(orm)] if stage == "bootstrap" else [orm, database_url(orm)]
    for client in clients:
        with pytest.raises(RuntimeSetupError) as info:
            await helper(audit, client)
        err = info.value
        assert err.stage == stage
        # the ORM client reports its own runtime; a URL opens the backend's default library
        # (aiomysql for mysql://, also when this run's ORM is on asyncmy or SQLAlchemy)
        assert err.runtime_kind == (orm.driver.kind if client is orm else await _url_kind(client))
        assert isinstance(err.__cause__, UnsupportedError)
        assert str(err).startswith(f"{stage}_{'database' if stage == 'bootstrap' else 'schema'}() failed for ")
        assert "schema-qualified tables" in str(err)


async def _url_kind(url: str) -> str:
    """The client kind ``create_orm`` opens for ``url`` (a schema without namespaces)."""
    probe = await create_orm(notes, url)
    try:
        return probe.driver.kind
    finally:
        await probe.close()

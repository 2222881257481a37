"""``define_schema(..., foreign_keys=False)``: the DDL and the migration metadata carry an index per
reference column and no FOREIGN KEY (the ORM enforces references: tests/conformance/test_no_foreign_keys.py)."""

from __future__ import annotations

import pytest

from farmorm import define_schema, model
from farmorm import fields as f
from farmorm.schema.manifest import merge_schemas
from farmorm_drivers._sql.ddl import schema_statements

MODELS = {
    "team": model(table="teams", fields={"id": f.id(), "slug": f.string().unique()}),
    "project": model(table="projects", fields={"id": f.id(), "team_id": f.string().references("team.id"),
                                               "name": f.string()}),
}


def _hooks(dialect: str):  # type: ignore[no-untyped-def]
    if dialect == "postgres":
        from farmorm_drivers.postgres.dialect import ddl_hooks
        return ddl_hooks()
    if dialect == "mysql":
        from farmorm_drivers.mysql.dialect import ddl_hooks as my_hooks
        return my_hooks()
    from farmorm_drivers.sqlite.dialect import ddl_hooks as lite_hooks
    return lite_hooks()


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_no_foreign_key_and_an_index_on_the_reference_column(dialect: str) -> None:
    schema = define_schema(**MODELS, foreign_keys=False)
    assert not schema.foreign_keys
    ddl = "\n".join(schema_statements(_hooks(dialect), schema))
    assert "FOREIGN KEY" not in ddl.upper() and "REFERENCES" not in ddl.upper()
    # its own CREATE INDEX, or (MySQL) an INDEX line inside CREATE TABLE
    assert ddl.count("projects_team_id_idx") == 1


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_the_default_keeps_its_foreign_keys(dialect: str) -> None:
    schema = define_schema(**MODELS)
    assert schema.foreign_keys
    assert "FOREIGN KEY" in "\n".join(schema_statements(_hooks(dialect), schema)).upper()


def test_migration_metadata_has_no_foreign_key() -> None:
    pytest.importorskip("sqlalchemy")
    from farmorm.generators.sqlalchemy import to_sqlalchemy_metadata

    projects = to_sqlalchemy_metadata(define_schema(**MODELS, foreign_keys=False), dialect="postgresql").tables["projects"]
    assert not projects.foreign_keys
    assert [list(ix.columns.keys()) for ix in projects.indexes] == [["team_id"]]


def test_the_option_survives_merging() -> None:
    merged = merge_schemas(define_schema(**MODELS, foreign_keys=False),
                           define_schema(tag=model(table="tags", fields={"id": f.id()})))
    assert not merged.foreign_keys

"""Raw SQL scanning (``$n`` and ``{model.field}`` outside literals) and compiling per dialect."""

from __future__ import annotations

import pytest

from farmorm import QueryValidationError, define_schema, model
from farmorm import fields as f
from farmorm.query import nodes as n
from farmorm.query.raw import parse_raw, split_sql
from farmorm_drivers._sql.compiler import SqlCompiler
from farmorm_drivers.mysql.compiler import MysqlCompiler
from farmorm_drivers.mysql.dialect import MysqlDialect
from farmorm_drivers.postgres.dialect import PostgresDialect
from farmorm_drivers.postgres.psycopg_runtime import PsycopgDialect
from farmorm_drivers.sqlite.dialect import SqliteDialect

SCHEMA = define_schema(user=model(table="users", fields={"id": f.id(), "email": f.string().map("mail")}))


def test_placeholders_and_names_outside_literals_only() -> None:
    parts, top = split_sql("SELECT '$1 {user}', \"$2\", `{x}` -- $3 {user}\n /* $4 */ $$ $5 $$ $tag$ $6 $tag$ "
                           "{user.email}, $1, a$1 FROM {user} WHERE x = $2")
    assert top == 2
    assert [p for p in parts if not isinstance(p, str)] == [
        n.RawIdent("user", "email"), n.Param(0), n.RawIdent("user"), n.Param(1)]
    assert "".join(p for p in parts if isinstance(p, str)).startswith("SELECT '$1 {user}', \"$2\", `{x}` -- $3")


def test_doubled_quotes_stay_inside_the_literal() -> None:
    parts, top = split_sql("SELECT 'it''s $1' AS a, $1")
    assert top == 1 and parts == ["SELECT 'it''s $1' AS a, ", n.Param(0)]


def test_each_dialect_writes_its_placeholders_and_quotes() -> None:
    node, _ = parse_raw(SCHEMA, "SELECT {user.email} FROM {user} WHERE {user.email} = $1 OR $1 LIKE '1%'",
                        ["x"], fetch=True)
    assert SqlCompiler(SCHEMA, PostgresDialect()).compile(node).sql == \
        """SELECT "mail" FROM "users" WHERE "mail" = $1 OR $1 LIKE '1%'"""
    lite = SqlCompiler(SCHEMA, SqliteDialect()).compile(node)
    assert lite.sql == """SELECT "mail" FROM "users" WHERE "mail" = ? OR ? LIKE '1%'"""
    assert lite.bind(["x"]) == (lite.sql, ["x", "x"])
    assert MysqlCompiler(SCHEMA, MysqlDialect()).compile(node).sql == \
        "SELECT `mail` FROM `users` WHERE `mail` = %s OR %s LIKE '1%%'"
    assert SqlCompiler(SCHEMA, PsycopgDialect()).compile(node).sql == \
        """SELECT "mail" FROM "users" WHERE "mail" = %s OR %s LIKE '1%%'"""
    plain, _ = parse_raw(SCHEMA, "SELECT '1%'", [], fetch=False)  # no params: no interpolation, no doubling
    assert MysqlCompiler(SCHEMA, MysqlDialect()).compile(plain).sql == "SELECT '1%'"


def test_bad_input() -> None:
    with pytest.raises(QueryValidationError, match=r"placeholders count from \$1"):
        parse_raw(SCHEMA, "SELECT $0", [1], fetch=True)
    with pytest.raises(QueryValidationError, match="non-empty str"):
        parse_raw(SCHEMA, None, [], fetch=True)

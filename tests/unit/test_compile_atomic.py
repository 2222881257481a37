"""Compile snapshots for atomic update operations (``Arith``) on every dialect and Mongo."""

from __future__ import annotations

from decimal import Decimal

from farmorm import define_schema, model
from farmorm import fields as f
from farmorm.query import nodes as n
from farmorm_drivers._sql.compiler import SqlCompiler
from farmorm_drivers.mongo.compiler import MongoCompiler
from farmorm_drivers.mysql.compiler import MysqlCompiler
from farmorm_drivers.mysql.dialect import MysqlDialect
from farmorm_drivers.postgres.dialect import PostgresDialect
from farmorm_drivers.sqlite.dialect import SqliteDialect, decimal_arith

SCHEMA = define_schema(
    c=model(table="cs", fields={"id": f.id(), "hits": f.integer(), "amount": f.decimal(),
                                 "maybe": f.integer().nullable(), "version": f.version()}),
)

WHERE = n.Compare("id", "eq", n.Param(3))
UPDATE = n.Update("c", (), (), WHERE, False, (), ("version",),
                  (n.Arith("hits", "add", n.Param(0)), n.Arith("amount", "div", n.Param(1)),
                   n.Arith("hits", "sub", n.Param(2))))


def test_sql_side_by_side() -> None:
    assert SqlCompiler(SCHEMA, PostgresDialect()).compile(UPDATE).sql == (
        'UPDATE "cs" SET "hits" = "hits" + $1, "amount" = "amount" / $2, "hits" = "hits" - $3, '
        '"version" = "version" + 1 WHERE "cs"."id" = $4')
    assert SqlCompiler(SCHEMA, SqliteDialect()).compile(UPDATE).sql == (
        'UPDATE "cs" SET "hits" = "hits" + ?, "amount" = farmorm_decimal(\'div\', "amount", ?), '
        '"hits" = "hits" - ?, "version" = "version" + 1 WHERE "cs"."id" = ?')
    div = n.Update("c", (), (), WHERE, False, (), (), (n.Arith("hits", "div", n.Param(0)),
                                                       n.Arith("amount", "div", n.Param(1))))
    assert MysqlCompiler(SCHEMA, MysqlDialect()).compile(div).sql == (
        "UPDATE `cs` SET `hits` = `hits` DIV %s, `amount` = ROUND(`amount` / %s, 30) WHERE `cs`.`id` = %s")


def test_sql_upsert_qualifies_the_column() -> None:
    up = n.Upsert("c", ("id", "hits", "amount"), (n.Param(0), n.Param(1), n.Param(2)), ("id",), (), (), (),
                  (), (n.Arith("hits", "mul", n.Param(3)),))
    assert SqlCompiler(SCHEMA, PostgresDialect()).compile(up).sql.endswith(
        'DO UPDATE SET "hits" = "cs"."hits" * $4')


def test_mongo_uses_inc_and_mul_and_a_pipeline_when_it_must() -> None:
    plain = n.Update("c", (), (), WHERE, False, (), ("version",),
                     (n.Arith("hits", "sub", n.Param(0)), n.Arith("amount", "mul", n.Param(1))))
    shape = MongoCompiler(SCHEMA).compile(plain).shape([2, Decimal("1.5"), None, "x"])
    assert shape["update"]["$inc"] == {"version": 1, "hits": -2}
    assert str(shape["update"]["$mul"]["amount"]) == "1.5"
    nullable = n.Update("c", (), (), WHERE, False, (), (), (n.Arith("maybe", "add", n.Param(0)),))
    shape = MongoCompiler(SCHEMA).compile(nullable).shape([1, None, None, "x"])
    assert shape["update"] == {"$pipeline": {"maybe": {"$cond": [
        {"$eq": [{"$ifNull": ["$maybe", None]}, None]}, "$$REMOVE", {"$add": ["$maybe", 1]}]}}}


def test_sqlite_decimal_function() -> None:
    assert decimal_arith("add", "0.1", "0.2") == "0.3"
    assert decimal_arith("div", "1", "3") == "0." + "3" * 30
    assert decimal_arith("div", "2", "3") == "0." + "6" * 29 + "7"  # half away from zero
    assert decimal_arith("mul", None, "3") is None

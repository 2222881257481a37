"""Compile snapshots for the patterns: the version increment, visibility and the keyset condition."""

from __future__ import annotations

from farmorm import define_schema, has_many, model
from farmorm import fields as f
from farmorm.query import nodes as n
from farmorm.query.cursor import after_condition, page_order
from farmorm.query.parse import parse_read
from farmorm_drivers._sql.compiler import SqlCompiler
from farmorm_drivers.mongo.compiler import MongoCompiler
from farmorm_drivers.mysql.compiler import MysqlCompiler
from farmorm_drivers.mysql.dialect import MysqlDialect
from farmorm_drivers.postgres.dialect import PostgresDialect
from farmorm_drivers.sqlite.dialect import SqliteDialect

SCHEMA = define_schema(
    doc=model(
        table="docs",
        fields={"id": f.id(), "slug": f.string().unique(), "body": f.string(), "version": f.version(),
                "owner_id": f.string().nullable()},
        soft_delete=True,
        archive=True,
    ),
    owner=model(table="owners", fields={"id": f.id()}, relations={"docs": has_many("doc", foreign_key="owner_id")}),
)

UPDATE = n.Update("doc", ("body",), (n.Param(0),),
                  n.And((n.Compare("id", "eq", n.Param(1)), n.Compare("version", "eq", n.Param(2)))),
                  False, (), ("version",))
UPSERT = n.Upsert("doc", ("id", "slug", "body", "version"), tuple(n.Param(i) for i in range(4)), ("slug",),
                  ("body",), (n.Param(4),), (), ("version",))


def test_sql_increment_side_by_side() -> None:
    assert SqlCompiler(SCHEMA, SqliteDialect()).compile(UPDATE).sql == (
        'UPDATE "docs" SET "body" = ?, "version" = "version" + 1 '
        'WHERE ("docs"."id" = ?) AND ("docs"."version" = ?)')
    assert SqlCompiler(SCHEMA, PostgresDialect()).compile(UPDATE).sql == (
        'UPDATE "docs" SET "body" = $1, "version" = "version" + 1 '
        'WHERE ("docs"."id" = $2) AND ("docs"."version" = $3)')
    assert MysqlCompiler(SCHEMA, MysqlDialect()).compile(UPDATE).sql == (
        "UPDATE `docs` SET `body` = %s, `version` = `version` + 1 "
        "WHERE (`docs`.`id` = %s) AND (`docs`.`version` = %s)")


def test_sql_upsert_increment_is_qualified() -> None:
    pg = SqlCompiler(SCHEMA, PostgresDialect()).compile(UPSERT).sql
    assert pg.endswith('ON CONFLICT ("slug") DO UPDATE SET "body" = $5, "version" = "docs"."version" + 1')
    my = MysqlCompiler(SCHEMA, MysqlDialect()).compile(UPSERT).sql
    assert my.endswith("ON DUPLICATE KEY UPDATE `body` = %s, `version` = `docs`.`version` + 1")


def test_mongo_increment() -> None:
    cmd = MongoCompiler(SCHEMA).compile(UPDATE)
    shape = cmd.shape(["b", "i", 3])
    assert shape["update"] == {"$set": {"body": "b"}, "$inc": {"version": 1}}
    assert shape["filter"] == {"$and": [{"id": {"$eq": "i"}}, {"version": {"$eq": 3}}]} or \
        shape["filter"] == {"id": {"$eq": "i"}, "version": {"$eq": 3}}
    up = MongoCompiler(SCHEMA).compile(UPSERT).shape([1, "s", "b", 1, "b2"])
    assert up["update"]["$inc"] == {"version": 1}


def test_visibility_and_relation_scope_in_nodes() -> None:
    read = parse_read(SCHEMA, SCHEMA.models["owner"], include={"docs": True},
                      where={"docs": {"every": {"body": "x"}}})
    hidden = (n.IsNull("deleted_at", negated=True), n.IsNull("archived_at", negated=True))
    assert read.node.where == n.RelationFilter("docs", "every", n.Or((*hidden, n.Compare("body", "eq", n.Param(0)))))
    level = read.relations[0].read.node
    assert level.where == n.And((n.IsNull("deleted_at"), n.IsNull("archived_at")))
    scoped = parse_read(SCHEMA, SCHEMA.models["doc"], scope=frozenset({"deleted"}))
    assert scoped.node.where == n.IsNull("archived_at")


def test_keyset_condition() -> None:
    order = page_order(SCHEMA.models["doc"], {"slug": "desc"})
    assert order == (n.OrderItem("slug", True), n.OrderItem("id", False))
    params: list = []
    cond = after_condition(order, ["s", "i"], params)
    assert params == ["s", "i"]
    assert cond == n.Or((
        n.Compare("slug", "lt", n.Param(0)),
        n.And((n.Compare("slug", "eq", n.Param(0)), n.Compare("id", "gt", n.Param(1)))),
    ))

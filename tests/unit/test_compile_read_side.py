"""Compile snapshots of the read side (aggregate, group_by, distinct, relation order and counts,
nulls placement, insensitive IN) for every SQL dialect and MongoDB: exact text and slot order."""

from __future__ import annotations

from decimal import Decimal

from farmorm.query.aggregate import parse_aggregate, parse_group_by
from farmorm.query.parse import DEFAULT_SCOPE, parse_read
from farmorm_drivers._sql.compiler import SqlCompiler
from farmorm_drivers.mongo.compiler import MongoCompiler
from farmorm_drivers.mysql.dialect import MysqlDialect
from farmorm_drivers.postgres.dialect import PostgresDialect
from farmorm_drivers.sqlite.dialect import SqliteDialect

from tests.conformance.music import music_schema as SCHEMA

INVOICE = SCHEMA.models["invoice"]
TRACK = SCHEMA.models["track"]
ARTIST = SCHEMA.models["artist"]
SQLITE = SqlCompiler(SCHEMA, SqliteDialect())
PG = SqlCompiler(SCHEMA, PostgresDialect())
MYSQL = SqlCompiler(SCHEMA, MysqlDialect())
MONGO = MongoCompiler(SCHEMA)


def _countries_over_100():
    return parse_group_by(SCHEMA, INVOICE, by=["billing_country"], where=None, specs={"sum": {"total": True}},
                          having={"sum": {"total": {"gt": Decimal(100)}}}, order_by={"sum": {"total": "desc"}},
                          take=5, skip=None, scope=DEFAULT_SCOPE)


def test_group_by_on_every_sql_dialect():
    node, params, _ = _countries_over_100()
    assert params == [Decimal(100), 5]
    s = SQLITE.compile(node)
    assert s.sql == (
        'SELECT t0."billing_country", farmorm_decimal(\'sum\', json_group_array(t0."total")) FROM "invoices" t0 '
        'GROUP BY t0."billing_country" HAVING CAST(farmorm_decimal(\'sum\', json_group_array(t0."total")) AS REAL) '
        '> CAST(? AS REAL) ORDER BY CAST(farmorm_decimal(\'sum\', json_group_array(t0."total")) AS REAL) DESC, '
        't0."billing_country" ASC LIMIT ?')
    assert s.slots == (0, 1) and s.columns == ("billing_country", "sum.total")
    p = PG.compile(node)
    assert p.sql == (
        'SELECT t0."billing_country", SUM(t0."total") FROM "invoices" t0 GROUP BY t0."billing_country" '
        'HAVING SUM(t0."total") > $1 ORDER BY SUM(t0."total") DESC NULLS LAST, t0."billing_country" ASC NULLS FIRST '
        'LIMIT $2')
    m = MYSQL.compile(node)
    assert m.sql == (
        'SELECT t0.`billing_country`, SUM(t0.`total`) FROM `invoices` t0 GROUP BY t0.`billing_country` '
        'HAVING SUM(t0.`total`) > %s ORDER BY SUM(t0.`total`) DESC, t0.`billing_country` ASC LIMIT %s')


def test_group_by_on_mongo_is_one_pipeline():
    node, _, _ = _countries_over_100()
    c = MONGO.compile(node)
    assert c.op == "aggregate" and c.filter == {}
    group, project, having, sort = c.pipeline
    assert group == {"$group": {
        "_id": {"k0": {"$ifNull": ["$billing_country", None]}},
        "a0": {"$sum": "$total"},
        "a0n": {"$sum": {"$cond": [{"$eq": [{"$ifNull": ["$total", None]}, None]}, 0, 1]}},
    }}
    assert project["$project"]["a0"] == {"$cond": [{"$gt": ["$a0n", 0]}, "$a0", None]}
    assert repr(having) == "{'$match': {'a0': {'$gt': P(0)}}}"
    assert sort == {"$sort": {"a0": -1, "k0": 1}}
    assert c.column_names == ("k0", "a0") and c.limit is not None and c.limit.index == 1


def test_aggregate_avg_is_its_sum_and_count():
    node, params, _ = parse_aggregate(SCHEMA, INVOICE, where={"items": {"gt": 1}},
                                      specs={"count": True, "avg": {"items": True}}, scope=DEFAULT_SCOPE)
    p = PG.compile(node)
    assert p.sql == 'SELECT COUNT(*), SUM(t0."items"), COUNT(t0."items") FROM "invoices" t0 WHERE t0."items" > $1'
    assert p.columns == ("count._all", "avg.items", "avg.items.n")
    assert MONGO.compile(node).single


def test_order_by_relation_paths_and_counts():
    r = parse_read(SCHEMA, TRACK, select={"id": True},
                   order_by=[{"album": {"artist": {"name": {"sort": "asc", "nulls": "last"}}}}], take=3)
    assert PG.compile(r.node).sql == (
        'SELECT t0."id" FROM "tracks" t0 ORDER BY (SELECT (SELECT t2."name" FROM "artists" t2 WHERE t2."id" = '
        't1."artist_id" LIMIT 1) FROM "albums" t1 WHERE t1."id" = t0."album_id" LIMIT 1) ASC NULLS LAST LIMIT $1')
    assert MYSQL.compile(r.node).sql == (
        'SELECT t0.`id` FROM `tracks` t0 ORDER BY ((SELECT (SELECT t2.`name` FROM `artists` t2 WHERE t2.`id` = '
        't1.`artist_id` LIMIT 1) FROM `albums` t1 WHERE t1.`id` = t0.`album_id` LIMIT 1) IS NULL) ASC, '
        '(SELECT (SELECT t2.`name` FROM `artists` t2 WHERE t2.`id` = t1.`artist_id` LIMIT 1) FROM `albums` t1 '
        'WHERE t1.`id` = t0.`album_id` LIMIT 1) ASC LIMIT %s')
    stages = MONGO.compile(r.node).pipeline
    assert [next(iter(s)) for s in stages] == ["$lookup", "$addFields", "$lookup", "$addFields", "$addFields",
                                              "$addFields", "$sort", "$project"]
    assert stages[6] == {"$sort": {"_z0": 1, "_o0": 1}}
    r = parse_read(SCHEMA, ARTIST, select={"name": True, "_count": {"albums": {"where": {"title": "x"}}}},
                   order_by={"albums": {"_count": "desc"}})
    assert SQLITE.compile(r.node).sql == (
        'SELECT t0."name", t0."id", (SELECT COUNT(*) FROM "albums" t1 WHERE t1."artist_id" = t0."id" AND '
        '(t1."title" = ?)) FROM "artists" t0 ORDER BY (SELECT COUNT(*) FROM "albums" t3 WHERE t3."artist_id" = t0."id") DESC')


def test_distinct_is_a_window_then_an_outer_filter():
    r = parse_read(SCHEMA, INVOICE, select={"id": True}, distinct=["customer_id"], order_by={"total": "desc"},
                   where={"items": {"gte": 1}}, take=2)
    assert PG.compile(r.node).sql == (
        'SELECT w.c0 FROM (SELECT t0."id" AS c0, t0."total" AS o0, ROW_NUMBER() OVER (PARTITION BY t0."customer_id" '
        'ORDER BY t0."total" DESC, t0."id" ASC) AS rn FROM "invoices" t0 WHERE t0."items" >= $1) w '
        'WHERE w.rn = 1 ORDER BY w.o0 DESC NULLS LAST LIMIT $2')
    stages = MONGO.compile(r.node).pipeline
    assert stages[0] == {"$sort": {"total": -1, "id": 1}}
    assert stages[1] == {"$group": {"_id": {"d0": {"$ifNull": ["$customer_id", None]}}, "_doc": {"$first": "$$ROOT"}}}


def test_insensitive_in_lists():
    r = parse_read(SCHEMA, INVOICE, select={"id": True},
                   where={"billing_country": {"in": ["us"], "mode": "insensitive"}})
    assert SQLITE.compile(r.node).sql.endswith(
        'WHERE lower(t0."billing_country") IN (SELECT lower(value) FROM json_each(?))')
    assert PG.compile(r.node).sql.endswith(
        'WHERE lower(t0."billing_country") = ANY(ARRAY(SELECT lower(x) FROM unnest($1::text[]) AS x))')
    m = MYSQL.compile(r.node)
    assert "lower(t0.`billing_country`) IN (" in m.sql
    assert m.bind([["US", "De"]])[1] == ["us", "de"]

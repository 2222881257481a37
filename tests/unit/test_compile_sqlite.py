"""Compile snapshots: the shared SQL compiler with the SQLite dialect (exact text and slot order)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from farmorm import belongs_to, define_schema, has_many, has_one, many_to_many, model
from farmorm import fields as f
from farmorm.query import nodes as n
from farmorm.query.parse import parse_read, parse_where
from farmorm.query.plan import LINK_COLUMN
from farmorm.query.writes import create_values, upsert_values
from farmorm_drivers._sql.compiler import SqlCompiler
from farmorm_drivers._sql.dialect import SqlDialect
from farmorm_drivers._sql.statement import EXPAND_MARK, SqlStatement
from farmorm_drivers.sqlite.dialect import SqliteDialect, encode_datetime

UTC = dt.timezone.utc

SCHEMA = define_schema(
    user=model(
        table="users",
        fields={
            "id": f.id(),
            "email": f.string().unique(),
            "name": f.string().nullable(),
            "age": f.integer().nullable(),
            "balance": f.decimal().nullable(),
            "created_at": f.datetime().default_now(),
            "meta": f.json().nullable(),
            "tier": f.enumeration(["free", "pro"]).default("free"),
        },
        relations={
            "posts": has_many("post", foreign_key="user_id"),
            "profile": has_one("profile", foreign_key="user_id"),
            "tags": many_to_many("tag", through="user_tag", from_="user_id", to="tag_id"),
        },
    ),
    post=model(
        table="posts",
        fields={"id": f.id(), "title": f.string(), "user_id": f.string().references("user.id").map("author_id")},
        relations={"author": belongs_to("user", foreign_key="user_id")},
    ),
    profile=model(table="profiles", fields={"id": f.id(), "bio": f.string(), "user_id": f.string().references("user.id").unique()}),
    tag=model(table="tags", fields={"id": f.id(), "label": f.string().unique()}),
    user_tag=model(table="user_tags", fields={"id": f.id(), "user_id": f.string().references("user.id"),
                                             "tag_id": f.string().references("tag.id")}),
    member=model(table="members", fields={"user_id": f.string(), "org_id": f.string(), "role": f.string()},
                 constraints={"unique": [["user_id", "org_id"]]}),
)
USER = SCHEMA.models["user"]
C = SqlCompiler(SCHEMA, SqliteDialect())


def compile_read(**kw):
    r = parse_read(SCHEMA, USER, **kw)
    return C.compile(r.node), r


def compile_where(w, columns=("id",)):
    params: list = []
    node = n.Select("user", columns, parse_where(SCHEMA, USER, w, params))
    return C.compile(node), params


BASE = 'SELECT t0."id" FROM "users" t0'


def test_select_with_where_order_limit_offset():
    stmt, r = compile_read(where={"name": "Ada", "age": {"gt": 3}}, select={"id": True, "name": True},
                           order_by=[{"age": "desc"}, {"name": "asc"}], take=10, skip=5)
    assert stmt.sql == (
        'SELECT t0."id", t0."name" FROM "users" t0 WHERE (t0."name" = ?) AND (t0."age" > ?) '
        'ORDER BY t0."age" DESC, t0."name" ASC LIMIT ? OFFSET ?'
    )
    assert stmt.slots == (0, 1, 2, 3)
    assert r.params == ["Ada", 3, 10, 5]
    assert (stmt.kind, stmt.columns) == ("rows", ("id", "name"))
    assert stmt.bind(r.params) == (stmt.sql, ["Ada", 3, 10, 5])


def test_take_only():
    stmt, _ = compile_read(select={"id": True}, take=1)
    assert stmt.sql == BASE + " LIMIT ?"


def test_skip_only_uses_limit_minus_one():
    stmt, r = compile_read(select={"id": True}, skip=3)
    assert stmt.sql == BASE + " LIMIT -1 OFFSET ?"
    assert stmt.slots == (0,) and r.params == [3]


def test_select_all_columns_with_mapped_names():
    stmt = C.compile(parse_read(SCHEMA, SCHEMA.models["post"]).node)
    assert stmt.sql == 'SELECT t0."id", t0."title", t0."author_id" FROM "posts" t0'
    assert stmt.columns == ("id", "title", "user_id")


@pytest.mark.parametrize(
    ("w", "sql"),
    [
        ({"name": None}, ' WHERE t0."name" IS NULL'),
        ({"name": {"not": None}}, ' WHERE t0."name" IS NOT NULL'),
        ({"name": {"not": "x"}}, ' WHERE t0."name" <> ?'),
        ({"age": {"gte": 1}}, ' WHERE t0."age" >= ?'),
        ({"age": {"lt": 1}}, ' WHERE t0."age" < ?'),
        ({"age": {"lte": 1}}, ' WHERE t0."age" <= ?'),
        ({"id": {"in": ["a", "b"]}}, ' WHERE t0."id" IN (SELECT value FROM json_each(?))'),
        ({"id": {"not_in": ["a"]}}, ' WHERE t0."id" NOT IN (SELECT value FROM json_each(?))'),
        ({"age": {"in": []}}, " WHERE 1 = 0"),
        ({"name": {"contains": "a"}}, ' WHERE t0."name" GLOB ?'),
        ({"name": {"starts_with": "a"}}, ' WHERE t0."name" GLOB ?'),
        ({"name": {"contains": "a", "mode": "insensitive"}}, ' WHERE lower(t0."name") LIKE lower(?) ESCAPE \'\\\''),
        ({"name": {"eq": "a", "mode": "insensitive"}}, ' WHERE lower(t0."name") = lower(?)'),
        ({"balance": {"gte": "1.5"}}, ' WHERE CAST(t0."balance" AS REAL) >= CAST(? AS REAL)'),
        ({"balance": {"in": ["1.5"]}}, ' WHERE CAST(t0."balance" AS REAL) IN (SELECT value FROM json_each(?))'),
        ({"meta": {"a": 1}}, ' WHERE t0."meta" = ?'),
        ({"meta": {"not": {"a": 1}}}, ' WHERE t0."meta" <> ?'),
        ({"OR": [{"name": "a"}, {"NOT": {"age": 1}}]}, ' WHERE (t0."name" = ?) OR (NOT (t0."age" = ?))'),
        ({"name": None, "age": {"not": None}}, ' WHERE (t0."name" IS NULL) AND (t0."age" IS NOT NULL)'),
    ],
)
def test_operator_sql(w, sql):
    stmt, params = compile_where(w)
    assert stmt.sql == BASE + sql
    assert stmt.slots == tuple(range(len(params)))


def test_glob_escapes_metacharacters_and_binds_pattern():
    stmt, params = compile_where({"name": {"contains": "a*b?[c]"}})
    assert stmt.bind(params) == (BASE + ' WHERE t0."name" GLOB ?', ["*a[*]b[?][[]c]*"])
    for kind, expected in (("starts_with", "x[*]*"), ("ends_with", "*x[*]")):
        stmt, params = compile_where({"name": {kind: "x*"}})
        assert stmt.bind(params)[1] == [expected]


def test_insensitive_like_escapes_wildcards():
    stmt, params = compile_where({"name": {"starts_with": "50%_off\\", "mode": "insensitive"}})
    assert stmt.bind(params)[1] == ["50\\%\\_off\\\\%"]
    stmt, params = compile_where({"name": {"ends_with": "x", "mode": "insensitive"}})
    assert stmt.bind(params)[1] == ["%x"]
    stmt, params = compile_where({"name": {"contains": "x", "mode": "insensitive"}})
    assert stmt.bind(params)[1] == ["%x%"]


def test_in_list_values_bound_as_one_json_array():
    stmt, params = compile_where({
        "balance": {"in": [Decimal("1.5"), 2]},
        "created_at": {"in": [dt.datetime(2024, 1, 1, tzinfo=UTC)]},
        "meta": {"b": 1, "a": [2]},
        "email": {"in": ["x", "y"]},
    })
    assert stmt.sql == BASE + (
        ' WHERE (CAST(t0."balance" AS REAL) IN (SELECT value FROM json_each(?)))'
        ' AND (t0."created_at" IN (SELECT value FROM json_each(?)))'
        ' AND (t0."meta" = ?)'
        ' AND (t0."email" IN (SELECT value FROM json_each(?)))'
    )
    assert stmt.bind(params)[1] == [
        "[1.5,2.0]", '["2024-01-01T00:00:00.000000+00:00"]', '{"a":[2],"b":1}', '["x","y"]',
    ]


def test_datetime_and_decimal_encoders():
    stmt, params = compile_where({"created_at": {"gt": dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC)},
                                  "balance": Decimal("10.50")})
    assert stmt.bind(params)[1] == ["2024-01-02T03:04:05.000006+00:00", "10.50"]


@pytest.mark.parametrize("value", [
    dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),  # no fraction: msgspec's text has none
    dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    dt.datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC),
    dt.datetime(1, 1, 1, 0, 0, 0, 999999, tzinfo=UTC),
    dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    dt.datetime(2024, 6, 30, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5, minutes=-30))),
    dt.datetime(2024, 3, 31, 2, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
    dt.datetime(2024, 3, 31, 2, 30, 0, 1, tzinfo=zoneinfo.ZoneInfo("UTC")),
])
def test_datetime_text_is_isoformat_in_utc(value):
    # SQLite stores datetimes as this fixed-width text: the fast encoder must write exactly it
    assert encode_datetime(value) == value.astimezone(UTC).isoformat(timespec="microseconds")


@given(st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30),
                    timezones=st.sampled_from([UTC, dt.timezone(dt.timedelta(hours=9)), zoneinfo.ZoneInfo("America/New_York")])))
def test_datetime_text_matches_isoformat_everywhere(value):
    assert encode_datetime(value) == value.astimezone(UTC).isoformat(timespec="microseconds")


# ---------------------------------------------------------------------------------------------
# relation filters


def test_some_is_exists():
    stmt, _ = compile_where({"posts": {"some": {"title": "x"}}})
    assert stmt.sql == BASE + (
        ' WHERE EXISTS (SELECT 1 FROM "posts" t1 WHERE t1."author_id" = t0."id" AND (t1."title" = ?))'
    )


def test_none_is_not_exists():
    stmt, _ = compile_where({"posts": {"none": {}}})
    assert stmt.sql == BASE + ' WHERE NOT EXISTS (SELECT 1 FROM "posts" t1 WHERE t1."author_id" = t0."id")'


def test_every_is_not_exists_with_case():
    stmt, _ = compile_where({"posts": {"every": {"title": "x"}}})
    assert stmt.sql == BASE + (
        ' WHERE NOT EXISTS (SELECT 1 FROM "posts" t1 WHERE t1."author_id" = t0."id"'
        ' AND (CASE WHEN t1."title" = ? THEN 1 ELSE 0 END) = 0)'
    )


def test_every_without_condition_is_true():
    stmt, _ = compile_where({"posts": {"every": {}}})
    assert stmt.sql == BASE + " WHERE 1 = 1"


def test_many_to_many_filter_joins_through():
    stmt, _ = compile_where({"tags": {"some": {"label": "x"}}})
    assert stmt.sql == BASE + (
        ' WHERE EXISTS (SELECT 1 FROM "user_tags" t2 JOIN "tags" t1 ON t1."id" = t2."tag_id"'
        ' WHERE t2."user_id" = t0."id" AND (t1."label" = ?))'
    )


def test_to_one_filters():
    stmt, _ = compile_where({"profile": None})
    assert stmt.sql == BASE + ' WHERE NOT EXISTS (SELECT 1 FROM "profiles" t1 WHERE t1."user_id" = t0."id")'
    stmt, _ = compile_where({"profile": {"bio": "x"}})
    assert stmt.sql == BASE + ' WHERE EXISTS (SELECT 1 FROM "profiles" t1 WHERE t1."user_id" = t0."id" AND (t1."bio" = ?))'
    stmt, _ = compile_where({"profile": {"is_not": {"bio": "x"}}})
    assert stmt.sql == BASE + (
        ' WHERE NOT EXISTS (SELECT 1 FROM "profiles" t1 WHERE t1."user_id" = t0."id" AND (t1."bio" = ?))'
    )


def test_belongs_to_filter_uses_fk_column():
    params: list = []
    node = n.Select("post", ("id",), parse_where(SCHEMA, SCHEMA.models["post"], {"author": {"email": "e"}}, params))
    assert C.compile(node).sql == (
        'SELECT t0."id" FROM "posts" t0 WHERE EXISTS (SELECT 1 FROM "users" t1 WHERE t1."id" = t0."author_id"'
        ' AND (t1."email" = ?))'
    )


def test_nested_relation_filters_get_distinct_aliases():
    stmt, params = compile_where({"name": "n", "posts": {"some": {"author": {"tags": {"some": {"label": "l"}}}}}})
    assert stmt.sql == BASE + (
        ' WHERE (t0."name" = ?) AND (EXISTS (SELECT 1 FROM "posts" t1 WHERE t1."author_id" = t0."id" AND '
        '(EXISTS (SELECT 1 FROM "users" t2 WHERE t2."id" = t1."author_id" AND '
        '(EXISTS (SELECT 1 FROM "user_tags" t4 JOIN "tags" t3 ON t3."id" = t4."tag_id" '
        'WHERE t4."user_id" = t2."id" AND (t3."label" = ?)))))))'
    )
    assert stmt.slots == (0, 1) and params == ["n", "l"]


# ---------------------------------------------------------------------------------------------
# relation levels (batched follow-up queries)


def test_relation_level_with_link():
    _, r = compile_read(select={"id": True, "posts": {"select": {"title": True}, "where": {"title": "a"},
                                                      "order_by": {"title": "asc"}}})
    level = r.relations[0].read
    stmt = C.compile(level.node)
    assert stmt.sql == (
        'SELECT t0."title", t0."author_id" FROM "posts" t0 WHERE t0."author_id" IN (SELECT value FROM json_each(?))'
        ' AND (t0."title" = ?) ORDER BY t0."title" ASC'
    )
    assert stmt.slots == (0, 1)
    assert stmt.columns == ("title", "user_id")
    params = list(level.params)
    params[0] = ["u1", "u2"]
    assert stmt.bind(params)[1] == ['["u1","u2"]', "a"]


def test_relation_level_per_parent_window():
    _, r = compile_read(select={"id": True, "posts": {"select": {"title": True}, "order_by": {"title": "desc"},
                                                      "take": 2, "skip": 1}})
    level = r.relations[0].read
    stmt = C.compile(level.node)
    assert stmt.sql == (
        'SELECT w.c0, w.c1 FROM (SELECT t0."title" AS c0, t0."author_id" AS c1, ROW_NUMBER() OVER '
        '(PARTITION BY t0."author_id" ORDER BY t0."title" DESC) AS rn FROM "posts" t0 '
        'WHERE t0."author_id" IN (SELECT value FROM json_each(?))) w '
        'WHERE w.rn > ? AND w.rn <= ? + ? ORDER BY w.c1, w.rn'
    )
    assert level.params == [None, 2, 1]  # keys, take, skip
    assert stmt.slots == (0, 2, 2, 1)  # keys, skip, skip + take


def test_relation_level_window_take_only():
    _, r = compile_read(select={"id": True, "posts": {"select": {"title": True}, "take": 2}})
    stmt = C.compile(r.relations[0].read.node)
    assert stmt.sql == (
        'SELECT w.c0, w.c1 FROM (SELECT t0."title" AS c0, t0."author_id" AS c1, ROW_NUMBER() OVER '
        '(PARTITION BY t0."author_id") AS rn FROM "posts" t0 '
        'WHERE t0."author_id" IN (SELECT value FROM json_each(?))) w WHERE w.rn <= ? ORDER BY w.c1, w.rn'
    )
    assert stmt.slots == (0, 1)


def test_many_to_many_level_joins_through_and_returns_link_column():
    _, r = compile_read(select={"id": True, "tags": {"select": {"label": True}, "order_by": {"label": "asc"}}})
    stmt = C.compile(r.relations[0].read.node)
    assert stmt.sql == (
        'SELECT t0."label", j0."user_id" FROM "tags" t0 JOIN "user_tags" j0 ON j0."tag_id" = t0."id" '
        'WHERE j0."user_id" IN (SELECT value FROM json_each(?)) ORDER BY t0."label" ASC'
    )
    assert stmt.columns == ("label", LINK_COLUMN)
    assert len(stmt.decoders) == 2


def test_many_to_many_level_window():
    _, r = compile_read(select={"id": True, "tags": {"select": {"label": True}, "take": 3}})
    stmt = C.compile(r.relations[0].read.node)
    assert stmt.sql == (
        'SELECT w.c0, w.c1 FROM (SELECT t0."label" AS c0, j0."user_id" AS c1, ROW_NUMBER() OVER '
        '(PARTITION BY j0."user_id") AS rn FROM "tags" t0 JOIN "user_tags" j0 ON j0."tag_id" = t0."id" '
        'WHERE j0."user_id" IN (SELECT value FROM json_each(?))) w WHERE w.rn <= ? ORDER BY w.c1, w.rn'
    )


def test_to_one_level_has_no_window():
    r = parse_read(SCHEMA, SCHEMA.models["post"], select={"title": True, "author": {"select": {"email": True}, "take": 3}})
    stmt = C.compile(r.relations[0].read.node)
    assert stmt.sql == 'SELECT t0."email", t0."id" FROM "users" t0 WHERE t0."id" IN (SELECT value FROM json_each(?))'


# ---------------------------------------------------------------------------------------------
# count and writes


def test_count():
    params: list = []
    stmt = C.compile(n.Count("user", parse_where(SCHEMA, USER, {"age": {"lt": 5}}, params)))
    assert (stmt.sql, stmt.slots, stmt.kind) == ('SELECT COUNT(*) FROM "users" t0 WHERE t0."age" < ?', (0,), "scalar")
    assert C.compile(n.Count("user")).sql == 'SELECT COUNT(*) FROM "users" t0'


def test_insert_single_returning_bound_values_echoes_them():
    # every returned column is a value the INSERT binds: no RETURNING, the rows are those values
    values = create_values(USER, {"email": "a@b"})
    node = n.Insert("user", tuple(values), 1, ("id", "email", "created_at"))
    stmt = C.compile(node)
    assert stmt.sql == 'INSERT INTO "users" ("id", "email", "created_at", "tier") VALUES (?, ?, ?, ?)'
    assert stmt.slots == (0, 1, 2, 3)
    assert (stmt.kind, stmt.columns, stmt.echo) == ("count", ("id", "email", "created_at"), (0, 1, 2))
    sql, args = stmt.bind(list(values.values()))
    assert args[:2] == [values["id"], "a@b"]
    assert args[2] == values["created_at"].isoformat(timespec="microseconds")
    assert args[3] == "free"
    assert stmt.echoed(list(values.values())) == [(values["id"], "a@b", values["created_at"])]


def test_insert_returning_what_the_database_fills_or_rewrites():
    # a column the INSERT does not bind (its default) and a decimal (rewritten in a NUMERIC column
    # an app made) are read back
    stmt = C.compile(n.Insert("user", ("email", "balance"), 1, ("email", "name", "balance")))
    assert stmt.sql == 'INSERT INTO "users" ("email", "balance") VALUES (?, ?) RETURNING "email", "name", "balance"'
    assert (stmt.kind, stmt.echo) == ("returning", ())
    stmt = C.compile(n.Insert("user", ("email", "balance"), 1, ("balance",)))
    assert (stmt.kind, stmt.echo) == ("returning", ())


def test_insert_multi_row():
    stmt = C.compile(n.Insert("post", ("id", "title", "user_id"), 2, ("user_id", "id")))
    assert stmt.sql == 'INSERT INTO "posts" ("id", "title", "author_id") VALUES (?, ?, ?), (?, ?, ?)'
    assert stmt.slots == (0, 1, 2, 3, 4, 5)
    assert stmt.echo == (2, 0)
    assert stmt.echoed(["p1", "a", 7, "p2", "b", 8]) == [(7, "p1"), (8, "p2")]
    stmt = C.compile(n.Insert("post", ("id", "title"), 2))
    assert (stmt.sql, stmt.kind) == ('INSERT INTO "posts" ("id", "title") VALUES (?, ?), (?, ?)', "count")


def test_insert_multi_row_binds_in_order_and_encodes_per_column():
    # VALUES binds params as they come; each column's encoder runs over that column only, NULL skipped
    stmt = C.compile(n.Insert("user", ("id", "created_at", "balance"), 3))
    when = dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    params = ["a", when, Decimal("1.50"), "b", None, None, "c", when, Decimal("2")]
    assert stmt.bind(params)[1] == ["a", "2024-01-02T03:04:05.000006+00:00", "1.50", "b", None, None,
                                    "c", "2024-01-02T03:04:05.000006+00:00", "2"]
    assert params[1] is when  # the caller's list is left as it was


def test_insert_default_values():
    assert C.compile(n.Insert("user", (), 1)).sql == 'INSERT INTO "users" DEFAULT VALUES'


def test_update_first():
    params = ["new"]
    cond = parse_where(SCHEMA, USER, {"email": "a"}, params)
    stmt = C.compile(n.Update("user", ("name",), (n.Param(0),), cond, True, ("id", "name")))
    assert stmt.sql == (
        'UPDATE "users" SET "name" = ? WHERE "id" IN (SELECT t0."id" FROM "users" t0 WHERE t0."email" = ? LIMIT 1)'
        ' RETURNING "id", "name"'
    )
    assert stmt.slots == (0, 1) and stmt.kind == "returning"


def test_update_first_compound_identity():
    params = ["admin"]
    cond = parse_where(SCHEMA, SCHEMA.models["member"], {"role": "x"}, params)
    stmt = C.compile(n.Update("member", ("role",), (n.Param(0),), cond, True))
    assert stmt.sql == (
        'UPDATE "members" SET "role" = ? WHERE ("user_id", "org_id") IN '
        '(SELECT t0."user_id", t0."org_id" FROM "members" t0 WHERE t0."role" = ? LIMIT 1)'
    )


def test_update_many():
    params = ["new", Decimal("2.50")]
    cond = parse_where(SCHEMA, USER, {"email": {"in": ["a", "b"]}}, params)
    stmt = C.compile(n.Update("user", ("name", "balance"), (n.Param(0), n.Param(1)), cond))
    assert stmt.sql == (
        'UPDATE "users" SET "name" = ?, "balance" = ? WHERE "users"."email" IN (SELECT value FROM json_each(?))'
    )
    assert (stmt.slots, stmt.kind) == ((0, 1, 2), "count")
    assert stmt.bind(params)[1] == ["new", "2.50", '["a","b"]']


def test_delete_first_and_many():
    params: list = []
    cond = parse_where(SCHEMA, USER, {"email": "a"}, params)
    assert C.compile(n.Delete("user", cond, True)).sql == (
        'DELETE FROM "users" WHERE "id" IN (SELECT t0."id" FROM "users" t0 WHERE t0."email" = ? LIMIT 1)'
    )
    stmt = C.compile(n.Delete("user", cond))
    assert (stmt.sql, stmt.slots, stmt.kind) == ('DELETE FROM "users" WHERE "users"."email" = ?', (0,), "count")


def _upsert_node(update):
    create, upd, conflict = upsert_values(USER, {"email": "a@b"}, {"name": "Ada"}, update)
    params = list(create.values())
    values = tuple(n.Param(i) for i in range(len(params)))
    ups = []
    for v in upd.values():
        params.append(v)
        ups.append(n.Param(len(params) - 1))
    return n.Upsert("user", tuple(create), values, conflict, tuple(upd), tuple(ups), ("id", "email")), params


def test_upsert_do_update():
    node, params = _upsert_node({"name": "Bea"})
    stmt = C.compile(node)
    assert stmt.sql == (
        'INSERT INTO "users" ("id", "email", "name", "created_at", "tier") VALUES (?, ?, ?, ?, ?)'
        ' ON CONFLICT ("email") DO UPDATE SET "name" = ? RETURNING "id", "email"'
    )
    assert stmt.slots == (0, 1, 2, 3, 4, 5)
    assert stmt.bind(params)[1][5] == "Bea"


def test_upsert_without_update_still_returns_the_row():
    # DO NOTHING would make RETURNING empty on a conflict; a no-op assignment keeps one statement
    node, _ = _upsert_node({})
    stmt = C.compile(node)
    assert stmt.sql == (
        'INSERT INTO "users" ("id", "email", "name", "created_at", "tier") VALUES (?, ?, ?, ?, ?)'
        ' ON CONFLICT ("email") DO UPDATE SET "email" = excluded."email" RETURNING "id", "email"'
    )


def test_upsert_compound_conflict():
    node = n.Upsert("member", ("user_id", "org_id", "role"), (n.Param(0), n.Param(1), n.Param(2)),
                    ("user_id", "org_id"), ("role",), (n.Param(3),))
    assert C.compile(node).sql == (
        'INSERT INTO "members" ("user_id", "org_id", "role") VALUES (?, ?, ?)'
        ' ON CONFLICT ("user_id", "org_id") DO UPDATE SET "role" = ?'
    )


def test_compile_is_deterministic_for_equal_nodes():
    a, _ = compile_read(where={"email": "x"}, take=1)
    b, _ = compile_read(where={"email": "y"}, take=9)
    assert (a.sql, a.slots) == (b.sql, b.slots)


# ---------------------------------------------------------------------------------------------
# SqlStatement.bind


def test_bind_skips_encoders_for_none():
    st = SqlStatement("a = ? AND c = ?", [0, 1], {0: str, 1: str})
    assert st.bind([None, 4]) == ("a = ? AND c = ?", [None, "4"])


def test_bind_does_not_mutate_params_and_repeats_slots():
    params = [1, 2]
    st = SqlStatement("a = ? OR b = ? OR c = ?", [0, 1, 0], {0: lambda v: v * 10})
    assert st.bind(params) == ("a = ? OR b = ? OR c = ?", [10, 2, 10])
    assert params == [1, 2]


def test_bind_expanding_list():
    sql = f"a = %s AND b IN ({EXPAND_MARK.format(1)}) AND c = %s"
    st = SqlStatement(sql, [0, 1, 2], {0: str}, expand=(1,), placeholder="%s")
    assert st.bind([5, [1, 2, 3], None]) == ("a = %s AND b IN (%s, %s, %s) AND c = %s", ["5", 1, 2, 3, None])


class FormatDialect(SqlDialect):
    name = "format-test"
    placeholder_style = "format"


class NumericDialect(SqlDialect):
    name = "numeric-test"
    placeholder_style = "numeric"

    def in_list(self, expr: str, ph: str, negated: bool) -> tuple[str, bool]:
        return (f"{'NOT ' if negated else ''}{expr} = ANY({ph})", False)


def test_format_dialect_expands_in_lists_per_item():
    comp = SqlCompiler(SCHEMA, FormatDialect())
    params: list = []
    node = n.Select("user", ("id",), parse_where(SCHEMA, USER, {"name": "n", "email": {"in": ["a", "b", "c"]},
                                                                 "age": {"not_in": [1]}}, params))
    stmt = comp.compile(node)
    assert stmt.expand == (1, 2)
    assert stmt.bind(params) == (
        'SELECT t0."id" FROM "users" t0 WHERE (t0."name" = %s) AND (t0."email" IN (%s, %s, %s))'
        ' AND (t0."age" NOT IN (%s))',
        ["n", "a", "b", "c", 1],
    )
    params2: list = []
    parse_where(SCHEMA, USER, {"name": "m", "email": {"in": ["z"]}, "age": {"not_in": [7, 8]}}, params2)
    assert stmt.bind(params2) == (
        'SELECT t0."id" FROM "users" t0 WHERE (t0."name" = %s) AND (t0."email" IN (%s))'
        ' AND (t0."age" NOT IN (%s, %s))',
        ["m", "z", 7, 8],
    )


def test_format_dialect_like_and_skip_only():
    comp = SqlCompiler(SCHEMA, FormatDialect())
    r = parse_read(SCHEMA, USER, select={"id": True}, where={"name": {"contains": "5%"}}, skip=2)
    assert comp.compile(r.node).bind(r.params) == (
        'SELECT t0."id" FROM "users" t0 WHERE t0."name" LIKE %s ESCAPE \'\\\' LIMIT -1 OFFSET %s',
        ["%5\\%%", 2],
    )


def test_numeric_dialect_reuses_a_repeated_param():
    comp = SqlCompiler(SCHEMA, NumericDialect())
    _, r = compile_read(select={"id": True, "posts": {"select": {"title": True}, "take": 2, "skip": 1}})
    stmt = comp.compile(r.relations[0].read.node)
    assert stmt.sql.endswith(
        'WHERE t0."author_id" = ANY($1)) w WHERE w.rn > $2 AND w.rn <= $2 + $3 ORDER BY w.c1, w.rn'
    )
    assert stmt.slots == (0, 2, 1)  # keys, skip, take: each distinct param bound once
    params = list(r.relations[0].read.params)
    params[0] = ["u"]
    assert stmt.bind(params)[1] == [["u"], 1, 2]


class NumericExpandingDialect(SqlDialect):
    """Numeric placeholders with the base class's (expanding) IN list: a combination the base allows."""

    name = "numeric-expanding-test"
    placeholder_style = "numeric"


def test_numeric_dialect_with_expanding_in_list_is_refused_at_compile_time():
    # $n numbering cannot survive splicing a list: a numeric dialect must bind IN lists as one
    # array (postgres: = ANY($1)); the compiler refuses the combination instead of emitting bad SQL
    comp = SqlCompiler(SCHEMA, NumericExpandingDialect())
    params: list = []
    node = n.Select("user", ("id",), parse_where(SCHEMA, USER, {"email": {"in": ["a", "b"]}, "name": "n"}, params))
    with pytest.raises(TypeError, match="numeric placeholders"):
        comp.compile(node)


# ---------------------------------------------------------------------------------------------
# echo decoders (an insert's rows built from its bound values)


class _Sub(dt.datetime):
    pass


def test_checked_text_and_integers_echo_as_they_are():
    # query/values.py normalizes them to plain str / int before they are bound (the conformance
    # test test_written_value_types pins that): nothing to convert per row
    plain = {"string", "enum", "integer", "bigint", "boolean"}
    fields = [fl for m in SCHEMA.models.values() for fl in m.fields.values() if fl.value_kind in plain]
    assert {fl.value_kind for fl in fields} >= {"string", "enum", "integer"}
    assert all(SqliteDialect().echo(fl) == (True, None) for fl in fields)


@pytest.mark.parametrize("value", [dt.datetime(2030, 1, 1, 1, 2, 3, 4, tzinfo=UTC), _Sub(2030, 1, 1, tzinfo=UTC),
                                   dt.datetime(2030, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=3)))])
def test_echo_datetime_inline_form_matches_the_function(value):
    from farmorm.core.driver import inline_form

    field = next(fl for fl in USER.fields.values() if fl.value_kind == "datetime")
    exact, decoder = SqliteDialect().echo(field)
    assert exact and decoder is not None
    expr, env = inline_form(decoder, "c0")
    assert expr != "d_c0(c0)"
    got, want = eval(expr, {**env, "c0": value}), decoder(value)  # noqa: S307 - the dialect's own template
    assert (type(got), got, got.tzinfo) == (type(want), want, want.tzinfo) and type(got) is dt.datetime

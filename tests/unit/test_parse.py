"""The parser (where / read / order) and write argument handling: node shapes, params, validation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from farmorm import QueryValidationError, define_schema, model, has_many, has_one, belongs_to, many_to_many
from farmorm import fields as f
from farmorm.query import nodes as n
from farmorm.query.parse import parse_order, parse_read, parse_where
from farmorm.query.plan import LINK_COLUMN
from farmorm.query.values import check_value, normalize_decimal, uuid7
from farmorm.query.writes import create_values, unique_lookup, update_values, upsert_values

UTC = dt.timezone.utc

SCHEMA = define_schema(
    user=model(
        table="users",
        fields={
            "id": f.id(),
            "email": f.string().unique(),
            "name": f.string().nullable(),
            "login_count": f.integer().default(0),
            "big": f.bigint().nullable(),
            "balance": f.decimal().nullable(),
            "active": f.boolean().default(True),
            "tier": f.enumeration(["free", "pro", "enterprise"]).default("free"),
            "meta": f.json().nullable(),
            "created_at": f.datetime().default_now(),
        },
        relations={
            "posts": has_many("post", foreign_key="user_id"),
            "profile": has_one("profile", foreign_key="user_id"),
            "orgs": many_to_many("org", through="membership", from_="user_id", to="org_id"),
        },
    ),
    post=model(
        table="posts",
        fields={"id": f.id(), "title": f.string(), "user_id": f.string().references("user.id")},
        relations={"author": belongs_to("user", foreign_key="user_id")},
    ),
    profile=model(table="profiles", fields={"id": f.id(), "bio": f.string(), "user_id": f.string().unique()}),
    org=model(table="orgs", fields={"id": f.id(), "name": f.string()}),
    membership=model(
        table="memberships",
        fields={"id": f.id(), "user_id": f.string().references("user.id"), "org_id": f.string().references("org.id"),
                "role": f.string().default("member")},
        constraints={"unique": [["user_id", "org_id"]]},
    ),
    counter=model(table="counters", fields={"id": f.id(type="integer", generated="increment"), "n": f.integer()}),
    event=model(table="events", fields={"id": f.id(), "at": f.datetime().unique(), "label": f.string()}),
    stamp=model(table="stamps", fields={"code": f.string().unique(), "made": f.datetime().default(lambda: _next_stamp())}),
)
USER = SCHEMA.models["user"]
POST = SCHEMA.models["post"]
MEMBERSHIP = SCHEMA.models["membership"]

_calls: list[int] = []


def _next_stamp() -> dt.datetime:
    _calls.append(1)
    return dt.datetime(2024, 1, 1, tzinfo=UTC) + dt.timedelta(seconds=len(_calls))


def where(w, m=USER):
    params: list = []
    node = parse_where(SCHEMA, m, w, params)
    return node, params


def verr(fn, *args, **kw) -> QueryValidationError:
    with pytest.raises(QueryValidationError) as e:
        fn(*args, **kw)
    assert e.value.code == "VALIDATION_ERROR"
    return e.value


# ---------------------------------------------------------------------------------------------
# where: node shapes


def test_empty_where_is_none():
    assert where(None) == (None, [])
    assert where({}) == (None, [])
    assert where({"AND": [], "OR": []}) == (None, [])


def test_shorthand_equality():
    assert where({"email": "a@b"}) == (n.Compare("email", "eq", n.Param(0)), ["a@b"])


@pytest.mark.parametrize(
    ("op", "value", "node"),
    [
        ("eq", 5, n.Compare("login_count", "eq", n.Param(0))),
        ("not", 5, n.Compare("login_count", "ne", n.Param(0))),
        ("gt", 5, n.Compare("login_count", "gt", n.Param(0))),
        ("gte", 5, n.Compare("login_count", "gte", n.Param(0))),
        ("lt", 5, n.Compare("login_count", "lt", n.Param(0))),
        ("lte", 5, n.Compare("login_count", "lte", n.Param(0))),
    ],
)
def test_compare_operators(op, value, node):
    assert where({"login_count": {op: value}}) == (node, [value])


def test_null_equality_and_not_null():
    assert where({"name": None}) == (n.IsNull("name"), [])
    assert where({"name": {"eq": None}}) == (n.IsNull("name"), [])
    assert where({"name": {"not": None}}) == (n.IsNull("name", negated=True), [])


def test_in_list_is_one_param():
    assert where({"login_count": {"in": [1, 2, 3]}}) == (n.InList("login_count", n.Param(0)), [[1, 2, 3]])
    assert where({"login_count": {"not_in": [4]}}) == (n.InList("login_count", n.Param(0), negated=True), [[4]])


def test_in_list_length_does_not_change_shape():
    a, pa = where({"email": {"in": ["x"]}})
    b, pb = where({"email": {"in": ["x", "y", "z"]}})
    assert a == b and hash(a) == hash(b)
    assert pa == [["x"]] and pb == [["x", "y", "z"]]


def test_empty_in_is_const_false_and_empty_not_in_is_nothing():
    assert where({"email": {"in": []}}) == (n.Const(False), [])
    assert where({"email": {"not_in": []}}) == (None, [])


@pytest.mark.parametrize("kind", ["contains", "starts_with", "ends_with"])
def test_match_operators(kind):
    assert where({"name": {kind: "ad"}}) == (n.Match("name", kind, n.Param(0)), ["ad"])
    assert where({"name": {kind: "ad", "mode": "insensitive"}}) == (
        n.Match("name", kind, n.Param(0), insensitive=True), ["ad"]
    )


def test_insensitive_equality():
    assert where({"name": {"eq": "Ada", "mode": "insensitive"}}) == (
        n.Compare("name", "eq", n.Param(0), insensitive=True), ["Ada"]
    )
    assert where({"name": {"eq": "Ada", "mode": "default"}}) == (n.Compare("name", "eq", n.Param(0)), ["Ada"])


def test_several_operators_are_anded_in_order():
    assert where({"login_count": {"gte": 1, "lt": 9}}) == (
        n.And((n.Compare("login_count", "gte", n.Param(0)), n.Compare("login_count", "lt", n.Param(1)))),
        [1, 9],
    )


def test_not_with_operator_object():
    assert where({"name": {"not": {"contains": "x"}}}) == (n.Not(n.Match("name", "contains", n.Param(0))), ["x"])


def test_json_equality_raw_object_and_operators():
    assert where({"meta": {"plan": "oss", "scopes": ["a"]}}) == (
        n.JsonEquals("meta", n.Param(0)), [{"plan": "oss", "scopes": ["a"]}]
    )
    assert where({"meta": {"eq": {"a": 1}}}) == (n.JsonEquals("meta", n.Param(0)), [{"a": 1}])
    assert where({"meta": {"not": {"a": 1}}}) == (n.JsonEquals("meta", n.Param(0), negated=True), [{"a": 1}])
    assert where({"meta": [1, 2]}) == (n.JsonEquals("meta", n.Param(0)), [[1, 2]])
    assert where({"meta": None}) == (n.IsNull("meta"), [])


def test_logical_nesting():
    node, params = where({
        "email": "e",
        "OR": [{"name": "a"}, {"NOT": {"login_count": 1}}],
        "AND": [{"active": True}, {"tier": "pro"}],
    })
    assert node == n.And((
        n.Compare("email", "eq", n.Param(0)),
        n.Or((n.Compare("name", "eq", n.Param(1)), n.Not(n.Compare("login_count", "eq", n.Param(2))))),
        n.And((n.Compare("active", "eq", n.Param(3)), n.Compare("tier", "eq", n.Param(4)))),
    ))
    assert params == ["e", "a", 1, True, "pro"]


def test_single_item_logical_lists_collapse():
    assert where({"OR": [{"name": "a"}]}) == (n.Compare("name", "eq", n.Param(0)), ["a"])
    assert where({"NOT": [{"name": "a"}, {"email": "b"}]}) == (
        n.Not(n.And((n.Compare("name", "eq", n.Param(0)), n.Compare("email", "eq", n.Param(1))))), ["a", "b"]
    )


@pytest.mark.parametrize("kind", ["some", "every", "none"])
def test_to_many_relation_filters(kind):
    assert where({"posts": {kind: {"title": "t"}}}) == (
        n.RelationFilter("posts", kind, n.Compare("title", "eq", n.Param(0))), ["t"]
    )
    assert where({"orgs": {kind: {"name": "o"}}}) == (
        n.RelationFilter("orgs", kind, n.Compare("name", "eq", n.Param(0))), ["o"]
    )


def test_to_many_filter_without_condition():
    assert where({"posts": {"some": {}}}) == (n.RelationFilter("posts", "some", None), [])
    assert where({"posts": {"none": {}}}) == (n.RelationFilter("posts", "none", None), [])


@pytest.mark.parametrize("kind", ["is", "is_not"])
def test_to_one_relation_filters(kind):
    assert where({"author": {kind: {"email": "e"}}}, POST) == (
        n.RelationFilter("author", kind, n.Compare("email", "eq", n.Param(0))), ["e"]
    )


def test_to_one_shorthand():
    assert where({"author": {"email": "e"}}, POST) == (
        n.RelationFilter("author", "is", n.Compare("email", "eq", n.Param(0))), ["e"]
    )
    assert where({"profile": None}) == (n.RelationFilter("profile", "none"), [])
    assert where({"profile": {"is": None}}) == (n.RelationFilter("profile", "none"), [])
    assert where({"profile": {"is_not": None}}) == (n.RelationFilter("profile", "some"), [])


def test_nested_relation_filters_share_params():
    node, params = where({"name": "n", "posts": {"some": {"author": {"email": "e"}}}, "login_count": {"gt": 2}})
    assert node == n.And((
        n.Compare("name", "eq", n.Param(0)),
        n.RelationFilter("posts", "some", n.RelationFilter("author", "is", n.Compare("email", "eq", n.Param(1)))),
        n.Compare("login_count", "gt", n.Param(2)),
    ))
    assert params == ["n", "e", 2]


# ---------------------------------------------------------------------------------------------
# value-free, cacheable nodes


SECRET_WHERE = {
    "email": "secret-email-value",
    "login_count": {"in": [987654321, 123456789]},
    "name": {"contains": "needle-text", "mode": "insensitive"},
    "meta": {"token": "json-secret"},
    "created_at": {"gt": dt.datetime(2031, 7, 9, tzinfo=UTC)},
    "balance": {"lte": Decimal("4242.4242")},
    "OR": [{"tier": "enterprise"}, {"posts": {"some": {"title": "title-secret"}}}],
}


def test_values_never_enter_nodes():
    node, params = where(SECRET_WHERE)
    text = repr(node)
    for needle in ("secret-email-value", "987654321", "123456789", "needle-text", "json-secret", "2031",
                   "4242", "enterprise", "title-secret"):
        assert needle not in text
    assert params == [
        "secret-email-value", [987654321, 123456789], "needle-text", {"token": "json-secret"},
        dt.datetime(2031, 7, 9, tzinfo=UTC), Decimal("4242.4242"), "enterprise", "title-secret",
    ]


def test_same_shape_different_values_equal_and_hash_equal():
    other = {
        "email": "x",
        "login_count": {"in": [1]},
        "name": {"contains": "y", "mode": "insensitive"},
        "meta": {"other": [1, 2]},
        "created_at": {"gt": dt.datetime(2020, 1, 1, tzinfo=UTC)},
        "balance": {"lte": 3},
        "OR": [{"tier": "free"}, {"posts": {"some": {"title": "z"}}}],
    }
    a, pa = where(SECRET_WHERE)
    b, pb = where(other)
    assert a == b
    assert hash(a) == hash(b)
    assert pa != pb
    assert {a: 1}[b] == 1


def test_different_shapes_differ():
    a, _ = where({"email": "x"})
    b, _ = where({"email": {"not": "x"}})
    c, _ = where({"name": "x"})
    assert len({a, b, c}) == 3


def test_read_nodes_equal_across_values():
    r1 = parse_read(SCHEMA, USER, where={"email": "a"}, order_by={"email": "asc"}, take=5, skip=1)
    r2 = parse_read(SCHEMA, USER, where={"email": "b"}, order_by={"email": "asc"}, take=50, skip=10)
    assert r1.node == r2.node and hash(r1.node) == hash(r2.node)
    assert "50" not in repr(r2.node)
    assert r1.params == ["a", 5, 1] and r2.params == ["b", 50, 10]


def test_nodes_are_frozen():
    node = n.Compare("email", "eq", n.Param(0))
    with pytest.raises(AttributeError):
        node.field = "name"  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# where: validation


def test_unknown_field():
    e = verr(where, {"nope": 1})
    assert str(e) == 'Unknown field "nope" on model "user".'
    assert e.meta["model"] == "user" and e.meta["field"] == "nope"


def test_unknown_field_inside_relation_filter_names_target():
    e = verr(where, {"posts": {"some": {"nope": 1}}})
    assert str(e) == 'Unknown field "nope" on model "post".'


def test_unknown_operator():
    e = verr(where, {"name": {"foo": 1}})
    assert str(e) == 'Unknown operator "foo" for field "name" on model "user".'


@pytest.mark.parametrize(
    ("field", "op", "kind"),
    [
        ("login_count", "contains", "integer"),
        ("big", "starts_with", "bigint"),
        ("created_at", "ends_with", "datetime"),
        ("active", "gt", "boolean"),
        ("meta", "in", "json"),
        ("login_count", "mode", "integer"),
    ],
)
def test_operator_not_supported_for_kind(field, op, kind):
    value = {"in": [1], "gt": 1, "mode": "insensitive"}.get(op, "x")
    e = verr(where, {field: {op: value}})
    assert str(e) == f'Operator "{op}" is not supported for field "{field}" ({kind}) on model "user".'


def test_invalid_value_type():
    e = verr(where, {"login_count": "3"})
    assert str(e) == 'Invalid value for field "login_count" on model "user": expected integer, got str.'


def test_bool_is_not_an_integer():
    e = verr(where, {"login_count": True})
    assert str(e) == 'Invalid value for field "login_count" on model "user": expected integer, got bool.'
    e = verr(create_values, USER, {"email": "e", "big": False})
    assert str(e) == 'Invalid value for field "big" on model "user": expected bigint, got bool.'


def test_naive_datetime_refused_in_where_and_data():
    naive = dt.datetime(2024, 1, 1)
    msg = 'Invalid value for field "created_at" on model "user": datetime must be timezone-aware.'
    assert str(verr(where, {"created_at": {"gt": naive}})) == msg
    assert str(verr(create_values, USER, {"email": "e", "created_at": naive})) == msg
    assert str(verr(update_values, USER, {"created_at": naive})) == msg


def test_aware_datetime_normalized_to_utc():
    plus2 = dt.timezone(dt.timedelta(hours=2))
    _, params = where({"created_at": dt.datetime(2024, 1, 1, 12, tzinfo=plus2)})
    assert params == [dt.datetime(2024, 1, 1, 10, tzinfo=UTC)]
    assert params[0].tzinfo is UTC


def test_invalid_enum_value():
    e = verr(where, {"tier": "gold"})
    assert str(e) == 'Invalid value "gold" for enum field "tier" on model "user". Expected one of: free, pro, enterprise.'


def test_in_requires_list_and_no_null():
    e = verr(where, {"email": {"in": "abc"}})
    assert str(e) == 'Operator "in" for field "email" on model "user" expects a list of values.'
    e = verr(where, {"email": {"not_in": ["a", None]}})
    assert str(e) == (
        'Operator "not_in" for field "email" on model "user" cannot contain null; use {"eq": None} instead.'
    )


def test_in_values_are_checked():
    e = verr(where, {"login_count": {"in": [1, "2"]}})
    assert str(e) == 'Invalid value for field "login_count" on model "user": expected integer, got str.'


def test_comparison_needs_non_null():
    e = verr(where, {"login_count": {"gt": None}})
    assert str(e) == 'Operator "gt" for field "login_count" on model "user" needs a non-null value.'


def test_match_needs_string():
    e = verr(where, {"name": {"contains": 3}})
    assert str(e) == 'Invalid value for field "name" on model "user": "contains" expects str, got int.'


def test_invalid_mode():
    e = verr(where, {"name": {"eq": "a", "mode": "loose"}})
    assert str(e) == 'Invalid mode "loose" for field "name" on model "user". Use "default" or "insensitive".'


def test_where_must_be_mapping():
    e = verr(where, ["email"])
    assert str(e) == '"where" on model "user" must be a mapping, got list.'


def test_logical_needs_list():
    e = verr(where, {"OR": "x"})
    assert str(e) == '"OR" on model "user" expects a list of where objects.'


def test_relation_filter_kind_errors():
    e = verr(where, {"posts": {"is": {}}})
    assert str(e) == (
        'Relation filter "is" is not valid for to-many relation "posts" on model "user". Use "some", "every" or "none".'
    )
    e = verr(where, {"author": {"some": {}}}, POST)
    assert str(e) == (
        'Relation filter "some" is not valid for to-one relation "author" on model "post". Use "is" or "is_not".'
    )
    e = verr(where, {"posts": {}})
    assert str(e) == 'Relation filter "posts" on model "user" expects an object with "some", "every" or "none".'


# ---------------------------------------------------------------------------------------------
# order_by / take / skip / select / include


def test_parse_order():
    assert parse_order(USER, None) == ()
    assert parse_order(USER, {"name": "asc", "email": "desc"}) == (n.OrderItem("name"), n.OrderItem("email", True))
    assert parse_order(USER, [{"email": "desc"}, {"name": "asc"}]) == (n.OrderItem("email", True), n.OrderItem("name"))


def test_order_errors():
    e = verr(parse_order, USER, {"name": "up"})
    assert str(e) == 'Invalid order direction "up" for field "name" on model "user". Use "asc" or "desc".'
    e = verr(parse_order, USER, {"nope": "asc"})
    assert str(e) == 'Unknown field "nope" on model "user".'
    e = verr(parse_order, USER, "name")
    assert str(e) == '"order_by" on model "user" must be a mapping or a list of mappings.'


@pytest.mark.parametrize(("label", "value", "shown"), [("take", -1, "-1"), ("skip", -1, "-1"), ("take", 1.5, "1.5"),
                                                        ("skip", True, "True"), ("take", "3", "'3'")])
def test_take_skip_errors(label, value, shown):
    e = verr(parse_read, SCHEMA, USER, **{label: value})
    assert str(e) == f'Invalid {label} on model "user": expected a non-negative integer, got {shown}.'


def test_read_node_shape():
    r = parse_read(SCHEMA, USER, where={"email": "e"}, select={"id": True, "name": True, "email": False},
                   order_by={"name": "desc"}, take=3, skip=0)
    assert r.node == n.Select("user", ("id", "name"), n.Compare("email", "eq", n.Param(0)),
                              (n.OrderItem("name", True),), n.Param(1), n.Param(2))
    assert r.params == ["e", 3, 0]
    assert r.relations == () and r.hidden == ()


def test_read_default_selects_all_scalars():
    r = parse_read(SCHEMA, USER)
    assert r.node.columns == tuple(USER.fields)
    assert r.node.where is None and r.params == []


def test_select_unknown_and_include_errors():
    assert str(verr(parse_read, SCHEMA, USER, select={"nope": True})) == 'Unknown field "nope" on model "user".'
    assert str(verr(parse_read, SCHEMA, USER, include={"nope": True})) == 'Unknown relation "nope" on model "user".'
    e = verr(parse_read, SCHEMA, USER, select={"id": True}, include={"posts": True})
    assert str(e) == 'Use either "select" or "include" on model "user", not both.'
    e = verr(parse_read, SCHEMA, USER, select={"id": 1})
    assert str(e) == '"select" value for field "id" on model "user" must be True or False.'
    e = verr(parse_read, SCHEMA, USER, select={"posts": {"limit": 1}})
    assert str(e) == 'Unknown key "limit" in the query for relation "posts" on model "user".'


def test_relation_select_false_is_not_selected():
    r = parse_read(SCHEMA, USER, select={"id": True, "posts": False})
    assert r.relations == ()


def test_relation_level_plan():
    r = parse_read(SCHEMA, USER, select={"email": True, "posts": {"select": {"title": True}, "where": {"title": "t"},
                                                                   "order_by": {"title": "asc"}, "take": 2}})
    assert r.node.columns == ("email", "id")  # id is needed to join the relation level
    assert r.hidden == ("id",)
    (rel,) = r.relations
    assert (rel.name, rel.parent_key, rel.child_key, rel.single) == ("posts", "id", "user_id", False)
    assert rel.read.node == n.Select(
        "post", ("title", "user_id"), n.Compare("title", "eq", n.Param(1)), (n.OrderItem("title"),), n.Param(2), None,
        n.Link("user_id", n.Param(0), per_parent=True),
    )
    assert rel.read.params == [None, "t", 2]  # params[0]: the parent keys, filled per run
    assert rel.read.hidden == ("user_id",)


def test_to_one_relation_level_ignores_paging():
    r = parse_read(SCHEMA, POST, select={"title": True, "author": {"select": {"email": True}, "take": 5, "skip": 1}})
    (rel,) = r.relations
    assert rel.single is True
    assert rel.read.node == n.Select("user", ("email", "id"), None, (), None, None, n.Link("id", n.Param(0)))
    assert (rel.parent_key, rel.child_key) == ("user_id", "id")


def test_many_to_many_relation_level():
    r = parse_read(SCHEMA, USER, include={"orgs": True})
    (rel,) = r.relations
    assert rel.read.node.link == n.Link("id", n.Param(0), "membership", "user_id", "org_id")
    assert rel.read.hidden == (LINK_COLUMN,)
    assert rel.child_key == LINK_COLUMN and rel.parent_key == "id"


# ---------------------------------------------------------------------------------------------
# unique lookups (FindUnique / Upsert)


@pytest.mark.parametrize("op", ["FindUnique", "Upsert"])
@pytest.mark.parametrize("w", [None, {}, {"AND": [{"email": "a"}]}, {"email": "a", "OR": []}, {"NOT": {"id": "x"}}, "a"])
def test_unique_lookup_requires_equality_filter(op, w):
    e = verr(unique_lookup, USER, w, op)
    assert str(e) == f'{op} on model "user" requires a unique equality filter in "where".'


@pytest.mark.parametrize("op", ["FindUnique", "Upsert"])
@pytest.mark.parametrize("value", [None, {"eq": None}, {"in": ["a"]}, {"eq": "a", "mode": "insensitive"},
                                   {"not": "a"}, {"contains": "a"}])
def test_unique_lookup_single_non_null_equality(op, value):
    e = verr(unique_lookup, USER, {"email": value}, op)
    assert str(e) == f'{op} on model "user" requires the "where" field "email" to use a single non-null equality value.'


@pytest.mark.parametrize("op", ["FindUnique", "Upsert"])
@pytest.mark.parametrize("w", [{"name": "x"}, {"id": "a", "email": "b"}, {"user_id": "u"}, {"user_id": "u", "role": "r"},
                               {"user_id": "u", "org_id": "o", "role": "r"}])
def test_unique_lookup_must_match_a_key(op, w):
    m = MEMBERSHIP if "user_id" in w else USER
    e = verr(unique_lookup, m, w, op)
    assert str(e) == (
        f'{op} on model "{m.name}" requires the "where" clause to match an id field, unique field, or declared '
        "unique constraint using equality values only."
    )


def test_unique_lookup_accepts_id_unique_and_compound():
    assert unique_lookup(USER, {"id": "x"}, "FindUnique") == {"id": "x"}
    assert unique_lookup(USER, {"email": {"eq": "a"}}, "FindUnique") == {"email": "a"}
    assert unique_lookup(MEMBERSHIP, {"org_id": "o", "user_id": "u"}, "FindUnique") == {"org_id": "o", "user_id": "u"}
    assert unique_lookup(MEMBERSHIP, {"user_id": {"eq": "u"}, "org_id": "o"}, "Upsert") == {"user_id": "u", "org_id": "o"}


def test_unique_lookup_unknown_field():
    e = verr(unique_lookup, USER, {"nope": "x"}, "FindUnique")
    assert str(e) == 'Unknown field "nope" on model "user".'


# ---------------------------------------------------------------------------------------------
# upsert consistency


def test_upsert_copies_where_into_create():
    create, update, conflict = upsert_values(USER, {"email": "a@b"}, {"name": "Ada"}, {"name": "Bea"})
    assert create["email"] == "a@b" and create["name"] == "Ada"
    assert update == {"name": "Bea"}
    assert conflict == ("email",)
    assert list(create) == list(f for f in USER.fields if f in create)  # schema order


def test_upsert_create_must_match_where():
    e = verr(upsert_values, USER, {"email": "a@b"}, {"email": "c@d"}, {})
    assert str(e) == 'Upsert on model "user" requires create.email to match where.email.'


@pytest.mark.parametrize("value", ["c@d", None])
def test_upsert_cannot_change_conflict_field(value):
    e = verr(upsert_values, USER, {"email": "a@b"}, {"email": "a@b"}, {"email": value})
    assert str(e) == 'Upsert on model "user" cannot change the conflict field "email".'


def test_upsert_same_conflict_value_in_update_is_dropped():
    _, update, _ = upsert_values(USER, {"email": "a@b"}, {}, {"email": "a@b", "name": "x"})
    assert update == {"name": "x"}


def test_upsert_compound_conflict():
    create, update, conflict = upsert_values(MEMBERSHIP, {"user_id": "u", "org_id": "o"}, {"role": "admin"}, None)
    assert conflict == ("user_id", "org_id")
    assert (create["user_id"], create["org_id"], create["role"]) == ("u", "o", "admin")
    assert update == {}
    e = verr(upsert_values, MEMBERSHIP, {"user_id": "u", "org_id": "o"}, {"org_id": "p"}, {})
    assert str(e) == 'Upsert on model "membership" requires create.org_id to match where.org_id.'


def test_upsert_datetimes_compare_by_value():
    at = dt.datetime(2024, 5, 1, 12, tzinfo=UTC)
    same = at.astimezone(dt.timezone(dt.timedelta(hours=5)))
    event = SCHEMA.models["event"]
    create, _, _ = upsert_values(event, {"at": at}, {"at": same, "label": "x"}, {"at": same})
    assert create["at"] == at
    e = verr(upsert_values, event, {"at": at}, {"at": at + dt.timedelta(microseconds=1), "label": "x"}, {})
    assert str(e) == 'Upsert on model "event" requires create.at to match where.at.'


def test_upsert_lookup_errors_use_upsert_name():
    e = verr(upsert_values, USER, {"name": "x"}, {}, {})
    assert str(e).startswith('Upsert on model "user" requires the "where" clause')


# ---------------------------------------------------------------------------------------------
# create defaults and value checks


def test_create_applies_defaults():
    before = dt.datetime.now(UTC)
    values = create_values(USER, {"email": "a@b"})
    after = dt.datetime.now(UTC)
    assert list(values) == ["id", "email", "login_count", "active", "tier", "created_at"]
    assert values["email"] == "a@b"
    assert values["login_count"] == 0 and values["active"] is True and values["tier"] == "free"
    assert isinstance(values["id"], str) and len(values["id"]) == 36
    created = values["created_at"]
    assert created.tzinfo is not None and created.utcoffset() == dt.timedelta(0)
    assert before <= created <= after


def test_create_keeps_given_values_over_defaults():
    values = create_values(USER, {"id": "given", "email": "e", "login_count": 7, "tier": "pro", "name": None})
    assert values["id"] == "given" and values["login_count"] == 7 and values["tier"] == "pro"
    assert values["name"] is None


def test_create_callable_default_called_per_create():
    stamp = SCHEMA.models["stamp"]
    _calls.clear()
    a = create_values(stamp, {"code": "a"})
    b = create_values(stamp, {"code": "b"})
    assert len(_calls) == 2
    assert a["made"] == dt.datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert b["made"] == dt.datetime(2024, 1, 1, 0, 0, 2, tzinfo=UTC)


def test_create_increment_id_is_left_to_the_database():
    assert create_values(SCHEMA.models["counter"], {"n": 1}) == {"n": 1}


def test_create_missing_required():
    e = verr(create_values, USER, {"name": "x"})
    assert str(e) == 'Missing required field "email" on model "user".'
    assert e.meta["field"] == "email"


def test_create_null_for_non_nullable():
    e = verr(create_values, USER, {"email": None})
    assert str(e) == 'Field "email" on model "user" cannot be null.'
    e = verr(update_values, USER, {"login_count": None})
    assert str(e) == 'Field "login_count" on model "user" cannot be null.'


def test_create_unknown_field_and_nested_write():
    assert str(verr(create_values, USER, {"email": "e", "nope": 1})) == 'Unknown field "nope" on model "user".'
    e = verr(create_values, USER, {"email": "e", "posts": []})
    assert str(e) == (
        'Relation "posts" on model "user" cannot be written here: nested writes go in the data of create() and '
        "update() (not create_many, update_many or upsert)."
    )


def test_data_must_be_mapping():
    assert str(verr(create_values, USER, [1])) == '"data" on model "user" must be a mapping, got list.'
    assert str(verr(upsert_values, USER, {"email": "e"}, None, {})) == '"create" on model "user" must be a mapping, got NoneType.'


def test_update_values_has_no_defaults():
    assert update_values(USER, {"name": "x"}) == {"name": "x"}
    assert update_values(USER, {}) == {}


@pytest.mark.parametrize(
    ("field", "ok", "bad"),
    [
        ("login_count", [-(2**31), 2**31 - 1], [2**31, -(2**31) - 1]),
        ("big", [-(2**63), 2**63 - 1], [2**63, -(2**63) - 1]),
    ],
)
def test_integer_ranges(field, ok, bad):
    for v in ok:
        assert update_values(USER, {field: v}) == {field: v}
    label = "integer" if field == "login_count" else "bigint"
    lo, hi = ((-(2**31), 2**31 - 1) if label == "integer" else (-(2**63), 2**63 - 1))
    for v in bad:
        e = verr(update_values, USER, {field: v})
        assert str(e) == (
            f'Invalid value for field "{field}" on model "user": {v} is out of range for {label} ({lo}..{hi}).'
        )


def test_integer_id_is_64_bit():
    counter = SCHEMA.models["counter"]
    assert check_value(counter, counter.fields["id"], 2**40) == 2**40
    verr(check_value, counter, counter.fields["id"], 2**63)
    verr(check_value, counter, counter.fields["id"], True)


def test_value_checks_per_kind():
    assert update_values(USER, {"balance": "1.50"}) == {"balance": Decimal("1.50")}
    assert update_values(USER, {"balance": 3}) == {"balance": Decimal(3)}
    for bad in (1.5, True, "abc", Decimal("NaN"), Decimal("Infinity"), "Infinity"):
        verr(update_values, USER, {"balance": bad})
    assert str(verr(update_values, USER, {"balance": Decimal("NaN")})) == (
        'Invalid value for field "balance" on model "user": decimal must be finite.'
    )
    assert str(verr(update_values, USER, {"active": 1})) == (
        'Invalid value for field "active" on model "user": expected bool, got int.'
    )
    assert str(verr(update_values, USER, {"meta": {1: "x"}})) == (
        'Invalid value for field "meta" on model "user": expected a JSON-compatible value, got dict.'
    )
    assert str(verr(update_values, USER, {"meta": float("nan")})) == (
        'Invalid value for field "meta" on model "user": expected a JSON-compatible value, got float.'
    )
    assert str(verr(update_values, USER, {"created_at": "2024-01-01T00:00:00Z"})) == (
        'Invalid value for field "created_at" on model "user": expected datetime, got str.'
    )
    assert str(verr(update_values, USER, {"tier": 1})) == (
        'Invalid value for field "tier" on model "user": expected str, got int.'
    )
    assert str(verr(update_values, USER, {"id": 5})) == (  # an update never moves the identity (T40)
        'Field "id" on model "user" is the record\'s identity: an update cannot change it.')


# ---------------------------------------------------------------------------------------------
# uuid7 and normalize_decimal


def test_uuid7_shape():
    u = uuid7()
    assert len(u) == 36
    assert [len(p) for p in u.split("-")] == [8, 4, 4, 4, 12]
    assert u[14] == "7"  # version nibble
    assert u[19] in "89ab"  # RFC 4122 variant
    int(u.replace("-", ""), 16)


def test_uuid7_time_ordered_and_unique():
    ids = [uuid7() for _ in range(1000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 1000
    assert all(i[14] == "7" for i in ids)


def test_uuid7_embeds_current_millisecond():
    import time

    before = time.time_ns() // 1_000_000
    ms = int(uuid7().replace("-", "")[:12], 16)
    after = time.time_ns() // 1_000_000
    assert before <= ms <= after + 5  # a borrowed millisecond at most after a burst


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12.50", "12.5"),
        ("19.00", "19"),
        ("100", "100"),
        ("0.000", "0"),
        ("0", "0"),
        ("-1.2300", "-1.23"),
        ("1E+2", "100"),
        ("0.001", "0.001"),
        ("123456789012345678901234567890.123400", "123456789012345678901234567890.1234"),
        ("123456789012345678901234567890", "123456789012345678901234567890"),
        ("1.000000000000000000000000000000", "1"),
        (5, "5"),
        (2.5, "2.5"),
    ],
)
def test_normalize_decimal(raw, expected):
    got = normalize_decimal(Decimal(raw) if isinstance(raw, str) else raw)
    assert isinstance(got, Decimal)
    assert str(got) == expected
    if isinstance(raw, str):
        assert got == Decimal(raw)
        assert str(normalize_decimal(raw)) == expected  # strings too

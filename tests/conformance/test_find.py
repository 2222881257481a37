"""Reads: find_many / find_first / find_one / find_unique / count, select, include, order_by, paging."""

from __future__ import annotations

import datetime as dt

import pytest

from farmorm import define_schema, model
from farmorm import fields as f

from tests.conformance.auth import (
    ADA_BIO, ADA_EMAIL, ADA_QUOTA, GRACE_EMAIL, GRACE_QUOTA, auth_schema, lookup, pluck,
)

USER_FIELDS = {
    "id", "email", "name", "email_verified", "login_count", "tier", "quota", "created_at",
    "updated_at",
}
SESSION_FIELDS = {"id", "user_id", "token", "expires_at"}
UTC = dt.timezone.utc


async def _add_users(orm):
    """Two more users so orderings have ties: Cy (3 logins) and Bo (1 login)."""
    await orm.user.create_many(
        data=[
            {"email": "cy@example.com", "name": "Cy", "login_count": 3},
            {"email": "bo@example.com", "name": "Bo", "login_count": 1},
        ]
    )


# ---------------------------------------------------------------------------------- find_many


async def test_find_many_returns_all_rows_with_exactly_the_scalar_fields(auth_orm):
    rows = await auth_orm.user.find_many(order_by={"name": "asc"})
    assert pluck(rows) == ["Ada", "Grace"]
    for row in rows:
        assert set(row) == USER_FIELDS


async def test_find_many_record_values_match_the_seed(auth_orm):
    rows = await auth_orm.user.find_many(order_by={"name": "asc"})
    ada, grace = rows
    assert (ada["email"], ada["login_count"], ada["tier"], ada["quota"]) == (ADA_EMAIL, 3, "pro", ADA_QUOTA)
    assert (grace["email"], grace["login_count"], grace["tier"], grace["quota"]) == (
        GRACE_EMAIL, 1, "free", GRACE_QUOTA,
    )
    assert ada["email_verified"] is False and grace["email_verified"] is False


async def test_find_many_with_where_filters_rows(auth_orm):
    rows = await auth_orm.user.find_many(where={"email": GRACE_EMAIL})
    assert pluck(rows) == ["Grace"]


async def test_find_many_without_match_returns_empty_list(auth_orm):
    assert await auth_orm.user.find_many(where={"email": "nobody@example.com"}) == []


async def test_find_many_on_empty_table_returns_empty_list(make_orm):
    orm = await make_orm(auth_schema)
    assert await orm.user.find_many() == []
    assert await orm.user.count() == 0


async def test_find_many_records_equal_find_unique_records(auth_orm):
    seeded = await lookup(auth_orm)
    rows = await auth_orm.session.find_many(order_by={"token": "asc"})
    assert rows == [seeded["session_1"], seeded["session_2"], seeded["session_3"]]


# ------------------------------------------------------------------------- find_first / find_one


async def test_find_first_respects_order_by(auth_orm):
    first = await auth_orm.user.find_first(order_by={"name": "desc"})
    assert first["name"] == "Grace"
    assert set(first) == USER_FIELDS


async def test_find_first_with_where(auth_orm):
    row = await auth_orm.session.find_first(
        where={"token": {"starts_with": "session-"}}, order_by={"expires_at": "desc"}
    )
    assert row["token"] == "session-3"


async def test_find_first_without_match_returns_none(auth_orm):
    assert await auth_orm.user.find_first(where={"name": "Nobody"}) is None


async def test_find_first_with_skip(auth_orm):
    row = await auth_orm.session.find_first(order_by={"token": "asc"}, skip=1)
    assert row["token"] == "session-2"


async def test_find_one_is_an_alias_of_find_first(auth_orm):
    args = {"where": {"tier": "pro"}, "order_by": {"name": "asc"}}
    one = await auth_orm.user.find_one(**args)
    first = await auth_orm.user.find_first(**args)
    assert one == first
    assert one["email"] == ADA_EMAIL


async def test_find_one_without_match_returns_none(auth_orm):
    assert await auth_orm.user.find_one(where={"tier": "enterprise"}) is None


# -------------------------------------------------------------------------------- find_unique


async def test_find_unique_by_id(auth_orm):
    seeded = await lookup(auth_orm)
    row = await auth_orm.user.find_unique(where={"id": seeded["grace"]["id"]})
    assert row == seeded["grace"]
    assert row["email"] == GRACE_EMAIL


async def test_find_unique_by_unique_field(auth_orm):
    row = await auth_orm.user.find_unique(where={"email": ADA_EMAIL})
    assert row["name"] == "Ada"
    assert set(row) == USER_FIELDS


async def test_find_unique_accepts_eq_operator(auth_orm):
    row = await auth_orm.organization.find_unique(where={"slug": {"eq": "farming-labs"}})
    assert row["name"] == "Farming Labs"


async def test_find_unique_by_compound_unique_in_any_key_order(auth_orm):
    seeded = await lookup(auth_orm)
    ada, acme = seeded["ada"], seeded["acme"]
    a = await auth_orm.member.find_unique(where={"user_id": ada["id"], "organization_id": acme["id"]})
    b = await auth_orm.member.find_unique(where={"organization_id": acme["id"], "user_id": ada["id"]})
    assert a == b
    assert a["role"] == "owner"


async def test_find_unique_by_compound_unique_on_mapped_columns(auth_orm):
    row = await auth_orm.account.find_unique(where={"account_id": "gh_ada", "provider": "github"})
    assert row["plan_tier"] == "oss"


async def test_find_unique_missing_returns_none(auth_orm):
    assert await auth_orm.user.find_unique(where={"email": "missing@example.com"}) is None
    assert await auth_orm.user.find_unique(where={"id": "00000000-0000-0000-0000-000000000000"}) is None


async def test_find_unique_with_select(auth_orm):
    row = await auth_orm.user.find_unique(where={"email": ADA_EMAIL}, select={"name": True, "tier": True})
    assert row == {"name": "Ada", "tier": "pro"}


async def test_find_unique_with_include(auth_orm):
    row = await auth_orm.user.find_unique(where={"email": ADA_EMAIL}, include={"profile": True})
    assert set(row) == USER_FIELDS | {"profile"}
    assert row["profile"]["bio"] == ADA_BIO
    assert row["profile"]["user_id"] == row["id"]


# -------------------------------------------------------------------------------------- count


async def test_count_all_rows_of_every_model(auth_orm):
    counts = [
        await auth_orm.user.count(),
        await auth_orm.profile.count(),
        await auth_orm.session.count(),
        await auth_orm.account.count(),
        await auth_orm.organization.count(),
        await auth_orm.member.count(),
    ]
    assert counts == [2, 1, 3, 1, 2, 2]


async def test_count_with_where(auth_orm):
    seeded = await lookup(auth_orm)
    assert await auth_orm.session.count(where={"user_id": seeded["ada"]["id"]}) == 2
    assert await auth_orm.user.count(where={"login_count": {"gte": 2}}) == 1


async def test_count_without_match_is_zero(auth_orm):
    assert await auth_orm.user.count(where={"tier": "enterprise"}) == 0


async def test_count_returns_an_int(auth_orm):
    n = await auth_orm.member.count()
    assert type(n) is int and n == 2


# ------------------------------------------------------------------------------------- select


async def test_select_returns_only_selected_fields(auth_orm):
    rows = await auth_orm.user.find_many(select={"email": True, "quota": True}, order_by={"name": "asc"})
    assert rows == [{"email": ADA_EMAIL, "quota": ADA_QUOTA}, {"email": GRACE_EMAIL, "quota": GRACE_QUOTA}]


async def test_select_false_means_not_selected(auth_orm):
    rows = await auth_orm.user.find_many(
        select={"name": True, "email": False, "sessions": False}, order_by={"name": "asc"}
    )
    assert rows == [{"name": "Ada"}, {"name": "Grace"}]


async def test_select_mapped_fields_use_logical_names(auth_orm):
    row = await auth_orm.user.find_first(
        where={"email": ADA_EMAIL}, select={"login_count": True, "email_verified": True}
    )
    assert row == {"login_count": 3, "email_verified": False}


async def test_select_relation_true_gives_all_target_scalars(auth_orm):
    rows = await auth_orm.session.find_many(
        select={"token": True, "user": True}, order_by={"token": "asc"}
    )
    assert [(r["token"], r["user"]["name"]) for r in rows] == [
        ("session-1", "Ada"), ("session-2", "Ada"), ("session-3", "Grace"),
    ]
    assert set(rows[0]) == {"token", "user"}
    assert set(rows[0]["user"]) == USER_FIELDS


async def test_select_nested_relation_select(auth_orm):
    row = await auth_orm.user.find_first(
        where={"email": ADA_EMAIL},
        select={"name": True, "sessions": {"select": {"token": True}, "order_by": {"token": "asc"}}},
    )
    assert row == {"name": "Ada", "sessions": [{"token": "session-1"}, {"token": "session-2"}]}


async def test_include_adds_relations_to_all_scalars(auth_orm):
    rows = await auth_orm.user.find_many(include={"sessions": True}, order_by={"name": "asc"})
    assert [set(r) for r in rows] == [USER_FIELDS | {"sessions"}] * 2
    assert sorted(pluck(rows[0]["sessions"], "token")) == ["session-1", "session-2"]
    assert pluck(rows[1]["sessions"], "token") == ["session-3"]
    assert set(rows[0]["sessions"][0]) == SESSION_FIELDS


async def test_include_two_relations(auth_orm):
    row = await auth_orm.user.find_first(
        where={"email": ADA_EMAIL}, include={"profile": True, "accounts": True}
    )
    assert row["profile"]["bio"] == ADA_BIO
    assert pluck(row["accounts"], "account_id") == ["gh_ada"]
    assert "sessions" not in row and "organizations" not in row


async def test_include_false_is_not_included(auth_orm):
    row = await auth_orm.user.find_first(where={"email": ADA_EMAIL}, include={"sessions": False})
    assert set(row) == USER_FIELDS


async def test_no_select_returns_no_relations(auth_orm):
    row = await auth_orm.user.find_unique(where={"email": ADA_EMAIL})
    assert not {"profile", "sessions", "accounts", "organizations"} & set(row)


# ----------------------------------------------------------------------------------- order_by


ORDER_CASES = [
    ("organization", {"slug": "asc"}, "slug", ["acme", "farming-labs"]),
    ("organization", {"slug": "desc"}, "slug", ["farming-labs", "acme"]),
    ("user", {"login_count": "asc"}, "name", ["Grace", "Ada"]),
    ("user", {"quota": "desc"}, "quota", [ADA_QUOTA, GRACE_QUOTA]),
    ("user", [{"quota": "asc"}], "quota", [GRACE_QUOTA, ADA_QUOTA]),
    ("session", {"expires_at": "desc"}, "token", ["session-3", "session-2", "session-1"]),
    ("member", {"role": "asc"}, "role", ["member", "owner"]),
]


@pytest.mark.parametrize(("model", "order_by", "key", "expected"), ORDER_CASES,
                         ids=[f"{m}-{k}" for m, _, k, _ in ORDER_CASES])
async def test_order_by_single_field(auth_orm, model, order_by, key, expected):
    rows = await getattr(auth_orm, model).find_many(order_by=order_by)
    assert pluck(rows, key) == expected


async def test_order_by_list_is_applied_in_order(auth_orm):
    await _add_users(auth_orm)
    rows = await auth_orm.user.find_many(order_by=[{"login_count": "desc"}, {"name": "asc"}])
    assert pluck(rows) == ["Ada", "Cy", "Bo", "Grace"]
    rows = await auth_orm.user.find_many(order_by=[{"name": "asc"}, {"login_count": "desc"}])
    assert pluck(rows) == ["Ada", "Bo", "Cy", "Grace"]


async def test_order_by_dict_with_several_keys_follows_key_order(auth_orm):
    await _add_users(auth_orm)
    rows = await auth_orm.user.find_many(order_by={"login_count": "asc", "name": "desc"})
    assert pluck(rows) == ["Grace", "Bo", "Cy", "Ada"]


async def test_nulls_sort_first_ascending_and_last_descending(auth_orm):
    seeded = await lookup(auth_orm)
    await auth_orm.profile.create(data={"user_id": seeded["grace"]["id"], "bio": None})
    asc = await auth_orm.profile.find_many(order_by={"bio": "asc"})
    desc = await auth_orm.profile.find_many(order_by={"bio": "desc"})
    assert pluck(asc, "bio") == [None, ADA_BIO]
    assert pluck(desc, "bio") == [ADA_BIO, None]


async def test_nulls_ordering_with_several_nulls_and_values(make_orm):
    schema = define_schema(
        item=model(table="items", fields={"id": f.id(), "rank": f.integer().nullable(), "tag": f.string()})
    )
    orm = await make_orm(schema)
    await orm.item.create_many(
        data=[{"rank": 2, "tag": "b"}, {"rank": None, "tag": "n1"}, {"rank": 1, "tag": "a"},
              {"rank": None, "tag": "n2"}]
    )
    asc = await orm.item.find_many(order_by=[{"rank": "asc"}, {"tag": "asc"}])
    desc = await orm.item.find_many(order_by=[{"rank": "desc"}, {"tag": "asc"}])
    assert pluck(asc, "tag") == ["n1", "n2", "a", "b"]
    assert pluck(desc, "tag") == ["b", "a", "n1", "n2"]


# ---------------------------------------------------------------------------------- take/skip


PAGE_CASES = [
    ("take", {"order_by": {"token": "asc"}, "take": 2}, ["session-1", "session-2"]),
    ("skip-only", {"order_by": {"token": "asc"}, "skip": 1}, ["session-2", "session-3"]),
    ("skip-and-take", {"order_by": {"token": "desc"}, "skip": 1, "take": 1}, ["session-2"]),
    ("take-zero", {"take": 0}, []),
    ("skip-to-end", {"order_by": {"token": "asc"}, "skip": 3}, []),
    ("skip-past-end", {"order_by": {"token": "asc"}, "skip": 10, "take": 5}, []),
    ("take-more-than-rows", {"order_by": {"token": "asc"}, "take": 100}, ["session-1", "session-2", "session-3"]),
    ("after-where-and-order",
     {"where": {"token": {"not": "session-3"}}, "order_by": {"expires_at": "desc"}, "take": 1}, ["session-2"]),
]


@pytest.mark.parametrize(("kwargs", "expected"), [pytest.param(k, e, id=i) for i, k, e in PAGE_CASES])
async def test_take_and_skip(auth_orm, kwargs, expected):
    assert pluck(await auth_orm.session.find_many(**kwargs), "token") == expected

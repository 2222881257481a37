"""`where`: every operator, text modes, AND/OR/NOT, null semantics, JSON equality, `in: []`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.conformance.auth import ADA_BIO, ADA_METADATA, ADA_QUOTA, lookup, pluck

UTC = dt.timezone.utc


async def users(orm, where):
    """Names of the users matching ``where``, sorted."""
    return pluck(await orm.user.find_many(where=where, order_by={"name": "asc"}))


async def tokens(orm, where):
    return pluck(await orm.session.find_many(where=where, order_by={"token": "asc"}), "token")


async def _with_null_bio(orm):
    """Grace gets a profile with a NULL bio; a third user gets bio "other"."""
    seeded = await lookup(orm)
    cy = await orm.user.create(data={"email": "cy@example.com", "name": "Cy"})
    await orm.profile.create(data={"user_id": seeded["grace"]["id"], "bio": None})
    await orm.profile.create(data={"user_id": cy["id"], "bio": "other"})


async def bios(orm, where):
    rows = await orm.profile.find_many(where=where)
    return sorted(pluck(rows, "bio"), key=lambda b: (b is not None, b or ""))


async def _with_balances(orm):
    """Grace gets two accounts: 9.00 and 100.00 (Ada's is 12.50); text order differs from numeric."""
    seeded = await lookup(orm)
    gid = seeded["grace"]["id"]
    await orm.account.create_many(
        data=[
            {"user_id": gid, "provider": "gitlab", "account_id": "gl_grace", "balance": Decimal("9.00")},
            {"user_id": gid, "provider": "bitbucket", "account_id": "bb_grace",
             "balance": Decimal("100.00")},
        ]
    )


async def balances(orm, where):
    rows = await orm.account.find_many(where=where, order_by={"balance": "asc"})
    return pluck(rows, "balance")


# ------------------------------------------------------------------ operator table (users)
# Seed: Ada (login_count 3, tier pro, quota 2**53-1), Grace (login_count 1, tier free, quota 128).

A, G, BOTH, NONE = ["Ada"], ["Grace"], ["Ada", "Grace"], []
INSENSITIVE = "insensitive"
PRO_AND_NOT_FEW = {"AND": [{"tier": "pro"}, {"NOT": {"login_count": {"lt": 3}}}]}
STARTS_G = {"name": {"starts_with": "G"}}

USER_CASES = [
    # equality
    ("shorthand", {"name": "Grace"}, G),
    ("eq", {"name": {"eq": "Ada"}}, A),
    ("eq-case-sensitive", {"name": "ada"}, NONE),
    ("eq-operator-case-sensitive", {"name": {"eq": "GRACE"}}, NONE),
    ("eq-trailing-space", {"name": "Ada "}, NONE),
    ("eq-insensitive", {"name": {"eq": "ADA", "mode": INSENSITIVE}}, A),
    ("eq-insensitive-email", {"email": {"eq": "Grace@Example.COM", "mode": INSENSITIVE}}, G),
    ("eq-integer", {"login_count": 3}, A),
    ("eq-bigint", {"quota": ADA_QUOTA}, A),
    ("eq-enum", {"tier": "free"}, G),
    ("eq-bool-false", {"email_verified": False}, BOTH),
    ("eq-bool-true", {"email_verified": True}, NONE),
    ("mapped-columns", {"login_count": 1, "quota": 128, "email_verified": False}, G),
    # not
    ("not-string", {"name": {"not": "Ada"}}, G),
    ("not-integer", {"login_count": {"not": 1}}, A),
    ("not-enum", {"tier": {"not": "pro"}}, G),
    # in / not_in
    ("in-strings", {"name": {"in": ["Grace", "Nobody"]}}, G),
    ("in-strings-both", {"name": {"in": ["Grace", "Ada"]}}, BOTH),
    ("in-integers", {"login_count": {"in": [1, 2]}}, G),
    ("in-enums", {"tier": {"in": ["pro", "enterprise"]}}, A),
    ("in-empty", {"name": {"in": []}}, NONE),
    ("in-empty-id", {"id": {"in": []}}, NONE),
    ("in-empty-inside-or", {"OR": [{"name": {"in": []}}, {"name": "Ada"}]}, A),
    ("in-many-values", {"name": {"in": [f"user-{i}" for i in range(500)] + ["Grace"]}}, G),
    ("not-in", {"name": {"not_in": ["Ada"]}}, G),
    ("not-in-all", {"login_count": {"not_in": [1, 3]}}, NONE),
    ("not-in-empty", {"name": {"not_in": []}}, BOTH),
    # an empty not_in adds no condition, also beside another operator (was a TypeError)
    ("not-in-empty-with-operator", {"login_count": {"not_in": [], "gt": 1}}, A),
    ("in-empty-with-operator", {"login_count": {"in": [], "gt": 1}}, NONE),
    # text matching
    ("contains", {"name": {"contains": "rac"}}, G),
    ("contains-case-sensitive", {"name": {"contains": "RAC"}}, NONE),
    ("contains-domain", {"email": {"contains": "@example.com"}}, BOTH),
    ("contains-insensitive", {"name": {"contains": "RAC", "mode": INSENSITIVE}}, G),
    ("contains-empty-string", {"name": {"contains": ""}}, BOTH),
    ("starts-with", {"name": {"starts_with": "Gr"}}, G),
    ("starts-with-case-sensitive", {"name": {"starts_with": "gr"}}, NONE),
    ("starts-with-not-infix", {"name": {"starts_with": "race"}}, NONE),
    ("starts-with-insensitive", {"name": {"starts_with": "gR", "mode": INSENSITIVE}}, G),
    ("ends-with", {"name": {"ends_with": "da"}}, A),
    ("ends-with-case-sensitive", {"name": {"ends_with": "DA"}}, NONE),
    ("ends-with-not-prefix", {"name": {"ends_with": "Ad"}}, NONE),
    ("ends-with-insensitive", {"name": {"ends_with": "ACE", "mode": INSENSITIVE}}, G),
    # comparisons
    ("gt-int", {"login_count": {"gt": 1}}, A),
    ("gte-int", {"login_count": {"gte": 1}}, BOTH),
    ("lt-int", {"login_count": {"lt": 3}}, G),
    ("lte-int", {"login_count": {"lte": 3}}, BOTH),
    ("lt-int-none", {"login_count": {"lt": 1}}, NONE),
    ("range-anded", {"login_count": {"gte": 1, "lt": 3}}, G),
    ("gt-and-not-anded", {"login_count": {"gt": 1, "not": 3}}, NONE),
    ("gt-bigint-beyond-double", {"quota": {"gt": ADA_QUOTA - 1}}, A),
    ("gte-bigint", {"quota": {"gte": ADA_QUOTA}}, A),
    ("gt-bigint-none", {"quota": {"gt": ADA_QUOTA}}, NONE),
    ("gt-string", {"name": {"gt": "B"}}, G),
    ("lt-string", {"name": {"lt": "B"}}, A),
    ("gte-string", {"name": {"gte": "Grace"}}, G),
    ("lte-string", {"name": {"lte": "Ada"}}, A),
    # logic
    ("and", {"AND": [{"tier": "pro"}, {"login_count": 3}]}, A),
    ("and-none", {"AND": [{"tier": "pro"}, {"login_count": 1}]}, NONE),
    ("or", {"OR": [{"name": "Ada"}, {"login_count": 1}]}, BOTH),
    ("or-one-branch", {"OR": [{"name": "Nobody"}, {"login_count": 1}]}, G),
    ("not", {"NOT": {"name": "Ada"}}, G),
    ("not-everything", {"NOT": {"login_count": {"gte": 1}}}, NONE),
    ("fields-and-or", {"tier": "free", "OR": [{"name": "Ada"}, {"name": "Grace"}]}, G),
    ("empty-and-ignored", {"AND": []}, BOTH),
    ("empty-and-with-field", {"AND": [], "name": "Ada"}, A),
    ("nested", {"OR": [PRO_AND_NOT_FEW, {"AND": [STARTS_G, {"OR": [{"quota": 1}, {"quota": {"gte": 128}}]}]}]}, BOTH),
    ("nested-narrower",
     {"OR": [PRO_AND_NOT_FEW, {"AND": [STARTS_G, {"OR": [{"quota": 1}, {"quota": {"gt": 128}}]}]}]}, A),
]


@pytest.mark.parametrize(("where", "expected"), [pytest.param(w, e, id=i) for i, w, e in USER_CASES])
async def test_user_filter(auth_orm, where, expected):
    assert await users(auth_orm, where) == expected


FEB = dt.datetime(2026, 2, 1, tzinfo=UTC)
TOKYO = dt.timezone(dt.timedelta(hours=9))
EASTERN = dt.timezone(dt.timedelta(hours=-5))

SESSION_CASES = [
    ("eq-datetime", {"expires_at": FEB}, ["session-2"]),
    # 09:00 in Tokyo is midnight UTC: the same instant as session-2's expiry.
    ("eq-datetime-other-zone", {"expires_at": dt.datetime(2026, 2, 1, 9, tzinfo=TOKYO)}, ["session-2"]),
    ("in-datetimes", {"expires_at": {"in": [dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2026, 3, 1, tzinfo=UTC)]}},
     ["session-1", "session-3"]),
    ("gt-datetime", {"expires_at": {"gt": FEB}}, ["session-3"]),
    ("gte-datetime", {"expires_at": {"gte": FEB}}, ["session-2", "session-3"]),
    ("lt-datetime", {"expires_at": {"lt": FEB}}, ["session-1"]),
    ("lte-datetime", {"expires_at": {"lte": FEB}}, ["session-1", "session-2"]),
    # 20:00 at UTC-05:00 on Jan 31 is 01:00 UTC on Feb 1: after session-2's expiry.
    ("gt-datetime-other-zone", {"expires_at": {"gt": dt.datetime(2026, 1, 31, 20, tzinfo=EASTERN)}}, ["session-3"]),
    ("or-mixed", {"OR": [{"token": "session-1"}, {"expires_at": {"gte": dt.datetime(2026, 3, 1, tzinfo=UTC)}}]},
     ["session-1", "session-3"]),
    ("not-of-or", {"NOT": {"OR": [{"token": "session-1"}, {"token": "session-3"}]}}, ["session-2"]),
]


@pytest.mark.parametrize(("where", "expected"), [pytest.param(w, e, id=i) for i, w, e in SESSION_CASES])
async def test_session_filter(auth_orm, where, expected):
    assert await tokens(auth_orm, where) == expected


# ---------------------------------------------------------------------- filters needing data


async def test_equality_on_boolean_after_update(auth_orm):
    await auth_orm.user.update(where={"name": "Ada"}, data={"email_verified": True})
    assert await users(auth_orm, {"email_verified": True}) == ["Ada"]
    assert await users(auth_orm, {"email_verified": {"not": True}}) == ["Grace"]


async def test_equality_and_in_on_ids(auth_orm):
    seeded = await lookup(auth_orm)
    assert await users(auth_orm, {"id": seeded["grace"]["id"]}) == ["Grace"]
    ids = [seeded["session_1"]["id"], seeded["session_3"]["id"]]
    assert await tokens(auth_orm, {"id": {"in": ids}}) == ["session-1", "session-3"]


async def test_null_semantics(auth_orm):
    await _with_null_bio(auth_orm)
    assert await bios(auth_orm, {"bio": None}) == [None]
    assert await bios(auth_orm, {"bio": {"eq": None}}) == [None]
    assert await bios(auth_orm, {"bio": {"not": None}}) == [ADA_BIO, "other"]
    # not / not_in follow SQL: rows whose field is NULL are not returned.
    assert await bios(auth_orm, {"bio": {"not": "other"}}) == [ADA_BIO]
    assert await bios(auth_orm, {"bio": {"not_in": ["other"]}}) == [ADA_BIO]


async def test_like_wildcards_are_literal(auth_orm):
    await auth_orm.user.create_many(
        data=[
            {"email": "p1@example.com", "name": "100% sure"},
            {"email": "p2@example.com", "name": "100 sure"},
            {"email": "u1@example.com", "name": "a_b"},
            {"email": "u2@example.com", "name": "axb"},
        ]
    )
    assert await users(auth_orm, {"name": {"contains": "%"}}) == ["100% sure"]
    assert await users(auth_orm, {"name": {"contains": "0% "}}) == ["100% sure"]
    assert await users(auth_orm, {"name": {"starts_with": "a_"}}) == ["a_b"]
    assert await users(auth_orm, {"name": {"ends_with": "_b"}}) == ["a_b"]
    assert await users(auth_orm, {"name": {"contains": "_", "mode": "insensitive"}}) == ["a_b"]


async def test_regex_and_escape_characters_are_literal(auth_orm):
    weird = ["a.c", "a*c", "(x)", "back\\slash", "q'uote", "[br]", "^$"]
    await auth_orm.user.create_many(
        data=[{"email": f"w{i}@example.com", "name": n} for i, n in enumerate(weird)]
    )
    assert await users(auth_orm, {"name": {"contains": "."}}) == ["a.c"]
    assert await users(auth_orm, {"name": {"contains": "a*"}}) == ["a*c"]
    assert await users(auth_orm, {"name": {"starts_with": "("}}) == ["(x)"]
    assert await users(auth_orm, {"name": {"contains": "\\"}}) == ["back\\slash"]
    assert await users(auth_orm, {"name": {"ends_with": "'uote"}}) == ["q'uote"]
    assert await users(auth_orm, {"name": {"contains": "[br]"}}) == ["[br]"]
    assert await users(auth_orm, {"name": {"starts_with": "^$"}}) == ["^$"]


async def test_bigint_comparisons_after_update(auth_orm):
    await auth_orm.user.update(where={"name": "Grace"}, data={"quota": ADA_QUOTA + 2})
    assert await users(auth_orm, {"quota": {"gt": ADA_QUOTA + 1}}) == ["Grace"]
    assert await users(auth_orm, {"quota": {"lt": ADA_QUOTA + 2}}) == ["Ada"]
    await auth_orm.user.update(where={"name": "Grace"}, data={"quota": -(2**62)})
    assert await users(auth_orm, {"quota": {"lt": 0}}) == ["Grace"]
    assert await users(auth_orm, {"quota": {"gte": -(2**62)}}) == ["Ada", "Grace"]


async def test_equality_on_decimal_is_numeric(auth_orm):
    assert await balances(auth_orm, {"balance": Decimal("12.50")}) == [Decimal("12.50")]
    assert await balances(auth_orm, {"balance": Decimal("12.5")}) == [Decimal("12.50")]
    assert await balances(auth_orm, {"balance": Decimal("12.51")}) == []


async def test_decimal_comparisons_are_numeric(auth_orm):
    await _with_balances(auth_orm)
    assert await balances(auth_orm, {"balance": {"gt": Decimal("10")}}) == [Decimal("12.50"), Decimal("100.00")]
    assert await balances(auth_orm, {"balance": {"lt": Decimal("12.5")}}) == [Decimal("9.00")]
    assert await balances(auth_orm, {"balance": {"gte": Decimal("12.5")}}) == [Decimal("12.50"), Decimal("100.00")]
    assert await balances(auth_orm, {"balance": {"lte": Decimal("100")}}) == [
        Decimal("9.00"), Decimal("12.50"), Decimal("100.00"),
    ]


async def test_decimal_order_by_is_numeric(auth_orm):
    await _with_balances(auth_orm)
    rows = await auth_orm.account.find_many(order_by={"balance": "desc"})
    assert pluck(rows, "balance") == [Decimal("100.00"), Decimal("12.50"), Decimal("9.00")]


async def test_not_of_or_with_a_third_user(auth_orm):
    await auth_orm.user.create(data={"email": "cy@example.com", "name": "Cy"})
    assert await users(auth_orm, {"NOT": {"OR": [{"name": "Ada"}, {"name": "Grace"}]}}) == ["Cy"]


async def test_where_on_mapped_columns_of_account(auth_orm):
    rows = await auth_orm.account.find_many(where={"account_id": "gh_ada", "plan_tier": "oss"})
    assert pluck(rows, "provider") == ["github"]


# -------------------------------------------------------------------------------------- JSON


async def test_json_equality_shorthand(auth_orm):
    rows = await auth_orm.account.find_many(where={"metadata": ADA_METADATA})
    assert pluck(rows, "account_id") == ["gh_ada"]


async def test_json_equality_ignores_key_order(auth_orm):
    reordered = {"flags": {"sync": True}, "scopes": ["repo:read", "repo:write"], "plan": "oss"}
    rows = await auth_orm.account.find_many(where={"metadata": reordered})
    assert pluck(rows, "account_id") == ["gh_ada"]


async def test_json_equality_with_eq_operator(auth_orm):
    rows = await auth_orm.account.find_many(where={"metadata": {"eq": ADA_METADATA}})
    assert pluck(rows, "account_id") == ["gh_ada"]


async def test_json_equality_is_whole_value(auth_orm):
    assert await auth_orm.account.count(where={"metadata": {"plan": "oss"}}) == 0
    different_order = {"plan": "oss", "scopes": ["repo:write", "repo:read"], "flags": {"sync": True}}
    assert await auth_orm.account.count(where={"metadata": different_order}) == 0


async def test_json_null_and_not(auth_orm):
    seeded = await lookup(auth_orm)
    await auth_orm.account.create(
        data={"user_id": seeded["grace"]["id"], "provider": "gitlab", "account_id": "gl_grace",
              "metadata": None}
    )
    await auth_orm.account.create(
        data={"user_id": seeded["grace"]["id"], "provider": "gitea", "account_id": "gt_grace",
              "metadata": {"plan": "pro"}}
    )
    null_rows = await auth_orm.account.find_many(where={"metadata": None})
    assert pluck(null_rows, "account_id") == ["gl_grace"]
    not_rows = await auth_orm.account.find_many(where={"metadata": {"not": ADA_METADATA}})
    assert pluck(not_rows, "account_id") == ["gt_grace"]
    # equality must not match the NULL row (MariaDB's bare WHERE JSON_EQUALS(NULL, ...) did)
    eq_rows = await auth_orm.account.find_many(where={"metadata": {"plan": "pro"}})
    assert pluck(eq_rows, "account_id") == ["gt_grace"]
    assert await auth_orm.account.count(where={"metadata": ADA_METADATA}) == 1


async def test_json_list_value_equality(auth_orm):
    seeded = await lookup(auth_orm)
    await auth_orm.account.create(
        data={"user_id": seeded["grace"]["id"], "provider": "gitlab", "account_id": "gl_grace",
              "metadata": [1, "two", {"three": 3}]}
    )
    rows = await auth_orm.account.find_many(where={"metadata": {"eq": [1, "two", {"three": 3}]}})
    assert pluck(rows, "account_id") == ["gl_grace"]

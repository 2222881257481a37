"""Relations: the four kinds, nested relation queries (per-parent take/skip), nesting, filters, batching."""

from __future__ import annotations

import datetime as dt

import pytest

from farmorm import belongs_to, define_schema, has_many, model
from farmorm import fields as f
from tests.conformance.auth import ADA_BIO, ADA_EMAIL, GRACE_EMAIL, lookup, pluck

UTC = dt.timezone.utc
BY_NAME = {"name": "asc"}


async def _user_rows(orm, select=None, include=None):
    kwargs = {"select": select} if select is not None else {"include": include}
    return await orm.user.find_many(order_by=BY_NAME, **kwargs)


async def _grace_joins_acme(orm):
    seeded = await lookup(orm)
    await orm.member.create(
        data={"user_id": seeded["grace"]["id"], "organization_id": seeded["acme"]["id"], "role": "member"}
    )


# ----------------------------------------------------------------------------- the four kinds


async def test_belongs_to(auth_orm):
    rows = await auth_orm.session.find_many(include={"user": True}, order_by={"token": "asc"})
    assert [(r["token"], r["user"]["email"]) for r in rows] == [
        ("session-1", ADA_EMAIL), ("session-2", ADA_EMAIL), ("session-3", GRACE_EMAIL),
    ]
    assert all(r["user"]["id"] == r["user_id"] for r in rows)


async def test_belongs_to_two_relations_on_one_model(auth_orm):
    rows = await auth_orm.member.find_many(
        select={"role": True, "user": {"select": {"name": True}}, "organization": {"select": {"slug": True}}},
        order_by={"role": "asc"},
    )
    assert rows == [
        {"role": "member", "user": {"name": "Ada"}, "organization": {"slug": "farming-labs"}},
        {"role": "owner", "user": {"name": "Ada"}, "organization": {"slug": "acme"}},
    ]


async def test_has_one_present_and_missing(auth_orm):
    rows = await _user_rows(auth_orm, include={"profile": True})
    ada, grace = rows
    assert ada["profile"]["bio"] == ADA_BIO
    assert ada["profile"]["user_id"] == ada["id"]
    assert grace["profile"] is None


async def test_has_one_back_to_belongs_to(auth_orm):
    row = await auth_orm.profile.find_first(select={"bio": True, "user": {"select": {"name": True}}})
    assert row == {"bio": ADA_BIO, "user": {"name": "Ada"}}


async def test_has_many(auth_orm):
    rows = await _user_rows(
        auth_orm, select={"name": True, "sessions": {"select": {"token": True}, "order_by": {"token": "asc"}}}
    )
    assert rows == [
        {"name": "Ada", "sessions": [{"token": "session-1"}, {"token": "session-2"}]},
        {"name": "Grace", "sessions": [{"token": "session-3"}]},
    ]


async def test_empty_to_many_is_empty_list(auth_orm):
    rows = await _user_rows(auth_orm, include={"accounts": True, "organizations": True})
    grace = rows[1]
    assert grace["accounts"] == [] and grace["organizations"] == []
    assert pluck(rows[0]["accounts"], "account_id") == ["gh_ada"]


async def test_many_to_many_from_user(auth_orm):
    rows = await _user_rows(
        auth_orm, select={"name": True, "organizations": {"select": {"slug": True}, "order_by": {"slug": "asc"}}}
    )
    assert rows == [
        {"name": "Ada", "organizations": [{"slug": "acme"}, {"slug": "farming-labs"}]},
        {"name": "Grace", "organizations": []},
    ]


async def test_many_to_many_from_organization(auth_orm):
    await _grace_joins_acme(auth_orm)
    rows = await auth_orm.organization.find_many(
        select={"slug": True, "users": {"select": {"name": True}, "order_by": BY_NAME}},
        order_by={"slug": "asc"},
    )
    assert rows == [
        {"slug": "acme", "users": [{"name": "Ada"}, {"name": "Grace"}]},
        {"slug": "farming-labs", "users": [{"name": "Ada"}]},
    ]


async def test_many_to_many_true_returns_full_target_records(auth_orm):
    seeded = await lookup(auth_orm)
    row = await auth_orm.user.find_unique(where={"email": ADA_EMAIL}, include={"organizations": True})
    orgs = sorted(row["organizations"], key=lambda o: o["slug"])
    assert orgs == [seeded["acme"], seeded["labs"]]


async def test_has_many_members_of_organization(auth_orm):
    rows = await auth_orm.organization.find_many(
        select={"slug": True, "members": {"select": {"role": True}}}, order_by={"slug": "asc"}
    )
    assert rows == [
        {"slug": "acme", "members": [{"role": "owner"}]},
        {"slug": "farming-labs", "members": [{"role": "member"}]},
    ]


async def test_relations_on_find_first_and_find_unique(auth_orm):
    first = await auth_orm.user.find_first(where={"name": "Grace"}, include={"sessions": True})
    unique = await auth_orm.user.find_unique(where={"email": GRACE_EMAIL}, include={"sessions": True})
    assert first == unique
    assert pluck(first["sessions"], "token") == ["session-3"]


# --------------------------------------------------------------------- nested relation queries


async def test_nested_where_on_has_many(auth_orm):
    rows = await _user_rows(
        auth_orm, select={"name": True, "sessions": {"where": {"token": "session-2"}, "select": {"token": True}}}
    )
    assert rows == [{"name": "Ada", "sessions": [{"token": "session-2"}]}, {"name": "Grace", "sessions": []}]


async def test_nested_order_by_on_has_many(auth_orm):
    row = await auth_orm.user.find_unique(
        where={"email": ADA_EMAIL}, include={"sessions": {"order_by": {"expires_at": "desc"}}}
    )
    assert pluck(row["sessions"], "token") == ["session-2", "session-1"]


async def test_nested_take_applies_per_parent(auth_orm):
    rows = await _user_rows(
        auth_orm,
        select={"name": True, "sessions": {"order_by": {"expires_at": "desc"}, "take": 1, "select": {"token": True}}},
    )
    assert rows == [
        {"name": "Ada", "sessions": [{"token": "session-2"}]},
        {"name": "Grace", "sessions": [{"token": "session-3"}]},
    ]


async def test_nested_skip_applies_per_parent(auth_orm):
    rows = await _user_rows(
        auth_orm,
        select={"name": True, "sessions": {"order_by": {"token": "asc"}, "skip": 1, "select": {"token": True}}},
    )
    assert rows == [{"name": "Ada", "sessions": [{"token": "session-2"}]}, {"name": "Grace", "sessions": []}]


async def test_nested_take_and_skip_per_parent_with_more_rows(auth_orm):
    seeded = await lookup(auth_orm)
    gid = seeded["grace"]["id"]
    await auth_orm.session.create_many(
        data=[{"user_id": gid, "token": f"session-g{i}", "expires_at": dt.datetime(2026, 4, i, tzinfo=UTC)}
              for i in range(1, 4)]
    )
    rows = await _user_rows(
        auth_orm,
        select={"name": True,
                "sessions": {"order_by": {"expires_at": "asc"}, "skip": 1, "take": 2, "select": {"token": True}}},
    )
    assert rows == [
        {"name": "Ada", "sessions": [{"token": "session-2"}]},
        {"name": "Grace", "sessions": [{"token": "session-g1"}, {"token": "session-g2"}]},
    ]


async def test_nested_take_per_parent_on_many_to_many(auth_orm):
    await _grace_joins_acme(auth_orm)
    rows = await _user_rows(
        auth_orm,
        select={"name": True, "organizations": {"order_by": {"name": "desc"}, "take": 1, "select": {"name": True}}},
    )
    assert rows == [
        {"name": "Ada", "organizations": [{"name": "Farming Labs"}]},
        {"name": "Grace", "organizations": [{"name": "Acme"}]},
    ]


async def test_nested_skip_per_parent_on_many_to_many(auth_orm):
    await _grace_joins_acme(auth_orm)
    rows = await _user_rows(
        auth_orm,
        select={"name": True, "organizations": {"order_by": {"slug": "asc"}, "skip": 1, "select": {"slug": True}}},
    )
    assert rows == [
        {"name": "Ada", "organizations": [{"slug": "farming-labs"}]},
        {"name": "Grace", "organizations": []},
    ]


async def test_nested_where_on_many_to_many(auth_orm):
    rows = await _user_rows(
        auth_orm, select={"name": True, "organizations": {"where": {"slug": "acme"}, "select": {"name": True}}}
    )
    assert rows == [{"name": "Ada", "organizations": [{"name": "Acme"}]}, {"name": "Grace", "organizations": []}]


async def test_nested_where_on_to_one_gives_none_when_filtered_out(auth_orm):
    rows = await auth_orm.session.find_many(
        select={"token": True, "user": {"where": {"name": "Grace"}, "select": {"name": True}}},
        order_by={"token": "asc"},
    )
    assert rows == [
        {"token": "session-1", "user": None},
        {"token": "session-2", "user": None},
        {"token": "session-3", "user": {"name": "Grace"}},
    ]


async def test_nested_relation_where_uses_relation_filter(auth_orm):
    rows = await _user_rows(
        auth_orm,
        select={"name": True, "sessions": {"where": {"user": {"is": {"tier": "pro"}}}, "select": {"token": True},
                                           "order_by": {"token": "asc"}}},
    )
    assert rows == [
        {"name": "Ada", "sessions": [{"token": "session-1"}, {"token": "session-2"}]},
        {"name": "Grace", "sessions": []},
    ]


# ---------------------------------------------------------------------------------- deep nesting


THREE_LEVELS = {
    "slug": True,
    "users": {
        "order_by": BY_NAME,
        "select": {
            "name": True,
            "sessions": {"order_by": {"token": "asc"}, "select": {"token": True, "user": {"select": {"email": True}}}},
        },
    },
}


async def test_three_level_nesting(auth_orm):
    rows = await auth_orm.organization.find_many(select=THREE_LEVELS, order_by={"slug": "asc"})
    ada = {"name": "Ada", "sessions": [
        {"token": "session-1", "user": {"email": ADA_EMAIL}},
        {"token": "session-2", "user": {"email": ADA_EMAIL}},
    ]}
    assert rows == [{"slug": "acme", "users": [ada]}, {"slug": "farming-labs", "users": [ada]}]


async def test_three_level_nesting_through_many_to_many_and_back(auth_orm):
    rows = await _user_rows(
        auth_orm,
        select={"name": True, "organizations": {
            "order_by": {"slug": "asc"},
            "select": {"slug": True, "members": {"select": {"role": True, "user": {"select": {"name": True}}}}},
        }},
    )
    assert rows == [
        {"name": "Ada", "organizations": [
            {"slug": "acme", "members": [{"role": "owner", "user": {"name": "Ada"}}]},
            {"slug": "farming-labs", "members": [{"role": "member", "user": {"name": "Ada"}}]},
        ]},
        {"name": "Grace", "organizations": []},
    ]


async def test_include_over_three_levels_runs_one_statement_per_level(auth_orm, query_log):
    log = query_log(auth_orm)
    start = len(log)
    await auth_orm.organization.find_many(select=THREE_LEVELS, order_by={"slug": "asc"})
    assert len(log) - start == 1 + 3
    # Many more parents at every level: still one statement per level.
    for i in range(8):
        org = await auth_orm.organization.create(data={"name": f"Org {i}", "slug": f"org-{i}"})
        user = await auth_orm.user.create(data={"email": f"u{i}@example.com", "name": f"U{i}"})
        await auth_orm.member.create(data={"user_id": user["id"], "organization_id": org["id"], "role": "r"})
        await auth_orm.session.create_many(
            data=[{"user_id": user["id"], "token": f"t{i}-{j}", "expires_at": dt.datetime(2026, 5, 1, tzinfo=UTC)}
                  for j in range(3)]
        )
    start = len(log)
    rows = await auth_orm.organization.find_many(select=THREE_LEVELS, order_by={"slug": "asc"})
    assert len(log) - start == 1 + 3
    assert len(rows) == 10
    assert sum(len(u["sessions"]) for r in rows for u in r["users"]) == 2 + 2 + 8 * 3


async def test_has_many_for_many_parents_is_one_follow_up_statement(auth_orm, query_log):
    await auth_orm.user.create_many(
        data=[{"email": f"n{i}@example.com", "name": f"N{i}"} for i in range(20)]
    )
    log = query_log(auth_orm)
    start = len(log)
    rows = await auth_orm.user.find_many(include={"sessions": True, "profile": True})
    assert len(rows) == 22
    assert len(log) - start == 1 + 2


# ------------------------------------------------------------------------------------ null FKs


@pytest.fixture
def blog_schema():
    return define_schema(
        author=model(
            table="authors",
            fields={"id": f.id(), "name": f.string()},
            relations={"posts": has_many("post", foreign_key="author_id")},
        ),
        post=model(
            table="posts",
            fields={"id": f.id(), "title": f.string(), "author_id": f.string().nullable().references("author.id")},
            relations={"author": belongs_to("author", foreign_key="author_id")},
        ),
    )


async def test_null_foreign_key_gives_none_and_no_posts_gives_empty_list(make_orm, blog_schema):
    orm = await make_orm(blog_schema)
    ann = await orm.author.create(data={"name": "Ann"})
    await orm.author.create(data={"name": "Bob"})
    await orm.post.create_many(
        data=[{"title": "orphan", "author_id": None}, {"title": "owned", "author_id": ann["id"]}]
    )
    posts = await orm.post.find_many(include={"author": True}, order_by={"title": "asc"})
    assert [(p["title"], p["author"]) for p in posts] == [("orphan", None), ("owned", ann)]
    authors = await orm.author.find_many(select={"name": True, "posts": {"select": {"title": True}}}, order_by=BY_NAME)
    assert authors == [{"name": "Ann", "posts": [{"title": "owned"}]}, {"name": "Bob", "posts": []}]


async def test_to_one_filter_is_none_on_nullable_foreign_key(make_orm, blog_schema):
    orm = await make_orm(blog_schema)
    ann = await orm.author.create(data={"name": "Ann"})
    await orm.post.create_many(data=[{"title": "orphan"}, {"title": "owned", "author_id": ann["id"]}])
    assert pluck(await orm.post.find_many(where={"author": {"is": None}}), "title") == ["orphan"]
    assert pluck(await orm.post.find_many(where={"author": {"is_not": None}}), "title") == ["owned"]


# ----------------------------------------------------------------------------- relation filters


async def names(orm, where):
    return pluck(await orm.user.find_many(where=where, order_by=BY_NAME))


async def test_some_on_has_many(auth_orm):
    assert await names(auth_orm, {"sessions": {"some": {"token": "session-3"}}}) == ["Grace"]
    assert await names(auth_orm, {"sessions": {"some": {"token": {"starts_with": "session-"}}}}) == ["Ada", "Grace"]


async def test_some_with_empty_filter_means_has_any(auth_orm):
    assert await names(auth_orm, {"accounts": {"some": {}}}) == ["Ada"]


async def test_none_on_has_many(auth_orm):
    assert await names(auth_orm, {"sessions": {"none": {"token": "session-1"}}}) == ["Grace"]
    assert await names(auth_orm, {"accounts": {"none": {}}}) == ["Grace"]


async def test_every_on_has_many_including_vacuous_truth(auth_orm):
    before_feb15 = {"expires_at": {"lt": dt.datetime(2026, 2, 15, tzinfo=UTC)}}
    assert await names(auth_orm, {"sessions": {"every": before_feb15}}) == ["Ada"]
    # Grace has no accounts, so "every account is on github" holds for her too.
    assert await names(auth_orm, {"accounts": {"every": {"provider": "github"}}}) == ["Ada", "Grace"]
    assert await names(auth_orm, {"accounts": {"every": {"provider": "gitlab"}}}) == ["Grace"]


async def test_some_and_none_on_many_to_many(auth_orm):
    assert await names(auth_orm, {"organizations": {"some": {"slug": "acme"}}}) == ["Ada"]
    assert await names(auth_orm, {"organizations": {"none": {"slug": "acme"}}}) == ["Grace"]
    orgs = await auth_orm.organization.find_many(where={"users": {"some": {"name": "Ada"}}}, order_by={"slug": "asc"})
    assert pluck(orgs, "slug") == ["acme", "farming-labs"]


async def test_every_on_many_to_many(auth_orm):
    await _grace_joins_acme(auth_orm)
    orgs = await auth_orm.organization.find_many(where={"users": {"every": {"tier": "pro"}}}, order_by={"slug": "asc"})
    assert pluck(orgs, "slug") == ["farming-labs"]


async def test_is_and_is_not_on_belongs_to(auth_orm):
    rows = await auth_orm.session.find_many(where={"user": {"is": {"name": "Grace"}}})
    assert pluck(rows, "token") == ["session-3"]
    rows = await auth_orm.session.find_many(where={"user": {"is_not": {"name": "Grace"}}}, order_by={"token": "asc"})
    assert pluck(rows, "token") == ["session-1", "session-2"]


async def test_is_none_and_is_not_none_on_has_one(auth_orm):
    assert await names(auth_orm, {"profile": {"is": None}}) == ["Grace"]
    assert await names(auth_orm, {"profile": {"is_not": None}}) == ["Ada"]


async def test_is_with_filter_on_has_one(auth_orm):
    assert await names(auth_orm, {"profile": {"is": {"bio": {"contains": "storage"}}}}) == ["Ada"]
    assert await names(auth_orm, {"profile": {"is": {"bio": {"contains": "nothing"}}}}) == []


async def test_nested_relation_filters(auth_orm):
    await auth_orm.organization.create(data={"name": "Empty", "slug": "empty"})
    where = {"users": {"some": {"sessions": {"some": {"token": "session-2"}}}}}
    orgs = await auth_orm.organization.find_many(where=where, order_by={"slug": "asc"})
    assert pluck(orgs, "slug") == ["acme", "farming-labs"]
    where = {"users": {"some": {"sessions": {"some": {"token": "session-3"}}}}}
    assert await auth_orm.organization.count(where=where) == 0


async def test_relation_filters_combine_with_logic(auth_orm):
    where = {"OR": [{"profile": {"is_not": None}}, {"sessions": {"some": {"token": "session-3"}}}]}
    assert await names(auth_orm, where) == ["Ada", "Grace"]
    assert await names(auth_orm, {"NOT": {"sessions": {"some": {"token": "session-3"}}}}) == ["Ada"]
    assert await names(auth_orm, {"tier": "free", "sessions": {"some": {}}}) == ["Grace"]


async def test_relation_filter_in_count_update_many_and_delete_many(auth_orm):
    assert await auth_orm.user.count(where={"organizations": {"some": {}}}) == 1
    n = await auth_orm.session.update_many(
        where={"user": {"is": {"name": "Ada"}}}, data={"expires_at": dt.datetime(2027, 1, 1, tzinfo=UTC)}
    )
    assert n == 2
    assert await auth_orm.session.count(where={"expires_at": dt.datetime(2027, 1, 1, tzinfo=UTC)}) == 2
    assert await auth_orm.session.delete_many(where={"user": {"is": {"name": "Grace"}}}) == 1
    assert pluck(await auth_orm.session.find_many(order_by={"token": "asc"}), "token") == ["session-1", "session-2"]


async def test_create_and_update_return_included_relations(auth_orm):
    seeded = await lookup(auth_orm)
    created = await auth_orm.session.create(
        data={"user_id": seeded["grace"]["id"], "token": "session-4",
              "expires_at": dt.datetime(2026, 6, 1, tzinfo=UTC)},
        include={"user": True},
    )
    assert created["token"] == "session-4" and created["user"] == seeded["grace"]
    updated = await auth_orm.user.update(
        where={"email": GRACE_EMAIL}, data={"name": "Grace H"},
        select={"name": True, "sessions": {"select": {"token": True}, "order_by": {"token": "asc"}}},
    )
    assert updated == {"name": "Grace H", "sessions": [{"token": "session-3"}, {"token": "session-4"}]}

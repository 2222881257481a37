"""Writes: create / create_many / update / update_many / upsert / delete / delete_many, ids."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from farmorm import belongs_to, define_schema, has_many, model
from farmorm import fields as f
from tests.conformance.auth import ADA_EMAIL, GRACE_EMAIL, cap, lookup, pluck

UTC = dt.timezone.utc

manual_ids = define_schema(
    thing=model(table="things", fields={"id": f.id(type="integer"), "label": f.string()}),
    part=model(
        table="parts",
        fields={"id": f.numeric_id(), "thing_id": f.integer().references("thing.id"), "label": f.string()},
        relations={"thing": belongs_to("thing", foreign_key="thing_id")},
    ),
)

generated_ids = define_schema(
    ticket=model(
        table="tickets",
        fields={"id": f.id(type="integer", generated="increment"), "title": f.string()},
        relations={"notes": has_many("note", foreign_key="ticket_id")},
    ),
    note=model(
        table="notes",
        fields={
            "id": f.numeric_id(generated="increment"),
            "ticket_id": f.integer().references("ticket.id"),
            "body": f.string(),
        },
        relations={"ticket": belongs_to("ticket", foreign_key="ticket_id")},
    ),
)


async def snapshot(orm):
    return await orm.user.find_many(order_by={"email": "asc"})


# ------------------------------------------------------------------------------------- create


async def test_create_applies_literal_defaults(auth_orm):
    row = await auth_orm.user.create(data={"email": "cy@example.com", "name": "Cy"})
    assert (row["email_verified"], row["login_count"], row["tier"], row["quota"]) == (False, 0, "free", 0)
    assert row["email"] == "cy@example.com" and row["name"] == "Cy"


async def test_create_fills_default_now_with_aware_utc(auth_orm):
    before = dt.datetime.now(UTC) - dt.timedelta(seconds=1)
    row = await auth_orm.user.create(data={"email": "cy@example.com", "name": "Cy"})
    after = dt.datetime.now(UTC) + dt.timedelta(seconds=1)
    for key in ("created_at", "updated_at"):
        value = row[key]
        assert value.utcoffset() == dt.timedelta(0)
        assert before <= value <= after


async def test_create_generates_time_ordered_uuid_string_ids(auth_orm):
    rows = [await auth_orm.organization.create(data={"name": f"Org {i}", "slug": f"org-{i}"}) for i in range(6)]
    ids = pluck(rows, "id")
    assert all(isinstance(i, str) and len(i) == 36 for i in ids)
    assert all(uuid.UUID(i).version == 7 for i in ids)
    assert len(set(ids)) == 6
    assert sorted(ids) == ids


async def test_create_many_generates_time_ordered_ids(auth_orm):
    rows = await auth_orm.organization.create_many(data=[{"name": f"O{i}", "slug": f"o{i}"} for i in range(20)])
    ids = pluck(rows, "id")
    assert sorted(ids) == ids and len(set(ids)) == 20


async def test_created_record_equals_re_read_record(auth_orm):
    row = await auth_orm.user.create(data={"email": "cy@example.com", "name": "Cy", "login_count": 7})
    assert await auth_orm.user.find_unique(where={"id": row["id"]}) == row


async def test_create_keeps_an_explicit_string_id(auth_orm):
    row = await auth_orm.organization.create(data={"id": "org-fixed-id", "name": "Fixed", "slug": "fixed"})
    assert row["id"] == "org-fixed-id"
    assert (await auth_orm.organization.find_unique(where={"id": "org-fixed-id"}))["slug"] == "fixed"


async def test_create_explicit_values_override_defaults(auth_orm):
    row = await auth_orm.user.create(
        data={"email": "cy@example.com", "name": "Cy", "email_verified": True, "tier": "enterprise", "quota": 5}
    )
    assert (row["email_verified"], row["tier"], row["quota"]) == (True, "enterprise", 5)


async def test_create_omitted_nullable_field_is_none_and_decimal_default(auth_orm):
    seeded = await lookup(auth_orm)
    row = await auth_orm.account.create(
        data={"user_id": seeded["grace"]["id"], "provider": "gitlab", "account_id": "gl_grace"}
    )
    assert row["metadata"] is None
    assert row["balance"] == Decimal("0.00") and isinstance(row["balance"], Decimal)
    assert row["plan_tier"] == "oss"


async def test_create_with_select(auth_orm):
    row = await auth_orm.user.create(data={"email": "cy@example.com", "name": "Cy"}, select={"email": True})
    assert row == {"email": "cy@example.com"}
    assert await auth_orm.user.count() == 3


# -------------------------------------------------------------------------------- create_many


async def test_create_many_returns_records_in_input_order(auth_orm):
    names = ["Zed", "Al", "Mo", "Bea"]
    rows = await auth_orm.user.create_many(data=[{"email": f"{n}@example.com", "name": n} for n in names])
    assert pluck(rows) == names
    assert await auth_orm.user.count() == 6
    for row in rows:
        assert await auth_orm.user.find_unique(where={"id": row["id"]}) == row


async def test_create_many_rows_with_different_columns(auth_orm):
    rows = await auth_orm.user.create_many(
        data=[
            {"email": "a1@example.com", "name": "A1", "tier": "enterprise"},
            {"email": "a2@example.com", "name": "A2", "login_count": 9},
        ]
    )
    assert [(r["tier"], r["login_count"]) for r in rows] == [("enterprise", 0), ("free", 9)]


async def test_create_many_with_select(auth_orm):
    rows = await auth_orm.organization.create_many(
        data=[{"name": "B", "slug": "b"}, {"name": "A", "slug": "a"}], select={"slug": True}
    )
    assert rows == [{"slug": "b"}, {"slug": "a"}]


async def test_create_many_with_empty_list(auth_orm):
    assert await auth_orm.user.create_many(data=[]) == []
    assert await auth_orm.user.count() == 2


# ------------------------------------------------------------------------------------- update


async def test_update_returns_the_updated_record(auth_orm):
    row = await auth_orm.user.update(where={"email": GRACE_EMAIL}, data={"name": "Grace Hopper", "login_count": 2})
    assert (row["name"], row["login_count"], row["email"]) == ("Grace Hopper", 2, GRACE_EMAIL)
    assert await auth_orm.user.find_unique(where={"email": GRACE_EMAIL}) == row


async def test_update_without_match_returns_none_and_changes_nothing(auth_orm):
    before = await snapshot(auth_orm)
    assert await auth_orm.user.update(where={"email": "nobody@example.com"}, data={"name": "X"}) is None
    assert await snapshot(auth_orm) == before


async def test_update_changes_only_the_first_match(auth_orm):
    row = await auth_orm.user.update(where={"email": {"contains": "@example.com"}}, data={"name": "Same"})
    assert row["name"] == "Same"
    assert await auth_orm.user.count(where={"name": "Same"}) == 1
    assert await auth_orm.user.count(where={"name": {"in": ["Ada", "Grace"]}}) == 1


async def test_update_with_empty_data_returns_first_match_unchanged(auth_orm):
    seeded = await lookup(auth_orm)
    assert await auth_orm.user.update(where={"email": ADA_EMAIL}, data={}) == seeded["ada"]
    assert await auth_orm.user.update(where={"email": "nobody@example.com"}, data={}) is None


async def test_update_with_identical_values_still_returns_record(auth_orm):
    seeded = await lookup(auth_orm)
    assert await auth_orm.user.update(where={"email": ADA_EMAIL}, data={"name": "Ada"}) == seeded["ada"]


async def test_update_with_select(auth_orm):
    row = await auth_orm.user.update(where={"email": ADA_EMAIL}, data={"tier": "enterprise"}, select={"tier": True})
    assert row == {"tier": "enterprise"}


async def test_update_sets_nullable_field_to_none(auth_orm):
    row = await auth_orm.profile.update(where={"bio": {"not": None}}, data={"bio": None})
    assert row["bio"] is None
    assert await auth_orm.profile.count(where={"bio": None}) == 1


async def test_update_leaves_other_fields_untouched(auth_orm):
    seeded = await lookup(auth_orm)
    row = await auth_orm.user.update(where={"email": ADA_EMAIL}, data={"login_count": 4})
    assert {**seeded["ada"], "login_count": 4} == row
    assert await auth_orm.user.find_unique(where={"email": GRACE_EMAIL}) == seeded["grace"]


# -------------------------------------------------------------------------------- update_many


async def test_update_many_returns_the_count(auth_orm):
    assert await auth_orm.user.update_many(where={"tier": "free"}, data={"login_count": 10}) == 1
    assert await auth_orm.user.update_many(where={"login_count": {"gte": 0}}, data={"email_verified": True}) == 2
    assert await auth_orm.user.count(where={"email_verified": True}) == 2
    assert pluck(await auth_orm.user.find_many(order_by={"name": "asc"}), "login_count") == [3, 10]


async def test_update_many_without_match_is_zero(auth_orm):
    before = await snapshot(auth_orm)
    assert await auth_orm.user.update_many(where={"tier": "enterprise"}, data={"name": "X"}) == 0
    assert await snapshot(auth_orm) == before


async def test_update_many_counts_matched_rows_even_when_values_do_not_change(auth_orm):
    assert await auth_orm.user.update_many(where={"email": {"contains": "@"}}, data={"email_verified": False}) == 2


async def test_update_many_with_empty_data_is_zero_without_a_statement(auth_orm, query_log):
    log = query_log(auth_orm)
    start = len(log)
    assert await auth_orm.user.update_many(where={"tier": "free"}, data={}) == 0
    assert len(log) == start


# ------------------------------------------------------------------------------------- upsert


async def test_upsert_inserts_then_updates(auth_orm):
    where = {"email": "cy@example.com"}
    created = await auth_orm.user.upsert(
        where=where, create={"email": "cy@example.com", "name": "Cy"}, update={"name": "Cy 2"}
    )
    assert created["name"] == "Cy" and created["tier"] == "free"
    updated = await auth_orm.user.upsert(
        where=where, create={"email": "cy@example.com", "name": "Cy"}, update={"name": "Cy 2"}
    )
    assert updated["name"] == "Cy 2" and updated["id"] == created["id"]
    assert await auth_orm.user.count() == 3


async def test_upsert_copies_where_values_into_create(auth_orm):
    row = await auth_orm.user.upsert(where={"email": "cy@example.com"}, create={"name": "Cy"}, update={})
    assert (row["email"], row["name"]) == ("cy@example.com", "Cy")


async def test_upsert_by_id(auth_orm):
    seeded = await lookup(auth_orm)
    row = await auth_orm.organization.upsert(
        where={"id": seeded["acme"]["id"]}, create={"name": "New", "slug": "new"}, update={"name": "Acme Inc"}
    )
    assert row == {**seeded["acme"], "name": "Acme Inc"}
    assert await auth_orm.organization.count() == 2


async def test_upsert_on_compound_unique_updates_existing(auth_orm):
    seeded = await lookup(auth_orm)
    where = {"provider": "github", "account_id": "gh_ada"}
    row = await auth_orm.account.upsert(
        where=where,
        create={"user_id": seeded["grace"]["id"], "provider": "github", "account_id": "gh_ada"},
        update={"balance": Decimal("99.95"), "plan_tier": "pro"},
    )
    assert row["id"] == seeded["account"]["id"]
    assert (row["balance"], row["plan_tier"], row["user_id"]) == (Decimal("99.95"), "pro", seeded["ada"]["id"])
    assert await auth_orm.account.count() == 1


async def test_upsert_on_compound_unique_inserts_new(auth_orm):
    seeded = await lookup(auth_orm)
    row = await auth_orm.account.upsert(
        where={"provider": "github", "account_id": "gh_grace"},
        create={"user_id": seeded["grace"]["id"]},
        update={"balance": Decimal("1")},
    )
    assert (row["provider"], row["account_id"], row["balance"]) == ("github", "gh_grace", Decimal("0.00"))
    assert await auth_orm.account.count() == 2


async def test_upsert_with_empty_update_returns_existing_unchanged(auth_orm):
    seeded = await lookup(auth_orm)
    row = await auth_orm.user.upsert(where={"email": ADA_EMAIL}, create={"name": "Other"}, update={})
    assert row == seeded["ada"]


async def test_upsert_with_select(auth_orm):
    row = await auth_orm.user.upsert(
        where={"email": GRACE_EMAIL}, create={"name": "G"}, update={"login_count": 5}, select={"login_count": True}
    )
    assert row == {"login_count": 5}


# ------------------------------------------------------------------------------------- delete


async def test_delete_removes_one_record(auth_orm):
    assert await auth_orm.session.delete(where={"token": "session-2"}) == 1
    assert pluck(await auth_orm.session.find_many(order_by={"token": "asc"}), "token") == ["session-1", "session-3"]


async def test_delete_without_match_is_zero(auth_orm):
    assert await auth_orm.session.delete(where={"token": "nope"}) == 0
    assert await auth_orm.session.count() == 3


async def test_delete_removes_only_the_first_match(auth_orm):
    assert await auth_orm.session.delete(where={"token": {"starts_with": "session-"}}) == 1
    assert await auth_orm.session.count() == 2


async def test_delete_many_returns_the_count(auth_orm):
    seeded = await lookup(auth_orm)
    assert await auth_orm.session.delete_many(where={"user_id": seeded["ada"]["id"]}) == 2
    assert pluck(await auth_orm.session.find_many(), "token") == ["session-3"]


async def test_delete_many_without_match_is_zero(auth_orm):
    assert await auth_orm.session.delete_many(where={"token": {"in": []}}) == 0
    assert await auth_orm.session.delete_many(where={"token": "nope"}) == 0
    assert await auth_orm.session.count() == 3


async def test_delete_many_can_delete_every_row(auth_orm):
    assert await auth_orm.session.delete_many(where={"token": {"starts_with": "session-"}}) == 3
    assert await auth_orm.session.count() == 0


# ----------------------------------------------------------------------------- integer ids


async def test_manual_integer_ids(make_orm):
    orm = await make_orm(manual_ids)
    rows = await orm.thing.create_many(data=[{"id": 7, "label": "seven"}, {"id": 2**31 - 1, "label": "max"}])
    assert pluck(rows, "id") == [7, 2**31 - 1]
    row = await orm.thing.find_unique(where={"id": 7})
    assert row == {"id": 7, "label": "seven"} and type(row["id"]) is int
    await orm.part.create(data={"id": 1, "thing_id": 7, "label": "bolt"})
    part = await orm.part.find_unique(where={"id": 1}, include={"thing": True})
    assert part == {"id": 1, "thing_id": 7, "label": "bolt", "thing": {"id": 7, "label": "seven"}}


async def test_manual_integer_id_upsert_update_delete(make_orm):
    orm = await make_orm(manual_ids)
    await orm.thing.upsert(where={"id": 3}, create={"label": "three"}, update={"label": "x"})
    again = await orm.thing.upsert(where={"id": 3}, create={"label": "three"}, update={"label": "THREE"})
    assert again == {"id": 3, "label": "THREE"}
    assert (await orm.thing.update(where={"id": 3}, data={"label": "3"})) == {"id": 3, "label": "3"}
    assert await orm.thing.delete(where={"id": 3}) == 1
    assert await orm.thing.count() == 0


async def _generated_orm(make_orm):
    probe = await make_orm(manual_ids)
    if cap(probe, "numeric_ids") != "generated":
        pytest.skip("backend does not generate integer ids (capabilities.numeric_ids != 'generated')")
    return await make_orm(generated_ids)


async def test_generated_integer_ids(make_orm):
    orm = await _generated_orm(make_orm)
    a = await orm.ticket.create(data={"title": "a"})
    b = await orm.ticket.create(data={"title": "b"})
    assert type(a["id"]) is int and type(b["id"]) is int
    assert b["id"] > a["id"]
    assert await orm.ticket.find_unique(where={"id": b["id"]}) == {"id": b["id"], "title": "b"}


async def test_generated_integer_ids_from_create_many_follow_input_order(make_orm):
    orm = await _generated_orm(make_orm)
    rows = await orm.ticket.create_many(data=[{"title": t} for t in ("x", "y", "z")])
    assert pluck(rows, "title") == ["x", "y", "z"]
    ids = pluck(rows, "id")
    assert ids == sorted(ids) and len(set(ids)) == 3
    for row in rows:
        assert await orm.ticket.find_unique(where={"id": row["id"]}) == row


async def test_generated_integer_ids_with_relations(make_orm):
    orm = await _generated_orm(make_orm)
    t = await orm.ticket.create(data={"title": "t"})
    await orm.note.create_many(data=[{"ticket_id": t["id"], "body": "n1"}, {"ticket_id": t["id"], "body": "n2"}])
    row = await orm.ticket.find_unique(
        where={"id": t["id"]}, select={"title": True, "notes": {"select": {"body": True}, "order_by": {"id": "asc"}}}
    )
    assert row == {"title": "t", "notes": [{"body": "n1"}, {"body": "n2"}]}


string_tags = define_schema(tag=model(table="tags", fields={"id": f.id(), "name": f.string()}))
generated_tags = define_schema(
    tag=model(table="tags", fields={"id": f.id(type="integer", generated="increment"), "name": f.string()})
)


@pytest.mark.parametrize("ids", ["string", "generated"])
async def test_create_many_keeps_input_order_when_select_omits_the_id(make_orm, ids):
    orm = await make_orm(string_tags)
    if ids == "generated":
        if cap(orm, "numeric_ids") != "generated":
            pytest.skip("the backend does not generate integer ids")
        orm = await make_orm(generated_tags)
    names = [f"n{i:03d}" for i in range(120)][::-1]  # input order is not the sort order
    created = await orm.tag.create_many(data=[{"name": n} for n in names], select={"name": True})
    assert [r["name"] for r in created] == names
    assert all(set(r) == {"name"} for r in created)  # the identity used to order was not leaked

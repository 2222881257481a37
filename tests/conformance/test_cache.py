"""The plan cache: one compile per query shape, values never part of the key; the query events."""

from __future__ import annotations

import datetime as dt

import pytest

from farmorm import errors
from tests.conformance.auth import ADA_EMAIL, GRACE_EMAIL, auth_schema, lookup

UTC = dt.timezone.utc


def counters(orm):
    return orm.plan_cache.misses, orm.plan_cache.hits


async def same_shape(orm, first, second):
    """Run ``first()`` (may compile) then ``second()``: the second must hit the cache, never compile."""
    await first()
    misses, hits = counters(orm)
    await second()
    new_misses, new_hits = counters(orm)
    assert new_misses == misses, "a repeated query shape was compiled again"
    assert new_hits > hits


async def test_a_new_shape_is_a_miss(auth_orm):
    misses, _ = counters(auth_orm)
    await auth_orm.user.find_many(where={"name": {"starts_with": "A"}, "login_count": {"gte": 1}}, take=3)
    assert counters(auth_orm)[0] > misses


async def test_repeated_find_many_with_other_values_does_not_recompile(auth_orm):
    await same_shape(
        auth_orm,
        lambda: auth_orm.user.find_many(where={"email": ADA_EMAIL}),
        lambda: auth_orm.user.find_many(where={"email": GRACE_EMAIL}),
    )


async def test_results_follow_the_values_not_the_cached_plan(auth_orm):
    a = await auth_orm.user.find_many(where={"email": ADA_EMAIL})
    g = await auth_orm.user.find_many(where={"email": GRACE_EMAIL})
    assert [r["name"] for r in a] == ["Ada"] and [r["name"] for r in g] == ["Grace"]


async def test_in_lists_of_different_lengths_share_one_shape(auth_orm):
    await same_shape(
        auth_orm,
        lambda: auth_orm.user.find_many(where={"name": {"in": ["Ada"]}}),
        lambda: auth_orm.user.find_many(where={"name": {"in": ["Ada", "Grace", "Cy", "Di", "Ed"]}}),
    )
    rows = await auth_orm.user.find_many(where={"name": {"in": ["Grace", "Zed", "Ada"]}}, order_by={"name": "asc"})
    assert [r["name"] for r in rows] == ["Ada", "Grace"]


async def test_not_in_lists_of_different_lengths_share_one_shape(auth_orm):
    await same_shape(
        auth_orm,
        lambda: auth_orm.user.count(where={"login_count": {"not_in": [1]}}),
        lambda: auth_orm.user.count(where={"login_count": {"not_in": [1, 2, 3, 4]}}),
    )


async def test_take_and_skip_values_share_one_shape(auth_orm):
    await same_shape(
        auth_orm,
        lambda: auth_orm.session.find_many(order_by={"token": "asc"}, take=1, skip=0),
        lambda: auth_orm.session.find_many(order_by={"token": "asc"}, take=2, skip=1),
    )
    rows = await auth_orm.session.find_many(order_by={"token": "asc"}, take=1, skip=2)
    assert [r["token"] for r in rows] == ["session-3"]


async def test_count_shape_is_cached(auth_orm):
    await same_shape(
        auth_orm,
        lambda: auth_orm.user.count(where={"tier": "pro"}),
        lambda: auth_orm.user.count(where={"tier": "free"}),
    )


async def test_find_unique_shape_is_cached(auth_orm):
    await same_shape(
        auth_orm,
        lambda: auth_orm.user.find_unique(where={"email": ADA_EMAIL}),
        lambda: auth_orm.user.find_unique(where={"email": "nobody@example.com"}),
    )


async def test_datetime_comparison_shape_is_cached(auth_orm):
    await same_shape(
        auth_orm,
        lambda: auth_orm.session.find_many(where={"expires_at": {"gt": dt.datetime(2026, 1, 1, tzinfo=UTC)}}),
        lambda: auth_orm.session.find_many(where={"expires_at": {"gt": dt.datetime(2030, 1, 1, tzinfo=UTC)}}),
    )


async def test_create_with_other_values_does_not_recompile(auth_orm):
    await same_shape(
        auth_orm,
        lambda: auth_orm.organization.create(data={"name": "One", "slug": "one"}),
        lambda: auth_orm.organization.create(data={"name": "Two", "slug": "two"}),
    )
    assert await auth_orm.organization.count() == 4


async def test_update_and_delete_shapes_are_cached(auth_orm):
    await same_shape(
        auth_orm,
        lambda: auth_orm.user.update(where={"email": ADA_EMAIL}, data={"login_count": 5}),
        lambda: auth_orm.user.update(where={"email": GRACE_EMAIL}, data={"login_count": 6}),
    )
    await same_shape(
        auth_orm,
        lambda: auth_orm.session.delete_many(where={"token": "session-1"}),
        lambda: auth_orm.session.delete_many(where={"token": "session-2"}),
    )
    assert await auth_orm.session.count() == 1


async def test_relation_query_shapes_are_cached(auth_orm):
    def run(token):
        return auth_orm.user.find_many(
            select={"name": True, "sessions": {"where": {"token": token}, "take": 1}}, order_by={"name": "asc"}
        )

    await same_shape(auth_orm, lambda: run("session-1"), lambda: run("session-3"))
    rows = await run("session-3")
    assert [len(r["sessions"]) for r in rows] == [0, 1]


async def test_cache_size_grows_with_shapes_not_values(auth_orm):
    await auth_orm.user.find_many(where={"login_count": 1})
    size = len(auth_orm.plan_cache)
    for n in range(10):
        await auth_orm.user.find_many(where={"login_count": n})
    assert len(auth_orm.plan_cache) == size
    await auth_orm.user.find_many(where={"login_count": {"lt": 1}})
    assert len(auth_orm.plan_cache) == size + 1


async def test_each_client_owns_its_cache(auth_orm, make_orm):
    other = await make_orm(auth_schema)
    assert other.plan_cache is not auth_orm.plan_cache
    before = counters(other)
    await auth_orm.user.find_many(where={"name": {"ends_with": "x"}, "quota": {"gt": 5}})
    assert counters(other) == before


# ------------------------------------------------------------------------------ query events


async def test_on_query_reports_each_statement(auth_orm):
    events = []
    unsubscribe = auth_orm.on_query(events.append)
    rows = await auth_orm.user.find_many(where={"email": ADA_EMAIL})
    assert len(rows) == 1
    assert len(events) == 1
    event = events[0]
    assert isinstance(event.statement, str) and event.statement
    assert event.params_count >= 1
    assert event.duration >= 0
    assert event.error_code is None
    unsubscribe()
    await auth_orm.user.count()
    assert len(events) == 1


async def test_on_query_reports_the_error_code(auth_orm):
    events = []
    unsubscribe = auth_orm.on_query(events.append)
    try:
        with pytest.raises(errors.UniqueConstraintViolation):
            await auth_orm.user.create(data={"email": ADA_EMAIL, "name": "dup"})
    finally:
        unsubscribe()
    assert events and events[-1].error_code == "UNIQUE_CONSTRAINT_VIOLATION"


async def test_query_log_sees_one_statement_per_simple_read(auth_orm, query_log):
    log = query_log(auth_orm)
    start = len(log)
    seeded = await lookup(auth_orm)
    assert len(log) - start == len(seeded)
    assert all(isinstance(s, str) and s for s in log[start:])

"""A deterministic guard on the hot path (issue #8 item 6): no timings, only counters.

A query shape repeated with other values must never compile again (the plan cache's ``misses``
stay put while ``hits`` grow), and the row builder of a shape (``executor.row_builder``, the
hydration plan) is generated exactly once per compiled shape, as is the builder that groups a
relation level's records by key (``executor.group_builder``). A change that puts a value into a
node, rebuilds the builder per call or bypasses the cache fails here, long before a benchmark
would notice it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, AsyncIterator, Callable

import pytest

import farmorm.runtime.executor as executor_mod
from farmorm import Orm, create_orm
from farmorm.setup import push_schema

from benchmarks.workloads import schema

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _user(i: int) -> dict[str, Any]:
    return {"id": i, "email": f"u{i}@x.io", "name": f"User {i}", "age": 20 + i % 50, "active": i % 2 == 0,
            "created_at": T0 + dt.timedelta(seconds=i)}


@pytest.fixture(params=["sqlite", "mongo"])
async def orm(request: pytest.FixtureRequest) -> AsyncIterator[Orm]:
    if request.param == "sqlite":
        url = "sqlite:///:memory:"
    else:
        import farmorm.testing.mongomock_async  # noqa: F401 - registers the mongomock:// adapter

        url = f"mongomock://hot_path_guard_{id(request)}/bench"
    client = await create_orm(schema, url)
    try:
        await push_schema(schema, client)
        await client.user.create_many(data=[_user(i) for i in range(1, 41)])
        await client.post.create_many(data=[{"id": i, "user_id": (i - 1) // 2 + 1, "title": f"t{i}", "body": "b"}
                                            for i in range(1, 81)])
        yield client
    finally:
        await client.close()
        if request.param == "mongo":
            from farmorm.testing.mongomock_async import drop_store

            drop_store(url)


@pytest.fixture
def builders(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """Every row builder generated from now on, by its column names."""
    built: list[tuple[str, ...]] = []
    original: Callable[..., Any] = executor_mod.row_builder

    def counting(names: Any, decoders: Any) -> Any:
        built.append(tuple(names))
        return original(names, decoders)

    monkeypatch.setattr(executor_mod, "row_builder", counting)
    return built


async def _repeat(orm: Orm, op: Callable[[int], Any], times: int = 12) -> tuple[int, int]:
    """Run ``op(i)`` ``times`` times; returns (new misses, new hits) of the plan cache."""
    cache = orm.plan_cache
    misses, hits = cache.misses, cache.hits
    for i in range(times):
        await op(i)
    return cache.misses - misses, cache.hits - hits


async def test_find_unique_compiles_once(orm: Orm, builders: list[tuple[str, ...]]) -> None:
    misses, hits = await _repeat(orm, lambda i: orm.user.find_unique(where={"id": i % 40 + 1}))
    assert misses == 1, "find_unique by id compiled more than once for one shape"
    assert hits == 11
    assert len(builders) == 1, "the row builder of one shape was generated more than once"


async def test_find_many_page_compiles_once(orm: Orm, builders: list[tuple[str, ...]]) -> None:
    misses, hits = await _repeat(orm, lambda i: orm.user.find_many(
        where={"active": i % 2 == 0, "age": {"gte": 20 + i}}, order_by={"id": "asc"}, take=5 + i))
    assert (misses, hits) == (1, 11)
    assert len(builders) == 1


async def test_in_lists_of_any_length_share_one_plan(orm: Orm, builders: list[tuple[str, ...]]) -> None:
    misses, _ = await _repeat(orm, lambda i: orm.user.find_many(where={"id": {"in": list(range(1, i + 2))}}))
    assert misses == 1, "an IN list's length leaked into the node"
    assert len(builders) == 1


async def test_include_compiles_each_level_once(orm: Orm, builders: list[tuple[str, ...]]) -> None:
    # a different number of parents each time: the relation level's key list changes length
    misses, hits = await _repeat(orm, lambda i: orm.user.find_many(where={"id": {"lte": i + 3}},
                                                                   include={"posts": True}))
    assert misses == 2, "root query + one batched query per relation level, each compiled once"
    assert hits == 22
    assert len(builders) == 2


async def test_relation_level_group_builder_is_generated_once(orm: Orm, monkeypatch: pytest.MonkeyPatch) -> None:
    """A last relation level is built and grouped by key in one generated pass: generated once."""
    built: list[str] = []
    original: Callable[..., Any] = executor_mod.group_builder

    def counting(names: Any, decoders: Any, key: str, hidden: Any = ()) -> Any:
        built.append(key)
        return original(names, decoders, key, hidden)

    monkeypatch.setattr(executor_mod, "group_builder", counting)
    await _repeat(orm, lambda i: orm.user.find_many(where={"id": {"lte": i + 3}}, include={"posts": True}))
    await _repeat(orm, lambda i: orm.post.find_many(where={"id": {"lte": i + 3}}, include={"user": True}))
    assert built == ["user_id", "id"], "a relation level's group builder was generated more than once"


async def test_writes_and_count_compile_once(orm: Orm, builders: list[tuple[str, ...]]) -> None:
    misses, _ = await _repeat(orm, lambda i: orm.user.create(data=_user(1000 + i)))
    assert misses == 1
    misses, _ = await _repeat(orm, lambda i: orm.user.update(where={"id": i + 1}, data={"name": f"n{i}"}))
    assert misses == 1
    misses, _ = await _repeat(orm, lambda i: orm.user.count(where={"active": i % 2 == 0}))
    assert misses == 1
    misses, _ = await _repeat(orm, lambda i: orm.user.create_many(data=[_user(2000 + 10 * i + k) for k in range(3)]))
    assert misses == 1, "create_many of the same row count compiled again"
    assert len(builders) == 4


async def test_builders_match_misses(orm: Orm, builders: list[tuple[str, ...]]) -> None:
    """Across a mixed workload, one builder per compiled shape and none per call."""
    start = orm.plan_cache.misses
    for i in range(10):
        await orm.user.find_unique(where={"id": i + 1})
        await orm.user.find_many(where={"age": {"lt": 40 + i}}, take=3)
        await orm.post.find_many(where={"user_id": i + 1}, include={"user": True})
        await orm.user.count()
    assert orm.plan_cache.misses - start == 5
    assert len(builders) == orm.plan_cache.misses - start


async def test_aggregate_and_group_by_compile_once(orm: Orm, builders: list[tuple[str, ...]]) -> None:
    """A repeated aggregate / group_by shape (other where, having, take values) compiles once."""
    misses, hits = await _repeat(orm, lambda i: orm.user.aggregate(
        where={"age": {"gte": 20 + i}}, count=True, sum={"age": True}, avg={"age": True}, max={"created_at": True}))
    assert (misses, hits) == (1, 11), "an aggregate shape compiled more than once"
    misses, hits = await _repeat(orm, lambda i: orm.user.group_by(
        by=["active"], where={"age": {"lt": 60 - i}}, count=True, sum={"age": True},
        having={"count": {"_all": {"gte": i}}}, order_by={"sum": {"age": "desc"}}, take=1 + i % 3, skip=i % 2))
    assert (misses, hits) == (1, 11), "a group_by shape compiled more than once"
    assert len(builders) == 2


async def test_distinct_relation_order_and_counts_compile_once(orm: Orm, builders: list[tuple[str, ...]]) -> None:
    """distinct, ordering through a relation and relation counts keep values out of the node too."""
    misses, hits = await _repeat(orm, lambda i: orm.post.find_many(
        where={"id": {"gt": i}}, distinct=["user_id"], order_by=[{"user": {"name": "desc"}}, {"id": "asc"}],
        take=3 + i))
    assert (misses, hits) == (1, 11), "a distinct / relation-ordered read compiled more than once"
    misses, hits = await _repeat(orm, lambda i: orm.user.find_many(
        where={"age": {"gte": 20 + i}}, select={"id": True, "_count": {"posts": {"where": {"id": {"gt": i}}}}},
        order_by={"posts": {"_count": "desc"}}, take=5))
    assert (misses, hits) == (1, 11), "a relation-count read compiled more than once"
    assert len(builders) == 2

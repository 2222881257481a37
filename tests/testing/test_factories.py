"""Factories (define_factory) and seeds (define_seed), on the plugin's ``farmorm_orm`` (SQLite in
memory unless FARMORM_TEST_URL says otherwise) and, for relations and atomicity, on every backend."""

from __future__ import annotations

from typing import Any, AsyncIterator

import pytest

from farmorm import Orm, OrmError, define_factory, define_seed
from farmorm.features.factories import SeedRegistry, reset_sequences, run_seeds
from farmorm.testing.harness import FreshDatabases

from ..conftest import backend_problem, required_backends, selected_backends
from .conftest import books, posts, profiles, schema, shelves, users


def statements(orm: Orm) -> list[str]:
    log: list[str] = []
    orm.on_query(lambda event: log.append(event.statement))
    return log


async def test_build_applies_defaults_overrides_and_sequence_without_io(farmorm_orm: Orm) -> None:
    log = statements(farmorm_orm)
    assert users.build() == {"email": "user1@example.com", "name": "User 1"}
    assert users.build(name="Ada") == {"email": "user2@example.com", "name": "Ada"}
    assert posts.build(author_id="u-1") == {"title": "Post 1", "author_id": "u-1"}
    assert log == []
    assert await farmorm_orm.user.count() == 0


async def test_sequences_restart_for_every_test(farmorm_orm: Orm) -> None:
    """The plugin resets sequences, so this sees seq 1 again after the test above used 1 and 2."""
    assert users.build()["email"] == "user1@example.com"
    users.reset_sequence(10)
    assert users.build()["email"] == "user10@example.com"


async def test_create_makes_the_parent_through_its_factory(farmorm_orm: Orm) -> None:
    post = await posts.create(farmorm_orm)
    assert post["title"] == "Post 1"
    assert post["author"]["email"] == "user1@example.com"
    assert post["author_id"] == post["author"]["id"]
    assert "editor" not in post and post["editor_id"] is None
    stored = await farmorm_orm.post.find_unique(where={"id": post["id"]}, include={"author": True})
    assert stored is not None and stored["author"]["id"] == post["author_id"]


async def test_a_given_parent_or_foreign_key_is_used_instead(farmorm_orm: Orm) -> None:
    ada = await users.create(farmorm_orm, name="Ada")
    by_record = await posts.create(farmorm_orm, author=ada, editor=ada)
    by_key = await posts.create(farmorm_orm, author_id=ada["id"], title="Keyed")
    assert by_record["author_id"] == by_record["editor_id"] == by_key["author_id"] == ada["id"]
    assert by_record["author"] == ada and "author" not in by_key
    assert await farmorm_orm.user.count() == 1
    assert (await posts.create(farmorm_orm, author=ada, editor=None))["editor_id"] is None


async def test_has_many_and_has_one_children(farmorm_orm: Orm) -> None:
    ada = await users.create(farmorm_orm, posts=posts.batch(2), profile=profiles)
    assert [p["title"] for p in ada["posts"]] == ["Post 1", "Post 2"]
    assert all(p["author_id"] == ada["id"] for p in ada["posts"])
    assert ada["profile"]["user_id"] == ada["id"]
    assert await farmorm_orm.user.count() == 1           # the children did not make authors of their own
    grace = await users.create(farmorm_orm, posts=[posts.batch(1, title="Mine"), posts])
    assert [p["title"] for p in grace["posts"]] == ["Mine", "Post 4"]   # every record built takes a number
    loaded = await farmorm_orm.user.find_unique(where={"id": ada["id"]}, include={"posts": True, "profile": True})
    assert loaded is not None and len(loaded["posts"]) == 2 and loaded["profile"]["bio"] == "Bio 1"


async def test_create_list_is_one_insert_without_relations(farmorm_orm: Orm) -> None:
    log = statements(farmorm_orm)
    made = await users.create_list(farmorm_orm, 3, tier="pro")
    assert [u["email"] for u in made] == [f"user{i}@example.com" for i in (1, 2, 3)]
    assert {u["tier"] for u in made} == {"pro"}
    assert len([s for s in log if "INSERT" in s.upper() or s == "insert"]) == 1
    assert len(await posts.create_list(farmorm_orm, 2)) == 2
    assert await farmorm_orm.user.count() == 5
    assert await users.create_list(farmorm_orm, 0) == []


async def test_bound_factories(farmorm_orm: Orm, farmorm_factory: Any) -> None:
    bound = farmorm_factory(users)
    assert (await bound.create(name="Ada"))["name"] == "Ada"
    assert len(await bound.create_list(2)) == 2
    assert bound.build()["email"] == "user4@example.com"
    assert await users.bind(farmorm_orm).create() is not None
    assert await farmorm_orm.user.count() == 4
    with pytest.raises(OrmError) as err:
        farmorm_factory("users")
    assert err.value.code == "VALIDATION_ERROR"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda orm: users.create(orm, nickname="x"), 'Unknown field "nickname" in factory overrides for model "user".'),
        (lambda orm: posts.create(orm, title=5), 'Invalid value for field "title" on model "post": expected str, got int.'),
        (lambda orm: posts.create(orm, author=posts), 'Relation "author" on model "post" needs a user factory, got a post factory.'),
        (lambda orm: posts.create(orm, author={"name": "x"}),
         'Relation "author" on model "post" expects a user record with "id" or a factory, got a mapping without it.'),
        (lambda orm: posts.create(orm, author=None), 'Field "author_id" on model "post" cannot be null.'),
        (lambda orm: users.create(orm, posts=posts.batch(1, subtitle="x")),
         'Unknown field "subtitle" in factory overrides for model "post".'),
        (lambda orm: users.create(orm, posts=[posts.build()]),
         'Relation "posts" on model "user" expects a factory, factory.batch(n) or a list of them, got dict.'),
        (lambda orm: users.create(orm, profile=profiles.batch(2)),
         'Relation "profile" on model "user" is has_one: give exactly one record, got 2.'),
        (lambda orm: users.create_list(orm, -1), 'Invalid count for create_list on model "user": expected a non-negative integer, got -1.'),
        (lambda orm: posts.create(orm, author=users, author_id="u1"),
         'Factory overrides for model "post" set both relation "author" and its foreign key "author_id"; pass one of them.'),
        (lambda orm: define_factory(schema.models["user"], defaults=lambda seq: {"nick": seq}).create(orm),
         'Unknown field "nick" in factory defaults for model "user".'),
        (lambda orm: define_factory(schema.models["user"], defaults=lambda seq: [seq]).create(orm),
         'Factory defaults for model "user" must return a mapping, got list.'),
    ],
)
async def test_bad_input_is_refused_before_any_io(farmorm_orm: Orm, call: Any, message: str) -> None:
    log = statements(farmorm_orm)
    with pytest.raises(OrmError) as err:
        await call(farmorm_orm)
    assert err.value.code == "VALIDATION_ERROR"
    assert err.value.message == message
    assert log == []     # not even the parent was written


def test_define_factory_refuses_bad_arguments() -> None:
    with pytest.raises(OrmError) as err:
        define_factory(schema.models["user"], defaults={"email": "x"})  # type: ignore[arg-type]
    assert err.value.code == "VALIDATION_ERROR"
    assert err.value.message == ('Factory defaults for model "user" must be a callable taking the sequence number '
                                 "(defaults=lambda seq: {...}), got dict.")
    assert err.value.meta["model"] == "user"
    with pytest.raises(OrmError, match="define_factory\\(\\) expects a model of a schema"):
        define_factory("user", defaults=lambda seq: {})  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# every backend: relations and atomicity


@pytest.fixture(params=[b for b in selected_backends() if b in ("sqlite", "postgres", "mysql", "mongo")])
async def any_orm(request: pytest.FixtureRequest) -> AsyncIterator[Orm]:
    problem = backend_problem(request.param)
    if problem:
        if request.param in required_backends():
            pytest.fail(problem)
        pytest.skip(problem)
    reset_sequences()      # what farmorm_orm does; this fixture makes its own databases
    fresh = FreshDatabases(request.param)
    try:
        yield await fresh.orm(schema)
    finally:
        await fresh.close()


async def test_relations_and_atomicity_on_every_backend(any_orm: Orm) -> None:
    orm = any_orm
    ada = await users.create(orm, posts=posts.batch(2))
    post = await posts.create(orm, editor=ada)
    assert post["editor_id"] == ada["id"] and post["author"]["id"] != ada["id"]
    assert await orm.user.count() == 2 and await orm.post.count() == 3
    # a failure half-way (the child's title is taken: a database error, not a validation one)
    with pytest.raises(OrmError) as err:
        await users.create(orm, email="late@example.com", posts=posts.batch(1, title=post["title"]))
    assert err.value.code == "UNIQUE_CONSTRAINT_VIOLATION"
    left = await orm.user.count(where={"email": "late@example.com"})
    assert left == (0 if orm.driver.capabilities.supports_transactions else 1)
    assert await orm.post.count() == 3
    # integer keys: the parent's key is known only after its insert
    book = await books.create(orm)
    assert (book["id"], book["shelf_id"], book["shelf"]["id"]) == (101, 1, 1)
    shelf = await shelves.create(orm, books=books.batch(2))
    assert [(b["id"], b["shelf_id"]) for b in shelf["books"]] == [(102, 2), (103, 2)]
    with pytest.raises(OrmError, match='Invalid value for field "title" on model "book"'):
        await books.create(orm, title=7)
    assert await orm.shelf.count() == 2


# ---------------------------------------------------------------------------------------------
# seeds


async def test_seeds_run_in_order_each_in_a_transaction(farmorm_orm: Orm) -> None:
    ran: list[str] = []

    async def make_users(orm: Orm) -> None:
        ran.append("users")
        await users.create_list(orm, 2)

    async def make_posts(orm: Orm) -> None:
        ran.append("posts")
        author = await orm.user.find_first(order_by={"email": "asc"})
        assert author is not None
        await posts.create_list(orm, 3, author=author)

    async def broken(orm: Orm) -> None:
        await users.create(orm, email="half@example.com")
        raise RuntimeError("seed failed half-way")

    seeds = [define_seed("users", run=make_users), define_seed("posts", run=make_posts),
             define_seed("broken", run=broken)]
    assert await run_seeds(farmorm_orm, seeds, only=["posts", "users"]) == ["users", "posts"]
    assert ran == ["users", "posts"]
    assert await farmorm_orm.user.count() == 2 and await farmorm_orm.post.count() == 3
    with pytest.raises(RuntimeError):
        await run_seeds(farmorm_orm, seeds, only=["broken"])
    left = await farmorm_orm.user.count(where={"email": "half@example.com"})
    assert left == (0 if farmorm_orm.driver.capabilities.supports_transactions else 1)  # rolled back


async def test_bad_seeds_are_refused_before_any_io(farmorm_orm: Orm) -> None:
    async def noop(orm: Orm) -> None:
        raise AssertionError("must not run")

    cases = [
        (lambda: define_seed("", run=noop), "define_seed() expects a non-empty name without commas, got ''."),
        (lambda: define_seed("a,b", run=noop), "define_seed() expects a non-empty name without commas, got 'a,b'."),
        (lambda: define_seed("x", run="nope"),  # type: ignore[arg-type]
         'Seed "x" expects run= to be an async function taking the orm, got str.'),
        (lambda: SeedRegistry([define_seed("x", run=noop), define_seed("x", run=noop)]), 'Duplicate seed "x".'),
        (lambda: SeedRegistry([define_seed("x", run=noop)]).select(["y"]), 'Unknown seed "y". Known seeds: x.'),
    ]
    for call, message in cases:
        with pytest.raises(OrmError) as err:
            call()
        assert (err.value.code, err.value.message) == ("VALIDATION_ERROR", message)
    log = statements(farmorm_orm)
    with pytest.raises(OrmError, match='Unknown seed "nope"'):
        await run_seeds(farmorm_orm, [define_seed("x", run=noop)], only=["nope"])
    assert log == []

"""examples/framework_modules on every backend: five modules, one merged contract, one ORM.

Each backend gets a fresh database (``TestDatabase``); the contract is pushed twice (idempotent),
then every module's functions run against it: auth sessions, a team created atomically with its
owner, the route cache's upsert and expiry, a job claimed exactly once by racing workers, and
webhook delivery history. Unreachable backends skip (or fail when listed in FARMORM_REQUIRE).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from examples.framework_modules import auth, jobs, route_cache, teams, webhooks
from examples.framework_modules.contract import OWNERS, contract, ddl, open_storage
from farmorm import SchemaError, UniqueConstraintViolation, merge_schemas
from farmorm.setup import push_schema
from farmorm.testing.databases import TestDatabase

from ..conftest import backend_problem, selected_backends


def test_contract_is_the_union_of_the_modules() -> None:
    assert sorted(contract.models) == sorted(OWNERS)
    assert set(OWNERS.values()) == {"auth", "teams", "route_cache", "jobs", "webhooks"}
    assert all(contract.models[name].table.startswith("fw_") for name in contract.models)
    # two modules claiming one model name are refused when the contract is built
    with pytest.raises(SchemaError, match='Duplicate model "user"'):
        merge_schemas(teams.schema, auth.schema)


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_generated_ddl_covers_every_module(dialect: str) -> None:
    sql = ddl(dialect)
    for name, meta in contract.models.items():
        assert meta.table in sql, (name, dialect)


@pytest.mark.parametrize("backend", selected_backends())
async def test_modules_on_one_contract(backend: str) -> None:
    problem = backend_problem(backend)
    if problem:
        pytest.skip(problem)
    db = TestDatabase(backend)
    client = await db.create()
    try:
        orm = await open_storage(client)
        try:
            await push_schema(contract, orm)  # again: idempotent

            # auth
            ada = await auth.sign_up(orm, "Ada@Example.com", "Ada")
            grace = await auth.sign_up(orm, "grace@example.com", "Grace")
            with pytest.raises(UniqueConstraintViolation):
                await auth.sign_up(orm, "ada@example.com", "Impostor")
            token = await auth.start_session(orm, ada["id"])
            expired = await auth.start_session(orm, grace["id"], ttl=timedelta(seconds=-1))
            assert (await auth.authenticate(orm, token)) == {"id": ada["id"], "email": "ada@example.com", "name": "Ada"}
            assert await auth.authenticate(orm, expired) is None
            assert await auth.authenticate(orm, "no-such-token") is None

            # teams: the team and its owner membership are created together
            acme = await teams.create_team(orm, owner_id=ada["id"], slug="acme", name="Acme")
            await teams.add_member(orm, acme["id"], grace["id"], role="admin")
            with pytest.raises(UniqueConstraintViolation):
                await teams.add_member(orm, acme["id"], grace["id"])
            assert await teams.teams_of(orm, grace["id"]) == [{"slug": "acme", "name": "Acme", "role": "admin"}]
            members = await orm.team.find_unique(where={"slug": "acme"},
                                                 select={"members": {"select": {"name": True}, "order_by": {"name": "asc"}}})
            assert members == {"members": [{"name": "Ada"}, {"name": "Grace"}]}

            # route cache: upsert keeps one row per path, expiry is honoured
            await route_cache.put(orm, "/teams/acme", {"title": "Acme", "v": 1}, timedelta(minutes=5))
            await route_cache.put(orm, "/teams/acme", {"title": "Acme", "v": 2}, timedelta(minutes=5))
            await route_cache.put(orm, "/old", {"v": 0}, timedelta(seconds=-1))
            assert await route_cache.get(orm, "/teams/acme") == {"title": "Acme", "v": 2}
            assert await route_cache.get(orm, "/old") is None
            assert await orm.route_cache_entry.count() == 2
            assert await route_cache.purge_expired(orm) == 1

            # jobs: three workers race for one job; exactly one wins it
            job = await jobs.enqueue(orm, "search", "reindex", {"team": "acme"})
            claims = await asyncio.gather(*(jobs.claim(orm, "search", f"w{i}") for i in range(3)))
            winners = [c for c in claims if c is not None]
            assert len(winners) == 1 and winners[0]["id"] == job["id"] and winners[0]["status"] == "running"
            assert await jobs.claim(orm, "search", "late") is None
            retried = await jobs.finish(orm, job["id"], error="index busy")
            assert retried is not None and (retried["status"], retried["attempts"]) == ("queued", 1)
            again = await jobs.claim(orm, "search", "w9")
            assert again is not None and again["locked_by"] == "w9"
            done = await jobs.finish(orm, job["id"])
            assert done is not None and done["status"] == "done" and done["finished_at"] is not None

            # webhooks: endpoints owned by a team key; attempts numbered per event
            endpoint = await webhooks.register(orm, f"team:{acme['id']}", "https://hooks.example.com/acme")
            with pytest.raises(UniqueConstraintViolation):
                await webhooks.register(orm, f"team:{acme['id']}", "https://hooks.example.com/acme")
            await webhooks.record_attempt(orm, endpoint["id"], "deploy", {"ok": True}, 502)
            await webhooks.record_attempt(orm, endpoint["id"], "deploy", {"ok": True}, 204)
            assert await webhooks.endpoints_of(orm, f"team:{acme['id']}") == [{
                "url": "https://hooks.example.com/acme", "active": True,
                "deliveries": [{"event": "deploy", "attempt": 1, "status": "failed"},
                               {"event": "deploy", "attempt": 2, "status": "delivered"}],
            }]

            # one contract, one set of tables: every module's rows are where the others can see them
            counts = {name: await orm.model(name).count() for name in sorted(contract.models)}
            assert counts == {"job": 1, "route_cache_entry": 1, "session": 2, "team": 1, "team_member": 2,
                              "user": 2, "webhook_delivery": 2, "webhook_endpoint": 1}
        finally:
            await orm.close()
    finally:
        await db.drop()

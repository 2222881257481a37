"""The no-foreign-key relation mode (``define_schema(..., foreign_keys=False)``, Prisma's
``relationMode = "prisma"``): no FOREIGN KEY in the database, the ORM refuses what the constraint
would have refused, in the same transaction as the write. Runs on every backend."""

from __future__ import annotations

import asyncio

import pytest

from farmorm import OrmError, define_schema, has_many, model
from farmorm import fields as f

schema = define_schema(
    team=model(table="nofk_teams", fields={"id": f.id(), "slug": f.string().unique()},
               relations={"projects": has_many("project", foreign_key="team_id")}),
    project=model(table="nofk_projects", fields={"id": f.id(), "team_id": f.string().references("team.id"),
                                                 "owner_slug": f.string().nullable().references("team.slug"),
                                                 "name": f.string()}),
    foreign_keys=False,
)


def _fk(err: OrmError, model: str, field: str) -> None:
    assert err.code == "FOREIGN_KEY_VIOLATION", err
    assert err.meta["model"] == model and err.meta["target"] == [field] and err.meta["enforced_by"] == "orm"
    assert model in err.message and field in err.message


async def test_writes_that_point_at_nothing_are_refused(make_orm) -> None:
    orm = await make_orm(schema)
    team = await orm.team.create(data={"slug": "acme"})
    with pytest.raises(OrmError) as caught:
        await orm.project.create(data={"team_id": "missing", "name": "x"})
    _fk(caught.value, "project", "team_id")
    with pytest.raises(OrmError) as caught:
        await orm.project.create(data={"team_id": team["id"], "owner_slug": "nobody", "name": "x"})
    _fk(caught.value, "project", "owner_slug")
    with pytest.raises(OrmError) as caught:  # one bad row: none is written
        await orm.project.create_many(data=[{"team_id": team["id"], "name": "a"}, {"team_id": "missing", "name": "b"}])
    _fk(caught.value, "project", "team_id")
    assert await orm.project.count() == 0

    ok = await orm.project.create(data={"team_id": team["id"], "owner_slug": "acme", "name": "ok"})
    assert ok["team_id"] == team["id"]
    assert len(await orm.project.create_many(data=[{"team_id": team["id"], "name": f"p{i}"} for i in range(3)])) == 3
    with pytest.raises(OrmError) as caught:
        await orm.project.update(where={"id": ok["id"]}, data={"team_id": "missing"})
    _fk(caught.value, "project", "team_id")
    with pytest.raises(OrmError) as caught:
        await orm.project.update_many(where={"name": "ok"}, data={"team_id": "missing"})
    _fk(caught.value, "project", "team_id")
    with pytest.raises(OrmError) as caught:
        await orm.project.upsert(where={"id": "new"}, create={"id": "new", "team_id": "missing", "name": "n"},
                                 update={"name": "n"})
    _fk(caught.value, "project", "team_id")
    assert (await orm.project.update(where={"id": ok["id"]}, data={"owner_slug": None}))["owner_slug"] is None
    assert await orm.project.count(where={"team_id": team["id"]}) == 4


async def test_deleting_a_referenced_row_is_refused_until_nothing_points_at_it(make_orm) -> None:
    orm = await make_orm(schema)
    acme = await orm.team.create(data={"slug": "acme"})
    other = await orm.team.create(data={"slug": "other"})
    await orm.project.create(data={"team_id": acme["id"], "name": "p"})
    with pytest.raises(OrmError) as caught:
        await orm.team.delete(where={"id": acme["id"]})
    _fk(caught.value, "project", "team_id")
    with pytest.raises(OrmError):  # one referenced row among them: nothing is deleted
        await orm.team.delete_many(where={"slug": {"in": ["acme", "other"]}})
    assert await orm.team.count() == 2
    assert await orm.team.delete(where={"id": other["id"]}) == 1  # nothing points at it
    await orm.project.delete_many(where={"team_id": acme["id"]})
    assert await orm.team.delete(where={"id": acme["id"]}) == 1
    assert await orm.team.count() == 0


async def test_inside_a_transaction_a_refusal_leaves_the_transaction_usable(make_orm) -> None:
    orm = await make_orm(schema)

    async def work(tx):  # type: ignore[no-untyped-def]
        team = await tx.team.create(data={"slug": "acme"})
        with pytest.raises(OrmError):
            await tx.project.create(data={"team_id": "missing", "name": "x"})
        return await tx.project.create(data={"team_id": team["id"], "name": "y"})

    created = await orm.transaction(work)
    assert await orm.project.count() == 1 and created["name"] == "y"


async def test_a_concurrent_delete_and_insert_never_leave_an_orphan(make_orm) -> None:
    orm = await make_orm(schema)
    outcomes = []
    for i in range(8):
        team = await orm.team.create(data={"slug": f"t{i}"})

        async def insert(team=team):  # type: ignore[no-untyped-def]
            return await orm.project.create(data={"team_id": team["id"], "name": "racing"})

        async def delete(team=team):  # type: ignore[no-untyped-def]
            return await orm.team.delete(where={"id": team["id"]})

        results = await asyncio.gather(insert(), delete(), return_exceptions=True)
        outcomes.append(tuple("error" if isinstance(r, Exception) else "ok" for r in results))
        for r in results:
            assert not isinstance(r, Exception) or (isinstance(r, OrmError) and r.code in (
                "FOREIGN_KEY_VIOLATION", "DEADLOCK", "TRANSACTION_CONFLICT", "LOCK_TIMEOUT")), r
    projects = await orm.project.find_many()
    teams = {t["id"] for t in await orm.team.find_many()}
    assert all(p["team_id"] in teams for p in projects), (outcomes, projects, teams)  # no orphan


actions = define_schema(
    org=model(table="nofk_orgs", fields={"id": f.id(), "slug": f.string().unique()}),
    repo=model(table="nofk_repos", fields={"id": f.id(), "org_id": f.string().references("org.id", on_delete="cascade"),
                                           "name": f.string()}),
    issue=model(table="nofk_issues", fields={"id": f.id(), "title": f.string(),
                                             "repo_id": f.string().nullable().references("repo.id",
                                                                                         on_delete="set null")}),
    foreign_keys=False,
)


async def test_on_delete_cascade_and_set_null_are_applied_by_the_orm(make_orm) -> None:
    orm = await make_orm(actions)
    acme = await orm.org.create(data={"slug": "acme"})
    other = await orm.org.create(data={"slug": "other"})
    repo = await orm.repo.create(data={"org_id": acme["id"], "name": "api"})
    kept = await orm.repo.create(data={"org_id": other["id"], "name": "web"})
    await orm.issue.create(data={"title": "bug", "repo_id": repo["id"]})
    await orm.issue.create(data={"title": "elsewhere", "repo_id": kept["id"]})

    assert await orm.org.delete(where={"id": acme["id"]}) == 1
    # cascade: acme's repo is gone; set null, applied in turn: its issue stays, pointing at nothing
    assert [r["name"] for r in await orm.repo.find_many()] == ["web"]
    issues = {i["title"]: i["repo_id"] for i in await orm.issue.find_many()}
    assert issues == {"bug": None, "elsewhere": kept["id"]}


async def test_a_failing_cascade_undoes_the_whole_delete(make_orm) -> None:
    guarded = define_schema(
        org=model(table="nofk_g_orgs", fields={"id": f.id()}),
        repo=model(table="nofk_g_repos", fields={"id": f.id(), "org_id": f.string().references("org.id",
                                                                                              on_delete="cascade")}),
        star=model(table="nofk_g_stars", fields={"id": f.id(), "repo_id": f.string().references("repo.id")}),
        foreign_keys=False,
    )
    orm = await make_orm(guarded)
    org = await orm.org.create(data={})
    repo = await orm.repo.create(data={"org_id": org["id"]})
    await orm.star.create(data={"repo_id": repo["id"]})  # restrict: blocks the cascade
    with pytest.raises(OrmError) as caught:
        await orm.org.delete(where={"id": org["id"]})
    _fk(caught.value, "star", "repo_id")
    assert await orm.org.count() == 1 and await orm.repo.count() == 1  # nothing half-deleted

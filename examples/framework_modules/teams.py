"""Teams module: teams and memberships. It points into auth (a member is a user), so its schema
is defined together with auth's definitions: valid on its own, and carrying ``user`` along."""

from __future__ import annotations

from typing import Any

from farmorm import Orm, belongs_to, define_schema, has_many, many_to_many, model
from farmorm import fields as f

from . import auth

#: only this module's models; ``schema`` below adds auth's so the references resolve
MODELS = {
    "team": model(
        table="fw_teams",
        fields={"id": f.id(), "slug": f.string().unique(), "name": f.string(),
                "created_at": f.datetime().default_now()},
        relations={
            "memberships": has_many("team_member", foreign_key="team_id"),
            "members": many_to_many("user", through="team_member", from_="team_id", to="user_id"),
        },
    ),
    "team_member": model(
        table="fw_team_members",
        fields={
            "id": f.id(),
            "team_id": f.string().references("team.id"),
            "user_id": f.string().references("user.id"),
            "role": f.enumeration(["owner", "admin", "member"]).default("member"),
        },
        relations={"team": belongs_to("team", foreign_key="team_id"), "user": belongs_to("user", foreign_key="user_id")},
        constraints={"unique": [["team_id", "user_id"]], "indexes": [["user_id"]]},
    ),
}

schema = define_schema(**auth.schema.definitions, **MODELS)


async def create_team(orm: Orm, *, owner_id: str, slug: str, name: str) -> dict[str, Any]:
    """A team and its owner's membership, together (a taken slug leaves neither behind)."""

    async def run(tx: Orm) -> dict[str, Any]:
        team = await tx.team.create(data={"slug": slug, "name": name})
        await tx.team_member.create(data={"team_id": team["id"], "user_id": owner_id, "role": "owner"})
        return team

    return await orm.transaction(run)  # type: ignore[no-any-return]


async def add_member(orm: Orm, team_id: str, user_id: str, role: str = "member") -> dict[str, Any]:
    """Add ``user_id`` to the team; adding them twice is UNIQUE_CONSTRAINT_VIOLATION."""
    return await orm.team_member.create(data={"team_id": team_id, "user_id": user_id, "role": role})


async def teams_of(orm: Orm, user_id: str) -> list[dict[str, Any]]:
    """The user's teams with their role, by slug."""
    rows = await orm.team_member.find_many(
        where={"user_id": user_id}, select={"role": True, "team": {"select": {"slug": True, "name": True}}})
    return sorted(({**r["team"], "role": r["role"]} for r in rows), key=lambda t: t["slug"])

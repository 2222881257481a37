"""The shared "auth" fixture schema and seed (REFERENCE.md §10.2), in farmorm's snake_case form.

``conftest.py`` imports ``auth_schema`` and ``seed_auth`` from here; the ``auth_orm`` fixture is an
Orm on a fresh database with this schema pushed and ``seed_auth`` already run.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from farmorm import belongs_to, define_schema, has_many, has_one, many_to_many, model
from farmorm import fields as f

UTC = dt.timezone.utc

ADA_EMAIL = "ada@example.com"
GRACE_EMAIL = "grace@example.com"
ADA_BIO = "Writes one storage layer for every stack."
ADA_QUOTA = 9007199254740991
GRACE_QUOTA = 128
ADA_METADATA = {"plan": "oss", "scopes": ["repo:read", "repo:write"], "flags": {"sync": True}}
SESSION_EXPIRY = {
    "session-1": dt.datetime(2026, 1, 1, tzinfo=UTC),
    "session-2": dt.datetime(2026, 2, 1, tzinfo=UTC),
    "session-3": dt.datetime(2026, 3, 1, tzinfo=UTC),
}

auth_schema = define_schema(
    user=model(
        table="users",
        fields={
            "id": f.id(),
            "email": f.string().unique(),
            "name": f.string(),
            "email_verified": f.boolean().default(False).map("email_verified"),
            "login_count": f.integer().default(0).map("login_count"),
            "tier": f.enumeration(["free", "pro", "enterprise"]).default("free"),
            "quota": f.bigint().default(0).map("quota_bigint"),
            "created_at": f.datetime().default_now().map("created_at"),
            "updated_at": f.datetime().default_now().map("updated_at"),
        },
        relations={
            "profile": has_one("profile", foreign_key="user_id"),
            "sessions": has_many("session", foreign_key="user_id"),
            "accounts": has_many("account", foreign_key="user_id"),
            "organizations": many_to_many(
                "organization", through="member", from_="user_id", to="organization_id"
            ),
        },
    ),
    profile=model(
        table="profiles",
        fields={
            "id": f.id(),
            "user_id": f.string().unique().references("user.id").map("user_id"),
            "bio": f.string().nullable(),
        },
        relations={"user": belongs_to("user", foreign_key="user_id")},
    ),
    session=model(
        table="sessions",
        fields={
            "id": f.id(),
            "user_id": f.string().references("user.id").map("user_id"),
            "token": f.string().unique(),
            "expires_at": f.datetime().map("expires_at"),
        },
        relations={"user": belongs_to("user", foreign_key="user_id")},
        constraints={"indexes": [["user_id", "expires_at"]]},
    ),
    account=model(
        table="accounts",
        fields={
            "id": f.id(),
            "user_id": f.string().references("user.id").map("user_id"),
            "provider": f.string(),
            "account_id": f.string().map("account_id"),
            "plan_tier": f.enumeration(["oss", "pro", "enterprise"]).default("oss").map("plan_tier"),
            "balance": f.decimal().default(Decimal("0.00")),
            "metadata": f.json().nullable(),
        },
        relations={"user": belongs_to("user", foreign_key="user_id")},
        constraints={"unique": [["provider", "account_id"]], "indexes": [["user_id", "provider"]]},
    ),
    organization=model(
        table="organizations",
        fields={
            "id": f.id(),
            "name": f.string().unique(),
            "slug": f.string().unique(),
        },
        relations={
            "users": many_to_many(
                "user", through="member", from_="organization_id", to="user_id"
            ),
            "members": has_many("member", foreign_key="organization_id"),
        },
    ),
    member=model(
        table="members",
        fields={
            "id": f.id(),
            "user_id": f.string().references("user.id").map("user_id"),
            "organization_id": f.string().references("organization.id").map("organization_id"),
            "role": f.string(),
        },
        relations={
            "user": belongs_to("user", foreign_key="user_id"),
            "organization": belongs_to("organization", foreign_key="organization_id"),
        },
        constraints={
            "unique": [["user_id", "organization_id"]],
            "indexes": [["organization_id", "role"]],
        },
    ),
)


async def seed_auth(orm: Any) -> dict[str, dict[str, Any]]:
    """Seed the reference data set through the public API; return the created records by short key."""
    ada, grace = await orm.user.create_many(
        data=[
            {"email": ADA_EMAIL, "name": "Ada", "login_count": 3, "tier": "pro", "quota": ADA_QUOTA},
            {"email": GRACE_EMAIL, "name": "Grace", "login_count": 1, "tier": "free",
             "quota": GRACE_QUOTA},
        ]
    )
    profile = await orm.profile.create(data={"user_id": ada["id"], "bio": ADA_BIO})
    account = await orm.account.create(
        data={
            "user_id": ada["id"],
            "provider": "github",
            "account_id": "gh_ada",
            "plan_tier": "oss",
            "balance": Decimal("12.50"),
            "metadata": ADA_METADATA,
        }
    )
    acme = await orm.organization.create(data={"name": "Acme", "slug": "acme"})
    labs = await orm.organization.create(data={"name": "Farming Labs", "slug": "farming-labs"})
    member_acme = await orm.member.create(
        data={"user_id": ada["id"], "organization_id": acme["id"], "role": "owner"}
    )
    member_labs = await orm.member.create(
        data={"user_id": ada["id"], "organization_id": labs["id"], "role": "member"}
    )
    sessions = {}
    for token, owner in (("session-1", ada), ("session-2", ada), ("session-3", grace)):
        sessions[token] = await orm.session.create(
            data={"user_id": owner["id"], "token": token, "expires_at": SESSION_EXPIRY[token]}
        )
    return {
        "ada": ada,
        "grace": grace,
        "profile": profile,
        "account": account,
        "acme": acme,
        "labs": labs,
        "member_acme": member_acme,
        "member_labs": member_labs,
        "session_1": sessions["session-1"],
        "session_2": sessions["session-2"],
        "session_3": sessions["session-3"],
    }


# ------------------------------------------------------------------------------------------------
# Small helpers shared by the conformance tests (public API only).


async def lookup(orm: Any) -> dict[str, dict[str, Any]]:
    """Re-read the seeded records by their unique keys (same keys as ``seed_auth`` returns)."""
    user, org, session = orm.user, orm.organization, orm.session
    ada = await user.find_unique(where={"email": ADA_EMAIL})
    grace = await user.find_unique(where={"email": GRACE_EMAIL})
    acme = await org.find_unique(where={"slug": "acme"})
    labs = await org.find_unique(where={"slug": "farming-labs"})
    return {
        "ada": ada,
        "grace": grace,
        "profile": await orm.profile.find_unique(where={"user_id": ada["id"]}),
        "account": await orm.account.find_unique(
            where={"provider": "github", "account_id": "gh_ada"}
        ),
        "acme": acme,
        "labs": labs,
        "member_acme": await orm.member.find_unique(
            where={"user_id": ada["id"], "organization_id": acme["id"]}
        ),
        "member_labs": await orm.member.find_unique(
            where={"user_id": ada["id"], "organization_id": labs["id"]}
        ),
        "session_1": await session.find_unique(where={"token": "session-1"}),
        "session_2": await session.find_unique(where={"token": "session-2"}),
        "session_3": await session.find_unique(where={"token": "session-3"}),
    }


def cap(orm: Any, name: str) -> Any:
    """Read one capability from ``orm.driver.capabilities`` (attribute or mapping style)."""
    caps = orm.driver.capabilities
    if hasattr(caps, name):
        return getattr(caps, name)
    return caps[name]


def pluck(rows: list[dict[str, Any]], key: str = "name") -> list[Any]:
    """The ``key`` of each row, in order."""
    return [r[key] for r in rows]

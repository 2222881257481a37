"""Golden files for every generator and dialect on a rich schema (FARMORM_UPDATE_GOLDEN=1 rewrites them).

The rich schema is the reference auth fixture (copied from tests/conformance/auth.py so a change
there does not silently rewrite these goldens), plus an integer-id model with an awkward string
default, and, for the PostgreSQL-only goldens, a model in the ``auth`` namespace.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from farmorm import belongs_to, define_schema, has_many, has_one, many_to_many, model, table_name
from farmorm import fields as f
from farmorm.generators import render_drizzle_schema, render_prisma_schema, render_safe_sql

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden"
#: a default that breaks unescaped SQL, TS and Prisma literals
AWKWARD_DEFAULT = "it's a \"quoted\"; back\\slash"

AUTH_MODELS = dict(
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
            "users": many_to_many("user", through="member", from_="organization_id", to="user_id"),
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

INTEGER_ID_MODELS = dict(
    counter=model(
        table="counters",
        fields={
            "id": f.id(type="integer", generated="increment"),
            "label": f.string().default(AWKWARD_DEFAULT),
            "slug": f.string().unique().default("it's"),
            "active": f.boolean().default(True),
            "step": f.integer().nullable(),
            "owner_id": f.string().references("user.id").nullable().map("owner_id"),
        },
        relations={"owner": belongs_to("user", foreign_key="owner_id")},
    ),
    tally=model(
        table="tallies",
        fields={
            "id": f.numeric_id(),
            "counter_id": f.integer().references("counter.id").map("counter_id"),
            "total": f.bigint().default(0),
        },
        constraints={"indexes": [["counter_id"]]},
    ),
)

NAMESPACED_MODELS = dict(
    audit_log=model(
        table=table_name("audit_logs", schema="auth"),
        fields={
            "id": f.id(type="integer", generated="increment"),
            "user_id": f.string().references("user.id").map("user_id"),
            "action": f.enumeration(["login", "logout"]).default("login"),
            "payload": f.json().default({}),
            "at": f.datetime().default_now(),
        },
        relations={"user": belongs_to("user", foreign_key="user_id")},
        constraints={"indexes": [["user_id", "action"]]},
    ),
)

#: the auth fixture plus integer-id models: renders on every dialect
RICH = define_schema(**AUTH_MODELS, **INTEGER_ID_MODELS)
#: RICH plus a model in the ``auth`` namespace: PostgreSQL targets only
NAMESPACED = define_schema(**AUTH_MODELS, **INTEGER_ID_MODELS, **NAMESPACED_MODELS)


def assert_golden(name: str, text: str) -> None:
    """Compare ``text`` with tests/golden/<name>; FARMORM_UPDATE_GOLDEN=1 rewrites the file instead."""
    path = GOLDEN_DIR / name
    if os.environ.get("FARMORM_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"missing golden file {path}; run with FARMORM_UPDATE_GOLDEN=1 to create it")
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} changed; inspect the diff, then FARMORM_UPDATE_GOLDEN=1 to accept"


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_safe_sql_golden(dialect):
    assert_golden(f"safe_sql.{dialect}.sql", render_safe_sql(RICH, dialect=dialect))


def test_safe_sql_namespaced_golden():
    assert_golden("safe_sql.postgres.namespaced.sql", render_safe_sql(NAMESPACED, dialect="postgres"))


@pytest.mark.parametrize("provider", ["postgresql", "mysql", "sqlite"])
def test_prisma_golden(provider):
    assert_golden(f"prisma.{provider}.prisma", render_prisma_schema(RICH, provider=provider))


def test_prisma_namespaced_golden():
    assert_golden("prisma.postgresql.namespaced.prisma", render_prisma_schema(NAMESPACED))


@pytest.mark.parametrize("dialect", ["pg", "mysql", "sqlite"])
def test_drizzle_golden(dialect):
    assert_golden(f"drizzle.{dialect}.ts", render_drizzle_schema(RICH, dialect=dialect))


def test_drizzle_namespaced_golden():
    assert_golden("drizzle.pg.namespaced.ts", render_drizzle_schema(NAMESPACED, dialect="pg"))


def test_renderers_are_deterministic():
    for _ in range(2):
        assert render_safe_sql(NAMESPACED, dialect="postgres") == render_safe_sql(NAMESPACED, dialect="postgres")
        assert render_prisma_schema(NAMESPACED) == render_prisma_schema(NAMESPACED)
        assert render_drizzle_schema(NAMESPACED, dialect="pg") == render_drizzle_schema(NAMESPACED, dialect="pg")

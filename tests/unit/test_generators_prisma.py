"""render_prisma_schema: the reference's fragments, enum blocks, relations, namespaces and errors."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

import pytest

from farmorm import belongs_to, define_schema, has_many, model, table_name
from farmorm import fields as f
from farmorm.core.errors import SchemaError
from farmorm.generators import render_prisma_schema
from farmorm.generators.prisma import enum_identifiers
from farmorm.schema.manifest import Schema

from .test_generators_golden import NAMESPACED, RICH
from .test_generators_sql import REF


@pytest.mark.parametrize(
    "fragment",
    [
        'loginCount Int @default(0) @map("login_count")',
        "tier UserTierEnum @default(FREE)",
        'quota BigInt @default(0) @map("quota_bigint")',
        "credit Decimal @default(0.00)",
        "metadata Json?",
        "profile Profile?",
        "sessions Session[]",
        "user User @relation(fields: [userId], references: [id])",
        '@@unique([userId, organizationId], map: "members_userid_organizationid_unique")',
        '@@index([organizationId, role], map: "members_organizationid_role_idx")',
        '@@index([userId], map: "sessions_userid_idx")',  # the foreign-key index push creates
        'email String @unique(map: "users_email_unique")',
        "id Int @id @default(autoincrement())",
        'id String @id @default(cuid()) @map("user_id")',
        'enum UserTierEnum {\n  FREE @map("free")\n  PRO @map("pro")\n}',
        '@@map("users")',
    ],
)
def test_reference_fragments(fragment):
    assert fragment in render_prisma_schema(REF)


def test_header_blocks_and_options():
    text = render_prisma_schema(REF, provider="mysql", datasource_name="main", generator_name="js")
    assert text.startswith(
        'generator js {\n  provider = "prisma-client-js"\n}\n\n'
        'datasource main {\n  provider = "mysql"\n  url      = env("DATABASE_URL")\n}\n\n'
    )
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert 'url      = "file:./dev.db"' in render_prisma_schema(REF, provider="sqlite")


def test_python_field_names_are_kept_and_mapped_only_when_the_column_differs():
    text = render_prisma_schema(RICH)
    assert "  login_count Int @default(0)\n" in text  # column == field name: no @map
    assert '  quota BigInt @default(0) @map("quota_bigint")\n' in text
    assert "  email_verified Boolean @default(false)\n" in text
    assert "  created_at DateTime @default(now())\n" in text
    assert "  plan_tier AccountPlanTierEnum @default(OSS)\n" in text
    assert "model AuditLog" not in text


def test_back_relations_and_implicit_relations():
    text = render_prisma_schema(RICH)
    user = text[text.index("model User {"):]
    user = user[: user.index("\n}")]
    # explicit relations, then back-relations for references() the user model does not declare
    assert "  profile Profile?\n  sessions Session[]\n  accounts Account[]\n  members Member[]\n  counters Counter[]" in user
    assert "organizations" not in user  # many_to_many stays with the explicit join model
    assert "  counter Counter @relation(fields: [counter_id], references: [id])" in text  # implicit
    assert "  tallys Tally[]" in text  # the implicit relation's back-relation (reference pluralization)
    assert "  owner User? @relation(fields: [owner_id], references: [id])" in text  # nullable FK


def test_one_to_one_back_relation_is_optional():
    schema = define_schema(
        user=model(table="users", fields={"id": f.id()}),
        profile=model(table="profiles", fields={"id": f.id(), "user_id": f.string().unique().references("user.id")}),
    )
    text = render_prisma_schema(schema)
    assert "  user User @relation(fields: [user_id], references: [id])" in text
    assert "  profile Profile?\n" in text


def test_escaped_string_default():
    text = render_prisma_schema(RICH)
    assert '  label String @default("it\'s a \\"quoted\\"; back\\\\slash")' in text


def test_namespaces_use_multi_schema():
    text = render_prisma_schema(NAMESPACED)
    assert '  previewFeatures = ["multiSchema"]' in text
    assert '  schemas  = ["auth", "public"]' in text
    assert '  @@map("audit_logs")\n  @@schema("auth")\n}' in text
    assert '  @@map("users")\n  @@schema("public")\n}' in text
    assert 'LOGOUT @map("logout")\n  @@schema("auth")\n}' in text


@pytest.mark.parametrize("provider", ["mysql", "sqlite"])
def test_namespaces_refused_on_other_providers(provider):
    with pytest.raises(SchemaError) as info:
        render_prisma_schema(NAMESPACED, provider=provider)
    assert str(info.value) == (
        f'render_prisma_schema(provider="{provider}") does not support schema-qualified tables in this configuration.'
    )


def test_unknown_provider():
    with pytest.raises(ValueError, match='provider must be "postgresql", "mysql", "sqlite" or "mongodb"'):
        render_prisma_schema(REF, provider="mongo")  # type: ignore[arg-type]


MONGO = define_schema(
    user=model(
        table="users",
        fields={"id": f.id(), "email": f.string().unique(), "age": f.integer().nullable()},
        relations={"posts": has_many("post", foreign_key="author_id")},
    ),
    post=model(
        table="posts",
        fields={"id": f.id().map("_id"), "author_id": f.string().references("user.id"), "doc": f.json()},
        relations={"author": belongs_to("user", foreign_key="author_id")},
    ),
)


def test_mongodb_provider():
    text = render_prisma_schema(MONGO, provider="mongodb")
    assert 'datasource db {\n  provider = "mongodb"\n  url      = env("DATABASE_URL")\n}' in text
    # an id farmorm keeps beside the document's own ObjectId _id: Prisma needs @id on _id
    assert '  mongo_id String @id @default(auto()) @map("_id") @db.ObjectId\n' \
           '  id String @default(cuid()) @unique(map: "users_id_pk_unique")\n' in text
    assert '  email String @unique(map: "users_email_unique")\n' in text
    # an id mapped to _id is the document id itself
    assert '  id String @id @default(cuid()) @map("_id")\n  author_id String\n' in text
    assert '@@index([author_id], map: "posts_author_id_idx")' in text
    assert "author User @relation(fields: [author_id], references: [id])" in text


def test_mongodb_refuses_what_neither_side_can_hold():
    counters = define_schema(c=model(table="c", fields={"id": f.id(type="integer", generated="increment")}))
    with pytest.raises(SchemaError, match='generated integer ids for model "c"'):
        render_prisma_schema(counters, provider="mongodb")
    with pytest.raises(SchemaError, match='decimal field "user.credit"'):
        render_prisma_schema(REF, provider="mongodb")


async def test_mongodb_index_names_match_what_push_creates():
    """The names in the Prisma schema are the index names farmorm's Mongo push creates."""
    import re

    import mongomock

    from farmorm import create_orm
    from farmorm.setup import push_schema
    from farmorm.testing.mongomock_async import AsyncMongomockDatabase

    db = AsyncMongomockDatabase(mongomock.MongoClient(tz_aware=True).get_database("prisma_names"))
    orm = await create_orm(MONGO, db)
    try:
        await push_schema(MONGO, orm)
        created = set()
        for table in ("users", "posts"):
            created |= set(await db[table].index_information())
    finally:
        await orm.close()
    named = set(re.findall(r'map: "([^"]+)"', render_prisma_schema(MONGO, provider="mongodb")))
    assert named and named <= created


def test_invalid_enum_default_message():
    schema = define_schema(user=model(table="users", fields={"id": f.id(), "tier": f.enumeration(["free", "pro"])}))
    meta = schema.models["user"]
    tier = dataclasses.replace(meta.fields["tier"], default="enterprise")
    broken = dataclasses.replace(meta, fields=MappingProxyType({**meta.fields, "tier": tier}))
    with pytest.raises(SchemaError) as info:
        render_prisma_schema(Schema({"user": broken}, schema.definitions))
    assert str(info.value) == 'Invalid default value "enterprise" for enum field "user.tier". Expected one of: free, pro.'


def test_enum_identifiers():
    assert enum_identifiers(("free", "pro")) == {"free": "FREE", "pro": "PRO"}
    assert enum_identifiers(("a-b", "a b", "1st", "!!")) == {"a-b": "A_B", "a b": "A_B_2", "1st": "VALUE_1ST", "!!": "VALUE"}
    schema = define_schema(m=model(table="t", fields={"id": f.id(), "s": f.enumeration(["READY", "in-flight"])}))
    text = render_prisma_schema(schema)
    assert "enum MSEnum {\n  READY\n  IN_FLIGHT @map(\"in-flight\")\n}" in text


def test_snake_model_names_become_pascal_case():
    schema = define_schema(
        auth_session=model(
            table=table_name("sessions", schema="auth"),
            fields={"id": f.id(), "owner_id": f.string().references("app_user.id")},
            relations={"owner": belongs_to("app_user", foreign_key="owner_id")},
        ),
        app_user=model(
            table="app_user",
            fields={"id": f.id()},
            relations={"auth_sessions": has_many("auth_session", foreign_key="owner_id")},
        ),
    )
    text = render_prisma_schema(schema)
    assert "model AuthSession {" in text and "model AppUser {" in text
    assert "  owner AppUser @relation(fields: [owner_id], references: [id])" in text
    assert "  auth_sessions AuthSession[]" in text
    assert text.count("AuthSession[]") == 1  # the declared inverse suppresses the implicit one

"""render_drizzle_schema: the reference's fragments per dialect, namespaces, relations and errors."""

from __future__ import annotations

import pytest

from farmorm.core.errors import SchemaError
from farmorm.generators import render_drizzle_schema
from farmorm.generators.drizzle import camelize

from .test_generators_golden import NAMESPACED, RICH
from .test_generators_sql import REF


@pytest.mark.parametrize(
    "fragment",
    [
        'import { pgTable, text, bigint, integer, numeric, jsonb, index, unique, check } '
        'from "drizzle-orm/pg-core";\nimport { relations, sql } from "drizzle-orm";\n\n',
        'export const user = pgTable("users", {',
        'id: text("user_id").primaryKey()',
        'loginCount: integer("login_count").notNull().default(0)',
        'tier: text("tier", { enum: ["free", "pro"] }).notNull().default("free")',
        'usersTierCheck: check("users_tier_check", sql`${table.tier} in (\'free\', \'pro\')`)',
        'quota: bigint("quota_bigint", { mode: "bigint" }).notNull().default(0n)',
        'credit: numeric("credit", { precision: 65, scale: 30 }).notNull().default("0.00")',
        'metadata: jsonb("metadata")\n',
        'userId: text("userId").notNull().unique().references(() => user.id)',
        '}, (table) => ({\n  membersUseridOrganizationidUnique: unique("members_userid_organizationid_unique")'
        '.on(table.userId, table.organizationId),\n  membersOrganizationidRoleIdx: '
        'index("members_organizationid_role_idx").on(table.organizationId, table.role)\n}));',
        'id: bigint("id", { mode: "number" }).primaryKey().generatedByDefaultAsIdentity()',
        'sessionsUseridIdx: index("sessions_userid_idx").on(table.userId)',  # foreign-key index
        "export const userRelations = relations(user, ({ one, many }) => ({\n  profile: one(profile),\n"
        "  sessions: many(session)\n}));",
        "user: one(user, { fields: [profile.userId], references: [user.id] })",
    ],
)
def test_pg_reference_fragments(fragment):
    assert fragment in render_drizzle_schema(REF, dialect="pg")


@pytest.mark.parametrize(
    "fragment",
    [
        'from "drizzle-orm/mysql-core";',
        'export const user = mysqlTable("users", {',
        'id: varchar("user_id", { length: 191 }).primaryKey()',
        'email: varchar("email", { length: 191 }).notNull().unique()',
        'loginCount: int("login_count").notNull().default(0)',
        'tier: mysqlEnum("tier", ["free", "pro"]).notNull().default("free")',
        'credit: decimal("credit", { precision: 65, scale: 30 }).notNull().default("0.00")',
        'role: varchar("role", { length: 191 }).notNull()',  # indexed string
        'name: text("name").notNull()',
        'id: bigint("id", { mode: "number" }).autoincrement().primaryKey()',
        'metadata: json("metadata")',
    ],
)
def test_mysql_reference_fragments(fragment):
    assert fragment in render_drizzle_schema(REF, dialect="mysql")


@pytest.mark.parametrize(
    "fragment",
    [
        'from "drizzle-orm/sqlite-core";',
        'export const user = sqliteTable("users", {',
        'tier: text("tier", { enum: ["free", "pro"] }).notNull().default("free")',
        'usersTierCheck: check("users_tier_check", sql`${table.tier} in (\'free\', \'pro\')`)',
        'membersUseridOrganizationidUnique: uniqueIndex("members_userid_organizationid_unique")',
        'quota: integer("quota_bigint").notNull().default(0)',
        'credit: text("credit").notNull().default("0.00")',
        'metadata: text("metadata", { mode: "json" })',
        'id: integer("id").primaryKey({ autoIncrement: true })',
    ],
)
def test_sqlite_reference_fragments(fragment):
    text = render_drizzle_schema(REF, dialect="sqlite")
    assert fragment in text
    assert "mysqlEnum" not in text


def test_rich_schema_columns():
    pg = render_drizzle_schema(RICH, dialect="pg")
    assert ('created_at: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull()'
            '.$defaultFn(() => new Date())') in pg
    assert 'expires_at: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull()\n' in pg
    assert 'email_verified: boolean("email_verified").notNull().default(false)' in pg
    assert 'plan_tier: text("plan_tier", { enum: ["oss", "pro", "enterprise"] }).notNull().default("oss")' in pg
    assert "pgEnum" not in pg and "Enum(" not in pg
    assert 'id: bigint("id", { mode: "number" }).primaryKey(),' in pg  # manual integer id: bigint like push
    assert 'label: text("label").notNull().default("it\'s a \\"quoted\\"; back\\\\slash")' in pg
    assert 'counter_id: bigint("counter_id", { mode: "number" }).notNull().references(() => counter.id)' in pg
    assert "organizations" not in pg.split("export const userRelations")[1].split("}));")[0]  # many_to_many skipped
    sqlite = render_drizzle_schema(RICH, dialect="sqlite")
    assert 'email_verified: integer("email_verified", { mode: "boolean" }).notNull().default(false)' in sqlite
    assert 'expires_at: text("expires_at").notNull()' in sqlite  # farmorm's ISO-8601 text
    assert '.$defaultFn(() => new Date().toISOString().replace("Z", "000+00:00"))' in sqlite
    mysql = render_drizzle_schema(RICH, dialect="mysql")
    assert 'expires_at: datetime("expires_at", { mode: "date", fsp: 6 }).notNull()' in mysql
    assert 'created_at: datetime("created_at", { mode: "date", fsp: 6 }).notNull().$defaultFn(() => new Date())' in mysql
    assert 'plan_tier: mysqlEnum("plan_tier", ["oss", "pro", "enterprise"])' in mysql and "check(" not in mysql


def test_pg_namespaces():
    text = render_drizzle_schema(NAMESPACED, dialect="pg")
    assert "pgSchema" in text.splitlines()[0]
    assert 'const authSchema = pgSchema("auth");' in text
    assert 'export const audit_log = authSchema.table("audit_logs", {' in text
    assert 'action: text("action", { enum: ["login", "logout"] })' in text
    assert 'auditLogsActionCheck: check("audit_logs_action_check"' in text
    assert 'authAuditLogsUserIdActionIdx: index("auth_audit_logs_user_id_action_idx")' in text
    assert '  payload: jsonb("payload").notNull(),\n' in text  # JSON defaults are not rendered


@pytest.mark.parametrize("dialect", ["mysql", "sqlite"])
def test_namespaces_refused_on_other_dialects(dialect):
    with pytest.raises(SchemaError) as info:
        render_drizzle_schema(NAMESPACED, dialect=dialect)
    assert str(info.value) == (
        f'render_drizzle_schema(dialect="{dialect}") does not support schema-qualified tables in this configuration.'
    )


def test_unknown_dialect():
    with pytest.raises(ValueError, match='dialect must be "pg", "mysql" or "sqlite"'):
        render_drizzle_schema(REF, dialect="postgres")  # type: ignore[arg-type]


def test_camelize():
    assert camelize("users_tier_enum") == "usersTierEnum"
    assert camelize("members_userid_organizationid_unique") == "membersUseridOrganizationidUnique"
    assert camelize("9lives_x") == "livesX"
    assert camelize("Audit-Log") == "auditLog"


def test_imports_only_what_is_used():
    first = render_drizzle_schema(REF, dialect="sqlite").splitlines()[0]
    assert first == 'import { sqliteTable, text, integer, index, uniqueIndex, check } from "drizzle-orm/sqlite-core";'
    for dialect in ("pg", "mysql", "sqlite"):
        text = render_drizzle_schema(RICH, dialect=dialect)
        header, body = text.split("\n\n", 1)
        names = header.splitlines()[0].split("{ ")[1].split(" }")[0].split(", ")
        for name in names:
            assert f"{name}(" in body, (dialect, name)
        assert text.endswith("}));\n")

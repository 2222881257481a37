import { pgTable, pgSchema, text, boolean, bigint, integer, numeric, timestamp, jsonb, index, unique, check } from "drizzle-orm/pg-core";
import { relations, sql } from "drizzle-orm";

const authSchema = pgSchema("auth");

export const user = pgTable("users", {
  id: text("id").primaryKey(),
  email: text("email").notNull().unique(),
  name: text("name").notNull(),
  email_verified: boolean("email_verified").notNull().default(false),
  login_count: integer("login_count").notNull().default(0),
  tier: text("tier", { enum: ["free", "pro", "enterprise"] }).notNull().default("free"),
  quota: bigint("quota_bigint", { mode: "bigint" }).notNull().default(0n),
  created_at: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().$defaultFn(() => new Date()),
  updated_at: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().$defaultFn(() => new Date())
}, (table) => ({
  usersTierCheck: check("users_tier_check", sql`${table.tier} in ('free', 'pro', 'enterprise')`)
}));

export const profile = pgTable("profiles", {
  id: text("id").primaryKey(),
  user_id: text("user_id").notNull().unique().references(() => user.id),
  bio: text("bio")
});

export const session = pgTable("sessions", {
  id: text("id").primaryKey(),
  user_id: text("user_id").notNull().references(() => user.id),
  token: text("token").notNull().unique(),
  expires_at: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull()
}, (table) => ({
  sessionsUserIdExpiresAtIdx: index("sessions_user_id_expires_at_idx").on(table.user_id, table.expires_at)
}));

export const account = pgTable("accounts", {
  id: text("id").primaryKey(),
  user_id: text("user_id").notNull().references(() => user.id),
  provider: text("provider").notNull(),
  account_id: text("account_id").notNull(),
  plan_tier: text("plan_tier", { enum: ["oss", "pro", "enterprise"] }).notNull().default("oss"),
  balance: numeric("balance", { precision: 65, scale: 30 }).notNull().default("0.00"),
  metadata: jsonb("metadata")
}, (table) => ({
  accountsProviderAccountIdUnique: unique("accounts_provider_account_id_unique").on(table.provider, table.account_id),
  accountsUserIdProviderIdx: index("accounts_user_id_provider_idx").on(table.user_id, table.provider),
  accountsPlanTierCheck: check("accounts_plan_tier_check", sql`${table.plan_tier} in ('oss', 'pro', 'enterprise')`)
}));

export const organization = pgTable("organizations", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  slug: text("slug").notNull().unique()
});

export const member = pgTable("members", {
  id: text("id").primaryKey(),
  user_id: text("user_id").notNull().references(() => user.id),
  organization_id: text("organization_id").notNull().references(() => organization.id),
  role: text("role").notNull()
}, (table) => ({
  membersUserIdOrganizationIdUnique: unique("members_user_id_organization_id_unique").on(table.user_id, table.organization_id),
  membersOrganizationIdRoleIdx: index("members_organization_id_role_idx").on(table.organization_id, table.role)
}));

export const counter = pgTable("counters", {
  id: bigint("id", { mode: "number" }).primaryKey().generatedByDefaultAsIdentity(),
  label: text("label").notNull().default("it's a \"quoted\"; back\\slash"),
  slug: text("slug").notNull().unique().default("it's"),
  active: boolean("active").notNull().default(true),
  step: integer("step"),
  owner_id: text("owner_id").references(() => user.id)
}, (table) => ({
  countersOwnerIdIdx: index("counters_owner_id_idx").on(table.owner_id)
}));

export const tally = pgTable("tallies", {
  id: bigint("id", { mode: "number" }).primaryKey(),
  counter_id: bigint("counter_id", { mode: "number" }).notNull().references(() => counter.id),
  total: bigint("total", { mode: "bigint" }).notNull().default(0n)
}, (table) => ({
  talliesCounterIdIdx: index("tallies_counter_id_idx").on(table.counter_id)
}));

export const audit_log = authSchema.table("audit_logs", {
  id: bigint("id", { mode: "number" }).primaryKey().generatedByDefaultAsIdentity(),
  user_id: text("user_id").notNull().references(() => user.id),
  action: text("action", { enum: ["login", "logout"] }).notNull().default("login"),
  payload: jsonb("payload").notNull(),
  at: timestamp("at", { withTimezone: true, mode: "date" }).notNull().$defaultFn(() => new Date())
}, (table) => ({
  authAuditLogsUserIdActionIdx: index("auth_audit_logs_user_id_action_idx").on(table.user_id, table.action),
  auditLogsActionCheck: check("audit_logs_action_check", sql`${table.action} in ('login', 'logout')`)
}));

export const userRelations = relations(user, ({ one, many }) => ({
  profile: one(profile),
  sessions: many(session),
  accounts: many(account)
}));

export const profileRelations = relations(profile, ({ one, many }) => ({
  user: one(user, { fields: [profile.user_id], references: [user.id] })
}));

export const sessionRelations = relations(session, ({ one, many }) => ({
  user: one(user, { fields: [session.user_id], references: [user.id] })
}));

export const accountRelations = relations(account, ({ one, many }) => ({
  user: one(user, { fields: [account.user_id], references: [user.id] })
}));

export const organizationRelations = relations(organization, ({ one, many }) => ({
  members: many(member)
}));

export const memberRelations = relations(member, ({ one, many }) => ({
  user: one(user, { fields: [member.user_id], references: [user.id] }),
  organization: one(organization, { fields: [member.organization_id], references: [organization.id] })
}));

export const counterRelations = relations(counter, ({ one, many }) => ({
  owner: one(user, { fields: [counter.owner_id], references: [user.id] })
}));

export const audit_logRelations = relations(audit_log, ({ one, many }) => ({
  user: one(user, { fields: [audit_log.user_id], references: [user.id] })
}));

import { sqliteTable, text, integer, index, uniqueIndex, check } from "drizzle-orm/sqlite-core";
import { relations, sql } from "drizzle-orm";

export const user = sqliteTable("users", {
  id: text("id").primaryKey(),
  email: text("email").notNull().unique(),
  name: text("name").notNull(),
  email_verified: integer("email_verified", { mode: "boolean" }).notNull().default(false),
  login_count: integer("login_count").notNull().default(0),
  tier: text("tier", { enum: ["free", "pro", "enterprise"] }).notNull().default("free"),
  quota: integer("quota_bigint").notNull().default(0),
  created_at: text("created_at").notNull().$defaultFn(() => new Date().toISOString().replace("Z", "000+00:00")),
  updated_at: text("updated_at").notNull().$defaultFn(() => new Date().toISOString().replace("Z", "000+00:00"))
}, (table) => ({
  usersTierCheck: check("users_tier_check", sql`${table.tier} in ('free', 'pro', 'enterprise')`)
}));

export const profile = sqliteTable("profiles", {
  id: text("id").primaryKey(),
  user_id: text("user_id").notNull().unique().references(() => user.id),
  bio: text("bio")
});

export const session = sqliteTable("sessions", {
  id: text("id").primaryKey(),
  user_id: text("user_id").notNull().references(() => user.id),
  token: text("token").notNull().unique(),
  expires_at: text("expires_at").notNull()
}, (table) => ({
  sessionsUserIdExpiresAtIdx: index("sessions_user_id_expires_at_idx").on(table.user_id, table.expires_at)
}));

export const account = sqliteTable("accounts", {
  id: text("id").primaryKey(),
  user_id: text("user_id").notNull().references(() => user.id),
  provider: text("provider").notNull(),
  account_id: text("account_id").notNull(),
  plan_tier: text("plan_tier", { enum: ["oss", "pro", "enterprise"] }).notNull().default("oss"),
  balance: text("balance").notNull().default("0.00"),
  metadata: text("metadata", { mode: "json" })
}, (table) => ({
  accountsProviderAccountIdUnique: uniqueIndex("accounts_provider_account_id_unique").on(table.provider, table.account_id),
  accountsUserIdProviderIdx: index("accounts_user_id_provider_idx").on(table.user_id, table.provider),
  accountsPlanTierCheck: check("accounts_plan_tier_check", sql`${table.plan_tier} in ('oss', 'pro', 'enterprise')`)
}));

export const organization = sqliteTable("organizations", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  slug: text("slug").notNull().unique()
});

export const member = sqliteTable("members", {
  id: text("id").primaryKey(),
  user_id: text("user_id").notNull().references(() => user.id),
  organization_id: text("organization_id").notNull().references(() => organization.id),
  role: text("role").notNull()
}, (table) => ({
  membersUserIdOrganizationIdUnique: uniqueIndex("members_user_id_organization_id_unique").on(table.user_id, table.organization_id),
  membersOrganizationIdRoleIdx: index("members_organization_id_role_idx").on(table.organization_id, table.role)
}));

export const counter = sqliteTable("counters", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  label: text("label").notNull().default("it's a \"quoted\"; back\\slash"),
  slug: text("slug").notNull().unique().default("it's"),
  active: integer("active", { mode: "boolean" }).notNull().default(true),
  step: integer("step"),
  owner_id: text("owner_id").references(() => user.id)
}, (table) => ({
  countersOwnerIdIdx: index("counters_owner_id_idx").on(table.owner_id)
}));

export const tally = sqliteTable("tallies", {
  id: integer("id").primaryKey(),
  counter_id: integer("counter_id").notNull().references(() => counter.id),
  total: integer("total").notNull().default(0)
}, (table) => ({
  talliesCounterIdIdx: index("tallies_counter_id_idx").on(table.counter_id)
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

import { mysqlTable, mysqlEnum, bigint, decimal, varchar, text, boolean, int, datetime, json, index, unique } from "drizzle-orm/mysql-core";
import { relations } from "drizzle-orm";

export const user = mysqlTable("users", {
  id: varchar("id", { length: 191 }).primaryKey(),
  email: varchar("email", { length: 191 }).notNull().unique(),
  name: text("name").notNull(),
  email_verified: boolean("email_verified").notNull().default(false),
  login_count: int("login_count").notNull().default(0),
  tier: mysqlEnum("tier", ["free", "pro", "enterprise"]).notNull().default("free"),
  quota: bigint("quota_bigint", { mode: "bigint" }).notNull().default(0n),
  created_at: datetime("created_at", { mode: "date", fsp: 6 }).notNull().$defaultFn(() => new Date()),
  updated_at: datetime("updated_at", { mode: "date", fsp: 6 }).notNull().$defaultFn(() => new Date())
});

export const profile = mysqlTable("profiles", {
  id: varchar("id", { length: 191 }).primaryKey(),
  user_id: varchar("user_id", { length: 191 }).notNull().unique().references(() => user.id),
  bio: text("bio")
});

export const session = mysqlTable("sessions", {
  id: varchar("id", { length: 191 }).primaryKey(),
  user_id: varchar("user_id", { length: 191 }).notNull().references(() => user.id),
  token: varchar("token", { length: 191 }).notNull().unique(),
  expires_at: datetime("expires_at", { mode: "date", fsp: 6 }).notNull()
}, (table) => ({
  sessionsUserIdExpiresAtIdx: index("sessions_user_id_expires_at_idx").on(table.user_id, table.expires_at)
}));

export const account = mysqlTable("accounts", {
  id: varchar("id", { length: 191 }).primaryKey(),
  user_id: varchar("user_id", { length: 191 }).notNull().references(() => user.id),
  provider: varchar("provider", { length: 191 }).notNull(),
  account_id: varchar("account_id", { length: 191 }).notNull(),
  plan_tier: mysqlEnum("plan_tier", ["oss", "pro", "enterprise"]).notNull().default("oss"),
  balance: decimal("balance", { precision: 65, scale: 30 }).notNull().default("0.00"),
  metadata: json("metadata")
}, (table) => ({
  accountsProviderAccountIdUnique: unique("accounts_provider_account_id_unique").on(table.provider, table.account_id),
  accountsUserIdProviderIdx: index("accounts_user_id_provider_idx").on(table.user_id, table.provider)
}));

export const organization = mysqlTable("organizations", {
  id: varchar("id", { length: 191 }).primaryKey(),
  name: varchar("name", { length: 191 }).notNull().unique(),
  slug: varchar("slug", { length: 191 }).notNull().unique()
});

export const member = mysqlTable("members", {
  id: varchar("id", { length: 191 }).primaryKey(),
  user_id: varchar("user_id", { length: 191 }).notNull().references(() => user.id),
  organization_id: varchar("organization_id", { length: 191 }).notNull().references(() => organization.id),
  role: varchar("role", { length: 191 }).notNull()
}, (table) => ({
  membersUserIdOrganizationIdUnique: unique("members_user_id_organization_id_unique").on(table.user_id, table.organization_id),
  membersOrganizationIdRoleIdx: index("members_organization_id_role_idx").on(table.organization_id, table.role)
}));

export const counter = mysqlTable("counters", {
  id: bigint("id", { mode: "number" }).autoincrement().primaryKey(),
  label: text("label").notNull().default("it's a \"quoted\"; back\\slash"),
  slug: varchar("slug", { length: 191 }).notNull().unique().default("it's"),
  active: boolean("active").notNull().default(true),
  step: int("step"),
  owner_id: varchar("owner_id", { length: 191 }).references(() => user.id)
}, (table) => ({
  countersOwnerIdIdx: index("counters_owner_id_idx").on(table.owner_id)
}));

export const tally = mysqlTable("tallies", {
  id: bigint("id", { mode: "number" }).primaryKey(),
  counter_id: bigint("counter_id", { mode: "number" }).notNull().references(() => counter.id),
  total: bigint("total", { mode: "bigint" }).notNull().default(0n)
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

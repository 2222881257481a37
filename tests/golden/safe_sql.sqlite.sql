CREATE TABLE IF NOT EXISTS "users" (
  "id" TEXT PRIMARY KEY NOT NULL,
  "email" TEXT NOT NULL,
  "name" TEXT NOT NULL,
  "email_verified" INTEGER NOT NULL DEFAULT 0,
  "login_count" INTEGER NOT NULL DEFAULT 0,
  "tier" TEXT NOT NULL DEFAULT 'free' CHECK ("tier" IN ('free', 'pro', 'enterprise')),
  "quota_bigint" INTEGER NOT NULL DEFAULT 0,
  "created_at" TEXT NOT NULL,
  "updated_at" TEXT NOT NULL
);

CREATE UNIQUE INDEX IF NOT EXISTS "users_email_unique" ON "users" (`email`);

CREATE TABLE IF NOT EXISTS "profiles" (
  "id" TEXT PRIMARY KEY NOT NULL,
  "user_id" TEXT NOT NULL,
  "bio" TEXT,
  FOREIGN KEY ("user_id") REFERENCES "users" ("id")
);

CREATE UNIQUE INDEX IF NOT EXISTS "profiles_user_id_unique" ON "profiles" (`user_id`);

CREATE TABLE IF NOT EXISTS "sessions" (
  "id" TEXT PRIMARY KEY NOT NULL,
  "user_id" TEXT NOT NULL,
  "token" TEXT NOT NULL,
  "expires_at" TEXT NOT NULL,
  FOREIGN KEY ("user_id") REFERENCES "users" ("id")
);

CREATE UNIQUE INDEX IF NOT EXISTS "sessions_token_unique" ON "sessions" (`token`);

CREATE INDEX IF NOT EXISTS "sessions_user_id_expires_at_idx" ON "sessions" (`user_id`, `expires_at`);

CREATE TABLE IF NOT EXISTS "accounts" (
  "id" TEXT PRIMARY KEY NOT NULL,
  "user_id" TEXT NOT NULL,
  "provider" TEXT NOT NULL,
  "account_id" TEXT NOT NULL,
  "plan_tier" TEXT NOT NULL DEFAULT 'oss' CHECK ("plan_tier" IN ('oss', 'pro', 'enterprise')),
  "balance" TEXT NOT NULL DEFAULT '0.00',
  "metadata" TEXT,
  FOREIGN KEY ("user_id") REFERENCES "users" ("id")
);

CREATE UNIQUE INDEX IF NOT EXISTS "accounts_provider_account_id_unique" ON "accounts" (`provider`, `account_id`);

CREATE INDEX IF NOT EXISTS "accounts_user_id_provider_idx" ON "accounts" (`user_id`, `provider`);

CREATE TABLE IF NOT EXISTS "organizations" (
  "id" TEXT PRIMARY KEY NOT NULL,
  "name" TEXT NOT NULL,
  "slug" TEXT NOT NULL
);

CREATE UNIQUE INDEX IF NOT EXISTS "organizations_name_unique" ON "organizations" (`name`);

CREATE UNIQUE INDEX IF NOT EXISTS "organizations_slug_unique" ON "organizations" (`slug`);

CREATE TABLE IF NOT EXISTS "members" (
  "id" TEXT PRIMARY KEY NOT NULL,
  "user_id" TEXT NOT NULL,
  "organization_id" TEXT NOT NULL,
  "role" TEXT NOT NULL,
  FOREIGN KEY ("user_id") REFERENCES "users" ("id"),
  FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id")
);

CREATE UNIQUE INDEX IF NOT EXISTS "members_user_id_organization_id_unique" ON "members" (`user_id`, `organization_id`);

CREATE INDEX IF NOT EXISTS "members_organization_id_role_idx" ON "members" (`organization_id`, `role`);

CREATE TABLE IF NOT EXISTS "counters" (
  "id" INTEGER PRIMARY KEY AUTOINCREMENT,
  "label" TEXT NOT NULL DEFAULT 'it''s a "quoted"; back\slash',
  "slug" TEXT NOT NULL DEFAULT 'it''s',
  "active" INTEGER NOT NULL DEFAULT 1,
  "step" INTEGER,
  "owner_id" TEXT,
  FOREIGN KEY ("owner_id") REFERENCES "users" ("id")
);

CREATE UNIQUE INDEX IF NOT EXISTS "counters_slug_unique" ON "counters" (`slug`);

CREATE INDEX IF NOT EXISTS "counters_owner_id_idx" ON "counters" (`owner_id`);

CREATE TABLE IF NOT EXISTS "tallies" (
  "id" INTEGER PRIMARY KEY NOT NULL,
  "counter_id" INTEGER NOT NULL,
  "total" INTEGER NOT NULL DEFAULT 0,
  FOREIGN KEY ("counter_id") REFERENCES "counters" ("id")
);

CREATE INDEX IF NOT EXISTS "tallies_counter_id_idx" ON "tallies" (`counter_id`);

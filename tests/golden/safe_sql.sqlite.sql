create table if not exists "users" (
  "id" text primary key not null,
  "email" text not null unique,
  "name" text not null,
  "email_verified" integer not null default false,
  "login_count" integer not null default 0,
  "tier" text not null default 'free' check ("tier" in ('free', 'pro', 'enterprise')),
  "quota_bigint" bigint not null default 0,
  "created_at" text not null,
  "updated_at" text not null
);

create table if not exists "profiles" (
  "id" text primary key not null,
  "user_id" text not null unique references "users"("id"),
  "bio" text
);

create table if not exists "sessions" (
  "id" text primary key not null,
  "user_id" text not null references "users"("id"),
  "token" text not null unique,
  "expires_at" text not null
);

create index if not exists "sessions_user_id_expires_at_idx" on "sessions"("user_id", "expires_at");

create table if not exists "accounts" (
  "id" text primary key not null,
  "user_id" text not null references "users"("id"),
  "provider" text not null,
  "account_id" text not null,
  "plan_tier" text not null default 'oss' check ("plan_tier" in ('oss', 'pro', 'enterprise')),
  "balance" text not null default '0.00',
  "metadata" text
);

create unique index if not exists "accounts_provider_account_id_unique" on "accounts"("provider", "account_id");

create index if not exists "accounts_user_id_provider_idx" on "accounts"("user_id", "provider");

create table if not exists "organizations" (
  "id" text primary key not null,
  "name" text not null unique,
  "slug" text not null unique
);

create table if not exists "members" (
  "id" text primary key not null,
  "user_id" text not null references "users"("id"),
  "organization_id" text not null references "organizations"("id"),
  "role" text not null
);

create unique index if not exists "members_user_id_organization_id_unique" on "members"("user_id", "organization_id");

create index if not exists "members_organization_id_role_idx" on "members"("organization_id", "role");

create table if not exists "counters" (
  "id" integer primary key autoincrement not null,
  "label" text not null default 'it''s a "quoted"; back\slash',
  "slug" text not null unique default 'it''s',
  "active" integer not null default true,
  "step" integer,
  "owner_id" text references "users"("id")
);

create table if not exists "tallies" (
  "id" integer primary key not null,
  "counter_id" integer not null references "counters"("id"),
  "total" bigint not null default 0
);

create index if not exists "tallies_counter_id_idx" on "tallies"("counter_id");

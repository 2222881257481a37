create table if not exists `users` (
  `id` varchar(191) primary key not null,
  `email` varchar(191) not null unique,
  `name` text not null,
  `email_verified` boolean not null default false,
  `login_count` integer not null default 0,
  `tier` enum('free', 'pro', 'enterprise') not null default 'free',
  `quota_bigint` bigint not null default 0,
  `created_at` datetime not null,
  `updated_at` datetime not null
);

create table if not exists `profiles` (
  `id` varchar(191) primary key not null,
  `user_id` varchar(191) not null unique,
  `bio` text,
  foreign key (`user_id`) references `users`(`id`)
);

create table if not exists `sessions` (
  `id` varchar(191) primary key not null,
  `user_id` varchar(191) not null,
  `token` varchar(191) not null unique,
  `expires_at` datetime not null,
  foreign key (`user_id`) references `users`(`id`)
);

create index `sessions_user_id_expires_at_idx` on `sessions`(`user_id`, `expires_at`);

create table if not exists `accounts` (
  `id` varchar(191) primary key not null,
  `user_id` varchar(191) not null,
  `provider` varchar(191) not null,
  `account_id` varchar(191) not null,
  `plan_tier` enum('oss', 'pro', 'enterprise') not null default 'oss',
  `balance` decimal(65, 30) not null default '0.00',
  `metadata` json,
  foreign key (`user_id`) references `users`(`id`)
);

create unique index `accounts_provider_account_id_unique` on `accounts`(`provider`, `account_id`);

create index `accounts_user_id_provider_idx` on `accounts`(`user_id`, `provider`);

create table if not exists `organizations` (
  `id` varchar(191) primary key not null,
  `name` varchar(191) not null unique,
  `slug` varchar(191) not null unique
);

create table if not exists `members` (
  `id` varchar(191) primary key not null,
  `user_id` varchar(191) not null,
  `organization_id` varchar(191) not null,
  `role` varchar(191) not null,
  foreign key (`user_id`) references `users`(`id`),
  foreign key (`organization_id`) references `organizations`(`id`)
);

create unique index `members_user_id_organization_id_unique` on `members`(`user_id`, `organization_id`);

create index `members_organization_id_role_idx` on `members`(`organization_id`, `role`);

create table if not exists `counters` (
  `id` integer primary key auto_increment not null,
  `label` text not null default ('it''s a "quoted"; back\\slash'),
  `slug` varchar(191) not null unique default 'it''s',
  `active` boolean not null default true,
  `step` integer,
  `owner_id` varchar(191),
  foreign key (`owner_id`) references `users`(`id`)
);

create table if not exists `tallies` (
  `id` integer primary key not null,
  `counter_id` integer not null,
  `total` bigint not null default 0,
  foreign key (`counter_id`) references `counters`(`id`)
);

create index `tallies_counter_id_idx` on `tallies`(`counter_id`);

CREATE TABLE IF NOT EXISTS `users` (
  `id` VARCHAR(191) COLLATE utf8mb4_nopad_bin PRIMARY KEY NOT NULL,
  `email` VARCHAR(191) COLLATE utf8mb4_nopad_bin NOT NULL,
  `name` TEXT COLLATE utf8mb4_nopad_bin NOT NULL,
  `email_verified` TINYINT(1) NOT NULL DEFAULT 0,
  `login_count` INT NOT NULL DEFAULT 0,
  `tier` ENUM('free', 'pro', 'enterprise') NOT NULL DEFAULT 'free',
  `quota_bigint` BIGINT NOT NULL DEFAULT 0,
  `created_at` DATETIME(6) NOT NULL,
  `updated_at` DATETIME(6) NOT NULL,
  CONSTRAINT `users_email_unique` UNIQUE (`email`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `profiles` (
  `id` VARCHAR(191) COLLATE utf8mb4_nopad_bin PRIMARY KEY NOT NULL,
  `user_id` VARCHAR(191) COLLATE utf8mb4_nopad_bin NOT NULL,
  `bio` TEXT COLLATE utf8mb4_nopad_bin,
  FOREIGN KEY (`user_id`) REFERENCES `users` (`id`),
  CONSTRAINT `profiles_user_id_unique` UNIQUE (`user_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `sessions` (
  `id` VARCHAR(191) COLLATE utf8mb4_nopad_bin PRIMARY KEY NOT NULL,
  `user_id` VARCHAR(191) COLLATE utf8mb4_nopad_bin NOT NULL,
  `token` VARCHAR(191) COLLATE utf8mb4_nopad_bin NOT NULL,
  `expires_at` DATETIME(6) NOT NULL,
  FOREIGN KEY (`user_id`) REFERENCES `users` (`id`),
  CONSTRAINT `sessions_token_unique` UNIQUE (`token`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE INDEX `sessions_user_id_expires_at_idx` ON `sessions` (`user_id`, `expires_at`);

CREATE TABLE IF NOT EXISTS `accounts` (
  `id` VARCHAR(191) COLLATE utf8mb4_nopad_bin PRIMARY KEY NOT NULL,
  `user_id` VARCHAR(191) COLLATE utf8mb4_nopad_bin NOT NULL,
  `provider` VARCHAR(191) COLLATE utf8mb4_nopad_bin NOT NULL,
  `account_id` VARCHAR(191) COLLATE utf8mb4_nopad_bin NOT NULL,
  `plan_tier` ENUM('oss', 'pro', 'enterprise') NOT NULL DEFAULT 'oss',
  `balance` DECIMAL(65,30) NOT NULL DEFAULT ('0.00'),
  `metadata` JSON,
  FOREIGN KEY (`user_id`) REFERENCES `users` (`id`),
  CONSTRAINT `accounts_provider_account_id_unique` UNIQUE (`provider`, `account_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE INDEX `accounts_user_id_provider_idx` ON `accounts` (`user_id`, `provider`);

CREATE TABLE IF NOT EXISTS `organizations` (
  `id` VARCHAR(191) COLLATE utf8mb4_nopad_bin PRIMARY KEY NOT NULL,
  `name` VARCHAR(191) COLLATE utf8mb4_nopad_bin NOT NULL,
  `slug` VARCHAR(191) COLLATE utf8mb4_nopad_bin NOT NULL,
  CONSTRAINT `organizations_name_unique` UNIQUE (`name`),
  CONSTRAINT `organizations_slug_unique` UNIQUE (`slug`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `members` (
  `id` VARCHAR(191) COLLATE utf8mb4_nopad_bin PRIMARY KEY NOT NULL,
  `user_id` VARCHAR(191) COLLATE utf8mb4_nopad_bin NOT NULL,
  `organization_id` VARCHAR(191) COLLATE utf8mb4_nopad_bin NOT NULL,
  `role` VARCHAR(191) COLLATE utf8mb4_nopad_bin NOT NULL,
  FOREIGN KEY (`user_id`) REFERENCES `users` (`id`),
  FOREIGN KEY (`organization_id`) REFERENCES `organizations` (`id`),
  CONSTRAINT `members_user_id_organization_id_unique` UNIQUE (`user_id`, `organization_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE INDEX `members_organization_id_role_idx` ON `members` (`organization_id`, `role`);

CREATE TABLE IF NOT EXISTS `counters` (
  `id` BIGINT AUTO_INCREMENT PRIMARY KEY,
  `label` TEXT COLLATE utf8mb4_nopad_bin NOT NULL DEFAULT ('it''s a "quoted"; back\\slash'),
  `slug` VARCHAR(191) COLLATE utf8mb4_nopad_bin NOT NULL DEFAULT ('it''s'),
  `active` TINYINT(1) NOT NULL DEFAULT 1,
  `step` INT,
  `owner_id` VARCHAR(191) COLLATE utf8mb4_nopad_bin,
  FOREIGN KEY (`owner_id`) REFERENCES `users` (`id`),
  CONSTRAINT `counters_slug_unique` UNIQUE (`slug`),
  INDEX `counters_owner_id_idx` (`owner_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `tallies` (
  `id` BIGINT PRIMARY KEY NOT NULL,
  `counter_id` BIGINT NOT NULL,
  `total` BIGINT NOT NULL DEFAULT 0,
  FOREIGN KEY (`counter_id`) REFERENCES `counters` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE INDEX `tallies_counter_id_idx` ON `tallies` (`counter_id`);

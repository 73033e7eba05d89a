//! The tables, column by column.
//!
//! `SqliteStore::migrate` and `PgStore::migrate` create them with sqlx's
//! migrator (which keeps its own `_sqlx_migrations` table; tessera's
//! versions start at `20250801000001`, and an application whose own sqlx
//! migrations share the database should set `ignore_missing` on its
//! migrator, as tessera does on its own). On PostgreSQL they are created
//! in the first schema of the connection's `search_path`; no schema name
//! is hard-coded.
//!
//! Conventions, the same on both backends:
//!
//! - **Times** are `BIGINT` (SQLite `INTEGER`) milliseconds since the Unix
//!   epoch. Expiries are stored rounded down (a token never lives longer
//!   than asked); revocation cut-offs and how long an entry is kept are
//!   rounded up (a revocation never ends early).
//! - **Digests** are 32-byte `BLOB`/`BYTEA` values (SHA-256 or
//!   HMAC-SHA256 of the secret; checked by a constraint). Raw tokens,
//!   API keys, session ids and one-time tokens are never stored.
//! - **Roles and scopes** are `TEXT` holding a JSON array of strings,
//!   sorted (`["notes:read","notes:write"]`): lossless for any string, and
//!   readable by SQLite's `json_each` and PostgreSQL's `::jsonb`.
//! - **Flags** are `BOOLEAN` (SQLite `INTEGER` 0/1).
//! - There are no foreign keys between the tables: a token's subject need
//!   not be in `tessera_users` (an application may keep its own accounts).
//!
//! # `tessera_users`
//!
//! | column | type | meaning |
//! | --- | --- | --- |
//! | `id` | text, primary key | 128 random bits, hex (32 characters) |
//! | `login` | text, unique | the normalised login (email): trimmed, NFKC, lower case |
//! | `password_hash` | text | PHC string |
//! | `roles` | text | JSON array, sorted |
//! | `active` | boolean | a deactivated account cannot log in |
//! | `created_at` | bigint | ms |
//! | `last_login_at` | bigint, null | last password login, ms |
//! | `password_changed_at` | bigint | ms; tokens and sessions older than this are dead |
//!
//! # `tessera_token_families`
//!
//! One row per refresh-token family (one login and its rotations).
//!
//! | column | type | meaning |
//! | --- | --- | --- |
//! | `id` | text, primary key | the family id access tokens carry (`sid`) |
//! | `subject` | text, indexed | the account |
//! | `created_at` | bigint | when the login happened, ms |
//! | `expires_at` | bigint | absolute end of the family, ms; no rotation extends it |
//! | `revoked` | boolean | logout, reuse detection, logout-all |
//!
//! # `tessera_tokens`
//!
//! Refresh tokens and API keys.
//!
//! | column | type | meaning |
//! | --- | --- | --- |
//! | `digest` | blob, primary key | digest of the token |
//! | `id` | text | public id (API keys are listed and revoked by it) |
//! | `kind` | text | `refresh` or `api_key` |
//! | `subject` | text | the account (indexed with `kind`) |
//! | `family_id` | text, null | the refresh family |
//! | `name` | text, null | an API key's label |
//! | `scopes` | text | JSON array, sorted |
//! | `created_at` | bigint | ms |
//! | `expires_at` | bigint, null | ms; null never expires (API keys) |
//! | `last_used_at` | bigint, null | ms, written at most once a minute |
//! | `revoked` | boolean | |
//! | `used_at` | bigint, null | when a refresh token was rotated, ms |
//! | `successor` | blob, null | digest of the token it was rotated into |
//!
//! A used refresh token stays while its family lives: presenting it again
//! is how reuse is detected.
//!
//! # `tessera_revocations`
//!
//! Revoked access tokens (JWTs), by `jti`, by family, or by account.
//!
//! | column | type | meaning |
//! | --- | --- | --- |
//! | `kind` | text | `token`, `family` or `subject` |
//! | `target` | text | the `jti`, family id or account id |
//! | `not_before` | bigint, null | `subject` only: tokens issued before this are revoked, ms |
//! | `keep_until` | bigint | when every token the entry can match has expired anyway, ms |
//!
//! Primary key (`kind`, `target`); a second revocation keeps the later
//! `not_before` and `keep_until`.
//!
//! # `tessera_sessions`
//!
//! | column | type | meaning |
//! | --- | --- | --- |
//! | `digest` | blob, primary key | SHA-256 of the session id |
//! | `subject` | text, null, indexed | the account once logged in (copied from `state`) |
//! | `expires_at` | bigint, indexed | the earlier of the idle and absolute deadlines, ms (copied from `state`) |
//! | `state` | blob | the session as `SessionState::encode` writes it (JSON) |
//!
//! # `tessera_onetime`
//!
//! One-time tokens (password reset, email verification) already used.
//!
//! | column | type | meaning |
//! | --- | --- | --- |
//! | `digest` | blob, primary key | digest identifying the token |
//! | `keep_until` | bigint | the token's expiry, after which the row can go, ms |
//!
//! # `tessera_throttle`
//!
//! Login throttling counts, one row per bucket key.
//!
//! | column | type | meaning |
//! | --- | --- | --- |
//! | `key` | text, primary key | the bucket's name and an HMAC-SHA256 of its value under a secret key (`tessera_core::throttle::BucketKeys`): no login or address in clear |
//! | `count` | bigint | consecutive failures (account buckets) or events in the window (rate buckets) |
//! | `at` | bigint | the last failure, or the window's start, ms |
//! | `expires` | bigint, indexed | when the row no longer matters (the lock window after the last failure, the window's end), ms |
//!
//! # Clean-up
//!
//! `purge_expired(now)` on either store deletes: families revoked or past
//! their end; tokens revoked, expired, or of a family that is gone;
//! sessions past `expires_at`; one-time rows and revocations past
//! `keep_until`; throttling rows past `expires`.
//!
//! # The migrations
//!
//! SQLite (`migrations/sqlite`):
//!
#![doc = concat!("```sql\n", include_str!("../migrations/sqlite/20250801000001_tessera_schema.sql"), "```")]
#![doc = concat!("```sql\n", include_str!("../migrations/sqlite/20261207000001_tessera_throttle.sql"), "```")]
//!
//! PostgreSQL (`migrations/postgres`):
//!
#![doc = concat!("```sql\n", include_str!("../migrations/postgres/20250801000001_tessera_schema.sql"), "```")]
#![doc = concat!("```sql\n", include_str!("../migrations/postgres/20261207000001_tessera_throttle.sql"), "```")]

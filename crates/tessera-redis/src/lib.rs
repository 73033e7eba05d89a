//! Redis stores for [tessera](https://docs.rs/tessera), for deployments
//! where several instances must share refresh families, revocations,
//! sessions, used one-time tokens and login throttling counts.
//!
//! One [`RedisStore`] implements five `tessera-core` traits over a
//! [`redis::aio::ConnectionManager`] (Tokio):
//!
//! | trait | what it keeps |
//! | --- | --- |
//! | [`TokenStore`](tessera_core::token::TokenStore) | refresh tokens and their families, API keys |
//! | [`Revocations`](tessera_core::jwt::Revocations) | revoked access tokens, families and per-account cut-offs |
//! | [`SessionStore`](tessera_core::session::SessionStore) | server-side sessions, with a per-account index |
//! | [`OneTimeStore`](tessera_core::onetime::OneTimeStore) | used one-time tokens (password reset, email verification) |
//! | [`ThrottleStore`](tessera_core::throttle::ThrottleStore) | login throttling counts, shared by every instance |
//!
//! There is no user store: accounts belong in a database (`tessera-sqlx`).
//! The crate has no features. It needs Redis 6.0 or later (for `SCAN …
//! TYPE`), as a single server or a primary with replicas, not a cluster:
//! scripts reach keys they find through other keys.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use std::time::{Duration, SystemTime};
//! use tessera_core::onetime::OneTimeStore;
//! use tessera_core::token::{OpaqueToken, TokenHasher, TokenKind};
//! use tessera_redis::{RedisOptions, RedisStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let Ok(url) = std::env::var("TESSERA_TEST_REDIS_URL") else { return Ok(()) };
//! // url: "redis://127.0.0.1:6379/"
//! let store = RedisStore::connect(&url, RedisOptions::default()).await?;
//! let onetime: Arc<dyn OneTimeStore> = Arc::new(store);
//!
//! // A reset link is used once, whichever instance sees it first. The store
//! // only ever sees a digest.
//! let digest = TokenHasher::sha256().digest(&OpaqueToken::generate(TokenKind::ApiKey)?);
//! let until = SystemTime::now() + Duration::from_secs(60);
//! assert!(onetime.consume(&digest, until).await?);
//! assert!(!onetime.consume(&digest, until).await?);
//! # Ok(())
//! # }
//! ```
//!
//! # Defaults, and why
//!
//! - **Prefix `tessera:`.** Every key starts with it, so the stores can share
//!   a server with other data; it may not be empty.
//! - **Timeout 2 s** for every operation, connecting included. A Redis that
//!   hangs makes the operation fail with
//!   [`StoreError::Unavailable`](tessera_core::error::StoreError), which
//!   the adapters answer with 503: nothing is let through because the store
//!   did not answer.
//! - **Expiry is tessera's decision.** Whether a token, family, session or
//!   revocation is live is decided from the expiry stored with it against
//!   the `now` given to each call (or the injected clock), never by Redis.
//!   Redis TTLs only clean up: each is `until - clock.now()` plus 5 s of
//!   slack for clock skew between instances (at least 1 s), relative, so a
//!   manual clock in another year still gives keys their lifetime.
//! - **Atomic where it matters.** Refresh rotation, revocation of families,
//!   single use of one-time tokens, session creation, saves and rotation are
//!   each one command or one Lua script, so concurrent callers cannot both
//!   win; a save never re-creates a deleted session.
//! - **Digests only.** Tokens and session ids are keyed by the hex of their
//!   digest; the raw values never reach this crate.
//! - **Fail closed.** An undecodable token or session reads as absent (with
//!   a warning under the `tessera::auth` target); an undecodable revocation
//!   entry revokes what it names.
//!
//! # Key layout
//!
//! `P` is the prefix; `<digest>` is 64 lower-case hex digits
//! ([`TokenDigest::to_hex`](tessera_core::token::TokenDigest::to_hex)).
//! Instants are 29 decimal digits: nanoseconds since the Unix epoch plus
//! 10^28, so that string order is time order.
//!
//! | key | type | value | TTL |
//! | --- | --- | --- | --- |
//! | `P tok:<digest>` | hash | `rec` (the record as JSON), `kind`, `sub`, `id`, `fam`, `exp`; then `revoked`, `used_at` and `succ` (the successor's digest) once rotated, `last_used` | the token's expiry (capped by its family's); none for an API key that never expires |
//! | `P fam:<family id>` | hash | `rec` (JSON), `sub`, `id`, `exp`, `revoked` | the family's end |
//! | `P sub:fam:<subject>` | set | the subject's family ids | the longest of its families' |
//! | `P sub:keys:<subject>` | hash | API key id → digest | the longest of its keys'; none if one never expires |
//! | `P sess:<digest>` | string | [`SessionState::encode`](tessera_core::session::SessionState::encode) (JSON) | the session's end (idle or absolute, whichever is first), renewed by each save |
//! | `P sub:sess:<subject>` | set | the digests of the subject's sessions | the longest of its sessions' |
//! | `P ot:<digest>` | string | the token's expiry (instant) | the token's expiry |
//! | `P rv:jti:<jti>` | string | until (instant) | until |
//! | `P rv:fam:<family id>` | string | until (instant) | until |
//! | `P rv:sub:<subject>` | hash | `before`, `until` (instants) | until |
//! | `P th:<bucket>:<digest>` | hash | `count` and `at` (account buckets: failures, the last one's epoch milliseconds) or `start` (rate buckets: the window's) | the lock window after the last failure; the rate window |
//!
//! (`P tok:` is written without the space: `tessera:tok:3f9a…`.) The
//! indexes are pruned of members that are gone whenever they are read.
//!
//! # Scripts
//!
//! Lua scripts (`EVALSHA`, loaded on first use): token insert, family start,
//! token read (token with its family), **rotation**, token and API-key
//! revocation, family and subject revocation, API-key listing, use
//! recording, the purges; session create (`SET NX`), **save (`SET XX`)**,
//! **rotation**, listing, subject deletion and compare-and-delete;
//! revocation writes (keeping the later `until`) and the revocation read.
//! One-time consumption is a single `SET key until NX PX ttl`.
//!
//! The `purge_expired` methods walk the prefix with `SCAN` (each page under
//! the timeout) and delete what can no longer be used at the given time;
//! schedule them if keys outliving a manual clock matter, correctness never
//! depends on them.
#![forbid(unsafe_code)]

mod onetime;
mod revocations;
mod scripts;
mod sessions;
mod store;
mod throttle;
mod time;
mod tokens;

pub use crate::store::{RedisOptions, RedisStore};

/// The `redis` crate, whose connection manager [`RedisStore::from_manager`]
/// takes.
pub use redis;

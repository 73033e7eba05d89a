//! SQLite and PostgreSQL stores for [tessera](https://docs.rs/tessera).
//!
//! [`SqliteStore`] and [`PgStore`] each implement every store trait of
//! `tessera-core` over one sqlx pool:
//! [`UserStore`](tessera_core::users::UserStore),
//! [`TokenStore`](tessera_core::token::TokenStore) (refresh families and API
//! keys), [`Revocations`](tessera_core::jwt::Revocations),
//! [`SessionStore`](tessera_core::session::SessionStore),
//! [`OneTimeStore`](tessera_core::onetime::OneTimeStore) and
//! [`ThrottleStore`](tessera_core::throttle::ThrottleStore). They behave
//! exactly like the in-memory stores of `tessera_core::memory`, which are
//! the reference, and pass the same conformance suite.
//!
//! # Features
//!
//! | feature | default | enables |
//! | --- | --- | --- |
//! | `sqlite` | yes | [`SqliteStore`]: SQLite, bundled (no system library needed) |
//! | `postgres` | no | [`PgStore`]: PostgreSQL |
//!
//! The features are additive; at least one is required. No TLS backend is
//! enabled: an application that reaches PostgreSQL over a network enables
//! one of sqlx's `tls-rustls-…` features itself (sqlx is re-exported as
//! [`sqlx`], but features are chosen in the application's `Cargo.toml`:
//! `sqlx = { version = "0.8.6", features = ["tls-rustls-ring-webpki"] }`).
//!
//! # Example
//!
//! ```
//! # #[cfg(feature = "sqlite")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::{Duration, SystemTime};
//! use tessera_core::onetime::OneTimeStore;
//! use tessera_sqlx::{SqliteStore, StoreOptions};
//!
//! let store = SqliteStore::connect("sqlite::memory:", StoreOptions::default()).await?;
//! store.migrate().await?;
//!
//! // A one-time token is consumed once.
//! let id = tessera_core::token::TokenDigest::from_bytes([7; 32]);
//! let until = SystemTime::now() + Duration::from_secs(3600);
//! assert!(store.consume(&id, until).await?);
//! assert!(!store.consume(&id, until).await?);
//!
//! // Schedule this; correctness never depends on it.
//! store.purge_expired(SystemTime::now()).await?;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "sqlite"))]
//! # fn main() {}
//! ```
//!
//! # Defaults, and why
//!
//! - **Every operation has a deadline** ([`StoreOptions::timeout`], 2 s):
//!   a stalled database fails the call with
//!   [`StoreError::Unavailable`](tessera_core::StoreError::Unavailable),
//!   which the adapters answer with 503. Nothing fails open.
//! - **Transient failures are retried** ([`StoreOptions::max_retries`],
//!   5, with a jittered backoff from 5 ms): SQLite `BUSY`/`LOCKED` (codes 5,
//!   6 and their extended codes such as 517 and 262) and PostgreSQL
//!   `40001`/`40P01`. Then the call fails as unavailable.
//! - **SQLite**: write-ahead logging, `synchronous = FULL` (a committed
//!   revocation survives power loss), a 5 s busy timeout, foreign keys on
//!   ([`SqliteStore::connect_options`]).
//! - **Undecodable rows read as absent**, with a warning under the
//!   `tessera::auth` tracing target: a corrupted record is never a session
//!   or a token, and never a panic.
//! - **Secrets never reach the database**: tokens, API keys, session ids
//!   and one-time tokens are stored as 32-byte digests.
//!
//! # Atomicity
//!
//! - Refresh rotation is one transaction: SQLite takes the write lock first
//!   (`BEGIN IMMEDIATE`), PostgreSQL locks the presented token's row and
//!   then its family's (`SELECT … FOR UPDATE`); then a conditional
//!   `UPDATE … WHERE digest = $1 AND used_at IS NULL AND revoked = FALSE`
//!   marks it used and the successor is inserted. Of any number of racing
//!   callers exactly one gets `Rotated`, and exactly one successor exists.
//!   If the successor cannot be written, nothing is.
//! - One-time consumption is a single `INSERT … ON CONFLICT DO NOTHING`:
//!   the caller that inserted the row wins.
//! - Saving a session is an `UPDATE`, never an upsert, so a save racing a
//!   logout cannot bring the session back; moving a session to a new id is
//!   a delete and an insert in one transaction.
//! - Account creation relies on the unique `login` column
//!   (`INSERT … ON CONFLICT (login) DO NOTHING`), so of two racing
//!   registrations one gets `LoginTaken`; a rehash is a compare-and-swap on
//!   the previous hash.
//!
//! The tables are described in [`schema`].
//!
// The stores' pages exist only with their feature; without it the links go
// to docs.rs, which builds every feature.
#![cfg_attr(feature = "sqlite", doc = "[`SqliteStore`]: crate::SqliteStore")]
#![cfg_attr(
    feature = "sqlite",
    doc = "[`SqliteStore::connect_options`]: crate::SqliteStore::connect_options"
)]
#![cfg_attr(
    not(feature = "sqlite"),
    doc = "[`SqliteStore`]: https://docs.rs/tessera-sqlx/latest/tessera_sqlx/struct.SqliteStore.html"
)]
#![cfg_attr(
    not(feature = "sqlite"),
    doc = "[`SqliteStore::connect_options`]: https://docs.rs/tessera-sqlx/latest/tessera_sqlx/struct.SqliteStore.html#method.connect_options"
)]
#![cfg_attr(feature = "postgres", doc = "[`PgStore`]: crate::PgStore")]
#![cfg_attr(
    not(feature = "postgres"),
    doc = "[`PgStore`]: https://docs.rs/tessera-sqlx/latest/tessera_sqlx/struct.PgStore.html"
)]
#![forbid(unsafe_code)]

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!(
    "tessera-sqlx needs a database: enable the `sqlite` feature (the default), \
     the `postgres` feature, or both"
);

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod common;
mod options;
#[cfg(feature = "postgres")]
mod postgres;
pub mod schema;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod store;

pub use crate::options::StoreOptions;
#[cfg(feature = "postgres")]
pub use crate::postgres::PgStore;
#[cfg(feature = "sqlite")]
pub use crate::sqlite::SqliteStore;
/// The sqlx version the stores are built on (pools appear in the API).
pub use sqlx;

//! The framework-free core of [tessera](https://docs.rs/tessera): traits,
//! types and default implementations for authentication and authorization.
//!
//! This crate knows no web framework. The `tessera-axum` and `tessera-actix`
//! adapters translate requests into these types; the store crates implement
//! its traits over SQLite, PostgreSQL and Redis.
//!
//! | module | what lives there |
//! | --- | --- |
//! | [`auth`] | [`Auth`](auth::Auth), the service: register, login, refresh, logout, password change and reset, API keys, administration, `authenticate` |
//! | [`identity`] | [`Credentials`](identity::Credentials) read from a request and the [`Identity`](identity::Identity) they resolve to |
//! | [`authz`] | [`Requirement`](authz::Requirement): role, scope, fresh, any-of, all-of; an empty one denies |
//! | [`password`] | argon2id hashing on a bounded worker pool, the password policy, `needs_rehash`, ceilings on stored hashes, dummy verification; with feature `legacy`, Werkzeug, Django, passlib, bcrypt, argon2-cffi and Flask-Security hashes verified and upgraded on login (import guide: `password::legacy::guide`) |
//! | [`users`] | [`User`], normalised [`Login`]s and the [`UserStore`] trait |
//! | [`token`] | opaque refresh tokens and API keys, stored as digests; refresh families with atomic rotation and reuse detection; [`TokenStore`](token::TokenStore) |
//! | [`jwt`] | access tokens (`at+jwt`) issued and strictly verified on the injected clock; key sets, JWKS, [`Revocations`](jwt::Revocations) |
//! | [`keys`] | rotatable HMAC keys: sign with the newest, verify with any listed |
//! | [`session`] | server-side sessions: ids stored as digests, rotation, idle and absolute expiry, remember-me, freshness, per-account revocation, cookie settings |
//! | [`csrf`] | session-bound CSRF tokens and the request check (method, `Sec-Fetch-Site`, `Origin`, token) |
//! | [`throttle`] | login throttling: per-account delays and lock, per-address rate limits, client addresses behind trusted proxies, [`ThrottleStore`](throttle::ThrottleStore) |
//! | [`onetime`] | signed, expiring, single-use, single-purpose tokens (password reset, email verification) |
//! | [`redirect`] | the safe `next` target check |
//! | [`timeout`] | a deadline for every call of any store |
//! | [`clock`] | the [`Clock`] every time-dependent part takes, with a manual clock for tests |
//! | [`memory`] | in-memory implementations of the store traits |
//! | [`error`] | one error type per concern |
//!
//! # Example
//!
//! Register and log in against the in-memory user store:
//!
//! ```
//! use tessera_core::clock::{Clock, SystemClock};
//! use tessera_core::memory::MemoryUserStore;
//! use tessera_core::password::{Argon2Hasher, Argon2Params, Password, PasswordPool};
//! use tessera_core::users::{Login, NewUser, UserStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Servers keep the default parameters; the example uses cheap ones.
//! let pool = PasswordPool::builder()
//!     .hasher(Argon2Hasher::new(Argon2Params::new(1024, 1, 1))?)
//!     .build()?;
//! let users = MemoryUserStore::new();
//!
//! let hash = pool.hash(&Password::new("correct horse battery staple")).await?;
//! users.create(NewUser::new(Login::parse("Alice@Example.com")?, hash), SystemClock.now()).await?;
//!
//! let alice = users.find_by_login(&Login::parse("alice@example.com")?).await?.unwrap();
//! let verified = pool.verify(&Password::new("correct horse battery staple"), &alice.password_hash).await?;
//! assert!(verified.is_valid());
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod auth;
pub mod authz;
pub mod clock;
pub mod csrf;
pub mod error;
pub mod identity;
pub mod jwt;
pub mod keys;
pub mod memory;
pub mod onetime;
pub mod password;
mod random;
pub mod redirect;
pub mod session;
pub mod throttle;
pub mod timeout;
pub mod token;
pub mod users;

pub use crate::clock::{Clock, ManualClock, SystemClock};
pub use crate::error::{
    ConfigError, CreateUserError, LoginError, PasswordError, PolicyError, StoreError,
};
pub use crate::password::{Password, PasswordPolicy, PasswordPool, Verified};
pub use crate::users::{Login, User, UserId, UserStore};

/// Re-exported so implementations of the store traits use the same macro
/// version as the traits.
pub use async_trait::async_trait;

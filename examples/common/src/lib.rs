//! The framework-free half of the tessera starter APIs, shared by the axum
//! and actix-web starters so that they differ only in their web layer:
//! configuration from the environment (CONTRACTS.md §1), the stores, the
//! JWT keys, the `Auth` service built from them, a development [`Mailer`]
//! and the in-memory [`Notes`] resource.
//!
//! ```no_run
//! # async fn run() -> Result<(), tessera_example_common::Error> {
//! let config = tessera_example_common::Config::from_env()?;
//! let services = tessera_example_common::Services::build(config).await?;
//! // Hand `services.auth` to the web adapter's layer or middleware.
//! # drop(services);
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod api;
mod config;
mod error;
mod keys;
mod mail;
mod notes;
mod random;
mod stores;

use tessera_core::auth::Auth;
use tessera_core::session::CookieSettings;
use tessera_core::throttle::TrustedProxies;

pub use crate::config::{
    Config, DEFAULT_BIND, DEFAULT_DATABASE_URL, JwtKeySource, MIN_SECRET_BYTES,
};
pub use crate::error::Error;
pub use crate::mail::{Mailer, Message};
pub use crate::notes::{Note, Notes};
pub use crate::stores::Stores;

/// Role → scopes of the starter: `user` may read and write notes, `admin`
/// may manage accounts.
pub const ROLE_SCOPES: [(&str, &[&str]); 2] = [
    ("user", &["notes:read", "notes:write"]),
    ("admin", &["admin:users"]),
];

/// The session login form: it needs no CSRF token (no session exists
/// yet), but the adapters refuse it from other origins (login CSRF).
pub const CSRF_EXEMPT: [&str; 1] = ["/session/login"];

/// Routes that authenticate by their body, never by the session cookie:
/// the adapters do not read the cookie there, so a stale cookie demands no
/// CSRF token and other origins may call them, as they may any token API.
pub const WITHOUT_SESSION_COOKIE: [&str; 5] = [
    "/auth/login",
    "/auth/register",
    "/auth/refresh",
    "/auth/password-reset",
    "/auth/password-reset/confirm",
];

/// Whether a response to `path` may be cached. Every other response of
/// the starters carries `Cache-Control: no-store` (the contract requires it
/// on `/auth/…` and `/session/…`; `/me`, notes and accounts are personal
/// too): only the public key set may be kept.
pub fn cacheable(path: &str) -> bool {
    path.starts_with("/.well-known/")
}

/// What a starter's handlers share, built once from a [`Config`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Services {
    /// The `Auth` service.
    pub auth: Auth,
    /// The notes resource.
    pub notes: Notes,
    /// The mailer (tests [`flush`](Mailer::flush) it before reading the
    /// outbox).
    pub mailer: Mailer,
    /// The configured public URL without a trailing `/`: the base of links
    /// in mail, never taken from the request's `Host`.
    pub public_url: String,
    /// The proxies whose `X-Forwarded-For` is believed, for the adapter.
    pub trusted_proxies: TrustedProxies,
}

impl Services {
    /// Connects to and migrates the stores, loads or generates the keys,
    /// builds the `Auth` service and creates the administrator if asked.
    ///
    /// # Errors
    /// [`Error`] naming what could not be set up.
    pub async fn build(config: Config) -> Result<Self, Error> {
        let public_url = config.effective_public_url();
        let stores = match config.stores.clone() {
            Some(stores) => stores,
            None => Stores::connect(&config.database_url, config.redis_url.as_deref()).await?,
        };
        let secret = match &config.secret_key {
            Some(secret) if secret.len() >= MIN_SECRET_BYTES => secret.clone(),
            Some(_) => {
                return Err(Error::Config(format!(
                    "TESSERA_SECRET_KEY needs at least {MIN_SECRET_BYTES} bytes"
                )));
            }
            None => {
                tracing::warn!(
                    "TESSERA_SECRET_KEY is not set: using a random key for this process; CSRF \
                     tokens and reset links die with it, and other instances do not accept them"
                );
                let bytes = random::bytes::<32>()
                    .map_err(|e| Error::Config(format!("random number generator: {e}")))?;
                zeroize::Zeroizing::new(bytes.to_vec())
            }
        };
        let mut cookie = CookieSettings::default();
        if config.insecure_cookies {
            tracing::warn!(
                "TESSERA_INSECURE_COOKIES=1: session cookies without Secure or the __Host- \
                 prefix; for plain-http development only"
            );
            cookie = cookie.dangerous_insecure_http();
        }
        let mut builder = Auth::builder()
            .users(stores.users)
            .token_store(stores.tokens)
            .session_store(stores.sessions)
            .revocations(stores.revocations)
            .onetime_store(stores.onetime)
            .jwt_keys(keys::jwt_keys(&config.jwt).await?)
            .secret_key(secret.to_vec())
            .issuer(public_url.clone())
            .audience(public_url.clone())
            .public_origin(public_url.clone())
            .cookie(cookie);
        for (role, scopes) in ROLE_SCOPES {
            builder = builder.role_scopes(role, scopes.iter().copied());
        }
        if let Some(pool) = config.password_pool.clone() {
            builder = builder.password_pool(pool);
        }
        if let Some(clock) = config.clock.clone() {
            builder = builder.clock(clock);
        }
        if let Some(throttle) = config.throttle.clone() {
            builder = builder.throttle(throttle);
        }
        builder = builder.throttle_store(stores.throttle.clone());
        let auth = builder.build()?;
        if let Some((email, password)) = &config.admin {
            let admin = auth
                .ensure_account(email, password, &["admin", "user"])
                .await
                .map_err(Error::Admin)?;
            tracing::info!(email = %admin.login, "administrator account ready");
        }
        let mailer = match &config.outbox {
            Some(dir) => Mailer::outbox(dir)?,
            None => Mailer::stdout(),
        };
        Ok(Self {
            auth,
            notes: Notes::new(),
            mailer,
            public_url: public_url.trim_end_matches('/').to_owned(),
            trusted_proxies: config.trusted_proxies.clone(),
        })
    }
}

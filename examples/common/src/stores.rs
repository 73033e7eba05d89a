//! The stores behind `Auth`, chosen by `DATABASE_URL` and `REDIS_URL`.

use std::fmt;
use std::sync::Arc;
use tessera_core::memory::MemoryThrottleStore;
use tessera_core::throttle::ThrottleStore;

use tessera_core::jwt::Revocations;
use tessera_core::onetime::OneTimeStore;
use tessera_core::session::SessionStore;
use tessera_core::token::TokenStore;
use tessera_core::users::UserStore;
use tessera_redis::{RedisOptions, RedisStore};
use tessera_sqlx::{PgStore, SqliteStore, StoreOptions};

use crate::error::Error;

/// One store per concern of `Auth`.
#[derive(Clone)]
#[non_exhaustive]
pub struct Stores {
    /// Accounts.
    pub users: Arc<dyn UserStore>,
    /// Refresh families and API keys.
    pub tokens: Arc<dyn TokenStore>,
    /// Browser sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// Revoked access tokens.
    pub revocations: Arc<dyn Revocations>,
    /// Used one-time tokens (password reset).
    pub onetime: Arc<dyn OneTimeStore>,
    /// Login throttling counts: the database's table, or Redis when given,
    /// so that every instance counts the same attempts.
    pub throttle: Arc<dyn ThrottleStore>,
}

impl Stores {
    /// Every concern in one store (SQLite, PostgreSQL, or a test double).
    pub fn all_in<S>(store: S) -> Self
    where
        S: UserStore
            + TokenStore
            + SessionStore
            + Revocations
            + OneTimeStore
            + ThrottleStore
            + 'static,
    {
        let store = Arc::new(store);
        Self {
            users: store.clone(),
            tokens: store.clone(),
            sessions: store.clone(),
            revocations: store.clone(),
            onetime: store.clone(),
            throttle: store,
        }
    }

    /// Each concern in its own store; throttling in memory (one process)
    /// unless [`with_throttle`](Self::with_throttle) says otherwise.
    pub fn new(
        users: Arc<dyn UserStore>,
        tokens: Arc<dyn TokenStore>,
        sessions: Arc<dyn SessionStore>,
        revocations: Arc<dyn Revocations>,
        onetime: Arc<dyn OneTimeStore>,
    ) -> Self {
        Self {
            users,
            tokens,
            sessions,
            revocations,
            onetime,
            throttle: Arc::new(MemoryThrottleStore::new()),
        }
    }

    /// The same stores with `throttle` for login throttling.
    #[must_use]
    pub fn with_throttle(mut self, throttle: Arc<dyn ThrottleStore>) -> Self {
        self.throttle = throttle;
        self
    }

    /// Connects to `database_url` (migrating its tables) and, when given,
    /// to Redis, which then holds revocations, the token store (refresh
    /// families and API keys) and the throttling counts, so that several
    /// instances share them.
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown URL scheme; [`Error::Store`] or
    /// [`Error::Auth`] when a server cannot be reached or migrated.
    pub async fn connect(database_url: &str, redis_url: Option<&str>) -> Result<Self, Error> {
        let mut stores = if database_url.starts_with("sqlite:") {
            let store = SqliteStore::connect(database_url, StoreOptions::default()).await?;
            store.migrate().await?;
            Self::all_in(store)
        } else if database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://")
        {
            let store = PgStore::connect(database_url, StoreOptions::default()).await?;
            store.migrate().await?;
            Self::all_in(store)
        } else {
            return Err(Error::Config(
                "DATABASE_URL must start with sqlite: or postgres://".into(),
            ));
        };
        if let Some(url) = redis_url {
            let redis = Arc::new(RedisStore::connect(url, RedisOptions::default()).await?);
            stores.tokens = redis.clone();
            stores.revocations = redis.clone();
            stores.throttle = redis;
        }
        Ok(stores)
    }
}

impl fmt::Debug for Stores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stores").finish_non_exhaustive()
    }
}

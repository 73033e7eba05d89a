//! The PostgreSQL store.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use tessera_core::error::{CreateUserError, StoreError};
use tessera_core::jwt::{RevocationCheck, Revocations};
use tessera_core::onetime::OneTimeStore;
use tessera_core::session::{Moved, SessionState, SessionStore};
use tessera_core::throttle::{AccountLimits, Attempt, Hit, RateLimit, ThrottleStore};
use tessera_core::token::{
    Family, FamilyId, RevokeScope, Rotation, Successor, TokenDigest, TokenId, TokenKind,
    TokenRecord, TokenStore,
};
use tessera_core::users::{Login, NewUser, PasswordUpdate, User, UserId, UserStore};

use crate::StoreOptions;
use crate::common::{
    Failure, FamilyRow, FamilyStateRow, Message, SessionRow, SessionValues, StoredToken, TokenRow,
    TokenValues, UserRow, decode_session, decode_session_row, encode_set, from_ms,
    is_unique_violation, normalise, normalise_record, or_absent, random_id, run, throttle_count,
    to_ms, to_ms_ceil, token_select, unavailable, user_columns, warn_corrupt,
};

/// Every tessera store over one PostgreSQL database: [`UserStore`],
/// [`TokenStore`], [`Revocations`], [`SessionStore`] and [`OneTimeStore`].
///
/// For deployments with several instances: every instance sees the others'
/// writes on its next call. Tables live in the connection's `search_path`
/// (by default the `public` schema); to keep tessera in a schema of its
/// own, set the search path on each connection (`after_connect`, or
/// `?options=-c search_path=auth` in the URL) and pass the pool to
/// [`from_pool`](Self::from_pool). Cloning is cheap and shares the pool.
///
/// No TLS backend is compiled in: for a server reached over a network,
/// enable one of sqlx's `tls-rustls-…` features in the application and
/// `sslmode=verify-full` in the URL.
///
/// ```no_run
/// use tessera_sqlx::{PgStore, StoreOptions};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = PgStore::connect("postgres://tessera@db.internal/app", StoreOptions::default()).await?;
/// store.migrate().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    options: StoreOptions,
}

impl PgStore {
    /// Connects a pool to `url` (sqlx's pool defaults, with the operation
    /// deadline as the wait for a free connection).
    ///
    /// Run [`migrate`](Self::migrate) before first use.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] for a malformed URL or a server that
    /// cannot be reached within the deadline.
    pub async fn connect(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .acquire_timeout(options.timeout)
            .connect(url);
        let pool = tokio::time::timeout(options.timeout, pool)
            .await
            .map_err(unavailable)?
            .map_err(unavailable)?;
        Ok(Self::from_pool(pool, options))
    }

    /// A store over an existing pool.
    pub fn from_pool(pool: PgPool, options: StoreOptions) -> Self {
        Self { pool, options }
    }

    /// The embedded migrations (`migrations/postgres`), with
    /// `ignore_missing` set so that they can share sqlx's
    /// `_sqlx_migrations` table with an application's own.
    pub fn migrator() -> Migrator {
        let mut migrator = sqlx::migrate!("./migrations/postgres");
        migrator.set_ignore_missing(true);
        migrator
    }

    /// Creates or updates tessera's tables in the first schema of the
    /// search path. Idempotent, and safe to run from several instances at
    /// once (sqlx takes an advisory lock). Not bounded by the operation
    /// deadline.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when a migration fails, or the database
    /// holds a different version of one (a changed checksum).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Self::migrator().run(&self.pool).await.map_err(unavailable)
    }

    /// The pool, for the application's own queries.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The options the store was built with.
    pub fn options(&self) -> StoreOptions {
        self.options
    }

    /// A transaction at the default isolation (read committed); the
    /// statements that need it lock rows themselves.
    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }
}

/// The statements that differ from SQLite's.
mod dialect {
    use crate::common::token_select;

    /// Locks the presented token's row until the rotation commits (the
    /// family, on the nullable side of the join, is locked by the next
    /// statement).
    pub(super) const SELECT_TOKEN_FOR_ROTATION: &str =
        concat!(token_select!(), " WHERE t.digest = $1 FOR UPDATE OF t");

    /// Locked until the rotation commits.
    pub(super) const SELECT_FAMILY_FOR_ROTATION: &str = concat!(
        "SELECT id, subject, created_at, expires_at, revoked ",
        "FROM tessera_token_families WHERE id = $1 FOR UPDATE"
    );

    pub(super) const UPSERT_REVOCATION: &str = concat!(
        "INSERT INTO tessera_revocations (kind, target, not_before, keep_until) ",
        "VALUES ($1, $2, $3, $4) ON CONFLICT (kind, target) DO UPDATE SET ",
        "not_before = GREATEST(tessera_revocations.not_before, excluded.not_before), ",
        "keep_until = GREATEST(tessera_revocations.keep_until, excluded.keep_until)"
    );
}

crate::store::impl_store!(PgStore, Postgres, dialect);

//! The SQLite store.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
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

/// How long a connection waits for another's write lock before SQLite
/// reports `BUSY` (which is then retried, within the operation's deadline).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Every tessera store over one SQLite database: [`UserStore`],
/// [`TokenStore`], [`Revocations`], [`SessionStore`] and [`OneTimeStore`].
///
/// SQLite is the embedded default: one file, one process (several
/// processes on one machine work too, serialised by SQLite's lock). Writes
/// that must be atomic take the write lock first (`BEGIN IMMEDIATE`).
/// Cloning is cheap and shares the pool.
///
/// ```
/// use std::time::SystemTime;
/// use tessera_core::users::{Login, NewUser, UserStore};
/// use tessera_sqlx::{SqliteStore, StoreOptions};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = SqliteStore::connect("sqlite::memory:", StoreOptions::default()).await?;
/// store.migrate().await?;
/// let login = Login::parse("alice@example.com")?;
/// let alice = store.create(NewUser::new(login.clone(), "$argon2id$…".into()), SystemTime::now()).await?;
/// assert_eq!(store.find_by_login(&login).await?.map(|u| u.id), Some(alice.id));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    options: StoreOptions,
}

impl SqliteStore {
    /// Opens the database at `url` with the settings of
    /// [`connect_options`](Self::connect_options).
    ///
    /// `sqlite://path/to/file.db?mode=rwc` creates the file if missing;
    /// `sqlite::memory:` is a private in-memory database that lives as long
    /// as the store, reached through a single connection (a pool of
    /// in-memory connections would be several databases).
    ///
    /// Run [`migrate`](Self::migrate) before first use.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] for a malformed URL or a database that
    /// cannot be opened within the deadline.
    pub async fn connect(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let connect = Self::connect_options(url)?;
        let mut pool = SqlitePoolOptions::new().acquire_timeout(options.timeout);
        if url.contains(":memory:") || url.contains("mode=memory") {
            pool = pool
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        let pool = tokio::time::timeout(options.timeout, pool.connect_with(connect))
            .await
            .map_err(unavailable)?
            .map_err(unavailable)?;
        Ok(Self::from_pool(pool, options))
    }

    /// The connection settings [`connect`](Self::connect) uses, for
    /// applications that build the pool themselves: write-ahead logging
    /// (readers do not block the writer), `synchronous = FULL` (a commit
    /// survives power loss: a revocation or a used-up refresh token must
    /// not come back), a 5 s busy timeout, and foreign keys on.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] for a malformed URL.
    pub fn connect_options(url: &str) -> Result<SqliteConnectOptions, StoreError> {
        Ok(SqliteConnectOptions::from_str(url)
            .map_err(unavailable)?
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true))
    }

    /// A store over an existing pool. Its connections should have the
    /// settings of [`connect_options`](Self::connect_options).
    pub fn from_pool(pool: SqlitePool, options: StoreOptions) -> Self {
        Self { pool, options }
    }

    /// The embedded migrations (`migrations/sqlite`), with
    /// `ignore_missing` set so that they can share sqlx's
    /// `_sqlx_migrations` table with an application's own.
    pub fn migrator() -> Migrator {
        let mut migrator = sqlx::migrate!("./migrations/sqlite");
        migrator.set_ignore_missing(true);
        migrator
    }

    /// Creates or updates tessera's tables. Idempotent; run it at start-up.
    /// Not bounded by the operation deadline.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when a migration fails, or the database
    /// holds a different version of one (a changed checksum).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Self::migrator().run(&self.pool).await.map_err(unavailable)
    }

    /// The pool, for the application's own queries.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The options the store was built with.
    pub fn options(&self) -> StoreOptions {
        self.options
    }

    /// A transaction that holds the write lock from its first statement,
    /// so a read-then-write never has to upgrade its lock (which SQLite
    /// would refuse with `BUSY` rather than wait).
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }
}

/// The statements that differ from PostgreSQL's.
mod dialect {
    use crate::common::token_select;

    /// `BEGIN IMMEDIATE` already serialises writers: no row lock.
    pub(super) const SELECT_TOKEN_FOR_ROTATION: &str =
        concat!(token_select!(), " WHERE t.digest = $1");

    /// The write lock is already held.
    pub(super) const SELECT_FAMILY_FOR_ROTATION: &str = concat!(
        "SELECT id, subject, created_at, expires_at, revoked ",
        "FROM tessera_token_families WHERE id = $1"
    );

    pub(super) const UPSERT_REVOCATION: &str = concat!(
        "INSERT INTO tessera_revocations (kind, target, not_before, keep_until) ",
        "VALUES ($1, $2, $3, $4) ON CONFLICT (kind, target) DO UPDATE SET ",
        "not_before = MAX(tessera_revocations.not_before, excluded.not_before), ",
        "keep_until = MAX(tessera_revocations.keep_until, excluded.keep_until)"
    );
}

crate::store::impl_store!(SqliteStore, Sqlite, dialect);

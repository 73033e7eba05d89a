//! The SQLite store on a temporary file: every trait, concurrency, the
//! deadline.

#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tessera_core::StoreError;
use tessera_core::session::SessionStore;
use tessera_core::token::{TokenKind, TokenRecord, TokenStore};
use tessera_core::users::UserId;
use tessera_sqlx::{SqliteStore, StoreOptions};

use support::*;

/// A database file in the temporary directory, removed (with its WAL and
/// shared-memory files) when dropped, also when the test fails.
struct TempDb {
    path: PathBuf,
}

impl TempDb {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("tessera-sqlx-{}.db", random_hex()));
        Self { path }
    }

    fn url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.path.display())
    }

    async fn store(&self, options: StoreOptions) -> SqliteStore {
        let store = SqliteStore::connect(&self.url(), options).await.unwrap();
        store.migrate().await.unwrap();
        store
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.path.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

#[tokio::test]
async fn every_trait_on_a_file() {
    let db = TempDb::new();
    let store = db.store(StoreOptions::default()).await;
    // Migrating again changes nothing.
    store.migrate().await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(mode, "wal");

    exercise_users(&store).await;
    exercise_tokens(&store).await;
    exercise_revocations(&store).await;
    let session = exercise_sessions(&store).await;
    exercise_onetime(&store).await;

    // An undecodable session reads as absent, and is dropped.
    sqlx::query("UPDATE tessera_sessions SET state = $1 WHERE digest = $2")
        .bind(&b"\xff{garbage"[..])
        .bind(&session.as_bytes()[..])
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(store.load(&session, t0()).await.unwrap(), None);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tessera_sessions WHERE digest = $1")
        .bind(&session.as_bytes()[..])
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(left, 0);

    // So does an undecodable token.
    let key = TokenRecord::new(
        tessera_core::token::TokenId::generate().unwrap(),
        digest(),
        TokenKind::ApiKey,
        UserId::new("alice"),
        Default::default(),
        t0(),
    );
    store.insert(key.clone()).await.unwrap();
    assert!(store.find(&key.digest, t0()).await.unwrap().is_some());
    sqlx::query("UPDATE tessera_tokens SET scopes = 'not json' WHERE digest = $1")
        .bind(&key.digest.as_bytes()[..])
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(store.find(&key.digest, t0()).await.unwrap(), None);
    assert!(
        store
            .list_api_keys(&UserId::new("alice"), t0())
            .await
            .unwrap()
            .is_empty()
    );

    // The store-wide purge reaches every table.
    let purged = store
        .purge_expired(t0() + secs(400 * 86_400))
        .await
        .unwrap();
    assert!(purged > 0);
    for table in [
        "tessera_token_families",
        "tessera_sessions",
        "tessera_onetime",
        "tessera_revocations",
    ] {
        let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(rows, 0, "{table}");
    }
    // Only API keys that never expire and were never revoked stay.
    let tokens: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM tessera_tokens WHERE kind <> 'api_key' OR expires_at IS NOT NULL OR revoked",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(tokens, 0);
    store.pool().close().await;
}

#[tokio::test]
async fn in_memory_urls_share_one_database() {
    let store = SqliteStore::connect("sqlite::memory:", StoreOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    exercise_onetime(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_rotations_give_one_successor() {
    let db = TempDb::new();
    let store = Arc::new(db.store(StoreOptions::default()).await);
    let family = concurrent_rotation(Arc::clone(&store)).await;
    let tokens: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM tessera_tokens WHERE family_id = $1")
            .bind(family.as_str())
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(tokens, 2, "the first token and exactly one successor");
    let used: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM tessera_tokens WHERE family_id = $1 AND used_at IS NOT NULL",
    )
    .bind(family.as_str())
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(used, 1);
    store.pool().close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_single_use_gives_one_success() {
    let db = TempDb::new();
    let store = Arc::new(db.store(StoreOptions::default()).await);
    concurrent_single_use(Arc::clone(&store)).await;
    store.pool().close().await;
}

#[tokio::test]
async fn a_locked_database_is_unavailable_after_the_deadline() {
    let db = TempDb::new();
    let store = db.store(StoreOptions::default()).await;
    // Another connection holds the write lock.
    let mut locker = store.pool().acquire().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *locker)
        .await
        .unwrap();

    let impatient = SqliteStore::from_pool(
        store.pool().clone(),
        StoreOptions::default().timeout(Duration::from_millis(200)),
    );
    let record = TokenRecord::new(
        tessera_core::token::TokenId::generate().unwrap(),
        digest(),
        TokenKind::ApiKey,
        UserId::new("alice"),
        Default::default(),
        t0(),
    );
    let result = impatient.insert(record).await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );

    sqlx::query("ROLLBACK").execute(&mut *locker).await.unwrap();
    drop(locker);
    store.pool().close().await;
}

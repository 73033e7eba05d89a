//! The PostgreSQL store, each test in a schema of its own: every trait,
//! concurrency, the deadline.
//!
//! Needs `TESSERA_TEST_POSTGRES_URL`; without it the tests print that they
//! were skipped and pass, unless `TESSERA_TEST_STRICT=1`.

#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use tessera_core::StoreError;
use tessera_core::session::SessionStore;
use tessera_core::token::{Rotation, TokenStore};
use tessera_sqlx::{PgStore, StoreOptions};

use support::*;

const URL_VAR: &str = "TESSERA_TEST_POSTGRES_URL";

fn strict() -> bool {
    std::env::var("TESSERA_TEST_STRICT").is_ok_and(|v| v == "1")
}

/// Runs `body` against a store in a new schema `tessera_t_<hex>` (set as
/// the search path of every pooled connection), then drops the schema,
/// whether `body` passed or panicked.
async fn with_store<F, Fut>(test: &str, body: F)
where
    F: FnOnce(PgStore) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let url = match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => url,
        _ => {
            assert!(
                !strict(),
                "{URL_VAR} is not set and TESSERA_TEST_STRICT=1: {test} cannot run"
            );
            println!("skipped {test}: {URL_VAR} is not set");
            return;
        }
    };
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    // A schema name is an identifier, not a value: it cannot be bound. It
    // is made of hex digits only.
    let schema = format!("tessera_t_{}", &random_hex()[..16]);
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .unwrap();
    let path = format!("SET search_path TO {schema}");
    let pool: PgPool = PgPoolOptions::new()
        .max_connections(10)
        .after_connect(move |conn, _| {
            let path = path.clone();
            Box::pin(async move {
                sqlx::query(&path).execute(conn).await?;
                Ok(())
            })
        })
        .connect(&url)
        .await
        .unwrap();
    let store = PgStore::from_pool(pool.clone(), StoreOptions::default());
    store.migrate().await.unwrap();
    let outcome = tokio::spawn(body(store)).await;
    pool.close().await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

#[tokio::test]
async fn every_trait_in_a_schema() {
    with_store("every_trait_in_a_schema", |store| async move {
        // Migrating again changes nothing; the tables are in the schema of
        // the search path.
        store.migrate().await.unwrap();
        let schema: String = sqlx::query_scalar(
            "SELECT table_schema::text FROM information_schema.tables WHERE table_name = 'tessera_tokens' AND table_schema = current_schema()",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert!(schema.starts_with("tessera_t_"), "{schema}");

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
        let left: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM tessera_sessions WHERE digest = $1")
                .bind(&session.as_bytes()[..])
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(left, 0);

        // The store-wide purge reaches every table.
        assert!(store.purge_expired(t0() + secs(400 * 86_400)).await.unwrap() > 0);
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
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_rotations_give_one_successor() {
    with_store(
        "concurrent_rotations_give_one_successor",
        |store| async move {
            let store = Arc::new(store);
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
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_single_use_gives_one_success() {
    with_store(
        "concurrent_single_use_gives_one_success",
        |store| async move {
            concurrent_single_use(Arc::new(store)).await;
        },
    )
    .await;
}

#[tokio::test]
async fn a_locked_row_is_unavailable_after_the_deadline() {
    with_store(
        "a_locked_row_is_unavailable_after_the_deadline",
        |store| async move {
            let (_, first) = start_family(&store, "alice").await;
            // Another transaction holds the presented token's row.
            let mut locker = store.pool().begin().await.unwrap();
            sqlx::query("SELECT 1 FROM tessera_tokens WHERE digest = $1 FOR UPDATE")
                .bind(&first.digest.as_bytes()[..])
                .execute(&mut *locker)
                .await
                .unwrap();

            let impatient = PgStore::from_pool(
                store.pool().clone(),
                StoreOptions::default().timeout(Duration::from_millis(200)),
            );
            let result =
                TokenStore::rotate(&impatient, &first.digest, successor(), t0(), Duration::ZERO)
                    .await;
            assert!(
                matches!(result, Err(StoreError::Unavailable(_))),
                "{result:?}"
            );
            locker.rollback().await.unwrap();

            // The abandoned attempt never got past its lock: the token is
            // still unused, and the next rotation (once the connection has
            // rolled the attempt back) succeeds.
            let next = TokenStore::rotate(&store, &first.digest, successor(), t0(), Duration::ZERO)
                .await
                .unwrap();
            assert!(matches!(next, Rotation::Rotated { .. }), "{next:?}");
        },
    )
    .await;
}

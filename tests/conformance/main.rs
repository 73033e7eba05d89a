//! One conformance suite for every store backend: memory, SQLite,
//! PostgreSQL and Redis. Each test gets its own storage (a temp file, a
//! schema, a key prefix) and removes it at the end.
//!
//! PostgreSQL and Redis come from `TESSERA_TEST_POSTGRES_URL` and
//! `TESSERA_TEST_REDIS_URL`; without them those backends print what they
//! skipped, unless `TESSERA_TEST_STRICT=1`, which turns a skip into a
//! failure.
#![allow(
    missing_docs,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    dead_code,
    reason = "test code: a panic is a failure, skips are printed, and some helpers serve only the backends a build enables"
)]

mod harness;
mod memory_backend;
mod proxy;
#[cfg(feature = "redis")]
mod redis_backend;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql_backend;
mod suite;

/// Instantiates every suite test for one backend. `$make` is an async
/// expression giving `Option<impl Backend>` (`None`: skipped).
macro_rules! conformance {
    ($backend:ident, $make:expr) => {
        mod $backend {
            conformance!(@tests $make;
                tokens_api_keys,
                tokens_families,
                tokens_rotation_is_all_or_nothing,
                tokens_concurrent_rotation,
                tokens_concurrent_rotation_with_grace,
                sessions_lifecycle,
                sessions_no_resurrection,
                sessions_expiry_index_and_corruption,
                revocations,
                onetime_single_use,
                users,
                secrets_at_rest,
                faults,
                faults_mid_life,
                several_instances,
                throttle_account_buckets,
                throttle_concurrent_counts,
                throttle_rate_buckets,
            );
        }
    };
    (@tests $make:expr; $($test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                #[allow(unused_imports)]
                use super::*;
                let Some(backend) = $make.await else { return };
                // The body runs in a task so that a failing test still
                // cleans up its schema, key prefix or file.
                let backend = std::sync::Arc::new(backend);
                let inner = backend.clone();
                let outcome = tokio::spawn(async move { crate::suite::$test(&*inner).await }).await;
                crate::harness::Backend::finish(&*backend).await;
                if let Err(error) = outcome {
                    std::panic::resume_unwind(error.into_panic());
                }
            }
        )*
    };
}

conformance!(memory, crate::memory_backend::Memory::new());
#[cfg(feature = "redis")]
conformance!(redis, crate::redis_backend::Redis::new());
#[cfg(feature = "sqlite")]
conformance!(sqlite, crate::sql_backend::Sqlite::new());
#[cfg(feature = "postgres")]
conformance!(postgres, crate::sql_backend::Postgres::new());

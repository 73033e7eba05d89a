//! Lookups per second on each store backend: a token by digest (what every
//! API-key or refresh request costs) and a session by digest (what every
//! cookie request costs).
//!
//! ```sh
//! TESSERA_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//! TESSERA_TEST_REDIS_URL=redis://127.0.0.1:6379/ \
//! cargo bench --bench stores --all-features
//! ```
//!
//! Backends whose URL is not set (or whose feature is off) are skipped.
//! Each lookup is one round trip from one task; a server handles many of
//! these concurrently.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tessera::memory::{MemorySessionStore, MemoryTokenStore};
use tessera::session::{LoginOptions, SessionManager, SessionStore};
use tessera::token::{
    OpaqueToken, TokenDigest, TokenHasher, TokenId, TokenKind, TokenRecord, TokenStore,
};
use tessera::users::UserId;
use tokio::runtime::Runtime;

/// Removes what a backend stored.
type Cleanup = Box<dyn FnOnce(&Runtime)>;

struct Backend {
    name: &'static str,
    tokens: Arc<dyn TokenStore>,
    sessions: Arc<dyn SessionStore>,
    cleanup: Option<Cleanup>,
}

fn random_name() -> String {
    TokenId::generate().unwrap().as_str()[..16].to_owned()
}

fn backends(runtime: &Runtime) -> Vec<Backend> {
    let mut out = vec![Backend {
        name: "memory",
        tokens: Arc::new(MemoryTokenStore::new()),
        sessions: Arc::new(MemorySessionStore::new()),
        cleanup: None,
    }];
    #[cfg(feature = "sqlite")]
    {
        use tessera::sqlx::{SqliteStore, StoreOptions};
        let path = std::env::temp_dir().join(format!("tessera-bench-{}.db", random_name()));
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let store = runtime.block_on(async {
            let store = SqliteStore::connect(&url, StoreOptions::default())
                .await
                .unwrap();
            store.migrate().await.unwrap();
            Arc::new(store)
        });
        out.push(Backend {
            name: "sqlite",
            tokens: store.clone(),
            sessions: store,
            cleanup: Some(Box::new(move |_| {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            })),
        });
    }
    #[cfg(feature = "postgres")]
    if let Ok(url) = std::env::var("TESSERA_TEST_POSTGRES_URL") {
        use tessera::sqlx::sqlx::Executor;
        use tessera::sqlx::sqlx::postgres::PgPoolOptions;
        use tessera::sqlx::{PgStore, StoreOptions};
        let schema = format!("tessera_b_{}", random_name());
        let store = runtime.block_on(async {
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await
                .unwrap();
            admin
                .execute(format!("CREATE SCHEMA {schema}").as_str())
                .await
                .unwrap();
            let search_path = format!("SET search_path TO {schema}");
            let pool = PgPoolOptions::new()
                .max_connections(4)
                .after_connect(move |conn, _| {
                    let set = search_path.clone();
                    Box::pin(async move {
                        conn.execute(set.as_str()).await?;
                        Ok(())
                    })
                })
                .connect(&url)
                .await
                .unwrap();
            let store = PgStore::from_pool(pool, StoreOptions::default());
            store.migrate().await.unwrap();
            Arc::new(store)
        });
        out.push(Backend {
            name: "postgres",
            tokens: store.clone(),
            sessions: store,
            cleanup: Some(Box::new(move |runtime| {
                runtime.block_on(async {
                    let admin = PgPoolOptions::new()
                        .max_connections(1)
                        .connect(&url)
                        .await
                        .unwrap();
                    admin
                        .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
                        .await
                        .unwrap();
                });
            })),
        });
    }
    #[cfg(feature = "redis")]
    if let Ok(url) = std::env::var("TESSERA_TEST_REDIS_URL") {
        use tessera::redis::redis::AsyncCommands;
        use tessera::redis::{RedisOptions, RedisStore, redis};
        let prefix = format!("tessera-bench:{}:", random_name());
        let store = runtime.block_on(async {
            Arc::new(
                RedisStore::connect(&url, RedisOptions::default().prefix(prefix.clone()))
                    .await
                    .unwrap(),
            )
        });
        out.push(Backend {
            name: "redis",
            tokens: store.clone(),
            sessions: store,
            cleanup: Some(Box::new(move |runtime| {
                runtime.block_on(async {
                    let client = redis::Client::open(url.as_str()).unwrap();
                    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
                    let mut keys = Vec::new();
                    {
                        let mut iter: redis::AsyncIter<'_, String> =
                            connection.scan_match(format!("{prefix}*")).await.unwrap();
                        while let Some(key) = iter.next_item().await {
                            keys.push(key.unwrap());
                        }
                    }
                    if !keys.is_empty() {
                        let _: () = connection.del(keys).await.unwrap();
                    }
                });
            })),
        });
    }
    let _ = runtime;
    out
}

/// Stores 1 000 API keys and 1 000 sessions; returns one digest of each.
fn fill(runtime: &Runtime, backend: &Backend) -> (TokenDigest, TokenDigest) {
    runtime.block_on(async {
        let hasher = TokenHasher::sha256();
        let now = SystemTime::now();
        let mut probe = None;
        for i in 0..1_000 {
            let token = OpaqueToken::generate(TokenKind::ApiKey).unwrap();
            let digest = hasher.digest(&token);
            let record = TokenRecord::new(
                TokenId::generate().unwrap(),
                digest,
                TokenKind::ApiKey,
                UserId::new(format!("user-{i}")),
                Default::default(),
                now,
            );
            backend.tokens.insert(record).await.unwrap();
            if i == 500 {
                probe = Some(digest);
            }
        }
        let sessions = SessionManager::builder(backend.sessions.clone())
            .build()
            .unwrap();
        let mut session = None;
        for i in 0..1_000 {
            let created = sessions
                .login(
                    None,
                    &UserId::new(format!("user-{i}")),
                    LoginOptions::default(),
                )
                .await
                .unwrap();
            if i == 500 {
                session = Some(created.id().digest());
            }
        }
        (probe.unwrap(), session.unwrap())
    })
}

fn lookups(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("lookup");
    group.throughput(Throughput::Elements(1));
    let mut cleanups = Vec::new();
    for mut backend in backends(&runtime) {
        let (token, session) = fill(&runtime, &backend);
        group.bench_function(BenchmarkId::new("token", backend.name), |b| {
            b.to_async(&runtime).iter(|| async {
                backend
                    .tokens
                    .find(&token, SystemTime::now())
                    .await
                    .unwrap()
                    .unwrap()
            });
        });
        group.bench_function(BenchmarkId::new("session", backend.name), |b| {
            b.to_async(&runtime).iter(|| async {
                backend
                    .sessions
                    .load(&session, SystemTime::now())
                    .await
                    .unwrap()
                    .unwrap()
            });
        });
        cleanups.extend(backend.cleanup.take());
    }
    group.finish();
    for cleanup in cleanups {
        cleanup(&runtime);
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = lookups
}
criterion_main!(benches);

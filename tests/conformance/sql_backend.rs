//! SQLite (a temporary file per test) and PostgreSQL (a schema per test).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tessera::async_trait;
use tessera::clock::ManualClock;
use tessera::sqlx::StoreOptions;
use tessera::sqlx::sqlx::{self, Row};
use tessera::token::TokenDigest;

use crate::harness::{Backend, Stores, random_name};
use crate::proxy::Dead;

fn stores<S>(store: S) -> Stores
where
    S: tessera::token::TokenStore
        + tessera::session::SessionStore
        + tessera::jwt::Revocations
        + tessera::onetime::OneTimeStore
        + tessera::users::UserStore
        + tessera::throttle::ThrottleStore
        + 'static,
{
    let store = Arc::new(store);
    Stores {
        tokens: store.clone(),
        sessions: store.clone(),
        revocations: store.clone(),
        onetime: store.clone(),
        throttle: store.clone(),
        users: Some(store),
    }
}

const TABLES: [&str; 7] = [
    "tessera_users",
    "tessera_token_families",
    "tessera_tokens",
    "tessera_revocations",
    "tessera_sessions",
    "tessera_onetime",
    "tessera_throttle",
];

#[cfg(feature = "sqlite")]
pub use self::sqlite::Sqlite;

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use tessera::sqlx::SqliteStore;

    pub struct Sqlite {
        path: PathBuf,
        clock: ManualClock,
        dead: Dead,
    }

    impl Sqlite {
        pub async fn new() -> Option<Self> {
            let path =
                std::env::temp_dir().join(format!("tessera-conformance-{}.db", random_name()));
            let backend = Self {
                path,
                clock: ManualClock::default(),
                dead: Dead::start().await,
            };
            backend.store().await.migrate().await.unwrap();
            Some(backend)
        }

        fn url(&self) -> String {
            format!("sqlite://{}?mode=rwc", self.path.display())
        }

        async fn store(&self) -> SqliteStore {
            SqliteStore::connect(&self.url(), StoreOptions::default())
                .await
                .unwrap()
        }
    }

    #[async_trait]
    impl Backend for Sqlite {
        fn name(&self) -> &'static str {
            "sqlite"
        }

        fn clock(&self) -> &ManualClock {
            &self.clock
        }

        async fn stores(&self) -> Stores {
            stores(self.store().await)
        }

        async fn dump(&self) -> Vec<String> {
            let store = self.store().await;
            let mut out = Vec::new();
            for table in TABLES {
                let columns: Vec<String> =
                    sqlx::query(&format!("SELECT name FROM pragma_table_info('{table}')"))
                        .fetch_all(store.pool())
                        .await
                        .unwrap()
                        .iter()
                        .map(|row| row.get::<String, _>(0))
                        .collect();
                let select = columns
                    .iter()
                    .map(|c| format!("quote({c})"))
                    .collect::<Vec<_>>()
                    .join(" || ' ' || ");
                for row in sqlx::query(&format!("SELECT {select} FROM {table}"))
                    .fetch_all(store.pool())
                    .await
                    .unwrap()
                {
                    out.push(row.get::<String, _>(0));
                }
            }
            out
        }

        async fn corrupt_session(&self, digest: &TokenDigest) {
            let store = self.store().await;
            sqlx::query("UPDATE tessera_sessions SET state = X'FF7B' WHERE digest = ?")
                .bind(digest.as_bytes().as_slice())
                .execute(store.pool())
                .await
                .unwrap();
        }

        async fn faulty(&self, stall: bool) -> Stores {
            // SQLite has no server to lose: a pool that cannot hand out a
            // connection (its only one held elsewhere) stands in for a stall,
            // a file that cannot be opened for a failure.
            let options = StoreOptions::default().timeout(Duration::from_millis(300));
            if stall {
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect(&self.url())
                    .await
                    .unwrap();
                let held = pool.acquire().await.unwrap();
                // Leaked on purpose: the pool stays exhausted for the test.
                std::mem::forget(held);
                stores(SqliteStore::from_pool(pool, options))
            } else {
                let _ = &self.dead;
                let missing =
                    std::env::temp_dir().join(format!("tessera-missing-{}/x.db", random_name()));
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .connect_lazy(&format!("sqlite://{}", missing.display()))
                    .unwrap();
                stores(SqliteStore::from_pool(pool, options))
            }
        }

        async fn finish(&self) {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
            }
        }
    }
}

#[cfg(feature = "postgres")]
pub use self::postgres::Postgres;

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use crate::harness::service_url;
    use tessera::sqlx::PgStore;
    use tessera::sqlx::sqlx::Executor;
    use tessera::sqlx::sqlx::postgres::{PgPool, PgPoolOptions};

    pub struct Postgres {
        url: String,
        schema: String,
        clock: ManualClock,
        dead: Dead,
    }

    impl Postgres {
        pub async fn new() -> Option<Self> {
            let url = service_url(
                "TESSERA_TEST_POSTGRES_URL",
                "the PostgreSQL conformance tests",
            )?;
            let schema = format!("tessera_c_{}", random_name());
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await
                .unwrap();
            // An identifier, made of hex digits: it cannot be bound.
            admin
                .execute(format!("CREATE SCHEMA {schema}").as_str())
                .await
                .unwrap();
            let backend = Self {
                url,
                schema,
                clock: ManualClock::default(),
                dead: Dead::start().await,
            };
            PgStore::from_pool(
                backend.pool(&backend.url, None).await,
                StoreOptions::default(),
            )
            .migrate()
            .await
            .unwrap();
            Some(backend)
        }

        async fn pool(&self, url: &str, timeout: Option<Duration>) -> PgPool {
            let schema = self.schema.clone();
            let mut options =
                PgPoolOptions::new()
                    .max_connections(8)
                    .after_connect(move |conn, _| {
                        let set = format!("SET search_path TO {schema}");
                        Box::pin(async move {
                            conn.execute(set.as_str()).await?;
                            Ok(())
                        })
                    });
            match timeout {
                Some(timeout) => {
                    options = options.acquire_timeout(timeout);
                    options.connect_lazy(url).unwrap()
                }
                None => options.connect(url).await.unwrap(),
            }
        }
    }

    #[async_trait]
    impl Backend for Postgres {
        fn name(&self) -> &'static str {
            "postgres"
        }

        fn clock(&self) -> &ManualClock {
            &self.clock
        }

        async fn stores(&self) -> Stores {
            stores(PgStore::from_pool(
                self.pool(&self.url, None).await,
                StoreOptions::default(),
            ))
        }

        async fn dump(&self) -> Vec<String> {
            let pool = self.pool(&self.url, None).await;
            let mut out = Vec::new();
            for table in TABLES {
                for row in sqlx::query(&format!("SELECT t::text FROM {table} t"))
                    .fetch_all(&pool)
                    .await
                    .unwrap()
                {
                    out.push(row.get::<String, _>(0));
                }
            }
            out
        }

        async fn corrupt_session(&self, digest: &TokenDigest) {
            let pool = self.pool(&self.url, None).await;
            sqlx::query("UPDATE tessera_sessions SET state = '\\xff7b'::bytea WHERE digest = $1")
                .bind(digest.as_bytes().as_slice())
                .execute(&pool)
                .await
                .unwrap();
        }

        async fn faulty(&self, stall: bool) -> Stores {
            let port = if stall {
                self.dead.stalling_port()
            } else {
                self.dead.refusing_port()
            };
            let url = format!("postgres://postgres@127.0.0.1:{port}/test");
            let timeout = Duration::from_millis(300);
            let pool = self.pool(&url, Some(timeout)).await;
            stores(PgStore::from_pool(
                pool,
                StoreOptions::default().timeout(timeout),
            ))
        }

        async fn proxied(&self) -> Option<(Stores, crate::proxy::Proxy)> {
            let proxy = crate::proxy::Proxy::start(crate::harness::host_port(&self.url)).await;
            let url = crate::harness::via_proxy(&self.url, proxy.port());
            let timeout = Duration::from_millis(300);
            let pool = self.pool(&url, Some(timeout)).await;
            Some((
                stores(PgStore::from_pool(
                    pool,
                    StoreOptions::default().timeout(timeout),
                )),
                proxy,
            ))
        }

        async fn finish(&self) {
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect(&self.url)
                .await
                .unwrap();
            admin
                .execute(format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema).as_str())
                .await
                .unwrap();
        }
    }
}

//! A store under its own random key prefix on the test server, removed at
//! the end (also when a test panics).

use std::sync::Arc;

use redis::aio::ConnectionManager;
use tessera_core::clock::ManualClock;
use tessera_core::token::TokenId;
use tessera_redis::{RedisOptions, RedisStore};

pub const URL_VAR: &str = "TESSERA_TEST_REDIS_URL";

fn strict() -> bool {
    std::env::var("TESSERA_TEST_STRICT").is_ok_and(|v| v == "1")
}

/// The test server's URL, or `None` after printing what was skipped (a
/// failure under `TESSERA_TEST_STRICT=1`).
pub fn url(test: &str) -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                !strict(),
                "{URL_VAR} is not set and TESSERA_TEST_STRICT=1: {test} cannot run"
            );
            println!("skipped {test}: {URL_VAR} is not set");
            None
        }
    }
}

pub struct Rig {
    pub store: RedisStore,
    pub clock: ManualClock,
    pub prefix: String,
    /// A raw connection, for looking at what the store wrote.
    pub raw: ConnectionManager,
    url: String,
    finished: bool,
}

/// A store on a [`ManualClock`] standing in 2023, under `tessera-test:<hex>:`.
pub async fn rig(test: &str) -> Option<Rig> {
    let url = url(test)?;
    let clock = ManualClock::default();
    let prefix = format!("tessera-test:{}:", TokenId::generate().unwrap().as_str());
    let store = RedisStore::connect(
        &url,
        RedisOptions::default()
            .prefix(prefix.clone())
            .clock(Arc::new(clock.clone())),
    )
    .await
    .unwrap();
    let raw = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection_manager()
        .await
        .unwrap();
    Some(Rig {
        store,
        clock,
        prefix,
        raw,
        url,
        finished: false,
    })
}

impl Rig {
    /// A second, independent handle on the same keys: another instance.
    pub async fn other_instance(&self) -> RedisStore {
        RedisStore::connect(&self.url, self.store.options().clone())
            .await
            .unwrap()
    }

    /// Every key under the prefix.
    pub async fn keys(&self) -> Vec<String> {
        let pattern = format!("{}*", self.prefix);
        let mut keys = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, page): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut self.raw.clone())
                .await
                .unwrap();
            keys.extend(page);
            if next == 0 {
                return keys;
            }
            cursor = next;
        }
    }

    /// The keys under `{prefix}{kind}`.
    pub async fn keys_of(&self, kind: &str) -> Vec<String> {
        let start = format!("{}{kind}", self.prefix);
        let mut keys: Vec<String> = self
            .keys()
            .await
            .into_iter()
            .filter(|k| k.starts_with(&start))
            .collect();
        keys.sort();
        keys
    }

    pub async fn cmd<T: redis::FromRedisValue>(&self, cmd: &mut redis::Cmd) -> T {
        cmd.query_async(&mut self.raw.clone()).await.unwrap()
    }

    /// Deletes every key under the prefix (SCAN + DEL) and checks none is
    /// left.
    pub async fn finish(mut self) {
        for key in self.keys().await {
            let _: i64 = self.cmd(redis::cmd("DEL").arg(&key)).await;
        }
        assert!(
            self.keys().await.is_empty(),
            "keys left under {}",
            self.prefix
        );
        self.finished = true;
    }
}

impl Drop for Rig {
    /// A test that panicked still removes its keys, best effort.
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut con) = client.get_connection() else {
            return;
        };
        let pattern = format!("{}*", self.prefix);
        let mut cursor: u64 = 0;
        loop {
            let Ok((next, keys)) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query::<(u64, Vec<String>)>(&mut con)
            else {
                return;
            };
            for key in keys {
                let _ = redis::cmd("DEL").arg(key).query::<i64>(&mut con);
            }
            if next == 0 {
                return;
            }
            cursor = next;
        }
    }
}

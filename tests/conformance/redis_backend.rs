//! Redis, under a random key prefix per test.

use std::sync::Arc;
use std::time::Duration;

use tessera::async_trait;
use tessera::clock::ManualClock;
use tessera::redis::redis::AsyncCommands;
use tessera::redis::{RedisOptions, RedisStore, redis};
use tessera::token::TokenDigest;

use crate::harness::{Backend, Stores, random_name, service_url};
use crate::proxy::Dead;

pub struct Redis {
    url: String,
    prefix: String,
    clock: ManualClock,
    dead: Dead,
}

impl Redis {
    pub async fn new() -> Option<Self> {
        let url = service_url("TESSERA_TEST_REDIS_URL", "the Redis conformance tests")?;
        Some(Self {
            url,
            prefix: format!("tessera-test:{}:", random_name()),
            clock: ManualClock::default(),
            dead: Dead::start().await,
        })
    }

    fn options(&self) -> RedisOptions {
        RedisOptions::default()
            .prefix(self.prefix.clone())
            .clock(Arc::new(self.clock.clone()))
    }

    async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    async fn keys(&self) -> Vec<String> {
        let mut connection = self.connection().await;
        let mut keys: Vec<String> = Vec::new();
        let mut iter: redis::AsyncIter<'_, String> = connection
            .scan_match(format!("{}*", self.prefix))
            .await
            .unwrap();
        while let Some(key) = iter.next_item().await {
            keys.push(key.unwrap());
        }
        keys
    }
}

fn stores(store: RedisStore) -> Stores {
    let store = Arc::new(store);
    Stores {
        tokens: store.clone(),
        sessions: store.clone(),
        revocations: store.clone(),
        onetime: store.clone(),
        throttle: store,
        users: None,
    }
}

#[async_trait]
impl Backend for Redis {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn clock(&self) -> &ManualClock {
        &self.clock
    }

    async fn stores(&self) -> Stores {
        stores(
            RedisStore::connect(&self.url, self.options())
                .await
                .unwrap(),
        )
    }

    async fn dump(&self) -> Vec<String> {
        let mut connection = self.connection().await;
        let mut out = Vec::new();
        for key in self.keys().await {
            let kind: String = redis::cmd("TYPE")
                .arg(&key)
                .query_async(&mut connection)
                .await
                .unwrap();
            let values: Vec<Vec<u8>> = match kind.as_str() {
                "string" => vec![connection.get(&key).await.unwrap()],
                "hash" => {
                    let pairs: Vec<(Vec<u8>, Vec<u8>)> = connection.hgetall(&key).await.unwrap();
                    pairs.into_iter().flat_map(|(k, v)| [k, v]).collect()
                }
                "set" => connection.smembers(&key).await.unwrap(),
                other => panic!("unexpected Redis type {other} at {key}"),
            };
            out.push(key);
            out.extend(
                values
                    .into_iter()
                    .map(|v| String::from_utf8_lossy(&v).into_owned()),
            );
        }
        out
    }

    async fn corrupt_session(&self, digest: &TokenDigest) {
        let mut connection = self.connection().await;
        let key = format!("{}sess:{}", self.prefix, digest.to_hex());
        let _: () = connection
            .set(&key, b"\xff{garbage".as_slice())
            .await
            .unwrap();
    }

    async fn faulty(&self, stall: bool) -> Stores {
        let options = self.options().timeout(Duration::from_millis(300));
        let url = if stall {
            self.dead.stalling_url("redis")
        } else {
            self.dead.refusing_url("redis")
        };
        stores(RedisStore::connect_lazy(&url, options).unwrap())
    }

    async fn proxied(&self) -> Option<(Stores, crate::proxy::Proxy)> {
        let proxy = crate::proxy::Proxy::start(crate::harness::host_port(&self.url)).await;
        let url = crate::harness::via_proxy(&self.url, proxy.port());
        let options = self.options().timeout(Duration::from_millis(300));
        Some((
            stores(RedisStore::connect_lazy(&url, options).unwrap()),
            proxy,
        ))
    }

    async fn finish(&self) {
        let keys = self.keys().await;
        if !keys.is_empty() {
            let mut connection = self.connection().await;
            let _: () = connection.del(keys).await.unwrap();
        }
    }
}

//! [`OneTimeStore`] over Redis strings.

use std::time::SystemTime;

use async_trait::async_trait;
use tessera_core::error::StoreError;
use tessera_core::onetime::OneTimeStore;
use tessera_core::token::TokenDigest;

use crate::scripts;
use crate::store::{RedisStore, fail};
use crate::time;

const ONE_TIME: &str = "ot:";

#[async_trait]
impl OneTimeStore for RedisStore {
    async fn consume(&self, id: &TokenDigest, until: SystemTime) -> Result<bool, StoreError> {
        self.run(async {
            // `SET … NX`: of any number of concurrent calls, one sets it.
            let set: Option<String> = redis::cmd("SET")
                .arg(self.digest_key(ONE_TIME, id))
                .arg(time::encode(until))
                .arg("NX")
                .arg("PX")
                .arg(self.ttl_ms(until))
                .query_async(&mut self.con())
                .await
                .map_err(fail)?;
            Ok(set.is_some())
        })
        .await
    }

    async fn purge_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
        let now = time::encode(now);
        self.scan_pages(ONE_TIME, "string", |keys| {
            let now = now.clone();
            async move {
                let mut call = scripts::PURGE_ONETIME.prepare_invoke();
                for key in &keys {
                    call.key(key);
                }
                call.arg(self.prefix())
                    .arg(now)
                    .invoke_async(&mut self.con())
                    .await
                    .map_err(fail)
            }
        })
        .await
    }
}

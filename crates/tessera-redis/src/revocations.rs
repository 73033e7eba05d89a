//! [`Revocations`] over Redis strings and hashes.

use std::time::SystemTime;

use async_trait::async_trait;
use tessera_core::error::StoreError;
use tessera_core::jwt::{RevocationCheck, Revocations};
use tessera_core::token::FamilyId;
use tessera_core::users::UserId;

use crate::scripts;
use crate::store::{RedisStore, fail};
use crate::time;

const TOKEN: &str = "rv:jti:";
const FAMILY: &str = "rv:fam:";
const SUBJECT: &str = "rv:sub:";

/// What an entry says at `now`. An entry that is there but unreadable
/// revokes: a revocation check never fails open.
fn live(entry: &[u8], now: SystemTime, what: &'static str) -> bool {
    if entry.is_empty() {
        return false;
    }
    match time::decode(entry) {
        Some(until) => until > now,
        None => {
            tracing::warn!(target: "tessera::auth", entry = what, "undecodable revocation entry treated as revoking");
            true
        }
    }
}

impl RedisStore {
    async fn revoke_until(&self, key: String, until: SystemTime) -> Result<(), StoreError> {
        self.run(async {
            scripts::REVOKE_UNTIL
                .key(key)
                .arg(self.prefix())
                .arg(time::encode(until))
                .arg(self.ttl_ms(until))
                .invoke_async::<i64>(&mut self.con())
                .await
                .map_err(fail)?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl Revocations for RedisStore {
    async fn revoke_token(&self, jti: &str, until: SystemTime) -> Result<(), StoreError> {
        self.revoke_until(self.key(TOKEN, jti), until).await
    }

    async fn revoke_family(&self, family: &FamilyId, until: SystemTime) -> Result<(), StoreError> {
        self.revoke_until(self.key(FAMILY, family.as_str()), until)
            .await
    }

    async fn revoke_subject_before(
        &self,
        subject: &UserId,
        before: SystemTime,
        until: SystemTime,
    ) -> Result<(), StoreError> {
        self.run(async {
            scripts::REVOKE_SUBJECT_BEFORE
                .key(self.key(SUBJECT, subject.as_str()))
                .arg(self.prefix())
                .arg(time::encode(before))
                .arg(time::encode(until))
                .arg(self.ttl_ms(until))
                .invoke_async::<i64>(&mut self.con())
                .await
                .map_err(fail)?;
            Ok(())
        })
        .await
    }

    async fn is_revoked(
        &self,
        token: RevocationCheck<'_>,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        let entries: Vec<Vec<u8>> = self
            .run(async {
                let mut call = scripts::REVOCATION_READ.key(self.key(TOKEN, token.jti));
                call.key(self.key(SUBJECT, token.subject));
                if let Some(family) = token.family {
                    call.key(self.key(FAMILY, family));
                }
                call.invoke_async(&mut self.con()).await.map_err(fail)
            })
            .await?;
        let [jti, family, before, until] = <[Vec<u8>; 4]>::try_from(entries).map_err(|_| {
            StoreError::Corrupted("unexpected reply from the revocation script".into())
        })?;
        if live(&jti, now, "token") || live(&family, now, "family") {
            return Ok(true);
        }
        if before.is_empty() && until.is_empty() {
            return Ok(false);
        }
        Ok(match (time::decode(&before), time::decode(&until)) {
            (Some(before), Some(until)) => until > now && token.issued_at < before,
            _ => {
                tracing::warn!(target: "tessera::auth", subject = token.subject, "undecodable revocation cut-off treated as revoking");
                true
            }
        })
    }
}

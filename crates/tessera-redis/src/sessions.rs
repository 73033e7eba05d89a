//! [`SessionStore`] over Redis strings, with a per-subject index.

use std::time::SystemTime;

use async_trait::async_trait;
use tessera_core::error::StoreError;
use tessera_core::session::{Moved, SessionState, SessionStore};
use tessera_core::token::TokenDigest;
use tessera_core::users::UserId;

use crate::scripts;
use crate::store::{RedisStore, fail};

const SESSION: &str = "sess:";
const SUBJECT_SESSIONS: &str = "sub:sess:";

fn encode(state: &SessionState) -> Result<Vec<u8>, StoreError> {
    state
        .encode()
        .map_err(|e| StoreError::Corrupted(Box::new(e)))
}

fn decode(digest: &TokenDigest, bytes: &[u8]) -> Option<SessionState> {
    let state = SessionState::decode(bytes);
    if state.is_none() {
        tracing::warn!(target: "tessera::auth", session = ?digest, "undecodable session record ignored");
    }
    state
}

impl RedisStore {
    fn index_key(&self, state: &SessionState) -> Option<String> {
        state
            .subject
            .as_deref()
            .map(|subject| self.key(SUBJECT_SESSIONS, subject))
    }

    /// Runs the create or save script: the same arguments, `NX` or `XX`.
    async fn write_session(
        &self,
        script: &redis::Script,
        digest: &TokenDigest,
        state: &SessionState,
    ) -> Result<bool, StoreError> {
        let bytes = encode(state)?;
        let ttl = self.ttl_ms(state.expires_at());
        self.run(async {
            let mut call = script.key(self.digest_key(SESSION, digest));
            if let Some(index) = self.index_key(state) {
                call.key(index);
            }
            let written: i64 = call
                .arg(self.prefix())
                .arg(bytes)
                .arg(ttl)
                .arg(digest.to_hex())
                .invoke_async(&mut self.con())
                .await
                .map_err(fail)?;
            Ok(written == 1)
        })
        .await
    }

    /// Deletes `key` if it still holds `value`; returns how many went.
    async fn delete_unchanged(&self, entries: &[(String, Vec<u8>)]) -> Result<u64, StoreError> {
        if entries.is_empty() {
            return Ok(0);
        }
        let mut call = scripts::DELETE_UNCHANGED.prepare_invoke();
        call.arg(self.prefix());
        for (key, value) in entries {
            call.key(key).arg(value);
        }
        call.invoke_async(&mut self.con()).await.map_err(fail)
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn create(&self, digest: &TokenDigest, state: &SessionState) -> Result<bool, StoreError> {
        self.write_session(&scripts::SESSION_CREATE, digest, state)
            .await
    }

    async fn load(
        &self,
        digest: &TokenDigest,
        now: SystemTime,
    ) -> Result<Option<SessionState>, StoreError> {
        let key = self.digest_key(SESSION, digest);
        self.run(async {
            let bytes: Option<Vec<u8>> = redis::cmd("GET")
                .arg(&key)
                .query_async(&mut self.con())
                .await
                .map_err(fail)?;
            let Some(bytes) = bytes else {
                return Ok(None);
            };
            match decode(digest, &bytes) {
                Some(state) if !state.is_expired(now) => Ok(Some(state)),
                _ => {
                    // Gone for good, unless a concurrent save rewrote it.
                    self.delete_unchanged(&[(key.clone(), bytes)]).await?;
                    Ok(None)
                }
            }
        })
        .await
    }

    async fn save(&self, digest: &TokenDigest, state: &SessionState) -> Result<bool, StoreError> {
        self.write_session(&scripts::SESSION_SAVE, digest, state)
            .await
    }

    async fn rotate(
        &self,
        old: &TokenDigest,
        new: &TokenDigest,
        state: &SessionState,
    ) -> Result<Moved, StoreError> {
        let bytes = encode(state)?;
        let ttl = self.ttl_ms(state.expires_at());
        let outcome: String = self
            .run(async {
                let mut call = scripts::SESSION_ROTATE.key(self.digest_key(SESSION, old));
                call.key(self.digest_key(SESSION, new));
                if let Some(index) = self.index_key(state) {
                    call.key(index);
                }
                call.arg(self.prefix())
                    .arg(bytes)
                    .arg(ttl)
                    .arg(new.to_hex())
                    .arg(old.to_hex())
                    .invoke_async(&mut self.con())
                    .await
                    .map_err(fail)
            })
            .await?;
        match outcome.as_str() {
            "done" => Ok(Moved::Done),
            "gone" => Ok(Moved::Gone),
            "taken" => Ok(Moved::Taken),
            _ => Err(StoreError::Corrupted(
                "unexpected reply from the session rotation script".into(),
            )),
        }
    }

    async fn delete(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        // The subject index is pruned of the digest when next read.
        self.run(async {
            let deleted: i64 = redis::cmd("DEL")
                .arg(self.digest_key(SESSION, digest))
                .query_async(&mut self.con())
                .await
                .map_err(fail)?;
            Ok(deleted == 1)
        })
        .await
    }

    async fn list_subject(
        &self,
        subject: &UserId,
        now: SystemTime,
    ) -> Result<Vec<(TokenDigest, SessionState)>, StoreError> {
        let entries: Vec<Vec<u8>> = self
            .run(async {
                scripts::SESSION_LIST
                    .key(self.key(SUBJECT_SESSIONS, subject.as_str()))
                    .arg(self.prefix())
                    .invoke_async(&mut self.con())
                    .await
                    .map_err(fail)
            })
            .await?;
        Ok(entries
            .chunks_exact(2)
            .filter_map(|entry| {
                let digest = TokenDigest::from_hex(std::str::from_utf8(&entry[0]).ok()?)?;
                let state = decode(&digest, &entry[1])?;
                (state.subject.as_deref() == Some(subject.as_str()) && !state.is_expired(now))
                    .then_some((digest, state))
            })
            .collect())
    }

    async fn delete_subject(
        &self,
        subject: &UserId,
        keep: Option<&TokenDigest>,
    ) -> Result<u64, StoreError> {
        self.run(async {
            scripts::SESSION_DELETE_SUBJECT
                .key(self.key(SUBJECT_SESSIONS, subject.as_str()))
                .arg(self.prefix())
                .arg(subject.as_str())
                .arg(keep.map(TokenDigest::to_hex).unwrap_or_default())
                .invoke_async(&mut self.con())
                .await
                .map_err(fail)
        })
        .await
    }

    async fn purge_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
        self.scan_pages(SESSION, "string", |keys| async move {
            if keys.is_empty() {
                return Ok(0);
            }
            let values: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
                .arg(&keys)
                .query_async(&mut self.con())
                .await
                .map_err(fail)?;
            let dead: Vec<(String, Vec<u8>)> = keys
                .into_iter()
                .zip(values)
                .filter_map(|(key, value)| {
                    let value = value?;
                    SessionState::decode(&value)
                        .is_none_or(|state| state.is_expired(now))
                        .then_some((key, value))
                })
                .collect();
            self.delete_unchanged(&dead).await
        })
        .await
    }
}

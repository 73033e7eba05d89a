//! [`TokenStore`] over Redis hashes.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tessera_core::error::StoreError;
use tessera_core::token::{
    Family, FamilyId, RevokeScope, Rotation, Successor, TokenDigest, TokenId, TokenKind,
    TokenRecord, TokenStore,
};
use tessera_core::users::UserId;

use crate::scripts;
use crate::store::{RedisStore, fail};
use crate::time;

/// Tries of a rotation whose token record changed between the read and the
/// script (only a concurrent `insert` over the same digest does that).
const ROTATE_ATTEMPTS: usize = 3;

const TOKEN: &str = "tok:";
const FAMILY: &str = "fam:";
const SUBJECT_FAMILIES: &str = "sub:fam:";
const SUBJECT_KEYS: &str = "sub:keys:";

/// A token record as stored in the hash's `rec` field (JSON).
#[derive(Serialize, Deserialize)]
struct StoredToken {
    id: String,
    digest: String,
    kind: String,
    subject: String,
    family: Option<String>,
    name: Option<String>,
    scopes: Vec<String>,
    created_at: String,
    expires_at: Option<String>,
}

impl StoredToken {
    fn encode(record: &TokenRecord) -> Result<String, StoreError> {
        let stored = Self {
            id: record.id.as_str().to_owned(),
            digest: record.digest.to_hex(),
            kind: record.kind.as_str().to_owned(),
            subject: record.subject.as_str().to_owned(),
            family: record.family.as_ref().map(|f| f.as_str().to_owned()),
            name: record.name.clone(),
            scopes: record.scopes.iter().cloned().collect(),
            created_at: time::encode(record.created_at),
            expires_at: record.expires_at.map(time::encode),
        };
        serde_json::to_string(&stored).map_err(|e| StoreError::Corrupted(Box::new(e)))
    }

    fn decode(rec: &[u8], last_used: &[u8]) -> Option<TokenRecord> {
        let stored: Self = serde_json::from_slice(rec).ok()?;
        let mut record = TokenRecord::new(
            TokenId::new(stored.id),
            TokenDigest::from_hex(&stored.digest)?,
            TokenKind::from_name(&stored.kind)?,
            UserId::new(stored.subject),
            stored.scopes.into_iter().collect(),
            time::decode(stored.created_at.as_bytes())?,
        );
        record.family = stored.family.map(FamilyId::new);
        record.name = stored.name;
        record.expires_at = match stored.expires_at {
            Some(at) => Some(time::decode(at.as_bytes())?),
            None => None,
        };
        record.last_used_at = match last_used {
            b"" => None,
            at => Some(time::decode(at)?),
        };
        Some(record)
    }
}

/// A family as stored in the hash's `rec` field (JSON).
#[derive(Serialize, Deserialize)]
struct StoredFamily {
    id: String,
    subject: String,
    created_at: String,
    expires_at: String,
}

impl StoredFamily {
    fn encode(family: &Family) -> Result<String, StoreError> {
        let stored = Self {
            id: family.id.as_str().to_owned(),
            subject: family.subject.as_str().to_owned(),
            created_at: time::encode(family.created_at),
            expires_at: time::encode(family.expires_at),
        };
        serde_json::to_string(&stored).map_err(|e| StoreError::Corrupted(Box::new(e)))
    }

    fn decode(rec: &[u8]) -> Option<Family> {
        let stored: Self = serde_json::from_slice(rec).ok()?;
        Some(Family::new(
            FamilyId::new(stored.id),
            UserId::new(stored.subject),
            time::decode(stored.created_at.as_bytes())?,
            time::decode(stored.expires_at.as_bytes())?,
        ))
    }
}

/// What an insert script's reply means: a record is never overwritten.
fn stored(reply: i64) -> Result<(), StoreError> {
    if reply == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict(
            "token digest already stored; nothing changed",
        ))
    }
}

fn undecodable(what: &'static str, digest: &TokenDigest) {
    tracing::warn!(target: "tessera::auth", token = ?digest, "undecodable {what} record ignored");
}

/// A token as [`scripts::TOKEN_READ`] returns it.
struct Read {
    rec: Vec<u8>,
    record: TokenRecord,
    revoked: bool,
    used: bool,
    family: Option<(Family, bool)>,
}

impl RedisStore {
    /// The token under `digest` and its family, `None` if there is none or
    /// it does not decode.
    async fn read_token(&self, digest: &TokenDigest) -> Result<Option<Read>, StoreError> {
        let fields: Vec<Vec<u8>> = scripts::TOKEN_READ
            .key(self.digest_key(TOKEN, digest))
            .arg(self.prefix())
            .invoke_async(&mut self.con())
            .await
            .map_err(fail)?;
        let [rec, revoked, used_at, last_used, family_rec, family_revoked] =
            <[Vec<u8>; 6]>::try_from(fields).unwrap_or_default();
        if rec.is_empty() {
            return Ok(None);
        }
        let Some(record) = StoredToken::decode(&rec, &last_used) else {
            undecodable("token", digest);
            return Ok(None);
        };
        let family = match &record.family {
            None => None,
            Some(_) if family_rec.is_empty() => None,
            Some(_) => match StoredFamily::decode(&family_rec) {
                Some(family) => Some((family, !family_revoked.is_empty())),
                None => {
                    undecodable("family", digest);
                    None
                }
            },
        };
        Ok(Some(Read {
            rec,
            record,
            revoked: !revoked.is_empty(),
            used: !used_at.is_empty(),
            family,
        }))
    }

    async fn rotate_once(
        &self,
        presented: &TokenDigest,
        successor: &Successor,
        now: SystemTime,
        grace: Duration,
    ) -> Result<Option<Rotation>, StoreError> {
        // The reference order of checks; what passes here is checked again,
        // atomically, by the script.
        let Some(read) = self.read_token(presented).await? else {
            return Ok(Some(Rotation::Invalid));
        };
        let previous = read.record;
        let Some(family_id) = previous.family.clone() else {
            return Ok(Some(Rotation::Invalid));
        };
        if previous.kind != TokenKind::Refresh || read.revoked || previous.is_expired(now) {
            return Ok(Some(Rotation::Invalid));
        }
        let family = match read.family {
            Some((family, _)) if now >= family.expires_at => return Ok(Some(Rotation::Invalid)),
            Some((family, true)) => return Ok(Some(Rotation::Revoked { family })),
            Some((family, false)) => family,
            None => return Ok(Some(Rotation::Invalid)),
        };
        let record = successor.record(&previous, &family, now);
        let threshold = now.checked_sub(grace).map(time::encode).unwrap_or_default();
        let reply: Vec<Vec<u8>> = scripts::ROTATE
            .key(self.digest_key(TOKEN, presented))
            .key(self.key(FAMILY, family_id.as_str()))
            .key(self.digest_key(TOKEN, &record.digest))
            .arg(self.prefix())
            .arg(&read.rec)
            .arg(time::encode(now))
            .arg(threshold)
            .arg(record.digest.to_hex())
            .arg(StoredToken::encode(&record)?)
            .arg(record.id.as_str())
            .arg(record.expires_at.map(time::encode).unwrap_or_default())
            .arg(self.ttl_arg(record.expires_at))
            .arg(record.subject.as_str())
            .arg(family_id.as_str())
            .invoke_async(&mut self.con())
            .await
            .map_err(fail)?;
        let mut reply = reply.into_iter();
        let outcome = reply.next().unwrap_or_default();
        Ok(Some(match outcome.as_slice() {
            b"retry" => return Ok(None),
            b"invalid" => Rotation::Invalid,
            b"revoked" => Rotation::Revoked { family },
            b"taken" => {
                return Err(StoreError::Conflict(
                    "the successor's digest is already stored; nothing changed",
                ));
            }
            b"rotated" => {
                let mut previous = previous;
                let last_used = reply.next().unwrap_or_default();
                previous.last_used_at = time::decode(&last_used);
                Rotation::Rotated {
                    previous,
                    successor: record,
                }
            }
            b"grace" => {
                let rec = reply.next().unwrap_or_default();
                let last_used = reply.next().unwrap_or_default();
                match StoredToken::decode(&rec, &last_used) {
                    Some(successor) => Rotation::Grace {
                        previous,
                        successor,
                    },
                    None => {
                        undecodable("successor token", presented);
                        Rotation::Invalid
                    }
                }
            }
            b"reused" => Rotation::Reused { family },
            _ => {
                return Err(StoreError::Corrupted(
                    "unexpected reply from the rotation script".into(),
                ));
            }
        }))
    }
}

#[async_trait]
impl TokenStore for RedisStore {
    async fn insert(&self, record: TokenRecord) -> Result<(), StoreError> {
        let rec = StoredToken::encode(&record)?;
        let inserted: i64 = self
            .run(async {
                let mut call = scripts::TOKEN_INSERT.key(self.digest_key(TOKEN, &record.digest));
                if record.kind == TokenKind::ApiKey {
                    call.key(self.key(SUBJECT_KEYS, record.subject.as_str()));
                }
                call.arg(self.prefix())
                    .arg(rec)
                    .arg(record.kind.as_str())
                    .arg(record.subject.as_str())
                    .arg(record.id.as_str())
                    .arg(record.family.as_ref().map_or("", FamilyId::as_str))
                    .arg(record.expires_at.map(time::encode).unwrap_or_default())
                    .arg(self.ttl_arg(record.expires_at))
                    .arg(record.digest.to_hex())
                    .invoke_async(&mut self.con())
                    .await
                    .map_err(fail)
            })
            .await?;
        stored(inserted)
    }

    async fn start_family(&self, family: Family, first: TokenRecord) -> Result<(), StoreError> {
        let family_rec = StoredFamily::encode(&family)?;
        let rec = StoredToken::encode(&first)?;
        // The first token goes with its family at the latest.
        let token_end = first
            .expires_at
            .map_or(family.expires_at, |at| at.min(family.expires_at));
        let started: i64 = self
            .run(async {
                scripts::FAMILY_START
                    .key(self.key(FAMILY, family.id.as_str()))
                    .key(self.key(SUBJECT_FAMILIES, family.subject.as_str()))
                    .key(self.digest_key(TOKEN, &first.digest))
                    .arg(self.prefix())
                    .arg(family_rec)
                    .arg(family.subject.as_str())
                    .arg(family.id.as_str())
                    .arg(time::encode(family.expires_at))
                    .arg(self.ttl_ms(family.expires_at).to_string())
                    .arg(rec)
                    .arg(first.kind.as_str())
                    .arg(first.id.as_str())
                    .arg(first.family.as_ref().map_or("", FamilyId::as_str))
                    .arg(first.expires_at.map(time::encode).unwrap_or_default())
                    .arg(self.ttl_ms(token_end).to_string())
                    .invoke_async(&mut self.con())
                    .await
                    .map_err(fail)
            })
            .await?;
        stored(started)
    }

    async fn find(
        &self,
        digest: &TokenDigest,
        now: SystemTime,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let Some(read) = self.run(self.read_token(digest)).await? else {
            return Ok(None);
        };
        let record = read.record;
        if read.revoked || read.used || record.is_expired(now) {
            return Ok(None);
        }
        let live = match (&record.family, &read.family) {
            (Some(_), Some((family, revoked))) => !revoked && now < family.expires_at,
            (Some(_), None) => false,
            (None, _) => record.kind != TokenKind::Refresh,
        };
        Ok(live.then_some(record))
    }

    async fn rotate(
        &self,
        presented: &TokenDigest,
        successor: Successor,
        now: SystemTime,
        grace: Duration,
    ) -> Result<Rotation, StoreError> {
        self.run(async {
            for _ in 0..ROTATE_ATTEMPTS {
                if let Some(rotation) = self.rotate_once(presented, &successor, now, grace).await? {
                    return Ok(rotation);
                }
            }
            Err(StoreError::unavailable(
                "the token record kept changing during rotation",
            ))
        })
        .await
    }

    async fn revoke(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        self.run(async {
            let revoked: i64 = scripts::TOKEN_REVOKE
                .key(self.digest_key(TOKEN, digest))
                .arg(self.prefix())
                .invoke_async(&mut self.con())
                .await
                .map_err(fail)?;
            Ok(revoked == 1)
        })
        .await
    }

    async fn revoke_api_key(&self, subject: &UserId, id: &TokenId) -> Result<bool, StoreError> {
        self.run(async {
            let revoked: i64 = scripts::API_KEY_REVOKE
                .key(self.key(SUBJECT_KEYS, subject.as_str()))
                .arg(self.prefix())
                .arg(id.as_str())
                .arg(subject.as_str())
                .invoke_async(&mut self.con())
                .await
                .map_err(fail)?;
            Ok(revoked == 1)
        })
        .await
    }

    async fn revoke_family(&self, family: &FamilyId) -> Result<Option<Family>, StoreError> {
        let rec: Option<Vec<u8>> = self
            .run(async {
                scripts::FAMILY_REVOKE
                    .key(self.key(FAMILY, family.as_str()))
                    .arg(self.prefix())
                    .invoke_async(&mut self.con())
                    .await
                    .map_err(fail)
            })
            .await?;
        Ok(rec.and_then(|rec| {
            let decoded = StoredFamily::decode(&rec);
            if decoded.is_none() {
                tracing::warn!(target: "tessera::auth", family = family.as_str(), "undecodable family record revoked");
            }
            decoded
        }))
    }

    async fn revoke_subject(
        &self,
        subject: &UserId,
        scope: RevokeScope,
    ) -> Result<Vec<Family>, StoreError> {
        let everything = matches!(scope, RevokeScope::Everything);
        let recs: Vec<Vec<u8>> = self
            .run(async {
                scripts::SUBJECT_REVOKE
                    .key(self.key(SUBJECT_FAMILIES, subject.as_str()))
                    .key(self.key(SUBJECT_KEYS, subject.as_str()))
                    .arg(self.prefix())
                    .arg(subject.as_str())
                    .arg(if everything { "1" } else { "0" })
                    .invoke_async(&mut self.con())
                    .await
                    .map_err(fail)
            })
            .await?;
        Ok(recs
            .iter()
            .filter_map(|rec| {
                let decoded = StoredFamily::decode(rec);
                if decoded.is_none() {
                    tracing::warn!(target: "tessera::auth", subject = subject.as_str(), "undecodable family record revoked");
                }
                decoded
            })
            .collect())
    }

    async fn list_api_keys(
        &self,
        subject: &UserId,
        now: SystemTime,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        let fields: Vec<Vec<u8>> = self
            .run(async {
                scripts::API_KEY_LIST
                    .key(self.key(SUBJECT_KEYS, subject.as_str()))
                    .arg(self.prefix())
                    .invoke_async(&mut self.con())
                    .await
                    .map_err(fail)
            })
            .await?;
        let mut keys: Vec<TokenRecord> = fields
            .chunks_exact(3)
            .filter_map(|entry| {
                let record = StoredToken::decode(&entry[0], &entry[2]);
                if record.is_none() {
                    tracing::warn!(target: "tessera::auth", subject = subject.as_str(), "undecodable API key record ignored");
                }
                let revoked = !entry[1].is_empty();
                record.filter(|r| {
                    r.kind == TokenKind::ApiKey
                        && r.subject == *subject
                        && !revoked
                        && !r.is_expired(now)
                })
            })
            .collect();
        keys.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(keys)
    }

    async fn record_use(&self, digest: &TokenDigest, at: SystemTime) -> Result<(), StoreError> {
        self.run(async {
            scripts::TOKEN_USE
                .key(self.digest_key(TOKEN, digest))
                .arg(time::encode(at))
                .invoke_async::<i64>(&mut self.con())
                .await
                .map_err(fail)?;
            Ok(())
        })
        .await
    }

    async fn purge_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
        let now = time::encode(now);
        let purge = |script: &'static redis::Script| {
            let now = now.clone();
            move |keys: Vec<String>| {
                let now = now.clone();
                async move {
                    let mut call = script.prepare_invoke();
                    for key in &keys {
                        call.key(key);
                    }
                    let n: u64 = call
                        .arg(self.prefix())
                        .arg(now)
                        .invoke_async(&mut self.con())
                        .await
                        .map_err(fail)?;
                    Ok(n)
                }
            }
        };
        // Families first: tokens of a family that went go with it.
        let families = self
            .scan_pages(FAMILY, "hash", purge(&scripts::PURGE_FAMILIES))
            .await?;
        let tokens = self
            .scan_pages(TOKEN, "hash", purge(&scripts::PURGE_TOKENS))
            .await?;
        Ok(families.saturating_add(tokens))
    }
}

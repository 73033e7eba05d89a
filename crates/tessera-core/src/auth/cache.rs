//! A bounded cache of verified access tokens.
//!
//! Verifying a JWT's signature costs tens of microseconds (EdDSA, ES256);
//! a client sends the same token on every request for its life. The cache
//! keeps the claims of tokens that passed every check, keyed by a SHA-256
//! of the token, until they expire. Revocation is not cached: it is checked
//! on every request, so the cache never weakens logout.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::jwt::AccessClaims;

pub(super) struct VerifiedCache {
    capacity: usize,
    entries: Mutex<HashMap<[u8; 32], AccessClaims>>,
}

impl VerifiedCache {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn get(&self, token: &str, now: SystemTime) -> Option<AccessClaims> {
        if self.capacity == 0 {
            return None;
        }
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match entries.get(&key) {
            Some(claims) if now < claims.exp => Some(claims.clone()),
            Some(_) => {
                entries.remove(&key);
                None
            }
            None => None,
        }
    }

    pub(super) fn put(&self, token: &str, claims: &AccessClaims) {
        if self.capacity == 0 {
            return;
        }
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity {
            // Bounded: drop everything rather than track recency. A full
            // cache is refilled by the next verifications; memory never
            // grows past the capacity.
            entries.clear();
        }
        entries.insert(key, claims.clone());
    }
}

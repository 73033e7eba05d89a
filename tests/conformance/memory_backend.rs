//! The in-memory backend, and a fault-injecting wrapper for it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tessera::async_trait;
use tessera::clock::ManualClock;
use tessera::error::StoreError;
use tessera::jwt::{RevocationCheck, Revocations};
use tessera::memory::{
    MemoryOneTimeStore, MemoryRevocations, MemorySessionStore, MemoryThrottleStore,
    MemoryTokenStore, MemoryUserStore,
};
use tessera::onetime::OneTimeStore;
use tessera::session::{Moved, SessionState, SessionStore};
use tessera::throttle::{AccountLimits, Attempt, Hit, RateLimit, ThrottleStore};
use tessera::timeout::Timeout;
use tessera::token::{
    Family, FamilyId, RevokeScope, Rotation, Successor, TokenDigest, TokenId, TokenRecord,
    TokenStore,
};

use crate::harness::{Backend, Stores};

pub struct Memory {
    clock: ManualClock,
    tokens: Arc<MemoryTokenStore>,
    sessions: Arc<MemorySessionStore>,
    revocations: Arc<MemoryRevocations>,
    onetime: Arc<MemoryOneTimeStore>,
    users: Arc<MemoryUserStore>,
    throttle: Arc<MemoryThrottleStore>,
}

impl Memory {
    pub async fn new() -> Option<Self> {
        let clock = ManualClock::default();
        Some(Self {
            tokens: Arc::new(MemoryTokenStore::new()),
            sessions: Arc::new(MemorySessionStore::new()),
            revocations: Arc::new(MemoryRevocations::with_clock(Arc::new(clock.clone()))),
            onetime: Arc::new(MemoryOneTimeStore::new()),
            users: Arc::new(MemoryUserStore::new()),
            throttle: Arc::new(MemoryThrottleStore::new()),
            clock,
        })
    }
}

#[async_trait]
impl Backend for Memory {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn clock(&self) -> &ManualClock {
        &self.clock
    }

    async fn stores(&self) -> Stores {
        // One process: "another instance" shares the same objects.
        Stores {
            tokens: self.tokens.clone(),
            sessions: self.sessions.clone(),
            revocations: self.revocations.clone(),
            onetime: self.onetime.clone(),
            throttle: self.throttle.clone(),
            users: Some(self.users.clone()),
        }
    }

    async fn dump(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .tokens
            .digests()
            .iter()
            .map(TokenDigest::to_hex)
            .collect();
        for (digest, bytes) in self.sessions.raw_records() {
            out.push(digest.to_hex());
            out.push(String::from_utf8_lossy(&bytes).into_owned());
        }
        out.push(format!("{:?}", self.tokens));
        out.extend(self.throttle.keys());
        out
    }

    async fn corrupt_session(&self, digest: &TokenDigest) {
        self.sessions.insert_raw(*digest, b"\xff{garbage".to_vec());
    }

    async fn faulty(&self, stall: bool) -> Stores {
        let deadline = Duration::from_millis(200);
        let faulty = Arc::new(Timeout::new(Faulty { stall }, deadline));
        Stores {
            tokens: faulty.clone(),
            sessions: faulty.clone(),
            revocations: faulty.clone(),
            onetime: faulty.clone(),
            throttle: faulty,
            users: None,
        }
    }

    async fn finish(&self) {}
}

/// A store that never answers, or always fails.
pub struct Faulty {
    stall: bool,
}

impl Faulty {
    async fn fault<T>(&self) -> Result<T, StoreError> {
        if self.stall {
            std::future::pending::<()>().await;
        }
        Err(StoreError::unavailable("injected failure"))
    }
}

#[async_trait]
impl TokenStore for Faulty {
    async fn insert(&self, _: TokenRecord) -> Result<(), StoreError> {
        self.fault().await
    }
    async fn start_family(&self, _: Family, _: TokenRecord) -> Result<(), StoreError> {
        self.fault().await
    }
    async fn find(
        &self,
        _: &TokenDigest,
        _: SystemTime,
    ) -> Result<Option<TokenRecord>, StoreError> {
        self.fault().await
    }
    async fn rotate(
        &self,
        _: &TokenDigest,
        _: Successor,
        _: SystemTime,
        _: Duration,
    ) -> Result<Rotation, StoreError> {
        self.fault().await
    }
    async fn revoke(&self, _: &TokenDigest) -> Result<bool, StoreError> {
        self.fault().await
    }
    async fn revoke_api_key(
        &self,
        _: &tessera::users::UserId,
        _: &TokenId,
    ) -> Result<bool, StoreError> {
        self.fault().await
    }
    async fn revoke_family(&self, _: &FamilyId) -> Result<Option<Family>, StoreError> {
        self.fault().await
    }
    async fn revoke_subject(
        &self,
        _: &tessera::users::UserId,
        _: RevokeScope,
    ) -> Result<Vec<Family>, StoreError> {
        self.fault().await
    }
    async fn list_api_keys(
        &self,
        _: &tessera::users::UserId,
        _: SystemTime,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        self.fault().await
    }
    async fn record_use(&self, _: &TokenDigest, _: SystemTime) -> Result<(), StoreError> {
        self.fault().await
    }
    async fn purge_expired(&self, _: SystemTime) -> Result<u64, StoreError> {
        self.fault().await
    }
}

#[async_trait]
impl SessionStore for Faulty {
    async fn create(&self, _: &TokenDigest, _: &SessionState) -> Result<bool, StoreError> {
        self.fault().await
    }
    async fn load(
        &self,
        _: &TokenDigest,
        _: SystemTime,
    ) -> Result<Option<SessionState>, StoreError> {
        self.fault().await
    }
    async fn save(&self, _: &TokenDigest, _: &SessionState) -> Result<bool, StoreError> {
        self.fault().await
    }
    async fn rotate(
        &self,
        _: &TokenDigest,
        _: &TokenDigest,
        _: &SessionState,
    ) -> Result<Moved, StoreError> {
        self.fault().await
    }
    async fn delete(&self, _: &TokenDigest) -> Result<bool, StoreError> {
        self.fault().await
    }
    async fn list_subject(
        &self,
        _: &tessera::users::UserId,
        _: SystemTime,
    ) -> Result<Vec<(TokenDigest, SessionState)>, StoreError> {
        self.fault().await
    }
    async fn delete_subject(
        &self,
        _: &tessera::users::UserId,
        _: Option<&TokenDigest>,
    ) -> Result<u64, StoreError> {
        self.fault().await
    }
    async fn purge_expired(&self, _: SystemTime) -> Result<u64, StoreError> {
        self.fault().await
    }
}

#[async_trait]
impl Revocations for Faulty {
    async fn revoke_token(&self, _: &str, _: SystemTime) -> Result<(), StoreError> {
        self.fault().await
    }
    async fn revoke_family(&self, _: &FamilyId, _: SystemTime) -> Result<(), StoreError> {
        self.fault().await
    }
    async fn revoke_subject_before(
        &self,
        _: &tessera::users::UserId,
        _: SystemTime,
        _: SystemTime,
    ) -> Result<(), StoreError> {
        self.fault().await
    }
    async fn is_revoked(&self, _: RevocationCheck<'_>, _: SystemTime) -> Result<bool, StoreError> {
        self.fault().await
    }
}

#[async_trait]
impl ThrottleStore for Faulty {
    async fn begin_attempt(
        &self,
        _: &str,
        _: &AccountLimits,
        _: SystemTime,
    ) -> Result<Attempt, StoreError> {
        self.fault().await
    }
    async fn clear(&self, _: &str) -> Result<(), StoreError> {
        self.fault().await
    }
    async fn failures(&self, _: &str, _: &AccountLimits, _: SystemTime) -> Result<u32, StoreError> {
        self.fault().await
    }
    async fn hit(&self, _: &str, _: &RateLimit, _: SystemTime) -> Result<Hit, StoreError> {
        self.fault().await
    }
    async fn forgive(&self, _: &str, _: &RateLimit, _: SystemTime) -> Result<(), StoreError> {
        self.fault().await
    }
}

#[async_trait]
impl OneTimeStore for Faulty {
    async fn consume(&self, _: &TokenDigest, _: SystemTime) -> Result<bool, StoreError> {
        self.fault().await
    }
    async fn purge_expired(&self, _: SystemTime) -> Result<u64, StoreError> {
        self.fault().await
    }
}

//! A deadline for every store call.
//!
//! A store that hangs (a stalled network, a locked table) must not hang the
//! request: [`Timeout`] wraps any store and turns a call that takes longer
//! than its deadline into [`StoreError::Unavailable`], which the adapters
//! answer with 503 and `Retry-After`. The SQL and Redis stores apply their
//! own deadline (default 2 s); wrap stores of your own with this one.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use tessera_core::memory::MemoryTokenStore;
//! use tessera_core::timeout::Timeout;
//! use tessera_core::token::TokenStore;
//!
//! let store: Arc<dyn TokenStore> = Arc::new(Timeout::new(MemoryTokenStore::new(), Duration::from_secs(2)));
//! # let _ = store;
//! ```

use std::collections::BTreeSet;
use std::future::Future;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::error::{CreateUserError, StoreError};
use crate::jwt::{RevocationCheck, Revocations};
use crate::onetime::OneTimeStore;
use crate::session::{Moved, SessionState, SessionStore};
use crate::throttle::{AccountLimits, Attempt, Hit, RateLimit, ThrottleStore};
use crate::token::{
    Family, FamilyId, RevokeScope, Rotation, Successor, TokenDigest, TokenId, TokenRecord,
    TokenStore,
};
use crate::users::{Login, NewUser, PasswordUpdate, User, UserId, UserStore};

/// The default deadline of a store call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// A store whose every call fails with [`StoreError::Unavailable`] after a
/// deadline.
#[derive(Debug, Clone)]
pub struct Timeout<S> {
    inner: S,
    deadline: Duration,
}

impl<S> Timeout<S> {
    /// Wraps `inner` with `deadline` per call.
    pub fn new(inner: S, deadline: Duration) -> Self {
        Self { inner, deadline }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    async fn run<T, E: From<StoreError>>(
        &self,
        call: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        match tokio::time::timeout(self.deadline, call).await {
            Ok(result) => result,
            Err(elapsed) => {
                tracing::warn!(target: "tessera::auth", deadline = ?self.deadline, "store call timed out");
                Err(StoreError::unavailable(elapsed).into())
            }
        }
    }
}

#[async_trait]
impl<S: TokenStore> TokenStore for Timeout<S> {
    async fn insert(&self, record: TokenRecord) -> Result<(), StoreError> {
        self.run(self.inner.insert(record)).await
    }

    async fn start_family(&self, family: Family, first: TokenRecord) -> Result<(), StoreError> {
        self.run(self.inner.start_family(family, first)).await
    }

    async fn find(
        &self,
        digest: &TokenDigest,
        now: SystemTime,
    ) -> Result<Option<TokenRecord>, StoreError> {
        self.run(self.inner.find(digest, now)).await
    }

    async fn rotate(
        &self,
        presented: &TokenDigest,
        successor: Successor,
        now: SystemTime,
        grace: Duration,
    ) -> Result<Rotation, StoreError> {
        self.run(self.inner.rotate(presented, successor, now, grace))
            .await
    }

    async fn revoke(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        self.run(self.inner.revoke(digest)).await
    }

    async fn revoke_api_key(&self, subject: &UserId, id: &TokenId) -> Result<bool, StoreError> {
        self.run(self.inner.revoke_api_key(subject, id)).await
    }

    async fn revoke_family(&self, family: &FamilyId) -> Result<Option<Family>, StoreError> {
        self.run(self.inner.revoke_family(family)).await
    }

    async fn revoke_subject(
        &self,
        subject: &UserId,
        scope: RevokeScope,
    ) -> Result<Vec<Family>, StoreError> {
        self.run(self.inner.revoke_subject(subject, scope)).await
    }

    async fn list_api_keys(
        &self,
        subject: &UserId,
        now: SystemTime,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        self.run(self.inner.list_api_keys(subject, now)).await
    }

    async fn record_use(&self, digest: &TokenDigest, at: SystemTime) -> Result<(), StoreError> {
        self.run(self.inner.record_use(digest, at)).await
    }

    async fn purge_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
        self.run(self.inner.purge_expired(now)).await
    }
}

#[async_trait]
impl<S: SessionStore> SessionStore for Timeout<S> {
    async fn create(&self, digest: &TokenDigest, state: &SessionState) -> Result<bool, StoreError> {
        self.run(self.inner.create(digest, state)).await
    }

    async fn load(
        &self,
        digest: &TokenDigest,
        now: SystemTime,
    ) -> Result<Option<SessionState>, StoreError> {
        self.run(self.inner.load(digest, now)).await
    }

    async fn save(&self, digest: &TokenDigest, state: &SessionState) -> Result<bool, StoreError> {
        self.run(self.inner.save(digest, state)).await
    }

    async fn rotate(
        &self,
        old: &TokenDigest,
        new: &TokenDigest,
        state: &SessionState,
    ) -> Result<Moved, StoreError> {
        self.run(self.inner.rotate(old, new, state)).await
    }

    async fn delete(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        self.run(self.inner.delete(digest)).await
    }

    async fn list_subject(
        &self,
        subject: &UserId,
        now: SystemTime,
    ) -> Result<Vec<(TokenDigest, SessionState)>, StoreError> {
        self.run(self.inner.list_subject(subject, now)).await
    }

    async fn delete_subject(
        &self,
        subject: &UserId,
        keep: Option<&TokenDigest>,
    ) -> Result<u64, StoreError> {
        self.run(self.inner.delete_subject(subject, keep)).await
    }

    async fn purge_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
        self.run(SessionStore::purge_expired(&self.inner, now))
            .await
    }
}

#[async_trait]
impl<S: Revocations> Revocations for Timeout<S> {
    async fn revoke_token(&self, jti: &str, until: SystemTime) -> Result<(), StoreError> {
        self.run(self.inner.revoke_token(jti, until)).await
    }

    async fn revoke_family(&self, family: &FamilyId, until: SystemTime) -> Result<(), StoreError> {
        self.run(self.inner.revoke_family(family, until)).await
    }

    async fn revoke_subject_before(
        &self,
        subject: &UserId,
        before: SystemTime,
        until: SystemTime,
    ) -> Result<(), StoreError> {
        self.run(self.inner.revoke_subject_before(subject, before, until))
            .await
    }

    async fn is_revoked(
        &self,
        token: RevocationCheck<'_>,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        self.run(self.inner.is_revoked(token, now)).await
    }
}

#[async_trait]
impl<S: OneTimeStore> OneTimeStore for Timeout<S> {
    async fn consume(&self, id: &TokenDigest, until: SystemTime) -> Result<bool, StoreError> {
        self.run(self.inner.consume(id, until)).await
    }

    async fn purge_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
        self.run(OneTimeStore::purge_expired(&self.inner, now))
            .await
    }
}

#[async_trait]
impl<S: ThrottleStore> ThrottleStore for Timeout<S> {
    async fn begin_attempt(
        &self,
        key: &str,
        limits: &AccountLimits,
        now: SystemTime,
    ) -> Result<Attempt, StoreError> {
        self.run(self.inner.begin_attempt(key, limits, now)).await
    }

    async fn clear(&self, key: &str) -> Result<(), StoreError> {
        self.run(self.inner.clear(key)).await
    }

    async fn failures(
        &self,
        key: &str,
        limits: &AccountLimits,
        now: SystemTime,
    ) -> Result<u32, StoreError> {
        self.run(self.inner.failures(key, limits, now)).await
    }

    async fn hit(&self, key: &str, limit: &RateLimit, now: SystemTime) -> Result<Hit, StoreError> {
        self.run(self.inner.hit(key, limit, now)).await
    }

    async fn forgive(
        &self,
        key: &str,
        limit: &RateLimit,
        window_start: SystemTime,
    ) -> Result<(), StoreError> {
        self.run(self.inner.forgive(key, limit, window_start)).await
    }
}

#[async_trait]
impl<S: UserStore> UserStore for Timeout<S> {
    async fn find_by_login(&self, login: &Login) -> Result<Option<User>, StoreError> {
        self.run(self.inner.find_by_login(login)).await
    }

    async fn find_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        self.run(self.inner.find_by_id(id)).await
    }

    async fn create(&self, user: NewUser, at: SystemTime) -> Result<User, CreateUserError> {
        self.run(self.inner.create(user, at)).await
    }

    async fn update_password_hash(
        &self,
        id: &UserId,
        password_hash: &str,
        update: PasswordUpdate,
    ) -> Result<Option<User>, StoreError> {
        self.run(self.inner.update_password_hash(id, password_hash, update))
            .await
    }

    async fn set_roles(
        &self,
        id: &UserId,
        roles: &BTreeSet<String>,
    ) -> Result<Option<User>, StoreError> {
        self.run(self.inner.set_roles(id, roles)).await
    }

    async fn set_active(&self, id: &UserId, active: bool) -> Result<Option<User>, StoreError> {
        self.run(self.inner.set_active(id, active)).await
    }

    async fn record_login(&self, id: &UserId, at: SystemTime) -> Result<Option<User>, StoreError> {
        self.run(self.inner.record_login(id, at)).await
    }

    async fn list_users(
        &self,
        after: Option<&UserId>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        self.run(self.inner.list_users(after, limit)).await
    }
}

//! Store wrappers that fail or stall on demand, count their calls, and can
//! hold one session save at a gate (for the logout race, C9).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tessera_core::async_trait;
use tessera_core::error::{CreateUserError, StoreError};
use tessera_core::jwt::{RevocationCheck, Revocations};
use tessera_core::memory::{
    MemoryOneTimeStore, MemoryRevocations, MemorySessionStore, MemoryTokenStore, MemoryUserStore,
};
use tessera_core::session::{Moved, SessionState, SessionStore};
use tessera_core::timeout::Timeout;
use tessera_core::token::{
    Family, FamilyId, RevokeScope, Rotation, Successor, TokenDigest, TokenId, TokenRecord,
    TokenStore,
};
use tessera_core::users::{Login, NewUser, PasswordUpdate, User, UserId, UserStore};
use tessera_example_axum::Stores;
use tokio::sync::Notify;

/// The deadline every faulty store is wrapped in (as the SQL and Redis
/// stores have their own).
pub const DEADLINE: Duration = Duration::from_secs(2);

/// What a store does on its next calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Passes calls through.
    Ok = 0,
    /// Fails every call with `StoreError::Unavailable`.
    Fail = 1,
    /// Fails writes only (reads pass).
    FailWrites = 2,
    /// Never answers.
    Stall = 3,
}

/// A save held until the test releases it.
#[derive(Debug, Default)]
pub struct Gate {
    /// Notified when the held call arrives.
    pub entered: Notify,
    /// Notify to let it through.
    pub release: Notify,
}

/// The control of one store.
#[derive(Debug, Default)]
pub struct Switch {
    mode: AtomicU8,
    calls: AtomicUsize,
    save_gate: Mutex<Option<Arc<Gate>>>,
}

impl Switch {
    pub fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Holds the next session save at the returned gate.
    pub fn gate_next_save(&self) -> Arc<Gate> {
        let gate = Arc::new(Gate::default());
        *self.save_gate.lock().unwrap() = Some(gate.clone());
        gate
    }

    async fn enter(&self, write: bool) -> Result<(), StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match self.mode.load(Ordering::SeqCst) {
            1 => Err(StoreError::unavailable("injected fault")),
            2 if write => Err(StoreError::unavailable("injected write fault")),
            3 => std::future::pending().await,
            _ => Ok(()),
        }
    }

    async fn gate_save(&self) {
        let gate = self.save_gate.lock().unwrap().take();
        if let Some(gate) = gate {
            gate.entered.notify_one();
            gate.release.notified().await;
        }
    }
}

/// A store whose calls go through a [`Switch`] first.
pub struct Faulty<S> {
    inner: S,
    switch: Arc<Switch>,
}

impl<S> Faulty<S> {
    pub fn new(inner: S, switch: Arc<Switch>) -> Self {
        Self { inner, switch }
    }
}

/// The switches of one app's stores.
#[derive(Debug, Clone, Default)]
pub struct Switches {
    pub users: Arc<Switch>,
    pub tokens: Arc<Switch>,
    pub sessions: Arc<Switch>,
    pub revocations: Arc<Switch>,
}

impl Switches {
    pub fn set_all(&self, mode: Mode) {
        for switch in [&self.users, &self.tokens, &self.sessions, &self.revocations] {
            switch.set(mode);
        }
    }

    pub fn calls(&self) -> usize {
        [&self.users, &self.tokens, &self.sessions, &self.revocations]
            .iter()
            .map(|switch| switch.calls())
            .sum()
    }

    /// In-memory stores behind switches and a [`DEADLINE`].
    pub fn stores(&self) -> Stores {
        Stores::new(
            Arc::new(Timeout::new(
                Faulty::new(MemoryUserStore::new(), self.users.clone()),
                DEADLINE,
            )),
            Arc::new(Timeout::new(
                Faulty::new(MemoryTokenStore::new(), self.tokens.clone()),
                DEADLINE,
            )),
            Arc::new(Timeout::new(
                Faulty::new(MemorySessionStore::new(), self.sessions.clone()),
                DEADLINE,
            )),
            Arc::new(Timeout::new(
                Faulty::new(MemoryRevocations::new(), self.revocations.clone()),
                DEADLINE,
            )),
            Arc::new(MemoryOneTimeStore::new()),
        )
    }
}

#[async_trait]
impl<S: UserStore> UserStore for Faulty<S> {
    async fn find_by_login(&self, login: &Login) -> Result<Option<User>, StoreError> {
        self.switch.enter(false).await?;
        self.inner.find_by_login(login).await
    }

    async fn find_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        self.switch.enter(false).await?;
        self.inner.find_by_id(id).await
    }

    async fn create(&self, user: NewUser, at: SystemTime) -> Result<User, CreateUserError> {
        self.switch.enter(true).await?;
        self.inner.create(user, at).await
    }

    async fn update_password_hash(
        &self,
        id: &UserId,
        password_hash: &str,
        update: PasswordUpdate,
    ) -> Result<Option<User>, StoreError> {
        self.switch.enter(true).await?;
        self.inner
            .update_password_hash(id, password_hash, update)
            .await
    }

    async fn set_roles(
        &self,
        id: &UserId,
        roles: &BTreeSet<String>,
    ) -> Result<Option<User>, StoreError> {
        self.switch.enter(true).await?;
        self.inner.set_roles(id, roles).await
    }

    async fn set_active(&self, id: &UserId, active: bool) -> Result<Option<User>, StoreError> {
        self.switch.enter(true).await?;
        self.inner.set_active(id, active).await
    }

    async fn record_login(&self, id: &UserId, at: SystemTime) -> Result<Option<User>, StoreError> {
        self.switch.enter(true).await?;
        self.inner.record_login(id, at).await
    }

    async fn list_users(
        &self,
        after: Option<&UserId>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        self.switch.enter(false).await?;
        self.inner.list_users(after, limit).await
    }
}

#[async_trait]
impl<S: TokenStore> TokenStore for Faulty<S> {
    async fn insert(&self, record: TokenRecord) -> Result<(), StoreError> {
        self.switch.enter(true).await?;
        self.inner.insert(record).await
    }

    async fn start_family(&self, family: Family, first: TokenRecord) -> Result<(), StoreError> {
        self.switch.enter(true).await?;
        self.inner.start_family(family, first).await
    }

    async fn find(
        &self,
        digest: &TokenDigest,
        now: SystemTime,
    ) -> Result<Option<TokenRecord>, StoreError> {
        self.switch.enter(false).await?;
        self.inner.find(digest, now).await
    }

    async fn rotate(
        &self,
        presented: &TokenDigest,
        successor: Successor,
        now: SystemTime,
        grace: Duration,
    ) -> Result<Rotation, StoreError> {
        self.switch.enter(true).await?;
        self.inner.rotate(presented, successor, now, grace).await
    }

    async fn revoke(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        self.switch.enter(true).await?;
        self.inner.revoke(digest).await
    }

    async fn revoke_api_key(&self, subject: &UserId, id: &TokenId) -> Result<bool, StoreError> {
        self.switch.enter(true).await?;
        self.inner.revoke_api_key(subject, id).await
    }

    async fn revoke_family(&self, family: &FamilyId) -> Result<Option<Family>, StoreError> {
        self.switch.enter(true).await?;
        self.inner.revoke_family(family).await
    }

    async fn revoke_subject(
        &self,
        subject: &UserId,
        scope: RevokeScope,
    ) -> Result<Vec<Family>, StoreError> {
        self.switch.enter(true).await?;
        self.inner.revoke_subject(subject, scope).await
    }

    async fn list_api_keys(
        &self,
        subject: &UserId,
        now: SystemTime,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        self.switch.enter(false).await?;
        self.inner.list_api_keys(subject, now).await
    }

    async fn record_use(&self, digest: &TokenDigest, at: SystemTime) -> Result<(), StoreError> {
        self.switch.enter(true).await?;
        self.inner.record_use(digest, at).await
    }

    async fn purge_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
        self.switch.enter(true).await?;
        TokenStore::purge_expired(&self.inner, now).await
    }
}

#[async_trait]
impl<S: SessionStore> SessionStore for Faulty<S> {
    async fn create(&self, digest: &TokenDigest, state: &SessionState) -> Result<bool, StoreError> {
        self.switch.enter(true).await?;
        self.inner.create(digest, state).await
    }

    async fn load(
        &self,
        digest: &TokenDigest,
        now: SystemTime,
    ) -> Result<Option<SessionState>, StoreError> {
        self.switch.enter(false).await?;
        self.inner.load(digest, now).await
    }

    async fn save(&self, digest: &TokenDigest, state: &SessionState) -> Result<bool, StoreError> {
        self.switch.enter(true).await?;
        self.switch.gate_save().await;
        self.inner.save(digest, state).await
    }

    async fn rotate(
        &self,
        old: &TokenDigest,
        new: &TokenDigest,
        state: &SessionState,
    ) -> Result<Moved, StoreError> {
        self.switch.enter(true).await?;
        self.inner.rotate(old, new, state).await
    }

    async fn delete(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        self.switch.enter(true).await?;
        self.inner.delete(digest).await
    }

    async fn list_subject(
        &self,
        subject: &UserId,
        now: SystemTime,
    ) -> Result<Vec<(TokenDigest, SessionState)>, StoreError> {
        self.switch.enter(false).await?;
        self.inner.list_subject(subject, now).await
    }

    async fn delete_subject(
        &self,
        subject: &UserId,
        keep: Option<&TokenDigest>,
    ) -> Result<u64, StoreError> {
        self.switch.enter(true).await?;
        self.inner.delete_subject(subject, keep).await
    }

    async fn purge_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
        self.switch.enter(true).await?;
        SessionStore::purge_expired(&self.inner, now).await
    }
}

#[async_trait]
impl<S: Revocations> Revocations for Faulty<S> {
    async fn revoke_token(&self, jti: &str, until: SystemTime) -> Result<(), StoreError> {
        self.switch.enter(true).await?;
        self.inner.revoke_token(jti, until).await
    }

    async fn revoke_family(&self, family: &FamilyId, until: SystemTime) -> Result<(), StoreError> {
        self.switch.enter(true).await?;
        self.inner.revoke_family(family, until).await
    }

    async fn revoke_subject_before(
        &self,
        subject: &UserId,
        before: SystemTime,
        until: SystemTime,
    ) -> Result<(), StoreError> {
        self.switch.enter(true).await?;
        self.inner
            .revoke_subject_before(subject, before, until)
            .await
    }

    async fn is_revoked(
        &self,
        token: RevocationCheck<'_>,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        self.switch.enter(false).await?;
        self.inner.is_revoked(token, now).await
    }
}

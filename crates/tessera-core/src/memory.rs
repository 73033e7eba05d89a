//! In-memory implementations of the store traits.
//!
//! For tests, examples and single-process deployments that can afford to lose
//! everything on restart. Each is the reference behaviour its trait's other
//! implementations are tested against.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::clock::{Clock, SystemClock};
use crate::error::{CreateUserError, StoreError};
use crate::jwt::{RevocationCheck, Revocations};
use crate::onetime::OneTimeStore;
use crate::session::{Moved, SessionState, SessionStore};
use crate::throttle::{AccountLimits, Attempt, Hit, RateLimit, ThrottleStore};
use crate::token::{
    Family, FamilyId, RevokeScope, Rotation, Successor, TokenDigest, TokenId, TokenKind,
    TokenRecord, TokenStore,
};
use crate::users::{Login, NewUser, PasswordUpdate, User, UserId, UserStore};

/// Locks a mutex whose data stays consistent even if a holder panicked:
/// nothing in these stores panics while holding a lock.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A [`UserStore`] in memory.
///
/// ```
/// use std::time::SystemTime;
/// use tessera_core::error::CreateUserError;
/// use tessera_core::memory::MemoryUserStore;
/// use tessera_core::users::{Login, NewUser, UserStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let store = MemoryUserStore::new();
/// let now = SystemTime::now();
/// let alice = store
///     .create(NewUser::new(Login::parse("alice@example.com").unwrap(), "$argon2id$…".into()), now)
///     .await
///     .unwrap();
/// let again = store
///     .create(NewUser::new(Login::parse(" Alice@Example.com ").unwrap(), "$argon2id$…".into()), now)
///     .await;
/// assert!(matches!(again, Err(CreateUserError::LoginTaken)));
/// assert_eq!(store.find_by_id(&alice.id).await.unwrap(), Some(alice));
/// # }
/// ```
#[derive(Default)]
pub struct MemoryUserStore {
    state: Mutex<UserState>,
}

#[derive(Default)]
struct UserState {
    by_id: HashMap<UserId, User>,
    by_login: HashMap<Login, UserId>,
}

impl MemoryUserStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of accounts.
    pub fn len(&self) -> usize {
        self.lock().by_id.len()
    }

    /// Whether there are no accounts.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, UserState> {
        lock(&self.state)
    }

    fn update(&self, id: &UserId, change: impl FnOnce(&mut User) -> bool) -> Option<User> {
        let mut state = self.lock();
        let user = state.by_id.get_mut(id)?;
        change(user).then(|| user.clone())
    }
}

impl fmt::Debug for MemoryUserStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryUserStore")
            .field("users", &self.len())
            .finish()
    }
}

#[async_trait]
impl UserStore for MemoryUserStore {
    async fn find_by_login(&self, login: &Login) -> Result<Option<User>, StoreError> {
        let state = self.lock();
        Ok(state
            .by_login
            .get(login)
            .and_then(|id| state.by_id.get(id))
            .cloned())
    }

    async fn find_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        Ok(self.lock().by_id.get(id).cloned())
    }

    async fn create(&self, new: NewUser, at: SystemTime) -> Result<User, CreateUserError> {
        let id = UserId::new(random_id()?);
        let mut user = User::new(id.clone(), new.login, new.password_hash, at);
        user.roles = new.roles;
        user.active = new.active;
        let mut state = self.lock();
        if state.by_login.contains_key(&user.login) {
            return Err(CreateUserError::LoginTaken);
        }
        state.by_login.insert(user.login.clone(), id.clone());
        state.by_id.insert(id, user.clone());
        Ok(user)
    }

    async fn update_password_hash(
        &self,
        id: &UserId,
        password_hash: &str,
        update: PasswordUpdate,
    ) -> Result<Option<User>, StoreError> {
        Ok(self.update(id, |user| {
            match &update {
                PasswordUpdate::Changed { at } => user.password_changed_at = *at,
                PasswordUpdate::Rehash { previous } => {
                    if user.password_hash != *previous {
                        return false;
                    }
                }
            }
            user.password_hash = password_hash.to_owned();
            true
        }))
    }

    async fn set_roles(
        &self,
        id: &UserId,
        roles: &BTreeSet<String>,
    ) -> Result<Option<User>, StoreError> {
        Ok(self.update(id, |user| {
            user.roles.clone_from(roles);
            true
        }))
    }

    async fn set_active(&self, id: &UserId, active: bool) -> Result<Option<User>, StoreError> {
        Ok(self.update(id, |user| {
            user.active = active;
            true
        }))
    }

    async fn record_login(&self, id: &UserId, at: SystemTime) -> Result<Option<User>, StoreError> {
        Ok(self.update(id, |user| {
            user.last_login_at = Some(at);
            true
        }))
    }

    async fn list_users(
        &self,
        after: Option<&UserId>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        let state = self.lock();
        let mut users: Vec<&User> = state
            .by_id
            .values()
            .filter(|u| after.is_none_or(|after| u.id > *after))
            .collect();
        users.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(users.into_iter().take(limit).cloned().collect())
    }
}

/// A [`TokenStore`] in memory.
///
/// Keeps only digests, like every store. Rotation happens under one lock, so
/// it is atomic.
#[derive(Default)]
pub struct MemoryTokenStore {
    state: Mutex<TokenState>,
}

#[derive(Default)]
struct TokenState {
    tokens: HashMap<TokenDigest, StoredToken>,
    families: HashMap<FamilyId, FamilyState>,
}

struct StoredToken {
    record: TokenRecord,
    revoked: bool,
    used: Option<Used>,
}

struct Used {
    at: SystemTime,
    successor: TokenDigest,
}

struct FamilyState {
    family: Family,
    revoked: bool,
}

impl TokenState {
    fn family_live(&self, id: &FamilyId, now: SystemTime) -> Option<&Family> {
        self.families
            .get(id)
            .filter(|f| !f.revoked && now < f.family.expires_at)
            .map(|f| &f.family)
    }

    fn live(&self, digest: &TokenDigest, now: SystemTime) -> Option<&StoredToken> {
        let token = self.tokens.get(digest)?;
        if token.revoked || token.used.is_some() || token.record.is_expired(now) {
            return None;
        }
        match &token.record.family {
            Some(family) => self.family_live(family, now).map(|_| token),
            None if token.record.kind == TokenKind::Refresh => None,
            None => Some(token),
        }
    }

    fn revoke_family(&mut self, id: &FamilyId) -> Option<Family> {
        let state = self.families.get_mut(id)?;
        state.revoked = true;
        Some(state.family.clone())
    }
}

impl MemoryTokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every stored digest, for tests that show no raw token is kept.
    pub fn digests(&self) -> Vec<TokenDigest> {
        lock(&self.state).tokens.keys().copied().collect()
    }
}

impl fmt::Debug for MemoryTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("MemoryTokenStore")
            .field("tokens", &state.tokens.len())
            .field("families", &state.families.len())
            .finish()
    }
}

#[async_trait]
impl TokenStore for MemoryTokenStore {
    async fn insert(&self, record: TokenRecord) -> Result<(), StoreError> {
        let mut state = lock(&self.state);
        if state.tokens.contains_key(&record.digest) {
            return Err(StoreError::Conflict("token digest already stored"));
        }
        state.tokens.insert(
            record.digest,
            StoredToken {
                record,
                revoked: false,
                used: None,
            },
        );
        Ok(())
    }

    async fn start_family(&self, family: Family, first: TokenRecord) -> Result<(), StoreError> {
        let mut state = lock(&self.state);
        if state.tokens.contains_key(&first.digest) {
            return Err(StoreError::Conflict("token digest already stored"));
        }
        if state.families.contains_key(&family.id) {
            return Err(StoreError::Conflict("family id already stored"));
        }
        state.families.insert(
            family.id.clone(),
            FamilyState {
                family,
                revoked: false,
            },
        );
        state.tokens.insert(
            first.digest,
            StoredToken {
                record: first,
                revoked: false,
                used: None,
            },
        );
        Ok(())
    }

    async fn find(
        &self,
        digest: &TokenDigest,
        now: SystemTime,
    ) -> Result<Option<TokenRecord>, StoreError> {
        Ok(lock(&self.state)
            .live(digest, now)
            .map(|t| t.record.clone()))
    }

    async fn rotate(
        &self,
        presented: &TokenDigest,
        successor: Successor,
        now: SystemTime,
        grace: Duration,
    ) -> Result<Rotation, StoreError> {
        let mut state = lock(&self.state);
        let Some(token) = state.tokens.get(presented) else {
            return Ok(Rotation::Invalid);
        };
        let Some(family_id) = token.record.family.clone() else {
            return Ok(Rotation::Invalid);
        };
        if token.record.kind != TokenKind::Refresh || token.revoked || token.record.is_expired(now)
        {
            return Ok(Rotation::Invalid);
        }
        let Some(family_state) = state.families.get(&family_id) else {
            return Ok(Rotation::Invalid);
        };
        if now >= family_state.family.expires_at {
            return Ok(Rotation::Invalid);
        }
        if family_state.revoked {
            return Ok(Rotation::Revoked {
                family: family_state.family.clone(),
            });
        }
        let family = family_state.family.clone();
        let previous = token.record.clone();
        match &token.used {
            None => {
                let record = successor.record(&previous, &family, now);
                if state.tokens.contains_key(&record.digest) {
                    // All or nothing: the presented token stays unused.
                    return Err(StoreError::Conflict("successor digest already stored"));
                }
                if let Some(token) = state.tokens.get_mut(presented) {
                    token.used = Some(Used {
                        at: now,
                        successor: record.digest,
                    });
                }
                state.tokens.insert(
                    record.digest,
                    StoredToken {
                        record: record.clone(),
                        revoked: false,
                        used: None,
                    },
                );
                Ok(Rotation::Rotated {
                    previous,
                    successor: record,
                })
            }
            Some(used) => {
                let within_grace = now.duration_since(used.at).is_ok_and(|age| age < grace);
                let successor = state.live(&used.successor, now).map(|t| t.record.clone());
                match successor {
                    Some(successor) if within_grace => Ok(Rotation::Grace {
                        previous,
                        successor,
                    }),
                    _ => {
                        let family = state.revoke_family(&family_id).unwrap_or(family);
                        Ok(Rotation::Reused { family })
                    }
                }
            }
        }
    }

    async fn revoke(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        let mut state = lock(&self.state);
        Ok(match state.tokens.get_mut(digest) {
            Some(token) if !token.revoked => {
                token.revoked = true;
                true
            }
            _ => false,
        })
    }

    async fn revoke_api_key(&self, subject: &UserId, id: &TokenId) -> Result<bool, StoreError> {
        let mut state = lock(&self.state);
        let key = state.tokens.values_mut().find(|t| {
            t.record.kind == TokenKind::ApiKey && t.record.id == *id && t.record.subject == *subject
        });
        Ok(match key {
            Some(key) if !key.revoked => {
                key.revoked = true;
                true
            }
            _ => false,
        })
    }

    async fn revoke_family(&self, family: &FamilyId) -> Result<Option<Family>, StoreError> {
        Ok(lock(&self.state).revoke_family(family))
    }

    async fn revoke_subject(
        &self,
        subject: &UserId,
        scope: RevokeScope,
    ) -> Result<Vec<Family>, StoreError> {
        let mut state = lock(&self.state);
        let mut revoked = Vec::new();
        for family in state.families.values_mut() {
            if family.family.subject == *subject {
                family.revoked = true;
                revoked.push(family.family.clone());
            }
        }
        if scope == RevokeScope::Everything {
            for token in state.tokens.values_mut() {
                if token.record.subject == *subject && token.record.kind == TokenKind::ApiKey {
                    token.revoked = true;
                }
            }
        }
        Ok(revoked)
    }

    async fn list_api_keys(
        &self,
        subject: &UserId,
        now: SystemTime,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        let state = lock(&self.state);
        let mut keys: Vec<TokenRecord> = state
            .tokens
            .values()
            .filter(|t| {
                t.record.kind == TokenKind::ApiKey
                    && t.record.subject == *subject
                    && !t.revoked
                    && !t.record.is_expired(now)
            })
            .map(|t| t.record.clone())
            .collect();
        keys.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(keys)
    }

    async fn record_use(&self, digest: &TokenDigest, at: SystemTime) -> Result<(), StoreError> {
        if let Some(token) = lock(&self.state).tokens.get_mut(digest) {
            token.record.last_used_at = Some(at);
        }
        Ok(())
    }

    async fn purge_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
        let mut state = lock(&self.state);
        let before = state.tokens.len() + state.families.len();
        state
            .families
            .retain(|_, f| !f.revoked && now < f.family.expires_at);
        let TokenState { tokens, families } = &mut *state;
        // Used refresh tokens stay while their family lives: they are what
        // reuse detection recognises.
        tokens.retain(|_, t| {
            !t.revoked
                && !t.record.is_expired(now)
                && t.record
                    .family
                    .as_ref()
                    .is_none_or(|f| families.contains_key(f))
        });
        let after = state.tokens.len() + state.families.len();
        Ok(u64::try_from(before - after).unwrap_or(u64::MAX))
    }
}

/// [`Revocations`] in memory. Entries are forgotten once their `until` has
/// passed on the store's clock (the system clock unless
/// [`with_clock`](Self::with_clock) is used).
pub struct MemoryRevocations {
    state: Mutex<RevocationState>,
    clock: Arc<dyn Clock>,
}

impl Default for MemoryRevocations {
    fn default() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }
}

#[derive(Default)]
struct RevocationState {
    tokens: HashMap<String, SystemTime>,
    families: HashMap<String, SystemTime>,
    subjects: HashMap<String, (SystemTime, SystemTime)>,
    writes: u64,
}

impl RevocationState {
    /// Drops expired entries every 256 writes, so memory follows the number
    /// of live revocations, not of all revocations ever made.
    fn wrote(&mut self, now: SystemTime) {
        self.writes += 1;
        if self.writes.is_multiple_of(256) {
            self.tokens.retain(|_, until| *until > now);
            self.families.retain(|_, until| *until > now);
            self.subjects.retain(|_, (_, until)| *until > now);
        }
    }
}

impl MemoryRevocations {
    /// No revocations, timed by the system clock.
    pub fn new() -> Self {
        Self::default()
    }

    /// No revocations, timed by `clock` (give it the clock the verifier
    /// uses, so entries are forgotten on the same time line).
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Mutex::default(),
            clock,
        }
    }
}

impl fmt::Debug for MemoryRevocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("MemoryRevocations")
            .field("tokens", &state.tokens.len())
            .field("families", &state.families.len())
            .field("subjects", &state.subjects.len())
            .finish()
    }
}

fn extend(entry: &mut SystemTime, until: SystemTime) {
    *entry = (*entry).max(until);
}

#[async_trait]
impl Revocations for MemoryRevocations {
    async fn revoke_token(&self, jti: &str, until: SystemTime) -> Result<(), StoreError> {
        let mut state = lock(&self.state);
        extend(state.tokens.entry(jti.to_owned()).or_insert(until), until);
        state.wrote(self.clock.now());
        Ok(())
    }

    async fn revoke_family(&self, family: &FamilyId, until: SystemTime) -> Result<(), StoreError> {
        let mut state = lock(&self.state);
        extend(
            state
                .families
                .entry(family.as_str().to_owned())
                .or_insert(until),
            until,
        );
        state.wrote(self.clock.now());
        Ok(())
    }

    async fn revoke_subject_before(
        &self,
        subject: &UserId,
        before: SystemTime,
        until: SystemTime,
    ) -> Result<(), StoreError> {
        let mut state = lock(&self.state);
        let entry = state
            .subjects
            .entry(subject.as_str().to_owned())
            .or_insert((before, until));
        entry.0 = entry.0.max(before);
        extend(&mut entry.1, until);
        state.wrote(self.clock.now());
        Ok(())
    }

    async fn is_revoked(
        &self,
        token: RevocationCheck<'_>,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        let state = lock(&self.state);
        let live = |until: &SystemTime| *until > now;
        Ok(state.tokens.get(token.jti).is_some_and(live)
            || token
                .family
                .is_some_and(|f| state.families.get(f).is_some_and(live))
            || state
                .subjects
                .get(token.subject)
                .is_some_and(|(before, until)| live(until) && token.issued_at < *before))
    }
}

/// A [`SessionStore`] in memory.
///
/// Records are kept encoded, as a database keeps them, so a record that no
/// longer decodes reads as no session here too.
#[derive(Default)]
pub struct MemorySessionStore {
    sessions: Mutex<HashMap<TokenDigest, Vec<u8>>>,
}

impl MemorySessionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores raw bytes under `digest`, bypassing encoding: for tests of
    /// corrupted records.
    pub fn insert_raw(&self, digest: TokenDigest, bytes: Vec<u8>) {
        lock(&self.sessions).insert(digest, bytes);
    }

    /// Every stored digest and record, for tests that show no raw session id
    /// is kept.
    pub fn raw_records(&self) -> Vec<(TokenDigest, Vec<u8>)> {
        lock(&self.sessions)
            .iter()
            .map(|(d, b)| (*d, b.clone()))
            .collect()
    }

    fn decode(digest: &TokenDigest, bytes: &[u8]) -> Option<SessionState> {
        let state = SessionState::decode(bytes);
        if state.is_none() {
            tracing::warn!(target: "tessera::auth", session = ?digest, "undecodable session record ignored");
        }
        state
    }
}

impl fmt::Debug for MemorySessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemorySessionStore")
            .field("sessions", &lock(&self.sessions).len())
            .finish()
    }
}

fn encode(state: &SessionState) -> Result<Vec<u8>, StoreError> {
    state
        .encode()
        .map_err(|e| StoreError::Corrupted(Box::new(e)))
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn create(&self, digest: &TokenDigest, state: &SessionState) -> Result<bool, StoreError> {
        let bytes = encode(state)?;
        let mut sessions = lock(&self.sessions);
        if sessions.contains_key(digest) {
            return Ok(false);
        }
        sessions.insert(*digest, bytes);
        Ok(true)
    }

    async fn load(
        &self,
        digest: &TokenDigest,
        now: SystemTime,
    ) -> Result<Option<SessionState>, StoreError> {
        let mut sessions = lock(&self.sessions);
        let Some(bytes) = sessions.get(digest) else {
            return Ok(None);
        };
        match Self::decode(digest, bytes) {
            Some(state) if !state.is_expired(now) => Ok(Some(state)),
            _ => {
                sessions.remove(digest);
                Ok(None)
            }
        }
    }

    async fn save(&self, digest: &TokenDigest, state: &SessionState) -> Result<bool, StoreError> {
        let bytes = encode(state)?;
        let mut sessions = lock(&self.sessions);
        match sessions.get_mut(digest) {
            Some(stored) => {
                *stored = bytes;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn rotate(
        &self,
        old: &TokenDigest,
        new: &TokenDigest,
        state: &SessionState,
    ) -> Result<Moved, StoreError> {
        let bytes = encode(state)?;
        let mut sessions = lock(&self.sessions);
        if !sessions.contains_key(old) {
            return Ok(Moved::Gone);
        }
        if sessions.contains_key(new) {
            return Ok(Moved::Taken);
        }
        sessions.remove(old);
        sessions.insert(*new, bytes);
        Ok(Moved::Done)
    }

    async fn delete(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        Ok(lock(&self.sessions).remove(digest).is_some())
    }

    async fn list_subject(
        &self,
        subject: &UserId,
        now: SystemTime,
    ) -> Result<Vec<(TokenDigest, SessionState)>, StoreError> {
        let sessions = lock(&self.sessions);
        Ok(sessions
            .iter()
            .filter_map(|(digest, bytes)| Some((*digest, SessionState::decode(bytes)?)))
            .filter(|(_, state)| {
                state.subject.as_deref() == Some(subject.as_str()) && !state.is_expired(now)
            })
            .collect())
    }

    async fn delete_subject(
        &self,
        subject: &UserId,
        keep: Option<&TokenDigest>,
    ) -> Result<u64, StoreError> {
        let mut sessions = lock(&self.sessions);
        let before = sessions.len();
        sessions.retain(|digest, bytes| {
            Some(digest) == keep
                || SessionState::decode(bytes)
                    .is_none_or(|state| state.subject.as_deref() != Some(subject.as_str()))
        });
        Ok(u64::try_from(before - sessions.len()).unwrap_or(u64::MAX))
    }

    async fn purge_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
        let mut sessions = lock(&self.sessions);
        let before = sessions.len();
        sessions.retain(|_, bytes| {
            SessionState::decode(bytes).is_some_and(|state| !state.is_expired(now))
        });
        Ok(u64::try_from(before - sessions.len()).unwrap_or(u64::MAX))
    }
}

/// A [`OneTimeStore`] in memory.
#[derive(Default)]
pub struct MemoryOneTimeStore {
    used: Mutex<HashMap<TokenDigest, SystemTime>>,
}

impl MemoryOneTimeStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl fmt::Debug for MemoryOneTimeStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryOneTimeStore")
            .field("used", &lock(&self.used).len())
            .finish()
    }
}

#[async_trait]
impl OneTimeStore for MemoryOneTimeStore {
    async fn consume(&self, id: &TokenDigest, until: SystemTime) -> Result<bool, StoreError> {
        let mut used = lock(&self.used);
        if used.contains_key(id) {
            return Ok(false);
        }
        used.insert(*id, until);
        Ok(true)
    }

    async fn purge_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
        let mut used = lock(&self.used);
        let before = used.len();
        used.retain(|_, until| *until > now);
        Ok(u64::try_from(before - used.len()).unwrap_or(u64::MAX))
    }
}

/// 128 random bits, hex-encoded: unguessable ids that say nothing about how
/// many accounts exist.
fn random_id() -> Result<String, StoreError> {
    let bytes = crate::random::os_bytes::<16>().map_err(StoreError::Unavailable)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::clock::{Clock, ManualClock};

    fn new_user(login: &str) -> NewUser {
        NewUser::new(
            Login::parse(login).unwrap(),
            "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        )
    }

    #[tokio::test]
    async fn create_and_find_by_login_and_id() {
        let store = MemoryUserStore::new();
        let clock = ManualClock::default();
        let user = store
            .create(
                new_user("alice@example.com").with_roles(["user", "admin"]),
                clock.now(),
            )
            .await
            .unwrap();
        assert_eq!(user.login.as_str(), "alice@example.com");
        assert_eq!(user.roles.iter().collect::<Vec<_>>(), ["admin", "user"]);
        assert!(user.active);
        assert_eq!(user.created_at, clock.now());
        assert_eq!(user.password_changed_at, clock.now());
        assert_eq!(user.last_login_at, None);
        assert_eq!(user.id.as_str().len(), 32);

        let by_login = store
            .find_by_login(&Login::parse("ALICE@example.com ").unwrap())
            .await
            .unwrap();
        assert_eq!(by_login.as_ref(), Some(&user));
        assert_eq!(store.find_by_id(&user.id).await.unwrap(), Some(user));
        assert_eq!(
            store
                .find_by_login(&Login::parse("bob@example.com").unwrap())
                .await
                .unwrap(),
            None
        );
        assert_eq!(store.find_by_id(&UserId::new("nope")).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_taken_login_is_a_distinct_error_after_normalisation() {
        let store = MemoryUserStore::new();
        let now = SystemTime::UNIX_EPOCH;
        store
            .create(new_user("alice@example.com"), now)
            .await
            .unwrap();
        let err = store
            .create(new_user("Alice@Example.com "), now)
            .await
            .unwrap_err();
        assert!(matches!(err, CreateUserError::LoginTaken), "{err:?}");
        assert_eq!(store.len(), 1);
    }

    #[tokio::test]
    async fn updates_change_only_what_they_name() {
        let store = MemoryUserStore::new();
        let clock = ManualClock::default();
        let created = clock.now();
        let user = store
            .create(new_user("a@example.com"), created)
            .await
            .unwrap();
        let unknown = UserId::new("unknown");

        clock.advance(Duration::from_secs(60));
        let changed = store
            .update_password_hash(
                &user.id,
                "$new$",
                PasswordUpdate::Changed { at: clock.now() },
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(changed.password_hash, "$new$");
        assert_eq!(changed.password_changed_at, clock.now());
        assert_eq!(changed.created_at, created);

        // A rehash applies only on top of the hash it verified against.
        let stale = store
            .update_password_hash(
                &user.id,
                "$rehash-of-old$",
                PasswordUpdate::Rehash {
                    previous: user.password_hash.clone(),
                },
            )
            .await
            .unwrap();
        assert_eq!(stale, None);
        let rehashed = store
            .update_password_hash(
                &user.id,
                "$rehash$",
                PasswordUpdate::Rehash {
                    previous: "$new$".into(),
                },
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rehashed.password_hash, "$rehash$");
        assert_eq!(rehashed.password_changed_at, changed.password_changed_at);

        let roles: BTreeSet<String> = ["editor".to_owned()].into();
        let with_roles = store.set_roles(&user.id, &roles).await.unwrap().unwrap();
        assert_eq!(with_roles.roles, roles);
        let inactive = store.set_active(&user.id, false).await.unwrap().unwrap();
        assert!(!inactive.active);
        clock.advance(Duration::from_secs(5));
        let logged_in = store
            .record_login(&user.id, clock.now())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(logged_in.last_login_at, Some(clock.now()));
        assert_eq!(store.find_by_id(&user.id).await.unwrap(), Some(logged_in));

        assert_eq!(store.set_roles(&unknown, &roles).await.unwrap(), None);
        assert_eq!(store.set_active(&unknown, true).await.unwrap(), None);
        assert_eq!(
            store.record_login(&unknown, clock.now()).await.unwrap(),
            None
        );
        assert_eq!(
            store
                .update_password_hash(&unknown, "x", PasswordUpdate::Changed { at: clock.now() })
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_creates_of_one_login_give_exactly_one_success() {
        let store = Arc::new(MemoryUserStore::new());
        let barrier = Arc::new(tokio::sync::Barrier::new(32));
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                let store = Arc::clone(&store);
                let barrier = Arc::clone(&barrier);
                // Different spellings of one login.
                let login = if i % 2 == 0 {
                    "carol@example.com"
                } else {
                    " CAROL@example.com"
                };
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.create(new_user(login), SystemTime::UNIX_EPOCH).await
                })
            })
            .collect();
        let mut ok = 0;
        let mut taken = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => ok += 1,
                Err(CreateUserError::LoginTaken) => taken += 1,
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!((ok, taken), (1, 31));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn debug_does_not_print_the_hash() {
        let user = User::new(
            UserId::new("1"),
            Login::parse("a@example.com").unwrap(),
            "$argon2id$secret-hash".into(),
            SystemTime::UNIX_EPOCH,
        );
        assert!(!format!("{user:?}").contains("secret-hash"));
        let new = new_user("a@example.com");
        assert!(!format!("{new:?}").contains("aGFzaA"));
    }
}

/// A [`ThrottleStore`] in memory, for one process. Its memory is bounded:
/// at most `capacity` keys (100 000 by default, about 20 MiB). Stale keys
/// (failures past their lock window, rate windows that ended) are swept as
/// new keys arrive; when the table is still full, the keys that impose
/// nothing at the moment (no wait, lock or limit in force) are evicted,
/// fewest failures first. A key is never evicted while it delays, locks or
/// limits: if the table holds nothing else, a new key is refused with
/// [`StoreError::Unavailable`] and the caller fails closed, so a flood of
/// random logins can neither grow the table nor wash out a lock. Keeping
/// the table full that way takes a wait or a lock in force on every key at
/// once.
///
/// Several instances need a shared store (SQL or Redis) instead.
pub struct MemoryThrottleStore {
    table: Mutex<ThrottleTable>,
    capacity: usize,
}

#[derive(Default)]
struct ThrottleTable {
    entries: HashMap<String, ThrottleEntry>,
    /// New keys since the last sweep.
    inserted: usize,
    /// When a full table last had nothing to evict: new keys are refused
    /// without another scan for a second, so a flood cannot make every
    /// request scan the table under the lock.
    full_since: Option<SystemTime>,
}

#[derive(Debug, Clone, Copy)]
struct ThrottleEntry {
    /// Failures of an account key, or events of the current window.
    count: u32,
    /// The last failure, or the window's start.
    at: SystemTime,
    /// When the entry no longer matters.
    expires: SystemTime,
    /// Until when it delays, locks or limits: never evicted before.
    protected_until: SystemTime,
}

/// The default number of keys a [`MemoryThrottleStore`] holds.
pub const THROTTLE_CAPACITY: usize = 100_000;

impl Default for MemoryThrottleStore {
    fn default() -> Self {
        Self::with_capacity(THROTTLE_CAPACITY)
    }
}

impl MemoryThrottleStore {
    /// An empty store holding at most [`THROTTLE_CAPACITY`] keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store holding at most `capacity` keys (at least 16).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            table: Mutex::new(ThrottleTable::default()),
            capacity: capacity.max(16),
        }
    }

    /// The keys held now.
    pub fn len(&self) -> usize {
        lock(&self.table).entries.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every key held, for tests that show no login or address is kept.
    pub fn keys(&self) -> Vec<String> {
        lock(&self.table).entries.keys().cloned().collect()
    }

    /// Removes every key that expired by `now`.
    pub fn sweep(&self, now: SystemTime) {
        let mut table = lock(&self.table);
        table.entries.retain(|_, entry| entry.expires > now);
        table.inserted = 0;
    }

    /// The entry of `key`, live at `now`, made room for when new.
    fn entry<'t>(
        &self,
        table: &'t mut ThrottleTable,
        key: &str,
        now: SystemTime,
    ) -> Result<&'t mut ThrottleEntry, StoreError> {
        if table.entries.get(key).is_some_and(|e| e.expires <= now) {
            table.entries.remove(key);
        }
        if !table.entries.contains_key(key) {
            table.inserted += 1;
            if table.inserted >= self.capacity / 2 || table.entries.len() >= self.capacity {
                table.entries.retain(|_, entry| entry.expires > now);
                table.inserted = 0;
            }
            let recently_full = table.full_since.is_some_and(|at| {
                now.duration_since(at).unwrap_or_default() < Duration::from_secs(1)
            });
            if table.entries.len() >= self.capacity && !recently_full {
                Self::evict(table, self.capacity - self.capacity / 4, now);
                table.full_since = (table.entries.len() >= self.capacity).then_some(now);
            }
            if table.entries.len() >= self.capacity {
                tracing::error!(
                    target: "tessera::auth",
                    capacity = self.capacity,
                    "throttle table full of active limits; refusing new keys"
                );
                return Err(StoreError::unavailable("throttle table full"));
            }
        }
        Ok(table
            .entries
            .entry(key.to_owned())
            .or_insert(ThrottleEntry {
                count: 0,
                at: now,
                expires: now,
                protected_until: now,
            }))
    }

    /// Evicts entries that impose nothing at `now` (no wait, lock or limit
    /// in force), fewest failures first, then soonest-expiring, down to
    /// `keep`.
    fn evict(table: &mut ThrottleTable, keep: usize, now: SystemTime) {
        let mut candidates: Vec<(u32, SystemTime, String)> = table
            .entries
            .iter()
            .filter(|(_, entry)| entry.protected_until <= now)
            .map(|(key, entry)| (entry.count, entry.expires, key.clone()))
            .collect();
        let excess = table
            .entries
            .len()
            .saturating_sub(keep)
            .min(candidates.len());
        if excess == 0 {
            return;
        }
        if excess < candidates.len() {
            candidates.select_nth_unstable(excess - 1);
        }
        for (_, _, key) in candidates.into_iter().take(excess) {
            table.entries.remove(&key);
        }
    }
}

impl fmt::Debug for MemoryThrottleStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryThrottleStore")
            .field("keys", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

#[async_trait]
impl ThrottleStore for MemoryThrottleStore {
    async fn begin_attempt(
        &self,
        key: &str,
        limits: &AccountLimits,
        now: SystemTime,
    ) -> Result<Attempt, StoreError> {
        let mut table = lock(&self.table);
        if let Some(entry) = table.entries.get(key).filter(|e| e.expires > now)
            && let Some(refusal) = limits.refusal(entry.count, entry.at, now)
        {
            return Ok(refusal);
        }
        // An expired entry comes back empty: failures past the lock window
        // are forgotten.
        let entry = self.entry(&mut table, key, now)?;
        entry.count = entry.count.saturating_add(1);
        entry.at = now;
        entry.expires = now + limits.lock_window;
        // Protected while it delays the next attempt, or for the whole lock.
        entry.protected_until = if entry.count >= limits.lock_after.clamp(1, 100) {
            entry.expires
        } else {
            now + limits.delay(entry.count)
        };
        Ok(Attempt::Allowed {
            failures: entry.count,
        })
    }

    async fn clear(&self, key: &str) -> Result<(), StoreError> {
        lock(&self.table).entries.remove(key);
        Ok(())
    }

    async fn failures(
        &self,
        key: &str,
        limits: &AccountLimits,
        now: SystemTime,
    ) -> Result<u32, StoreError> {
        let table = lock(&self.table);
        Ok(table
            .entries
            .get(key)
            .filter(|entry| {
                entry.expires > now
                    && now.duration_since(entry.at).unwrap_or(Duration::ZERO) < limits.lock_window
            })
            .map_or(0, |entry| entry.count))
    }

    async fn hit(&self, key: &str, limit: &RateLimit, now: SystemTime) -> Result<Hit, StoreError> {
        let mut table = lock(&self.table);
        let entry = self.entry(&mut table, key, now)?;
        if entry.count == 0 || entry.expires <= now {
            entry.count = 0;
            entry.at = now;
            entry.expires = now + limit.window;
        }
        entry.count = entry.count.saturating_add(1);
        entry.protected_until = if entry.count >= limit.limit {
            entry.expires
        } else {
            now
        };
        Ok(Hit::new(
            entry.count <= limit.limit,
            entry.count,
            entry.expires.duration_since(now).unwrap_or(Duration::ZERO),
            entry.at,
        ))
    }

    async fn forgive(
        &self,
        key: &str,
        limit: &RateLimit,
        window_start: SystemTime,
    ) -> Result<(), StoreError> {
        let mut table = lock(&self.table);
        if let Some(entry) = table.entries.get_mut(key).filter(|e| e.at == window_start) {
            entry.count = entry.count.saturating_sub(1);
            if entry.count < limit.limit {
                entry.protected_until = window_start;
            }
        }
        Ok(())
    }
}

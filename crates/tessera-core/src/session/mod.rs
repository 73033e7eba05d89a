//! Server-side sessions for browsers.
//!
//! The cookie holds only a random session id (256 bits from the OS CSPRNG);
//! the store keys sessions by a SHA-256 digest of it, never the id itself.
//! [`SessionManager`] gives the rules:
//!
//! - a new id on login, on re-authentication (step-up), and on the first
//!   request after an administrator changed the account's roles; the old id
//!   is dead at once ([`SessionStore::rotate`] is one atomic move);
//! - an idle timeout (30 minutes), extended by use but written at most once a
//!   minute, and an absolute timeout (12 hours) that nothing extends;
//!   remember-me (per login) makes both 30 days and the cookie persistent;
//! - freshness: 10 minutes after a password was entered;
//! - a save that races a logout never brings the session back;
//! - per-account listing and revocation (one, all, all but the current);
//! - typed data through serde, with a size limit checked when written.
//!
//! # Login, rotation, a CSRF-checked request, logout
//!
//! ```
//! use std::sync::Arc;
//! use tessera_core::clock::ManualClock;
//! use tessera_core::csrf::{Csrf, CsrfRequest};
//! use tessera_core::keys::{HmacKey, HmacKeys};
//! use tessera_core::memory::MemorySessionStore;
//! use tessera_core::session::{LoginOptions, SessionManager};
//! use tessera_core::users::UserId;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sessions = SessionManager::builder(Arc::new(MemorySessionStore::new()))
//!     .clock(Arc::new(ManualClock::default()))
//!     .build()?;
//! let csrf = Csrf::new(HmacKeys::single(HmacKey::generate("csrf-1")?), "https://app.example.com")?;
//!
//! // An anonymous visitor logs in: the session gets a new id.
//! let anonymous = sessions.start(None).await?;
//! let old_cookie = anonymous.id().expose_secret().to_owned();
//! let session = sessions
//!     .login(Some(anonymous), &UserId::new("alice"), LoginOptions::default())
//!     .await?;
//! assert!(sessions.load(&old_cookie).await?.is_none());
//! let set_cookie = sessions.cookie(&session).header_value();
//! assert!(set_cookie.starts_with("__Host-tessera_session="));
//!
//! // Step-up before a sensitive change: the password is entered again, the
//! // id rotates, and the CSRF token (bound to the id) with it.
//! let mut session = session;
//! let before = csrf.token(session.id());
//! sessions.reauthenticate(&mut session).await?;
//! assert_ne!(csrf.token(session.id()), before);
//!
//! // A later request: load by cookie, check CSRF for a POST.
//! let cookie = session.id().expose_secret().to_owned();
//! let token = csrf.token(session.id());
//! let mut loaded = sessions.load(&cookie).await?.expect("live session");
//! let request = CsrfRequest::new("POST")
//!     .session(loaded.id())
//!     .token(Some(&token))
//!     .origin(Some("https://app.example.com"));
//! assert!(csrf.check(&request).is_ok());
//! loaded.insert("theme", "dark")?;
//! sessions.save(&loaded).await?;
//!
//! // Logout: the record is gone and the cookie is cleared.
//! sessions.logout(loaded).await?;
//! assert!(sessions.load(&cookie).await?.is_none());
//! assert!(sessions.removal_cookie().header_value().contains("Max-Age=0"));
//! # Ok(())
//! # }
//! ```

mod cookie;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use base64ct::{Base64UrlUnpadded, Encoding};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

pub use self::cookie::{CookieSettings, HOST_NAME, PLAIN_NAME, SameSite, SessionCookie};
use crate::clock::{Clock, SystemClock};
use crate::error::{BoxError, ConfigError, StoreError};
use crate::token::TokenDigest;
use crate::users::UserId;

/// Length of a session id in bytes of randomness.
const ID_BYTES: usize = 32;
/// Length of a session id in base64url characters.
const ID_CHARS: usize = 43;
/// Longest user agent kept, in bytes.
const MAX_USER_AGENT: usize = 256;
/// Tries before giving up on a fresh, unused session id.
const CREATE_ATTEMPTS: usize = 3;

/// A session failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The session's data would exceed the configured limit; nothing was
    /// written.
    #[error("session data would be {actual} bytes, more than the {max} allowed")]
    TooLarge {
        /// The limit in bytes (serialised).
        max: usize,
        /// The size the data would have had.
        actual: usize,
    },
    /// A value could not be serialised or deserialised.
    #[error("session value: {0}")]
    Value(String),
    /// The session was deleted (logout, revocation, expiry) while this
    /// request held it: the write was dropped rather than resurrecting it.
    #[error("the session has ended")]
    Ended,
    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    Random(#[source] BoxError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A session id: the cookie's value.
///
/// 256 bits from the OS CSPRNG in unpadded base64url. `Debug` is redacted,
/// there is no `Display`, equality is constant-time and the string is
/// zeroized on drop.
#[derive(Clone)]
pub struct SessionId(Zeroizing<String>);

impl SessionId {
    /// A new id.
    ///
    /// # Errors
    /// [`SessionError::Random`] when the random number generator fails.
    pub fn generate() -> Result<Self, SessionError> {
        let bytes =
            Zeroizing::new(crate::random::os_bytes::<ID_BYTES>().map_err(SessionError::Random)?);
        let mut id = Zeroizing::new([0u8; ID_CHARS]);
        let encoded = Base64UrlUnpadded::encode(&bytes[..], &mut id[..])
            .map_err(|e| SessionError::Value(e.to_string()))?;
        Ok(Self(Zeroizing::new(encoded.to_owned())))
    }

    /// Reads a cookie value. Anything that is not a well-formed id (wrong
    /// length, other characters, non-canonical base64url) is `None`, without
    /// a store lookup.
    pub fn parse(value: &str) -> Option<Self> {
        if value.len() != ID_CHARS
            || !value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
        let mut bytes = Zeroizing::new([0u8; ID_BYTES]);
        Base64UrlUnpadded::decode(value, &mut bytes[..]).ok()?;
        Some(Self(Zeroizing::new(value.to_owned())))
    }

    /// The id itself, for the cookie.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// The digest the store keeps the session under.
    pub fn digest(&self) -> TokenDigest {
        TokenDigest::from_bytes(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl PartialEq for SessionId {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for SessionId {}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId([redacted])")
    }
}

/// What a store keeps for a session (under the id's digest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionState {
    /// The account, once logged in.
    pub subject: Option<String>,
    /// When this session (this login) began.
    pub created_at: SystemTime,
    /// When it was last used, to a resolution of the touch interval.
    pub last_seen_at: SystemTime,
    /// The idle deadline; moved forward by use.
    pub idle_expires_at: SystemTime,
    /// The absolute deadline; never moved.
    pub absolute_expires_at: SystemTime,
    /// When a password was last entered in this session.
    pub authenticated_at: Option<SystemTime>,
    /// Remember-me was chosen at login.
    pub remember: bool,
    /// The browser's user agent at login, truncated, for session lists.
    pub user_agent: Option<String>,
    /// What the account's privileges were at login (see
    /// [`SessionManager::check_privileges`]).
    pub privilege_stamp: Option<String>,
    /// Application data.
    pub data: BTreeMap<String, serde_json::Value>,
}

impl SessionState {
    /// When the session ends if not used again.
    pub fn expires_at(&self) -> SystemTime {
        self.idle_expires_at.min(self.absolute_expires_at)
    }

    /// Whether it has ended at `now`.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        now >= self.expires_at()
    }

    /// The encoding stores keep (JSON).
    ///
    /// # Errors
    /// [`SessionError::Value`] if the data cannot be serialised.
    pub fn encode(&self) -> Result<Vec<u8>, SessionError> {
        serde_json::to_vec(self).map_err(|e| SessionError::Value(e.to_string()))
    }

    /// Reads [`encode`](Self::encode) output. `None` for anything else: a
    /// corrupted record reads as no session.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

/// The result of [`SessionStore::rotate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Moved {
    /// The session now lives under the new digest only.
    Done,
    /// There was no session under the old digest; nothing was created.
    Gone,
    /// The new digest is taken; nothing changed.
    Taken,
}

/// Where sessions are kept, keyed by the digest of their id.
///
/// Writes never create a session implicitly: [`save`](Self::save) of a
/// session that was deleted meanwhile returns `Ok(false)`, so a request that
/// raced a logout cannot bring the session back.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Inserts a new session. `Ok(false)` when the digest is taken: nothing
    /// changed.
    async fn create(&self, digest: &TokenDigest, state: &SessionState) -> Result<bool, StoreError>;

    /// The live session. `Ok(None)` for unknown, expired and undecodable
    /// records alike.
    async fn load(
        &self,
        digest: &TokenDigest,
        now: SystemTime,
    ) -> Result<Option<SessionState>, StoreError>;

    /// Overwrites an existing session. `Ok(false)` when it no longer exists;
    /// it is never re-created.
    async fn save(&self, digest: &TokenDigest, state: &SessionState) -> Result<bool, StoreError>;

    /// Atomically moves a session to a new digest with a new state: the old
    /// digest is dead at once.
    async fn rotate(
        &self,
        old: &TokenDigest,
        new: &TokenDigest,
        state: &SessionState,
    ) -> Result<Moved, StoreError>;

    /// Deletes a session. `Ok(false)` if there was none.
    async fn delete(&self, digest: &TokenDigest) -> Result<bool, StoreError>;

    /// `subject`'s live sessions.
    async fn list_subject(
        &self,
        subject: &UserId,
        now: SystemTime,
    ) -> Result<Vec<(TokenDigest, SessionState)>, StoreError>;

    /// Deletes `subject`'s sessions, except `keep`. Returns how many went.
    async fn delete_subject(
        &self,
        subject: &UserId,
        keep: Option<&TokenDigest>,
    ) -> Result<u64, StoreError>;

    /// Deletes expired sessions, returning how many went. Schedule it;
    /// expiry is enforced on load whether or not it runs.
    async fn purge_expired(&self, now: SystemTime) -> Result<u64, StoreError>;
}

/// Timeouts and limits of sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionConfig {
    /// Idle timeout (default 30 minutes).
    pub idle_timeout: Duration,
    /// Absolute timeout (default 12 hours).
    pub absolute_timeout: Duration,
    /// Idle and absolute limit with remember-me (default 30 days).
    pub remember_for: Duration,
    /// How long after a password entry a session is fresh (default 10
    /// minutes).
    pub fresh_for: Duration,
    /// Use is written back at most this often (default 60 seconds); the idle
    /// timeout is exact to within it.
    pub touch_after: Duration,
    /// Largest serialised session data (default 16 KiB).
    pub max_data_bytes: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: Duration::from_secs(12 * 60 * 60),
            remember_for: Duration::from_secs(30 * 24 * 60 * 60),
            fresh_for: Duration::from_secs(10 * 60),
            touch_after: Duration::from_secs(60),
            max_data_bytes: 16 * 1024,
        }
    }
}

/// How a login creates its session.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LoginOptions {
    /// Remember-me: 30-day limits and a persistent cookie.
    pub remember: bool,
    /// The browser's user agent, for session lists.
    pub user_agent: Option<String>,
    /// The account's privileges now (for example a digest of its roles);
    /// see [`SessionManager::check_privileges`].
    pub privilege_stamp: Option<String>,
}

impl LoginOptions {
    /// Remember-me on or off.
    pub fn remember(mut self, remember: bool) -> Self {
        self.remember = remember;
        self
    }

    /// The user agent.
    pub fn user_agent(mut self, user_agent: Option<&str>) -> Self {
        self.user_agent = user_agent.map(str::to_owned);
        self
    }

    /// The privilege stamp.
    pub fn privilege_stamp(mut self, stamp: impl Into<String>) -> Self {
        self.privilege_stamp = Some(stamp.into());
        self
    }
}

/// A loaded session: its id and state.
#[derive(Clone)]
pub struct Session {
    id: SessionId,
    digest: TokenDigest,
    state: SessionState,
    max_data_bytes: usize,
}

impl Session {
    /// The id, for the cookie and the CSRF token.
    pub fn id(&self) -> &SessionId {
        &self.id
    }

    /// The public handle of this session in lists ([`SessionInfo::handle`]).
    pub fn handle(&self) -> String {
        self.digest.to_hex()
    }

    /// The state.
    pub fn state(&self) -> &SessionState {
        &self.state
    }

    /// The account, once logged in.
    pub fn subject(&self) -> Option<UserId> {
        self.state.subject.as_deref().map(UserId::new)
    }

    /// Reads a value.
    ///
    /// # Errors
    /// [`SessionError::Value`] when the stored value is not a `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        self.state
            .data
            .get(key)
            .map(|v| {
                serde_json::from_value(v.clone()).map_err(|e| SessionError::Value(e.to_string()))
            })
            .transpose()
    }

    /// Sets a value; written by [`SessionManager::save`].
    ///
    /// # Errors
    /// [`SessionError::TooLarge`] when the data would exceed the limit (the
    /// session is left as it was); [`SessionError::Value`] when `value`
    /// cannot be serialised.
    pub fn insert<T: Serialize>(&mut self, key: &str, value: T) -> Result<(), SessionError> {
        let value = serde_json::to_value(value).map_err(|e| SessionError::Value(e.to_string()))?;
        let mut data = self.state.data.clone();
        data.insert(key.to_owned(), value);
        let size = serde_json::to_vec(&data)
            .map_err(|e| SessionError::Value(e.to_string()))?
            .len();
        if size > self.max_data_bytes {
            return Err(SessionError::TooLarge {
                max: self.max_data_bytes,
                actual: size,
            });
        }
        self.state.data = data;
        Ok(())
    }

    /// Removes a value.
    pub fn remove(&mut self, key: &str) -> Option<serde_json::Value> {
        self.state.data.remove(key)
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("subject", &self.state.subject)
            .field("created_at", &self.state.created_at)
            .finish_non_exhaustive()
    }
}

/// One of an account's sessions, for a "where you are logged in" page.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// Identifies the session for [`SessionManager::revoke`]; not the id,
    /// which never leaves its cookie.
    pub handle: String,
    /// When it began.
    pub created_at: SystemTime,
    /// When it was last used.
    pub last_seen_at: SystemTime,
    /// The user agent at login.
    pub user_agent: Option<String>,
    /// Whether it is the session asking.
    pub current: bool,
}

/// Creates, loads, rotates and ends sessions; see the module docs.
#[derive(Clone)]
pub struct SessionManager {
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    config: SessionConfig,
    cookie: CookieSettings,
}

impl SessionManager {
    /// A builder over `store`.
    pub fn builder(store: Arc<dyn SessionStore>) -> SessionManagerBuilder {
        SessionManagerBuilder {
            store,
            clock: Arc::new(SystemClock),
            config: SessionConfig::default(),
            cookie: CookieSettings::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The cookie settings.
    pub fn cookie_settings(&self) -> &CookieSettings {
        &self.cookie
    }

    /// Starts an anonymous session.
    ///
    /// # Errors
    /// [`SessionError::Store`] or [`SessionError::Random`].
    pub async fn start(&self, user_agent: Option<&str>) -> Result<Session, SessionError> {
        let now = self.clock.now();
        let state = self.new_state(now, None, false, user_agent, None, BTreeMap::new());
        self.insert_new(state).await
    }

    /// Reads the session a cookie names. A malformed value, an unknown id,
    /// an expired or undecodable record are all `Ok(None)`. Use is written
    /// back at most once per touch interval, extending the idle timeout.
    ///
    /// # Errors
    /// [`SessionError::Store`] when the store fails (answer 503; do not
    /// treat it as "no session").
    pub async fn load(&self, cookie_value: &str) -> Result<Option<Session>, SessionError> {
        let Some(id) = SessionId::parse(cookie_value) else {
            tracing::debug!(target: "tessera::auth", "malformed session cookie ignored");
            return Ok(None);
        };
        let digest = id.digest();
        let now = self.clock.now();
        let Some(mut state) = self.store.load(&digest, now).await? else {
            return Ok(None);
        };
        if state.is_expired(now) {
            self.store.delete(&digest).await?;
            return Ok(None);
        }
        let idle = now.duration_since(state.last_seen_at).unwrap_or_default();
        if idle >= self.config.touch_after {
            state.last_seen_at = now;
            state.idle_expires_at = (now + self.idle_for(&state)).min(state.absolute_expires_at);
            if !self.store.save(&digest, &state).await? {
                return Ok(None);
            }
        }
        Ok(Some(self.session(id, digest, state)))
    }

    /// Logs `subject` in: a new session id, whatever was presented (the old
    /// one is dead at once). Data of an anonymous session, or of the same
    /// account's, carries over; another account's does not.
    ///
    /// # Errors
    /// [`SessionError::Store`] or [`SessionError::Random`].
    pub async fn login(
        &self,
        current: Option<Session>,
        subject: &UserId,
        options: LoginOptions,
    ) -> Result<Session, SessionError> {
        let now = self.clock.now();
        let (old, data) = match current {
            Some(current) => {
                let same = current
                    .state
                    .subject
                    .as_deref()
                    .is_none_or(|s| s == subject.as_str());
                let data = if same {
                    current.state.data
                } else {
                    BTreeMap::new()
                };
                (Some(current.digest), data)
            }
            None => (None, BTreeMap::new()),
        };
        let state = self.new_state(
            now,
            Some(subject),
            options.remember,
            options.user_agent.as_deref(),
            options.privilege_stamp,
            data,
        );
        let session = match old {
            // A cookie whose session has ended meanwhile: log in afresh.
            Some(old) => self.move_to_new_id(&old, state, IfGone::Create).await?,
            None => self.insert_new(state).await?,
        };
        tracing::info!(target: "tessera::audit", event = "session.started", subject = %subject, "session started");
        Ok(session)
    }

    /// Step-up or re-authentication: the password was entered again. The
    /// session gets a new id and is fresh again.
    ///
    /// # Errors
    /// [`SessionError::Ended`] if the session was deleted meanwhile;
    /// [`SessionError::Store`].
    pub async fn reauthenticate(&self, session: &mut Session) -> Result<(), SessionError> {
        let mut state = session.state.clone();
        state.authenticated_at = Some(self.clock.now());
        *session = self
            .move_to_new_id(&session.digest, state, IfGone::End)
            .await?;
        Ok(())
    }

    /// Gives the session a new id; the old one is dead at once.
    ///
    /// # Errors
    /// [`SessionError::Ended`] if the session was deleted meanwhile;
    /// [`SessionError::Store`].
    pub async fn rotate(&self, session: &mut Session) -> Result<(), SessionError> {
        let state = session.state.clone();
        *session = self
            .move_to_new_id(&session.digest, state, IfGone::End)
            .await?;
        Ok(())
    }

    /// Compares the account's privileges now (`current`, the same kind of
    /// stamp given at login) with those the session was created under. When
    /// they differ (an administrator changed the roles), the session gets a
    /// new id and the new stamp; returns whether it did.
    ///
    /// # Errors
    /// As [`rotate`](Self::rotate).
    pub async fn check_privileges(
        &self,
        session: &mut Session,
        current: &str,
    ) -> Result<bool, SessionError> {
        if session.state.privilege_stamp.as_deref() == Some(current) {
            return Ok(false);
        }
        let mut state = session.state.clone();
        state.privilege_stamp = Some(current.to_owned());
        *session = self
            .move_to_new_id(&session.digest, state, IfGone::End)
            .await?;
        Ok(true)
    }

    /// Writes the session's data back.
    ///
    /// # Errors
    /// [`SessionError::Ended`] when the session was deleted meanwhile (a
    /// logout won the race: nothing is written); [`SessionError::Store`].
    pub async fn save(&self, session: &Session) -> Result<(), SessionError> {
        if self.store.save(&session.digest, &session.state).await? {
            Ok(())
        } else {
            Err(SessionError::Ended)
        }
    }

    /// Ends the session.
    ///
    /// # Errors
    /// [`SessionError::Store`].
    pub async fn logout(&self, session: Session) -> Result<(), SessionError> {
        self.store.delete(&session.digest).await?;
        if let Some(subject) = &session.state.subject {
            tracing::info!(target: "tessera::audit", event = "session.ended", subject = %subject, "session ended");
        }
        Ok(())
    }

    /// Whether a password was entered in this session within the freshness
    /// window.
    pub fn is_fresh(&self, session: &Session) -> bool {
        let now = self.clock.now();
        session.state.authenticated_at.is_some_and(|at| {
            now.duration_since(at)
                .is_ok_and(|age| age < self.config.fresh_for)
        })
    }

    /// `subject`'s live sessions, oldest first; `current` is marked.
    ///
    /// # Errors
    /// [`SessionError::Store`].
    pub async fn list(
        &self,
        subject: &UserId,
        current: Option<&Session>,
    ) -> Result<Vec<SessionInfo>, SessionError> {
        let now = self.clock.now();
        let mut list: Vec<SessionInfo> = self
            .store
            .list_subject(subject, now)
            .await?
            .into_iter()
            .map(|(digest, state)| SessionInfo {
                handle: digest.to_hex(),
                created_at: state.created_at,
                last_seen_at: state.last_seen_at,
                user_agent: state.user_agent,
                current: current.is_some_and(|c| c.digest == digest),
            })
            .collect();
        list.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.handle.cmp(&b.handle))
        });
        Ok(list)
    }

    /// Ends `subject`'s session with this handle. `Ok(false)` when the
    /// subject has no such session (someone else's included).
    ///
    /// # Errors
    /// [`SessionError::Store`].
    pub async fn revoke(&self, subject: &UserId, handle: &str) -> Result<bool, SessionError> {
        let Some(digest) = TokenDigest::from_hex(handle) else {
            return Ok(false);
        };
        let now = self.clock.now();
        let owned = self
            .store
            .list_subject(subject, now)
            .await?
            .iter()
            .any(|(d, _)| *d == digest);
        let revoked = owned && self.store.delete(&digest).await?;
        if revoked {
            tracing::info!(target: "tessera::audit", event = "session.revoked", subject = %subject, "session revoked");
        }
        Ok(revoked)
    }

    /// Ends every session of `subject` (deactivation, password reset).
    ///
    /// # Errors
    /// [`SessionError::Store`].
    pub async fn revoke_all(&self, subject: &UserId) -> Result<u64, SessionError> {
        let revoked = self.store.delete_subject(subject, None).await?;
        tracing::info!(target: "tessera::audit", event = "session.revoked", subject = %subject, sessions = revoked, "every session revoked");
        Ok(revoked)
    }

    /// Ends every session of `current`'s account but `current` (password
    /// change from this session).
    ///
    /// # Errors
    /// [`SessionError::Store`].
    pub async fn revoke_others(&self, current: &Session) -> Result<u64, SessionError> {
        let Some(subject) = current.subject() else {
            return Ok(0);
        };
        Ok(self
            .store
            .delete_subject(&subject, Some(&current.digest))
            .await?)
    }

    /// The cookie that carries `session`: persistent (`Max-Age`) with
    /// remember-me, a browser-session cookie otherwise.
    pub fn cookie(&self, session: &Session) -> SessionCookie {
        let max_age = session.state.remember.then_some(self.config.remember_for);
        self.cookie.cookie(session.id.expose_secret(), max_age)
    }

    /// The cookie that clears the session cookie, with matching attributes.
    pub fn removal_cookie(&self) -> SessionCookie {
        self.cookie.removal()
    }

    fn idle_for(&self, state: &SessionState) -> Duration {
        if state.remember {
            self.config.remember_for
        } else {
            self.config.idle_timeout
        }
    }

    fn new_state(
        &self,
        now: SystemTime,
        subject: Option<&UserId>,
        remember: bool,
        user_agent: Option<&str>,
        privilege_stamp: Option<String>,
        data: BTreeMap<String, serde_json::Value>,
    ) -> SessionState {
        let (idle, absolute) = if remember {
            (self.config.remember_for, self.config.remember_for)
        } else {
            (self.config.idle_timeout, self.config.absolute_timeout)
        };
        SessionState {
            subject: subject.map(|s| s.as_str().to_owned()),
            created_at: now,
            last_seen_at: now,
            idle_expires_at: now + idle.min(absolute),
            absolute_expires_at: now + absolute,
            authenticated_at: subject.map(|_| now),
            remember,
            user_agent: user_agent.map(truncate_user_agent),
            privilege_stamp,
            data,
        }
    }

    async fn insert_new(&self, state: SessionState) -> Result<Session, SessionError> {
        for _ in 0..CREATE_ATTEMPTS {
            let id = SessionId::generate()?;
            let digest = id.digest();
            if self.store.create(&digest, &state).await? {
                return Ok(self.session(id, digest, state));
            }
        }
        Err(SessionError::Random(
            "no unused session id after several tries".into(),
        ))
    }

    async fn move_to_new_id(
        &self,
        old: &TokenDigest,
        state: SessionState,
        if_gone: IfGone,
    ) -> Result<Session, SessionError> {
        for _ in 0..CREATE_ATTEMPTS {
            let id = SessionId::generate()?;
            let digest = id.digest();
            match self.store.rotate(old, &digest, &state).await? {
                Moved::Done => return Ok(self.session(id, digest, state)),
                Moved::Taken => continue,
                Moved::Gone => {
                    return match if_gone {
                        IfGone::Create => self.insert_new(state).await,
                        // Never bring back a session that was ended.
                        IfGone::End => Err(SessionError::Ended),
                    };
                }
            }
        }
        Err(SessionError::Random(
            "no unused session id after several tries".into(),
        ))
    }

    fn session(&self, id: SessionId, digest: TokenDigest, state: SessionState) -> Session {
        Session {
            id,
            digest,
            state,
            max_data_bytes: self.config.max_data_bytes,
        }
    }
}

impl fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManager")
            .field("config", &self.config)
            .field("cookie", &self.cookie)
            .finish_non_exhaustive()
    }
}

/// What a rotation does when the old session no longer exists.
#[derive(Clone, Copy)]
enum IfGone {
    /// A login: start a new session.
    Create,
    /// Anything else: the session has ended.
    End,
}

fn truncate_user_agent(user_agent: &str) -> String {
    let mut end = user_agent.len().min(MAX_USER_AGENT);
    while !user_agent.is_char_boundary(end) {
        end -= 1;
    }
    user_agent[..end]
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

/// Builds a [`SessionManager`]; [`build`](Self::build) validates.
pub struct SessionManagerBuilder {
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    config: SessionConfig,
    cookie: CookieSettings,
}

impl SessionManagerBuilder {
    /// The clock (default the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Timeouts and limits.
    pub fn config(mut self, config: SessionConfig) -> Self {
        self.config = config;
        self
    }

    /// Cookie attributes (default `__Host-tessera_session`, `Secure`,
    /// `HttpOnly`, `SameSite=Lax`, `Path=/`).
    pub fn cookie(mut self, cookie: CookieSettings) -> Self {
        self.cookie = cookie;
        self
    }

    /// Validates.
    ///
    /// # Errors
    /// [`ConfigError`] for a zero timeout, an idle timeout above the
    /// absolute one, or a zero data limit.
    pub fn build(self) -> Result<SessionManager, ConfigError> {
        let c = self.config;
        if c.idle_timeout.is_zero() || c.absolute_timeout.is_zero() || c.remember_for.is_zero() {
            return Err(ConfigError::invalid(
                "session timeouts",
                "must be above zero",
            ));
        }
        if c.idle_timeout > c.absolute_timeout {
            return Err(ConfigError::invalid(
                "idle_timeout",
                "must not exceed absolute_timeout",
            ));
        }
        if c.touch_after >= c.idle_timeout {
            return Err(ConfigError::invalid(
                "touch_after",
                "must be shorter than idle_timeout",
            ));
        }
        if c.max_data_bytes == 0 {
            return Err(ConfigError::invalid("max_data_bytes", "must be above zero"));
        }
        Ok(SessionManager {
            store: self.store,
            clock: self.clock,
            config: c,
            cookie: self.cookie,
        })
    }
}

impl fmt::Debug for SessionManagerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManagerBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
